//! Academic years: 2025 stands for 2025-2026 (Apogée's COD_ANU).

use chrono::Datelike;

/// The academic year a date falls in, given the month a new year starts (September by default).
pub fn academic_year_of(date: chrono::NaiveDate, start_month: u32) -> i32 {
    if date.month() >= start_month {
        date.year()
    } else {
        date.year() - 1
    }
}

/// "2025-2026".
pub fn label(year: i32) -> String {
    format!("{}-{}", year, year + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn years_turn_at_the_start_month() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(academic_year_of(d(2026, 8, 31), 9), 2025);
        assert_eq!(academic_year_of(d(2026, 9, 1), 9), 2026);
        assert_eq!(academic_year_of(d(2027, 1, 15), 9), 2026);
        assert_eq!(academic_year_of(d(2026, 7, 1), 7), 2026);
        assert_eq!(label(2025), "2025-2026");
    }
}
