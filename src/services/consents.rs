//! Recording a consent event and carrying out its effects, in one write transaction:
//! an objection or withdrawal stops everything under way for the student (pending
//! subscription cancelled, termination requested, queued documents cancelled); a restoration
//! makes a new subscription possible (and pre-creates the vault if none exists).

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::audit::{self, AuditEvent};
use crate::db::students::StudentRow;
use crate::db::{DbConnection, consents, jobs, students, vaults};
use crate::domain::consent::{self, ConsentEventKind, ConsentPurpose, ConsentSource, ConsentState};
use crate::domain::vault::{VaultStatus, VaultTrigger};
use crate::error::ApiError;

/// The reason recorded on work cancelled because the student refused.
pub const CONSENT_WITHDRAWN: &str = "consent_withdrawn";

/// What recording the event changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentEffect {
    /// A queued subscription (or re-invitation) was cancelled before reaching Digiposte.
    PendingSubscriptionCancelled,
    /// The vault's termination was requested.
    TerminationRequested,
    /// Documents queued for the student and not yet deposited were cancelled.
    QueuedDocumentsCancelled,
    /// The vault was pre-created (consent restored, valid enrolment).
    VaultCreated,
    /// The never-transmitted vault is now "Opposition enregistrée".
    ObjectionRecorded,
    /// The vault left "Opposition enregistrée" (objection withdrawn).
    ObjectionLifted,
    /// The vault's subscription was queued (`vaults.auto_subscribe`).
    SubscriptionQueued,
}

pub struct ConsentRequest<'a> {
    pub purpose: ConsentPurpose,
    pub event: ConsentEventKind,
    pub source: ConsentSource,
    pub actor: &'a str,
    pub evidence_ref: Option<&'a str>,
    pub comment: Option<&'a str>,
    /// `vaults.auto_subscribe`: a restored consent queues the vault's subscription.
    pub auto_subscribe: bool,
}

pub struct ConsentOutcome {
    pub event: consents::ConsentRow,
    pub state: ConsentState,
    pub effects: Vec<ConsentEffect>,
}

/// Records the event (409 when it changes nothing) and applies its effects. Must run inside a
/// write transaction.
pub fn record(
    conn: &mut DbConnection,
    audit_key: &[u8],
    student: &StudentRow,
    request: ConsentRequest,
    current_year: i32,
) -> Result<ConsentOutcome, ApiError> {
    let events = consents::events_of(conn, &student.id)?;
    let (current, has_events) = consents::state_of(&events, request.purpose);
    consent::check(current, request.event, has_events).map_err(|e| {
        let (label, en) = (current.label().to_lowercase(), e.to_string());
        ApiError::new(
            crate::error::ErrorCode::InvalidTransition,
            crate::text!(
                "cet événement ne change rien : le consentement est déjà « {label} »",
                "{en}"
            ),
        )
        .with("current_state", current)
        .with("current_state_label", current.label())
    })?;
    let row = consents::append(
        conn,
        &consents::NewEvent {
            student_id: &student.id,
            purpose: request.purpose,
            event: request.event,
            source: request.source,
            actor: request.actor,
            evidence_ref: request.evidence_ref,
            comment: request.comment,
        },
    )?;
    let state = match request.event {
        ConsentEventKind::Objected | ConsentEventKind::Withdrawn => ConsentState::Refused,
        ConsentEventKind::Granted | ConsentEventKind::Restored => ConsentState::Consented,
    };
    let effects = match state {
        ConsentState::Refused => {
            stop_everything(conn, &student.id, request.purpose, request.actor)?
        }
        ConsentState::Consented => allow_again(
            conn,
            &student.id,
            request.purpose,
            request.actor,
            current_year,
            request.auto_subscribe,
        )?,
    };
    audit::append(
        conn,
        audit_key,
        AuditEvent {
            actor: request.actor,
            action: &format!("consent.{}", request.event.as_str()),
            student: Some(&student.cod_etu),
            object_type: "consent",
            object_id: Some(&row.id),
            details: serde_json::json!({
                "purpose": request.purpose,
                "source": request.source,
                "with_evidence": request.evidence_ref.is_some(),
                "effects": effects,
            }),
        },
    )?;
    Ok(ConsentOutcome {
        event: row,
        state,
        effects,
    })
}

