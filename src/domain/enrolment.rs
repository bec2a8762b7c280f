//! Enrolment records as an Apogée extraction gives them, and the import report. Pure.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Apogée's ETA_IAE: the state of an administrative enrolment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum EnrolmentState {
    /// En cours: a valid enrolment.
    E,
    /// Annulée.
    A,
    /// Résiliée / remboursée.
    R,
}

impl EnrolmentState {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrolmentState::E => "E",
            EnrolmentState::A => "A",
            EnrolmentState::R => "R",
        }
    }

    pub fn parse(s: &str) -> Option<EnrolmentState> {
        match s.trim() {
            "E" | "e" => Some(EnrolmentState::E),
            "A" | "a" => Some(EnrolmentState::A),
            "R" | "r" => Some(EnrolmentState::R),
            _ => None,
        }
    }
}

/// One valid row of an enrolment import: a student's identity and one enrolment.
#[derive(Clone, Debug, PartialEq)]
pub struct EnrolmentRecord {
    /// 1-based line in the CSV (header = line 1), or 1-based item index in JSON.
    pub line: usize,
    pub cod_etu: String,
    pub ine: Option<String>,
    pub last_name: String,
    pub first_name: String,
    pub birth_date: Option<NaiveDate>,
    pub email: Option<String>,
    pub composante: String,
    pub etape: String,
    pub academic_year: i32,
    pub state: EnrolmentState,
}

impl EnrolmentRecord {
    /// Whether this row makes the student validly enrolled in `year`.
    pub fn is_valid_for(&self, year: i32) -> bool {
        self.state == EnrolmentState::E && self.academic_year == year
    }
}

/// A row the import did not accept, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = RowRejection)]
pub struct Rejection {
    pub line: usize,
    /// Stable snake_case reason: invalid_ine, invalid_date, unknown_composante, duplicate_ine,
    /// conflicting_duplicate, composante_out_of_scope, outside_scope, missing_field…
    pub code: String,
    /// What is wrong, naming the field (never the personal value).
    pub reason: String,
}

/// What an import did, row by row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportReport {
    /// Data rows read (header excluded).
    pub rows: usize,
    /// Rows that created a student or an enrolment.
    pub created: usize,
    /// Rows that changed an existing student or enrolment.
    pub updated: usize,
    /// Rows identical to what passerelle already held.
    pub unchanged: usize,
    pub rejected: usize,
    /// Each rejected row, in line order.
    pub rejections: Vec<Rejection>,
    /// Vaults created (pre-created or marked without valid enrolment) by this import.
    pub vaults_created: usize,
    /// Vaults moved between "not transmitted" and "no valid enrolment" by this import.
    pub vaults_updated: usize,
    /// Objections to the vault's pre-creation collected at enrolment and recorded now.
    pub objections_recorded: usize,
}

/// The outcome of one accepted row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowOutcome {
    Created,
    Updated,
    Unchanged,
}

impl ImportReport {
    pub fn count(&mut self, outcome: RowOutcome) {
        match outcome {
            RowOutcome::Created => self.created += 1,
            RowOutcome::Updated => self.updated += 1,
            RowOutcome::Unchanged => self.unchanged += 1,
        }
    }

    pub fn reject(&mut self, rejection: Rejection) {
        self.rejected += 1;
        self.rejections.push(rejection);
    }

    /// Sorts rejections by line (they are found in several passes).
    pub fn finish(&mut self) {
        self.rejections.sort_by_key(|r| r.line);
    }
}
