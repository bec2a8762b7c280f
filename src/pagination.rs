//! Page-based pagination shared by every list operation and the repositories behind them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorCode};

/// The largest page a list operation returns.
pub const MAX_PER_PAGE: u32 = 500;
pub const DEFAULT_PER_PAGE: u32 = 50;

/// One page of a list, with the total number of matching items.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items matching the filters, over all pages.
    pub total: i64,
    /// 1-based page number.
    pub page: u32,
    pub per_page: u32,
}

/// A validated page request: what to skip and how many to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub page: u32,
    pub per_page: u32,
}

impl Window {
    /// Checks `page` (≥ 1) and `per_page` (1..=MAX_PER_PAGE); a bad value is a 400 naming it.
    pub fn new(page: Option<u32>, per_page: Option<u32>) -> Result<Window, ApiError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page == 0 {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                crate::i18n::Text::fixed("`page` commence à 1", "`page` starts at 1"),
            ));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                crate::text!(
                    "`per_page` doit être compris entre 1 et {MAX_PER_PAGE}",
                    "`per_page` must be between 1 and {MAX_PER_PAGE}"
                ),
            ));
        }
        Ok(Window { page, per_page })
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }

    /// The total, when a page of `len` items shows it without counting: a page that is not
    /// full and not empty is the last one (an empty page past the end says nothing).
    pub fn total_if_last(&self, len: usize) -> Option<i64> {
        let len = len as i64;
        (len < self.limit() && (len > 0 || self.offset() == 0)).then(|| self.offset() + len)
    }

    /// The total for a page of `len` items: `total_if_last`, or else `count()` (the lists'
    /// separate COUNT query, run only for a full page).
    pub fn total_or<E>(
        &self,
        len: usize,
        count: impl FnOnce() -> Result<i64, E>,
    ) -> Result<i64, E> {
        self.total_if_last(len).map_or_else(count, Ok)
    }

    pub fn wrap<T>(&self, items: Vec<T>, total: i64) -> Page<T> {
        Page {
            items,
            total,
            page: self.page,
            per_page: self.per_page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_checked() {
        let w = Window::new(Some(3), Some(20)).unwrap();
        assert_eq!((w.offset(), w.limit()), (40, 20));
        assert_eq!(Window::new(None, None).unwrap().per_page, DEFAULT_PER_PAGE);
        assert!(Window::new(Some(0), None).is_err());
        assert!(Window::new(None, Some(MAX_PER_PAGE + 1)).is_err());
        assert!(Window::new(None, Some(0)).is_err());
    }

    #[test]
    fn a_short_page_is_its_own_total() {
        let third = Window::new(Some(3), Some(20)).unwrap();
        assert_eq!(third.total_if_last(7), Some(47));
        // A full page may have more behind it; an empty one past the end tells nothing.
        assert_eq!(third.total_if_last(20), None);
        assert_eq!(third.total_if_last(0), None);
        assert_eq!(Window::new(None, None).unwrap().total_if_last(0), Some(0));
    }
}