fn stop_everything(
    conn: &mut DbConnection,
    student_id: &str,
    purpose: ConsentPurpose,
    actor: &str,
) -> Result<Vec<ConsentEffect>, ApiError> {
    let mut effects = Vec::new();
    if crate::db::deliveries::cancel_queued_for_student(conn, student_id, CONSENT_WITHDRAWN)? > 0 {
        effects.push(ConsentEffect::QueuedDocumentsCancelled);
    }
    let Some(vault) = vaults::by_student(conn, student_id)? else {
        return Ok(effects);
    };
    let cancelled = jobs::cancel_pending(
        conn,
        jobs::kind::VAULT_SUBSCRIBE,
        &vault.id,
        CONSENT_WITHDRAWN,
    )? + jobs::cancel_pending(
        conn,
        jobs::kind::VAULT_REINVITE,
        &vault.id,
        CONSENT_WITHDRAWN,
    )?;
    if cancelled > 0 {
        effects.push(ConsentEffect::PendingSubscriptionCancelled);
    }
    // Nothing was sent yet: the vault stays listed, as "Opposition enregistrée".
    if purpose == ConsentPurpose::VaultPrecreation
        && crate::domain::vault::next(vault.status(), VaultTrigger::ObjectionRecorded).is_ok()
    {
        vaults::transition(
            conn,
            &vault,
            VaultTrigger::ObjectionRecorded,
            actor,
            Some(CONSENT_WITHDRAWN),
        )?;
        effects.push(ConsentEffect::ObjectionRecorded);
        return Ok(effects);
    }
    if crate::domain::vault::next(vault.status(), VaultTrigger::TerminationRequested).is_ok() {
        vaults::transition(
            conn,
            &vault,
            VaultTrigger::TerminationRequested,
            actor,
            Some(CONSENT_WITHDRAWN),
        )?;
        let payload = serde_json::json!({ "vault_id": vault.id, "reason": CONSENT_WITHDRAWN });
        jobs::enqueue(
            conn,
            jobs::kind::VAULT_TERMINATE,
            &vault.id,
            &payload,
            actor,
        )?;
        effects.push(ConsentEffect::TerminationRequested);
    }
    Ok(effects)
}

fn allow_again(
    conn: &mut DbConnection,
    student_id: &str,
    purpose: ConsentPurpose,
    actor: &str,
    current_year: i32,
    auto_subscribe: bool,
) -> Result<Vec<ConsentEffect>, ApiError> {
    let mut effects = Vec::new();
    let ids = vec![student_id.to_owned()];
    if purpose == ConsentPurpose::VaultPrecreation {
        match vaults::by_student(conn, student_id)? {
            // The objection is lifted; the enrolment rule below settles valid or not.
            Some(vault) if vault.status() == VaultStatus::Objected => {
                vaults::transition(conn, &vault, VaultTrigger::ObjectionLifted, actor, None)?;
                effects.push(ConsentEffect::ObjectionLifted);
            }
            Some(_) => {}
            // A vault the objection prevented is pre-created now, by the usual enrolment rule.
            None => {}
        }
        let valid = students::validly_enrolled(conn, &ids, current_year)?;
        let objected = consents::precreation_objections(conn, &ids)?;
        let outcome = vaults::apply_enrolment_rule(conn, &ids, &valid, &objected, actor)?;
        if outcome.created > 0 {
            effects.push(ConsentEffect::VaultCreated);
        }
    }
    // Pre-creation unless refused: once nothing is refused any more, the subscription goes.
    if auto_subscribe && vaults::auto_subscribe(conn, &ids, actor)? > 0 {
        effects.push(ConsentEffect::SubscriptionQueued);
    }
    Ok(effects)
}

/// A student in `scope` and every consent event of theirs, oldest first.
pub fn events_in_scope(
    conn: &mut DbConnection,
    scope: &crate::auth::DataScope,
    cod_etu: &str,
) -> Result<(StudentRow, Vec<consents::ConsentRow>), ApiError> {
    let student =
        students::get(conn, scope, cod_etu)?.ok_or_else(|| ApiError::not_found("student"))?;
    let rows = consents::events_of(conn, &student.id)?;
    Ok((student, rows))
}

/// [`record`] for a student of `scope` named by their number (404 outside it). In a write
/// transaction.
pub fn record_in_scope(
    conn: &mut DbConnection,
    audit_key: &[u8],
    scope: &crate::auth::DataScope,
    cod_etu: &str,
    request: ConsentRequest,
    current_year: i32,
) -> Result<ConsentOutcome, ApiError> {
    let student =
        students::get(conn, scope, cod_etu)?.ok_or_else(|| ApiError::not_found("student"))?;
    record(conn, audit_key, &student, request, current_year)
}
