//! `/consents` and `/me/consents`: the RGPD consent and objection ledger.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::extract::ValidJson;
use crate::auth::{DataScope, Permission, Principal};
use crate::db::consents as repo;
use crate::domain::consent::{ConsentEventKind, ConsentPurpose, ConsentSource, ConsentState};
use crate::error::{ApiError, ErrorCode};
use crate::services::consents::{self as service, ConsentEffect, ConsentRequest};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(my_list)
        .service(my_create);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentEvent {
    pub id: String,
    pub purpose: ConsentPurpose,
    pub event: ConsentEventKind,
    pub source: ConsentSource,
    /// Who recorded it (`manager:<sub>`, `student`…).
    pub actor: String,
    pub evidence_ref: Option<String>,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

impl TryFrom<repo::ConsentRow> for ConsentEvent {
    type Error = ApiError;
    fn try_from(r: repo::ConsentRow) -> Result<Self, ApiError> {
        let corrupt = || ApiError::internal(format!("consent event {} has an unknown value", r.id));
        Ok(ConsentEvent {
            purpose: ConsentPurpose::parse(&r.purpose).ok_or_else(corrupt)?,
            event: ConsentEventKind::parse(&r.event).ok_or_else(corrupt)?,
            source: ConsentSource::parse(&r.source).ok_or_else(corrupt)?,
            id: r.id,
            actor: r.actor,
            evidence_ref: r.evidence_ref,
            comment: r.comment,
            at: r.at.and_utc(),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurposeState {
    pub purpose: ConsentPurpose,
    pub purpose_label: &'static str,
    pub state: ConsentState,
    pub state_label: &'static str,
    /// False when no event exists: the default (opt-out) applies.
    pub explicit: bool,
}

/// A student's consents: the derived state per purpose, and every event.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentLedger {
    pub student: String,
    pub purposes: Vec<PurposeState>,
    pub events: Vec<ConsentEvent>,
}

fn ledger(cod_etu: String, rows: Vec<repo::ConsentRow>) -> Result<ConsentLedger, ApiError> {
    let purposes = ConsentPurpose::ALL
        .into_iter()
        .map(|p| {
            let (state, explicit) = repo::state_of(&rows, p);
            PurposeState {
                purpose: p,
                purpose_label: p.label(),
                state,
                state_label: state.label(),
                explicit,
            }
        })
        .collect();
    Ok(ConsentLedger {
        student: cod_etu,
        purposes,
        events: rows
            .into_iter()
            .map(ConsentEvent::try_from)
            .collect::<Result<_, _>>()?,
    })
}

async fn load_ledger(
    state: &AppState,
    scope: DataScope,
    cod_etu: String,
) -> Result<ConsentLedger, ApiError> {
    state
        .db
        .run(move |conn| {
            let (student, rows) = service::events_in_scope(conn, &scope, &cod_etu)?;
            ledger(student.cod_etu, rows)
        })
        .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsentQuery {
    /// The student's number (COD_ETU).
    pub student: String,
}

/// A student's consent ledger (managers: students of their composantes).
#[utoipa::path(
    operation_id = "listConsents",
    tag = "consents",
    params(ConsentQuery),
    responses((status = 200, body = ConsentLedger), (status = 404, description = "No such student within the caller's scope"))
)]
#[get("/consents")]
async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ConsentQuery>,
) -> Result<web::Json<ConsentLedger>, ApiError> {
    let scope = principal.authorize(Permission::ConsentsRead)?;
    Ok(web::Json(
        load_ledger(&state, scope, query.into_inner().student).await?,
    ))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsentEvent {
    /// The student's number (COD_ETU). A student may only name themselves.
    #[validate(length(min = 1, max = 20))]
    pub student: String,
    pub purpose: ConsentPurpose,
    pub event: ConsentEventKind,
    /// `paper` (a letter), `manager` or `import`; `ent` is the student's own channel.
    pub source: ConsentSource,
    /// Reference of the evidence, e.g. the scanned letter's id in the document system.
    #[validate(length(max = 200))]
    pub evidence_ref: Option<String>,
    #[validate(length(max = 2000))]
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MyConsentEvent {
    pub purpose: ConsentPurpose,
    pub event: ConsentEventKind,
    #[validate(length(max = 2000))]
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentRecorded {
    pub event: ConsentEvent,
    /// The purpose's state after the event.
    pub state: ConsentState,
    pub state_label: &'static str,
    /// What the event changed (termination requested, queued work cancelled, vault created…).
    pub effects: Vec<ConsentEffect>,
}

/// One event to record, whoever asks.
struct Recording {
    scope: DataScope,
    cod_etu: String,
    purpose: ConsentPurpose,
    event: ConsentEventKind,
    source: ConsentSource,
    actor: String,
    evidence_ref: Option<String>,
    comment: Option<String>,
}

async fn record(state: web::Data<AppState>, r: Recording) -> Result<HttpResponse, ApiError> {
    let Recording {
        scope,
        cod_etu,
        purpose,
        event,
        source,
        actor,
        evidence_ref,
        comment,
    } = r;
    let current_year = state.config.current_academic_year();
    let auto_subscribe = state.config.vaults.auto_subscribe;
    let key = state.audit_key.clone();
    let recorded = state
        .db
        .write(move |conn| {
            let outcome = service::record_in_scope(
                conn,
                key.expose().as_bytes(),
                &scope,
                &cod_etu,
                ConsentRequest {
                    purpose,
                    event,
                    source,
                    actor: &actor,
                    evidence_ref: evidence_ref.as_deref(),
                    comment: comment.as_deref(),
                    auto_subscribe,
                },
                current_year,
            )?;
            Ok(ConsentRecorded {
                event: outcome.event.try_into()?,
                state: outcome.state,
                state_label: outcome.state.label(),
                effects: outcome.effects,
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(recorded))
}

/// Records a consent event for a student — typically a paper refusal a manager received.
/// An objection or a withdrawal stops everything under way for the student.
#[utoipa::path(
    operation_id = "createConsent",
    tag = "consents",
    request_body = NewConsentEvent,
    responses(
        (status = 201, body = ConsentRecorded),
        (status = 404, description = "No such student within the caller's scope"),
        (status = 409, description = "The event changes nothing in the current state"),
        (status = 422, description = "Invalid fields"),
    )
)]
#[post("/consents")]
async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewConsentEvent>,
) -> Result<HttpResponse, ApiError> {
    let scope = principal.authorize(Permission::ConsentsWrite)?;
    let body = body.0;
    let source = match (&scope, body.source) {
        // A student's own events always come through the ENT, and carry no evidence: evidence
        // is what staff record for a paper letter.
        (DataScope::Student(_), _) if body.evidence_ref.is_some() => {
            return Err(ApiError::validation(vec![crate::error::FieldError {
                field: "evidence_ref".into(),
                code: "not_for_students".into(),
                message: crate::i18n::Localized(crate::i18n::Text::fixed(
                    "le consentement donné par l'étudiant lui-même ne porte pas de référence de justificatif",
                    "a student's own consent event carries no evidence reference",
                )),
            }]));
        }
        (DataScope::Student(_), _) => ConsentSource::Ent,
        (_, ConsentSource::Ent) => {
            return Err(ApiError::validation(vec![crate::error::FieldError {
                field: "source".into(),
                code: "ent_is_the_students_channel".into(),
                message: crate::i18n::Localized(crate::i18n::Text::fixed(
                    "`ent` est réservé aux demandes de l'étudiant lui-même (POST /me/consents)",
                    "`ent` is reserved to the student's own requests (POST /me/consents)",
                )),
            }]));
        }
        (_, s) => s,
    };
    record(
        state,
        Recording {
            scope,
            cod_etu: body.student,
            purpose: body.purpose,
            event: body.event,
            source,
            actor: principal.actor(),
            evidence_ref: body.evidence_ref,
            comment: body.comment,
        },
    )
    .await
}

/// The caller's own consent ledger (students).
#[utoipa::path(operation_id = "listMyConsents", tag = "consents", responses((status = 200, body = ConsentLedger), (status = 403, description = "Students only")))]
#[get("/me/consents")]
async fn my_list(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<ConsentLedger>, ApiError> {
    let cod_etu = principal.own_cod_etu()?.to_owned();
    let scope = DataScope::Student(cod_etu.clone());
    Ok(web::Json(load_ledger(&state, scope, cod_etu).await?))
}

/// Records the caller's own consent event through the ENT (objection, withdrawal, restoration).
#[utoipa::path(
    operation_id = "createMyConsent",
    tag = "consents",
    request_body = MyConsentEvent,
    responses(
        (status = 201, body = ConsentRecorded),
        (status = 403, description = "Students only"),
        (status = 409, description = "The event changes nothing in the current state"),
    )
)]
#[post("/me/consents")]
async fn my_create(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<MyConsentEvent>,
) -> Result<HttpResponse, ApiError> {
    let cod_etu = principal.own_cod_etu()?.to_owned();
    let body = body.0;
    record(
        state,
        Recording {
            scope: DataScope::Student(cod_etu.clone()),
            cod_etu,
            purpose: body.purpose,
            event: body.event,
            source: ConsentSource::Ent,
            actor: principal.actor(),
            evidence_ref: None,
            comment: body.comment,
        },
    )
    .await
    .map_err(|e| match e.code {
        ErrorCode::NotFound => ApiError::not_found("student (you are not known to passerelle yet)"),
        _ => e,
    })
}
