//! Digiposte client errors, with the stable codes passerelle records as reasons. Digiposte's
//! own error bodies (`[{"error", "error_description"}]`) are mapped here.

use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum DigiposteError {
    /// Network failure, timeout, 5xx or 429 after the retries: nothing was done (or the call is
    /// harmless to repeat).
    #[error("Digiposte is unavailable: {0}")]
    Unavailable(String),
    /// A deposit whose outcome is unknown (timeout or 5xx after the request was sent): it may
    /// have landed, and no published call can tell; never deposited again without a manager.
    #[error("Digiposte's answer to the deposit is unknown: {0}")]
    Uncertain(String),
    /// The circuit breaker is open: Digiposte failed repeatedly; try again after the delay.
    #[error("Digiposte is failing; calls suspended for {0:?}")]
    CircuitOpen(Duration),
    /// Digiposte refused the request (a 4xx other than 401/429), with its error code.
    #[error("Digiposte refused the request ({status} {error}): {description}")]
    Refused {
        status: u16,
        error: String,
        description: String,
    },
    /// The client credentials were refused.
    #[error("Digiposte refused passerelle's credentials: {0}")]
    AuthFailed(String),
    /// An answer passerelle cannot read.
    #[error("unexpected answer from Digiposte: {0}")]
    BadResponse(String),
}

impl DigiposteError {
    /// The stable code recorded as a vault's `last_error` or a document's reason.
    pub fn code(&self) -> &'static str {
        match self {
            DigiposteError::Unavailable(_) => "digiposte_unavailable",
            DigiposteError::Uncertain(_) => "digiposte_uncertain",
            DigiposteError::CircuitOpen(_) => "digiposte_circuit_open",
            DigiposteError::AuthFailed(_) => "digiposte_auth_failed",
            DigiposteError::BadResponse(_) => "digiposte_bad_response",
            DigiposteError::Refused { status, error, .. } => match (status, error.as_str()) {
                (_, "membership_cancelled" | "membership_not_active" | "unknown_route_code") => {
                    "digiposte_vault_closed"
                }
                (409, _) => "digiposte_already_exists",
                (404, _) => "digiposte_not_found",
                (400 | 422, _) => "digiposte_invalid_request",
                _ => "digiposte_refused",
            },
        }
    }

    /// Worth trying again later (the partner is away, not refusing).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            DigiposteError::Unavailable(_)
                | DigiposteError::CircuitOpen(_)
                | DigiposteError::AuthFailed(_)
                | DigiposteError::BadResponse(_)
        )
    }

    /// `POST /user/customizationurl` refused because the account is no longer partial (403
    /// "For coregistration user only", 409 "not partial or already customized").
    pub fn is_already_customised(&self) -> bool {
        matches!(
            self,
            DigiposteError::Refused {
                status: 403 | 409,
                ..
            }
        )
    }

    /// The vault cannot receive documents any more (membership ended or unknown).
    pub fn is_vault_closed(&self) -> bool {
        self.code() == "digiposte_vault_closed"
    }

    /// A reason for people: the code, and Digiposte's description when it gave one.
    pub fn reason(&self) -> String {
        match self {
            DigiposteError::Refused { description, .. } if !description.is_empty() => {
                format!("{}: {description}", self.code())
            }
            _ => self.code().to_owned(),
        }
    }
}

/// Reads Digiposte's published error body `[{"error", "error_description", "field"?}]` (a
/// single object is accepted too).
pub fn parse_error_body(status: u16, body: &[u8]) -> DigiposteError {
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        error: String,
        #[serde(default)]
        error_description: String,
        #[serde(default)]
        field: Option<String>,
    }
    let first = serde_json::from_slice::<Vec<Item>>(body)
        .ok()
        .and_then(|v| v.into_iter().next())
        .or_else(|| serde_json::from_slice::<Item>(body).ok());
    let (error, description) = match first {
        Some(i) => match i.field {
            Some(f) if !f.is_empty() => (i.error, format!("{} ({f})", i.error_description)),
            _ => (i.error, i.error_description),
        },
        None => (format!("http_{status}"), String::new()),
    };
    DigiposteError::Refused {
        status,
        error,
        description,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_map_to_codes() {
        let e = parse_error_body(
            403,
            br#"[{"error":"membership_cancelled","error_description":"the membership is cancelled"}]"#,
        );
        assert_eq!(e.code(), "digiposte_vault_closed");
        assert!(e.is_vault_closed());
        assert!(e.reason().contains("the membership is cancelled"));
        let e = parse_error_body(
            409,
            br#"[{"error":"conflict","error_description":"client id already exist"}]"#,
        );
        assert_eq!(e.code(), "digiposte_already_exists");
        assert_eq!(
            parse_error_body(400, b"garbage").code(),
            "digiposte_invalid_request"
        );
        assert_eq!(
            parse_error_body(418, br#"{"error":"teapot"}"#).code(),
            "digiposte_refused"
        );
        assert!(!parse_error_body(400, b"").is_transient());
        assert!(DigiposteError::Unavailable("x".into()).is_transient());
    }
}
