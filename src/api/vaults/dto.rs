//! The vaults' API shapes: what `/vaults` takes and answers, and its CSV export.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::domain::csv;
use crate::domain::vault::{VaultAction, VaultStatus};
use crate::i18n::Localized;
use crate::services::export::ListFormat;
use crate::services::student_vault::Objection;
use crate::services::vaults::{self as service, VaultSort};

#[derive(Debug, Serialize, ToSchema)]
pub struct VaultStudent {
    pub cod_etu: String,
    pub ine: Option<String>,
    pub last_name: String,
    pub first_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Vault {
    pub id: String,
    pub student: VaultStudent,
    pub status: VaultStatus,
    /// The status as managers know it, e.g. "Validé" (`Accept-Language`: French by default).
    #[schema(value_type = String, example = "Validé")]
    pub status_label: Localized,
    /// Acceptation ✔/✘: the student accepted full dematerialisation.
    pub accepted: bool,
    /// Personnalisé ✔/✘: the student finished the account with a personal e-mail.
    pub personalised: bool,
    /// Digiposte's route code, once the subscription was accepted.
    pub route_code: Option<String>,
    /// The link the student follows to finish (or renew) the account, when one was issued.
    pub customization_url: Option<String>,
    /// Digiposte's last refusal or failure, if any.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status_changed_at: DateTime<Utc>,
    /// For "Opposition enregistrée": when the objection was recorded and from where.
    pub objection: Option<Objection>,
}

impl Vault {
    /// A listed vault, with the objection in force when it is "Opposition enregistrée".
    pub fn listed(l: service::Listed) -> Vault {
        Vault {
            objection: l.objection.map(|(at, source)| Objection {
                recorded_at: at.and_utc(),
                source,
            }),
            ..Vault::from_rows(l.vault, l.student)
        }
    }

    pub fn from_rows(v: service::VaultRow, s: service::VaultStudent) -> Vault {
        let status = v.status();
        Vault {
            id: v.id,
            student: VaultStudent {
                cod_etu: s.cod_etu,
                ine: s.ine,
                last_name: s.last_name,
                first_name: s.first_name,
            },
            status,
            status_label: Localized(status.label_text()),
            accepted: v.accepted,
            personalised: v.personalised,
            route_code: v.route_code,
            customization_url: v.customization_url,
            last_error: v.last_error,
            created_at: v.created_at.and_utc(),
            updated_at: v.updated_at.and_utc(),
            status_changed_at: v.status_changed_at.and_utc(),
            objection: None,
        }
    }
}

/// One line of a vault's append-only history.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultHistoryEntry {
    pub from_status: Option<VaultStatus>,
    pub to_status: VaultStatus,
    #[schema(value_type = String)]
    pub to_status_label: Localized,
    /// What caused it (e.g. `enrolment_valid`, `termination_requested`).
    pub cause: String,
    /// Who or what caused it: `manager:<sub>`, `system:import`, `worker:digiposte`…
    pub actor: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// Work queued for a vault and not yet carried out.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingAction {
    pub job_id: String,
    /// `vault_subscribe`, `vault_terminate` or `vault_reinvite`.
    pub kind: String,
    /// `pending` or `running`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

impl From<service::JobRow> for PendingAction {
    fn from(j: service::JobRow) -> Self {
        PendingAction {
            job_id: j.id,
            kind: j.kind,
            status: j.status,
            attempts: j.attempts,
            last_error: j.last_error,
            requested_by: j.requested_by,
            requested_at: j.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VaultDetail {
    #[serde(flatten)]
    pub vault: Vault,
    pub history: Vec<VaultHistoryEntry>,
    pub pending_actions: Vec<PendingAction>,
}

/// Sort orders of the vault list (`-` for descending).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, Default)]
pub enum VaultSortParam {
    #[default]
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "-name")]
    NameDesc,
    #[serde(rename = "cod_etu")]
    CodEtu,
    #[serde(rename = "-cod_etu")]
    CodEtuDesc,
    #[serde(rename = "status")]
    Status,
    #[serde(rename = "updated_at")]
    UpdatedAt,
    #[serde(rename = "-updated_at")]
    UpdatedAtDesc,
}

impl From<VaultSortParam> for VaultSort {
    fn from(s: VaultSortParam) -> Self {
        match s {
            VaultSortParam::Name => VaultSort::Name,
            VaultSortParam::NameDesc => VaultSort::NameDesc,
            VaultSortParam::CodEtu => VaultSort::CodEtu,
            VaultSortParam::CodEtuDesc => VaultSort::CodEtuDesc,
            VaultSortParam::Status => VaultSort::Status,
            VaultSortParam::UpdatedAt => VaultSort::UpdatedAt,
            VaultSortParam::UpdatedAtDesc => VaultSort::UpdatedAtDesc,
        }
    }
}

/// A yes/no filter that also takes the ✔/✘ symbols managers paste from the vault list.
#[derive(Debug, Clone, Copy, ToSchema)]
#[schema(value_type = String, example = "true")]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim() {
            "true" | "1" | "✔" | "oui" => Ok(Flag(true)),
            "false" | "0" | "✘" | "non" => Ok(Flag(false)),
            other => Err(serde::de::Error::custom(format!(
                "`{other}` is not a yes/no value (true, false, ✔ or ✘)"
            ))),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VaultQuery {
    /// One or more statuses, comma-separated (e.g. `active,preregistered`).
    #[param(example = "active,preregistered")]
    pub status: Option<String>,
    /// Students enrolled in this composante (COD_CMP).
    pub composante: Option<String>,
    /// Acceptation: `true`/`false` (or ✔/✘).
    #[param(value_type = Option<String>)]
    pub accepted: Option<Flag>,
    /// Personnalisé: `true`/`false` (or ✔/✘).
    #[param(value_type = Option<String>)]
    pub personalised: Option<Flag>,
    /// Student number prefix, or part of a name (case- and accent-insensitive: "lefevre" finds "LEFÈVRE").
    pub q: Option<String>,
    /// Students enrolled in this academic year (2025 = 2025-2026).
    pub year: Option<i32>,
    #[param(inline)]
    pub sort: Option<VaultSortParam>,
    pub page: Option<u32>,
    /// Items per page (at most 500).
    pub per_page: Option<u32>,
    /// `csv`: the whole filtered list as CSV (as `Accept: text/csv` asks).
    #[param(inline)]
    pub format: Option<ListFormat>,
}

impl Vault {
    /// The columns of the CSV export, in French for the spreadsheet's readers.
    pub const CSV_COLUMNS: &'static [&'static str] = &[
        "Numéro étudiant",
        "INE",
        "Nom",
        "Prénom",
        "Statut",
        "Acceptation",
        "Personnalisé",
        "Code d'acheminement",
        "Dernière erreur",
        "Créé le",
        "Statut changé le",
    ];

