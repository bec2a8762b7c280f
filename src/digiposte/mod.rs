//! Digiposte partner API (v3): the client passerelle uses (behind the [`DigiposteApi`] trait so
//! workers take an `Arc<dyn DigiposteApi>`), its configuration, its errors, and the receipt
//! signature shared with `digiposte-sim`.
//!
//! | call | route |
//! |---|---|
//! | token | `POST /oauth/token` (HTTP Basic, `grant_type=client_credentials`) → `{access_token, expires_in}` |
//! | partial account | `POST /user/partial {partner_user_id, first_name, last_name, date_of_birth, email}` → `{route_code}` |
//! | customisation link | `POST /user/customizationurl {route_code}` → `{url}` |
//! | memberships | `GET /memberships`, `DELETE /membership/{id}` → `CANCEL_IN_PROGRESS` |
//! | certified deposit | `POST /document/certified` (multipart, `X-RouteCode`) |
//! | deposited documents | `GET /user/documents` (`X-RouteCode`) — an assumption, see the README |

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
    /// The link the student follows to finish (or renew) the account.
    fn customization_url<'a>(&'a self, route_code: &'a str) -> ApiFuture<'a, String>;
    /// Every membership of the partner.
    fn memberships(&self) -> ApiFuture<'_, Vec<Membership>>;
    /// Asks for the end of a membership; answers the new status (`CANCEL_IN_PROGRESS`).
    fn cancel_membership<'a>(&'a self, membership_id: &'a str) -> ApiFuture<'a, String>;
    /// Deposits one certified document. Never retried after an uncertain outcome:
    /// `DigiposteError::Uncertain` tells the caller to reconcile first.
    fn deposit_certified<'a>(&'a self, deposit: &'a CertifiedDeposit) -> ApiFuture<'a, Deposited>;
    /// The documents already deposited in one vault (to reconcile an uncertain deposit).
    fn deposited_documents<'a>(
        &'a self,
        route_code: &'a str,
    ) -> ApiFuture<'a, Vec<DepositedDocument>>;
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartialAccount {
    pub route_code: String,
    #[serde(default)]
    pub membership_id: Option<String>,
}

/// Membership statuses as Digiposte spells them.
pub mod membership_status {
    pub const ACTIVE: &str = "ACTIVE";
    pub const CANCEL_IN_PROGRESS: &str = "CANCEL_IN_PROGRESS";
    pub const CANCELLED: &str = "CANCELLED";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Membership {
    pub id: String,
    pub route_code: String,
    #[serde(default)]
    pub partner_user_id: Option<String>,
    pub status: String,
    #[serde(default)]
    pub accepted: bool,
    #[serde(default)]
    pub personalised: bool,
}

/// One certified deposit. `file_name` carries passerelle's document id, so a deposit can be
/// recognised in the vault's listing.
#[derive(Debug, Clone)]
pub struct CertifiedDeposit {
    pub route_code: String,
    pub title: String,
    pub doc_type: String,
    pub file_name: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deposited {
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DepositedDocument {
    pub id: String,
    pub file_name: String,
    pub hash: String,
}

/// The file name passerelle gives a document at Digiposte (its id inside).
pub fn deposit_file_name(document_id: &str) -> String {
    format!("passerelle-{document_id}.pdf")
}

/// A receipt as Digiposte posts it to `POST /webhooks/digiposte`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receipt {
    pub receipt_id: String,
    /// Digiposte's id of the deposited document.
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
