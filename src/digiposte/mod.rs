//! Digiposte partner API (v3): the client passerelle uses (behind the [`DigiposteApi`] trait so
//! workers take an `Arc<dyn DigiposteApi>`), its configuration, its errors, and the receipt
//! signature shared with `digiposte-sim`. Every call below follows La Poste's published v3
//! description; `docs/digiposte.md` gives each fact its source and lists what is not published.
//!
//! | call | route |
//! |---|---|
//! | every call | `X-Okapi-Key: <application key>` (the token request included) |
//! | token | `POST /oauth/token` (HTTP Basic, `grant_type=client_credentials`) → `{access_token, expires_in}` |
//! | partial account | `POST /user/partial {partner_user_id, first_name, last_name, …}` → `{route_code, userOutput}`; 409 "client id already exist for current partner" |
//! | customisation link | `POST /user/customizationurl {partner_user_id}` (and `X-PartnerUserId`) → `{customization_url}`; 403/409 once customised |
//! | memberships | `GET /memberships` (`X-PartnerUserId` selects one user) → `{memberships: [{id, status, …}]}`: the membership `id` is the routing code |
//! | end of a membership | `DELETE /membership/{id}` → the membership, `CANCEL_IN_PROGRESS` |
//! | certified deposit | `POST /document/certified` (multipart, `X-RouteCode`, `X-Api-Version-Minor: 2`, the PDF in the `archive` part) → `{document: {…, id_routage}}` |
//! | document natures | `GET /profile/documents` (named by the description; answer shape not published) |
//! | status of one deposit | NOT PUBLISHED: `GET <digiposte.document_status_path>` (`{id_routage}` in it) → `{id_routage, status, reason}`, only when configured |
pub mod client;
pub mod config;
pub mod error;
pub mod signature;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

pub use client::DigiposteClient;
pub use config::DigiposteConfig;
pub use error::DigiposteError;

/// A boxed future, so the trait stays object-safe (`Arc<dyn DigiposteApi>`).
pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DigiposteError>> + Send + 'a>>;

/// What passerelle asks Digiposte.
pub trait DigiposteApi: Send + Sync {
    /// Creates a pre-created ("partial") account; the answer's route code must be stored at once.
    fn create_partial_user<'a>(&'a self, user: &'a PartialUser) -> ApiFuture<'a, PartialAccount>;
    /// The link the student follows to finish the account, by the partner's user id. Refused
    /// (403/409, [`DigiposteError::is_already_customised`]) once the account is customised.
    fn customization_url<'a>(&'a self, partner_user_id: &'a str) -> ApiFuture<'a, String>;
    /// Every membership of the partner.
    fn memberships(&self) -> ApiFuture<'_, Vec<Membership>>;
    /// The memberships of one partner user (`X-PartnerUserId`).
    fn memberships_of<'a>(&'a self, partner_user_id: &'a str) -> ApiFuture<'a, Vec<Membership>>;
    /// Asks for the end of a membership; answers the new status (`CANCEL_IN_PROGRESS`).
    fn cancel_membership<'a>(&'a self, membership_id: &'a str) -> ApiFuture<'a, String>;
    /// Deposits one certified document. Never repeated after an uncertain outcome:
    /// `DigiposteError::Uncertain` means the deposit may have landed, and no published call can
    /// tell (there is no listing): a manager decides.
    fn deposit_certified<'a>(&'a self, deposit: &'a CertifiedDeposit) -> ApiFuture<'a, Deposited>;
    /// The partner's document natures (`GET /profile/documents`), as Digiposte answers them
    /// (the shape is not published, so it is passed through).
    fn document_types(&self) -> ApiFuture<'_, serde_json::Value>;
    /// The status of one deposit, by its `id_routage`. Not a published call (see
    /// `docs/digiposte.md`): asked only when `digiposte.document_status_path` is configured,
    /// otherwise answered [`StatusRead::NotAvailable`] without a request.
    fn document_status<'a>(&'a self, id_routage: &'a str) -> ApiFuture<'a, StatusRead>;
}

/// What a status read of one deposit told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusRead {
    /// No status read is configured (`digiposte.document_status_path` empty): nothing asked.
    NotAvailable,
    /// Digiposte does not know this reference (404).
    UnknownReference,
    /// Digiposte's status of the deposit.
    Known(DocumentStatus),
}

/// The state of one deposit at Digiposte, in the receipts' vocabulary (`receipt_status`), so
/// an answer is applied exactly as a receipt would be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentStatus {
    /// Still being processed: ask again later.
    Processing,
    Delivered,
    /// Rejected by Digiposte, with its reason.
    Failed {
        reason: Option<String>,
    },
    /// The vault was closed before the document landed.
    VaultClosed {
        reason: Option<String>,
    },
}

impl DocumentStatus {
    /// Reads the published-by-us answer `{id_routage, status, reason}` of a status read.
    pub fn from_answer(status: &str, reason: Option<String>) -> Option<DocumentStatus> {
        Some(match status {
            receipt_status::PROCESSING => DocumentStatus::Processing,
            receipt_status::DELIVERED => DocumentStatus::Delivered,
            receipt_status::FAILED => DocumentStatus::Failed { reason },
            receipt_status::VAULT_CLOSED => DocumentStatus::VaultClosed { reason },
            _ => return None,
        })
    }