    pub fn csv_cells(self) -> Vec<String> {
        vec![
            self.student.cod_etu,
            csv::opt(self.student.ine),
            self.student.last_name,
            self.student.first_name,
            self.status_label.0.fr.into_owned(),
            csv::yes_no(self.accepted),
            csv::yes_no(self.personalised),
            csv::opt(self.route_code),
            csv::opt(self.last_error),
            csv::date(self.created_at),
            csv::date(self.status_changed_at),
        ]
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCount {
    pub status: VaultStatus,
    #[schema(value_type = String)]
    pub label: Localized,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VaultSummary {
    /// One entry per status, all of them always present.
    pub statuses: Vec<StatusCount>,
    pub total: i64,
    /// Subscriptions queued and not yet carried out (pre-creation under way): they leave
    /// "Adhésion non transmise" as the queue sends them, paced under the Digiposte quota.
    pub queued_subscriptions: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// Only students enrolled in this composante.
    pub composante: Option<String>,
    /// Only students enrolled in this academic year.
    pub year: Option<i32>,
}

/// The registry filters of a bulk action (those of `GET /vaults`, without sort or page).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BulkQuery {
    /// One or more statuses, comma-separated; only `not_transmitted` and `transmission_error`
    /// vaults can be subscribed.
    pub status: Option<String>,
    /// Students enrolled in this composante (COD_CMP).
    pub composante: Option<String>,
    /// Acceptation: `true`/`false` (or ✔/✘).
    #[param(value_type = Option<String>)]
    pub accepted: Option<Flag>,
    /// Personnalisé: `true`/`false` (or ✔/✘).
    #[param(value_type = Option<String>)]
    pub personalised: Option<Flag>,
    /// Student number prefix, or part of a name.
    pub q: Option<String>,
    /// Students enrolled in this academic year.
    pub year: Option<i32>,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct BulkSubscribeConfirmation {
    /// How many vaults the manager was shown as about to be subscribed. If the filter selects
    /// another number of subscribable vaults now, nothing is queued (409, with
    /// `expected_vaults`).
    #[validate(range(min = 0))]
    pub expected_vaults: i64,
}

pub fn history_entry(h: service::HistoryRow) -> VaultHistoryEntry {
    let to = VaultStatus::parse(&h.to_status).unwrap_or(VaultStatus::NotTransmitted);
    VaultHistoryEntry {
        from_status: h.from_status.as_deref().and_then(VaultStatus::parse),
        to_status: to,
        to_status_label: Localized(to.label_text()),
        cause: h.cause,
        actor: h.actor,
        reason: h.reason,
        at: h.at.and_utc(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VaultActionAccepted {
    pub vault: Vault,
    pub action: VaultAction,
    /// The queued job that carries the action out through Digiposte.
    pub job: PendingAction,
    /// False when the same action was already queued (nothing new was enqueued).
    pub newly_queued: bool,
}

impl VaultDetail {
    pub fn of(d: service::Detail) -> Self {
        VaultDetail {
            vault: Vault::listed(d.vault),
            history: d.history.into_iter().map(history_entry).collect(),
            pending_actions: d.pending.into_iter().map(PendingAction::from).collect(),
        }
    }
}

impl VaultActionAccepted {
    pub fn of(a: service::Accepted) -> Self {
        VaultActionAccepted {
            vault: Vault::from_rows(a.vault, a.student),
            action: a.action,
            job: a.job.into(),
            newly_queued: a.newly_queued,
        }
    }
}
