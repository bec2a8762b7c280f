//! ScoDoc client errors, with the stable codes passerelle's problem table uses.

/// Why a ScoDoc call failed. Messages name the route, never personal data.
#[derive(Debug, thiserror::Error)]
pub enum ScoDocError {
    /// Network failure, timeout or a 5xx answer.
    #[error("ScoDoc is unavailable: {0}")]
    Unavailable(String),
    /// The credentials or the token were refused (401 after one refresh, or 403).
    #[error("ScoDoc refused the credentials: {0}")]
    AuthFailed(String),
    /// 404, or no semester for the étape and year asked.
    #[error("not found in ScoDoc: {0}")]
    NotFound(String),
    /// An answer passerelle cannot read.
    #[error("unexpected answer from ScoDoc: {0}")]
    BadResponse(String),
}

impl ScoDocError {
    pub fn code(&self) -> &'static str {
        match self {
            ScoDocError::Unavailable(_) => "scodoc_unavailable",
            ScoDocError::AuthFailed(_) => "scodoc_auth_failed",
            ScoDocError::NotFound(_) => "scodoc_not_found",
            ScoDocError::BadResponse(_) => "scodoc_bad_response",
        }
    }
}