    /// The receipt this status amounts to (`None` while processing): the reconciliation
    /// applies it through the receipts' own path.
    pub fn as_receipt(&self, id_routage: &str) -> Option<Receipt> {
        let (status, reason) = match self {
            DocumentStatus::Processing => return None,
            DocumentStatus::Delivered => (receipt_status::DELIVERED, None),
            DocumentStatus::Failed { reason } => (receipt_status::FAILED, reason.clone()),
            DocumentStatus::VaultClosed { reason } => {
                (receipt_status::VAULT_CLOSED, reason.clone())
            }
        };
        Some(Receipt {
            // One per deposit: a second reconciliation of the same deposit is a duplicate.
            receipt_id: format!("status-read:{id_routage}"),
            document_id: id_routage.to_owned(),
            status: status.to_owned(),
            reason,
        })
    }
}

/// The path of the status read of one deposit, from the configured template (`None`: no
/// status read configured, or no `{id_routage}` in it).
pub fn status_path(template: &str, id_routage: &str) -> Option<String> {
    let template = template.trim();
    if template.is_empty() || !template.contains(STATUS_PATH_PLACEHOLDER) {
        return None;
    }
    // A path segment: unreserved characters as they are, every other byte percent-encoded.
    let escaped: String = id_routage
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    Some(template.replace(STATUS_PATH_PLACEHOLDER, &escaped))
}

/// Where the deposit's reference goes in `digiposte.document_status_path`.
pub const STATUS_PATH_PLACEHOLDER: &str = "{id_routage}";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartialUser {
    pub partner_user_id: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// What passerelle keeps of `POST /user/partial`'s answer `{route_code, userOutput}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartialAccount {
    pub route_code: String,
}

/// Membership statuses as Digiposte spells them.
pub mod membership_status {
    pub const ACTIVE: &str = "ACTIVE";
    pub const CANCEL_IN_PROGRESS: &str = "CANCEL_IN_PROGRESS";
    pub const CANCELLED: &str = "CANCELLED";
}

/// One item of `GET /memberships`, with the published fields passerelle reads (the others,
/// e.g. `sender`, are kept as they come).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Membership {
    /// The membership id, which is also the routing code (`X-RouteCode`).
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub accept_full_dematerialization: bool,
    #[serde(default)]
    pub cancellable: bool,
    #[serde(default)]
    pub membership_date: Option<String>,
    #[serde(default)]
    pub sender: serde_json::Value,
}

impl Membership {
    /// The routing code of this membership (its id).
    pub fn route_code(&self) -> &str {
        &self.id
    }
}

/// One certified deposit. `file_name` carries passerelle's document id (`deposit_file_name`).
#[derive(Debug, Clone)]
pub struct CertifiedDeposit {
    pub route_code: String,
    pub title: String,
    /// The document-nature code of the partner's list (`digiposte.document_types`).
    pub doc_type: String,
    pub file_name: String,
    /// SHA-256 of `bytes`, lowercase hex (sent as `hash` with `algo=SHA256`).
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// The published answer of a deposit: `{"document": {…}}`. It carries no document id;
/// `id_routage` is what passerelle keeps as Digiposte's reference of the deposit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deposited {
    pub id_routage: String,
    pub hash: String,
    pub algo: String,
    /// A string in the published example (`"140939"`).
    pub file_size: String,
}

/// The file name passerelle gives a document at Digiposte (its id inside).
pub fn deposit_file_name(document_id: &str) -> String {
    format!("passerelle-{document_id}.pdf")
}

/// A receipt as posted to `POST /webhooks/digiposte`. Not a published Digiposte call: our own
/// design (see `docs/digiposte.md`), served by `digiposte-sim`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receipt {
    pub receipt_id: String,
    /// The deposit's reference: the `id_routage` of the deposit answer.
    pub document_id: String,
    /// `DELIVERED`, `FAILED`, `VAULT_CLOSED`, or the intermediate `PROCESSING`.
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Receipt statuses.
pub mod receipt_status {
    pub const PROCESSING: &str = "PROCESSING";
    pub const DELIVERED: &str = "DELIVERED";
    pub const FAILED: &str = "FAILED";
    pub const VAULT_CLOSED: &str = "VAULT_CLOSED";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_path_from_its_template() {
        assert_eq!(status_path("", "abc"), None);
        assert_eq!(status_path("/document/status", "abc"), None);
        assert_eq!(
            status_path("/document/{id_routage}/status", "abc-1"),
            Some("/document/abc-1/status".into())
        );
        // A reference is one path segment, whatever it holds.
        assert_eq!(
            status_path("/document/{id_routage}", "a/b c"),
            Some("/document/a%2Fb%20c".into())
        );
    }

    #[test]
    fn a_status_is_applied_as_the_receipt_it_amounts_to() {
        assert!(DocumentStatus::Processing.as_receipt("r1").is_none());
        let delivered = DocumentStatus::Delivered.as_receipt("r1").unwrap();
        assert_eq!(delivered.status, receipt_status::DELIVERED);
        assert_eq!(delivered.document_id, "r1");
        // One receipt id per deposit: reconciled twice, the second is a duplicate.
        assert_eq!(
            delivered.receipt_id,
            DocumentStatus::Delivered
                .as_receipt("r1")
                .unwrap()
                .receipt_id
        );
        let failed = DocumentStatus::from_answer("FAILED", Some("virus".into()))
            .unwrap()
            .as_receipt("r2")
            .unwrap();
        assert_eq!(
            (failed.status.as_str(), failed.reason.as_deref()),
            ("FAILED", Some("virus"))
        );
        assert_eq!(
            DocumentStatus::from_answer("VAULT_CLOSED", None),
            Some(DocumentStatus::VaultClosed { reason: None })
        );
        assert_eq!(DocumentStatus::from_answer("LOST", None), None);
    }
}
