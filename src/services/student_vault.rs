//! What a student's "vérification compte" page says: their vault as it is now, the one next
//! step that is true now (no finalisation asked of a personalised account, no stale link
//! after a termination, how to withdraw an objection), and the documents delivered to it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{documents, treatments};
use crate::db::students::StudentRow;
use crate::db::{DbConnection, consents, vaults};
use crate::domain::consent::ConsentSource;
use crate::domain::delivery::DeliveryStatus;
use crate::domain::document_kind::DocumentKinds;
use crate::domain::vault::VaultStatus;
use crate::error::ApiError;
use crate::i18n::{Localized, Text};

/// A student's objection to the pre-creation of their vault, as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Objection {
    pub recorded_at: DateTime<Utc>,
    /// Where it came from: `ent`, `paper`, `manager` or `import` (collected at enrolment).
    pub source: ConsentSource,
}

/// One document delivered (or being delivered) to the student's vault.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveredDocument {
    /// `releve_notes`, `attestation_reussite`…
    pub document_type: String,
    #[schema(value_type = String, example = "Relevé de notes")]
    pub document_type_label: Localized,
    /// The academic year the document is for (2025 = 2025-2026).
    pub academic_year: i32,
    #[schema(example = "2025-2026")]
    pub academic_year_label: String,
    /// When it was deposited into the vault (absent while queued).
    pub deposited_at: Option<DateTime<Utc>>,
    pub delivery_status: DeliveryStatus,
    /// "Transmis", "En attente du retour"…
    #[schema(value_type = String, example = "Transmis")]
    pub delivery_status_label: Localized,
    /// Digiposte confirmed the document is in the vault (Transmis).
    pub transmitted: bool,
}

/// A student's own vault, as the "vérification compte" page shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyVault {
    /// Absent when no vault exists.
    pub status: Option<VaultStatus>,
    #[schema(value_type = Option<String>, example = "Validé")]
    pub status_label: Option<Localized>,
    pub accepted: bool,
    pub personalised: bool,
    /// What to do next, true for the vault as it is now (`Accept-Language`, French by default).
    #[schema(value_type = String)]
    pub next_step: Localized,
    /// The link to finish (or renew) the account, only while following it is the next step.
    pub customization_url: Option<String>,
    /// The objection in force, when the student objected to the vault's pre-creation.
    pub objection: Option<Objection>,
    /// Documents sent to the vault, newest first.
    pub documents: Vec<DeliveredDocument>,
}

/// The student's vault page. Read-only; runs inside a database closure.
pub fn my_vault(
    conn: &mut DbConnection,
    student: &StudentRow,
    kinds: &DocumentKinds,
) -> Result<MyVault, ApiError> {
    let ids = vec![student.id.clone()];
    let objection = consents::objections_in_force(conn, &ids)?
        .remove(&student.id)
        .map(|(at, source)| Objection {
            recorded_at: at.and_utc(),
            source,
        });
    let documents = delivered(conn, &student.id, kinds)?;
    Ok(match vaults::by_student(conn, &student.id)? {
        Some(v) => {
            let status = v.status();
            MyVault {
                status: Some(status),
                status_label: Some(Localized(status.label_text())),
                accepted: v.accepted,
                personalised: v.personalised,
                next_step: Localized(status.student_guidance(v.personalised)),
                customization_url: v
                    .customization_url
                    .filter(|_| status.finalisation_link_applies(v.personalised)),
                objection: objection.filter(|_| status == VaultStatus::Objected),
                documents,
            }
        }
        None => MyVault {
            status: None,
            status_label: None,
            accepted: false,
            personalised: false,
            next_step: Localized(if objection.is_some() {
                VaultStatus::Objected.student_guidance(false)
            } else {
                Text::fixed(
                    "Aucun coffre-fort n'a encore été créé pour vous. Contactez votre scolarité \
                     pour en demander un.",
                    "No vault was created for you yet. Contact your registrar's office to ask \
                     for one.",
                )
            }),
            customization_url: None,
            objection,
            documents,
        },
    })
}

/// The statuses of a document that left for the vault.
const SENT: [DeliveryStatus; 5] = [
    DeliveryStatus::AwaitingReceipt,
    DeliveryStatus::Transmitted,
    DeliveryStatus::TransmissionError,
    DeliveryStatus::NotTransmitted,
    DeliveryStatus::Uncertain,
];

fn delivered(
    conn: &mut DbConnection,
    student_id: &str,
    kinds: &DocumentKinds,
) -> Result<Vec<DeliveredDocument>, ApiError> {
    let sent: Vec<&str> = SENT.iter().map(|s| s.as_str()).collect();
    let rows: Vec<(String, i32, Option<chrono::NaiveDateTime>, Option<String>)> = documents::table
        .inner_join(treatments::table)
        .filter(documents::student_id.eq(student_id))
        .filter(documents::delivery_status.eq_any(sent))
        .order((documents::deposited_at.desc(), documents::id.desc()))
        .select((
            treatments::document_type,
            treatments::academic_year,
            documents::deposited_at,
            documents::delivery_status,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind, year, deposited_at, status)| {
            let status = DeliveryStatus::parse(status.as_deref()?)?;
            let label = kinds.label_of(&kind);
            Some(DeliveredDocument {
                document_type_label: Localized(label),
                document_type: kind,
                academic_year: year,
                academic_year_label: crate::domain::academic_year::label(year),
                deposited_at: deposited_at.map(|t| t.and_utc()),
                delivery_status_label: Localized(status.label_text()),
                delivery_status: status,
                transmitted: status == DeliveryStatus::Transmitted,
            })
        })
        .collect())
}
