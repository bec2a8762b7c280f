//! `/vaults`: the registry managers filter every day, the dashboard counts, and vault actions.

use actix_web::{Either, HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{Permission, Principal};
use crate::db::audit::{self, AuditEvent};
use crate::db::vaults::{self as repo, VaultFilter, VaultSort};
use crate::db::{consents, jobs};
use crate::domain::csv;
use crate::domain::vault::{VaultAction, VaultStatus, VaultTrigger};
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Localized;
use crate::pagination::{Page, Window};
use crate::services::export::{self, ListFormat};
use crate::services::student_vault::Objection;
use crate::services::vault_subscriptions::{self, BulkSubscription};
use crate::state::AppState;
use validator::Validate;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(summary)
        .service(subscribe_all)
        .service(show)
        .service(subscribe)
        .service(terminate)
        .service(reinvite);
}

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
    /// The page's vaults, with the objection of those in `objected`.
    fn page(
        conn: &mut crate::db::DbConnection,
        rows: Vec<(repo::VaultRow, repo::VaultStudent)>,
    ) -> Result<Vec<Vault>, ApiError> {
        let objected: Vec<String> = rows
            .iter()
            .filter(|(v, _)| v.status() == VaultStatus::Objected)
            .map(|(v, _)| v.student_id.clone())
            .collect();
        let mut objections = if objected.is_empty() {
            Default::default()
        } else {
            consents::objections_in_force(conn, &objected)?
        };
        Ok(rows
            .into_iter()
            .map(|(v, s)| {
                let objection = objections
                    .remove(&v.student_id)
                    .map(|(at, source)| Objection {
                        recorded_at: at.and_utc(),
                        source,
                    });
                Vault {
                    objection,
                    ..Vault::from_rows(v, s)
                }
            })
            .collect())
    }

    pub fn from_rows(v: repo::VaultRow, s: repo::VaultStudent) -> Vault {
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

impl From<jobs::JobRow> for PendingAction {
    fn from(j: jobs::JobRow) -> Self {
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

fn parse_statuses(s: Option<&str>) -> Result<Vec<VaultStatus>, ApiError> {
    let Some(s) = s else { return Ok(Vec::new()) };
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            VaultStatus::parse(p).ok_or_else(|| {
                let known: Vec<&str> = VaultStatus::ALL.iter().map(|s| s.as_str()).collect();
                let known = known.join(", ");
                ApiError::new(
                    ErrorCode::InvalidParameter,
                    crate::text!(
                        "`{p}` n'est pas un état de coffre ; états connus : {known}",
                        "`{p}` is not a vault status; expected one of: {known}"
                    ),
                )
            })
        })
        .collect()
}

fn filter_of(q: &VaultQuery) -> Result<VaultFilter, ApiError> {
    Ok(VaultFilter {
        statuses: parse_statuses(q.status.as_deref())?,
        composante: q.composante.clone(),
        accepted: q.accepted.map(|f| f.0),
        personalised: q.personalised.map(|f| f.0),
        q: q.q.clone(),
        year: q.year,
        sort: q.sort.unwrap_or_default().into(),
    })
}

/// Vaults within the caller's scope, filtered, sorted and paginated; with `Accept: text/csv`
/// or `format=csv`, the whole filtered list as CSV for a spreadsheet.
#[utoipa::path(
    operation_id = "listVaults",
    tag = "vaults",
    params(VaultQuery),
    responses((status = 200, description = "One page of vaults, or the whole list as CSV", content(
        (Page<Vault> = "application/json"),
        (String = "text/csv", example = json!("\u{feff}Numéro étudiant;INE;Nom;Prénom;Statut;Acceptation;Personnalisé;Code d'acheminement;Dernière erreur;Créé le;Statut changé le\r\n21900001;;LEFÈVRE;Zoé;Validé;oui;oui;;;2025-09-01T08:00:00Z;2025-09-02T08:00:00Z\r\n"))
    )))
)]
#[get("/vaults")]
async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<VaultQuery>,
) -> Result<Either<web::Json<Page<Vault>>, HttpResponse>, ApiError> {
    let scope = principal.authorize(Permission::VaultsRead)?;
    let filter = filter_of(&query)?;
    if export::wants_csv(&req, query.format) {
        return Ok(Either::Right(export::stream(
            &state.db,
            "coffres.csv",
            Vault::CSV_COLUMNS,
            move |conn, window| Ok(repo::list(conn, &scope, &filter, window)?.0),
            |(v, s)| Vault::from_rows(v, s).csv_cells(),
        )));
    }
    let window = Window::new(query.page, query.per_page)?;
    let (items, total) = state
        .db
        .run(move |conn| {
            let (rows, total) = repo::list(conn, &scope, &filter, window)?;
            Ok((Vault::page(conn, rows)?, total))
        })
        .await?;
    Ok(Either::Left(web::Json(window.wrap(items, total))))
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

    fn csv_cells(self) -> Vec<String> {
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

/// How many vaults per status within the caller's scope (the dashboard blocks).
#[utoipa::path(operation_id = "getVaultsSummary", tag = "vaults", params(SummaryQuery), responses((status = 200, body = VaultSummary)))]
#[get("/vaults/summary")]
async fn summary(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<SummaryQuery>,
) -> Result<web::Json<VaultSummary>, ApiError> {
    let scope = principal.authorize(Permission::VaultsRead)?;
    let filter = VaultFilter {
        composante: query.composante.clone(),
        year: query.year,
        ..VaultFilter::default()
    };
    let (counts, queued_subscriptions) = state
        .db
        .run(move |conn| {
            Ok((
                repo::summary(conn, &scope, &filter)?,
                repo::queued_subscriptions(conn, &scope, &filter)?,
            ))
        })
        .await?;
    let total = counts.iter().map(|(_, n)| n).sum();
    Ok(web::Json(VaultSummary {
        statuses: counts
            .into_iter()
            .map(|(status, count)| StatusCount {
                status,
                label: Localized(status.label_text()),
                count,
            })
            .collect(),
        total,
        queued_subscriptions,
    }))
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

/// Queues the Digiposte subscription of every vault the filters select that may be subscribed
/// (`not_transmitted`, or again after `transmission_error`; never a student who refused),
/// confirmed by their number as the bulk send is. The queue sends them paced under the
/// Digiposte quota; `GET /vaults/summary` shows `queued_subscriptions` going down.
#[utoipa::path(
    operation_id = "subscribeVaults",
    tag = "vaults",
    params(BulkQuery),
    request_body = BulkSubscribeConfirmation,
    responses(
        (status = 202, body = BulkSubscription, description = "Queued"),
        (status = 409, description = "The number confirmed is not the number of subscribable vaults now (`expected_vaults` gives it)"),
        (status = 422, description = "Invalid body"),
    )
)]
#[post("/vaults/subscribe")]
async fn subscribe_all(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<BulkQuery>,
    body: super::extract::ValidJson<BulkSubscribeConfirmation>,
) -> Result<HttpResponse, ApiError> {
    let scope = principal.authorize(Permission::VaultsAct)?;
    let query = query.into_inner();
    let filter = VaultFilter {
        statuses: parse_statuses(query.status.as_deref())?,
        composante: query.composante,
        accepted: query.accepted.map(|f| f.0),
        personalised: query.personalised.map(|f| f.0),
        q: query.q,
        year: query.year,
        sort: VaultSort::default(),
    };
    let expected = body.0.expected_vaults;
    let actor = principal.actor();
    let key = state.audit_key.clone();
    let outcome = state
        .db
        .write(move |conn| {
            vault_subscriptions::subscribe_all(
                conn,
                key.expose().as_bytes(),
                &scope,
                &filter,
                expected,
                &actor,
            )
        })
        .await?;
    Ok(HttpResponse::Accepted().json(outcome))
}

pub fn history_entry(h: repo::HistoryRow) -> VaultHistoryEntry {
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

/// One vault with its history and pending actions (404 outside the caller's scope).
#[utoipa::path(
    operation_id = "getVault",
    tag = "vaults",
    params(("id" = String, Path, description = "Vault id")),
    responses((status = 200, body = VaultDetail), (status = 404, description = "No such vault within the caller's scope"))
)]
#[get("/vaults/{id}")]
async fn show(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<VaultDetail>, ApiError> {
    let scope = principal.authorize(Permission::VaultsRead)?;
    let id = id.into_inner();
    let detail = state
        .db
        .run(move |conn| {
            let Some((vault, student)) = repo::get(conn, &scope, &id)? else {
                return Err(ApiError::not_found("vault"));
            };
            let history = repo::history(conn, &vault.id)?;
            let pending = jobs::open_jobs_for(conn, &vault.id)?;
            let vault = Vault::page(conn, vec![(vault, student)])?
                .pop()
                .ok_or_else(|| ApiError::not_found("vault"))?;
            Ok(VaultDetail {
                vault,
                history: history.into_iter().map(history_entry).collect(),
                pending_actions: pending.into_iter().map(PendingAction::from).collect(),
            })
        })
        .await?;
    Ok(web::Json(detail))
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

/// Records a vault action: checks the status allows it, applies the immediate transition
/// (termination and re-invitation are visible at once), and queues the Digiposte work.
async fn act(
    state: web::Data<AppState>,
    principal: Principal,
    id: String,
    action: VaultAction,
) -> Result<HttpResponse, ApiError> {
    let scope = principal.authorize(Permission::VaultsAct)?;
    let actor = principal.actor();
    let key = state.audit_key.clone();
    let accepted = state
        .db
        .write(move |conn| {
            {
                let Some((vault, student)) = repo::get(conn, &scope, &id)? else {
                    return Err(ApiError::not_found("vault"));
                };
                let status = vault.status();
                let kind = match action {
                    VaultAction::Subscribe => jobs::kind::VAULT_SUBSCRIBE,
                    VaultAction::Terminate => jobs::kind::VAULT_TERMINATE,
                    VaultAction::Reinvite => jobs::kind::VAULT_REINVITE,
                };
                // Asking again for an action already under way changes nothing.
                if let Some(open) = jobs::open_job(conn, kind, &vault.id)? {
                    let (vault, student) = repo::get(conn, &scope, &id)?
                        .ok_or_else(|| ApiError::not_found("vault"))?;
                    return Ok(VaultActionAccepted {
                        vault: Vault::from_rows(vault, student),
                        action,
                        job: open.into(),
                        newly_queued: false,
                    });
                }
                if !action.allowed_from(status) {
                    let (label, code, verb) = (status.label(), status.as_str(), action.as_str());
                    return Err(repo::invalid_transition(
                        status,
                        crate::text!(
                            "cette action ({verb}) n'est pas possible sur un coffre « {label} »",
                            "a vault in status `{code}` cannot be asked to {verb}"
                        ),
                    ));
                }
                // Nothing is sent for a student who objected or withdrew their consent.
                if matches!(action, VaultAction::Subscribe | VaultAction::Reinvite)
                    && consents::any_refused(conn, &vault.student_id)?
                {
                    return Err(ApiError::new(
                        ErrorCode::ConsentRefused,
                        crate::i18n::Text::fixed(
                            "l'étudiant s'est opposé à son coffre (ou a retiré son consentement) ; rétablissez d'abord le consentement",
                            "the student objected to (or withdrew consent for) the vault; restore the consent first",
                        ),
                    ));
                }
                match action {
                    VaultAction::Subscribe => {}
                    VaultAction::Terminate => {
                        repo::transition(
                            conn,
                            &vault,
                            VaultTrigger::TerminationRequested,
                            &actor,
                            None,
                        )?;
                    }
                    VaultAction::Reinvite => {
                        repo::transition(conn, &vault, VaultTrigger::Reinvited, &actor, None)?;
                    }
                }
                let payload = serde_json::json!({ "vault_id": vault.id });
                let (job, created) = jobs::enqueue(conn, kind, &vault.id, &payload, &actor)?;
                audit::append(
                    conn,
                    key.expose().as_bytes(),
                    AuditEvent {
                        actor: &actor,
                        action: &format!("vault.{}", action.as_str()),
                        student: Some(&student.cod_etu),
                        object_type: "vault",
                        object_id: Some(&vault.id),
                        details: serde_json::json!({ "from_status": status, "job_id": job.id }),
                    },
                )?;
                let (vault, student) =
                    repo::get(conn, &scope, &id)?.ok_or_else(|| ApiError::not_found("vault"))?;
                Ok(VaultActionAccepted {
                    vault: Vault::from_rows(vault, student),
                    action,
                    job: job.into(),
                    newly_queued: created,
                })
            }
        })
        .await?;
    Ok(HttpResponse::Accepted().json(accepted))
}

/// Sends (or re-sends after an error) the vault subscription to Digiposte.
#[utoipa::path(
    operation_id = "subscribeVault",
    tag = "vaults",
    params(("id" = String, Path, description = "Vault id")),
    responses(
        (status = 202, body = VaultActionAccepted, description = "Queued (or already queued)"),
        (status = 404, description = "No such vault within the caller's scope"),
        (status = 409, description = "The vault's status does not allow a subscription"),
    )
)]
#[post("/vaults/{id}/subscribe")]
async fn subscribe(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(state, principal, id.into_inner(), VaultAction::Subscribe).await
}

/// Requests the termination of the membership (status "Demande en cours de réalisation").
#[utoipa::path(
    operation_id = "terminateVault",
    tag = "vaults",
    params(("id" = String, Path, description = "Vault id")),
    responses(
        (status = 202, body = VaultActionAccepted, description = "Queued (or already queued)"),
        (status = 404, description = "No such vault within the caller's scope"),
        (status = 409, description = "The vault's status does not allow a termination"),
    )
)]
#[post("/vaults/{id}/terminate")]
async fn terminate(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(state, principal, id.into_inner(), VaultAction::Terminate).await
}

/// Issues a re-subscription link to a student whose vault was terminated ("Préinscription").
#[utoipa::path(
    operation_id = "reinviteVault",
    tag = "vaults",
    params(("id" = String, Path, description = "Vault id")),
    responses(
        (status = 202, body = VaultActionAccepted, description = "Queued (or already queued)"),
        (status = 404, description = "No such vault within the caller's scope"),
        (status = 409, description = "Only a terminated vault can be re-invited"),
    )
)]
#[post("/vaults/{id}/reinvite")]
async fn reinvite(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(state, principal, id.into_inner(), VaultAction::Reinvite).await
}
