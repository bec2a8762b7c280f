//! `/vaults`: the registry of the students' Digiposte vaults, its dashboard counts and the
//! actions managers ask for. The use cases are in [`crate::services::vaults`].

mod dto;

use actix_web::{Either, HttpRequest, HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

pub use self::dto::*;
use crate::auth::{Permission, Principal};
use crate::domain::vault::{VaultAction, VaultStatus};
use crate::error::{ApiError, ErrorCode};
use crate::i18n::{Localized, Text};
use crate::pagination::{Page, Window};
use crate::services::export;
use crate::services::vault_subscriptions::BulkSubscription;
use crate::services::vaults::{self as service, VaultError, VaultFilter, VaultSort};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(summary)
        .service(subscribe_all)
        .service(show)
        .service(subscribe)
        .service(terminate)
        .service(reinvite);
}

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::NotFound => ApiError::not_found("vault"),
            VaultError::NotAllowed { status, action } => {
                let (label, code, verb) = (status.label(), status.as_str(), action.as_str());
                ApiError::new(
                    ErrorCode::InvalidTransition,
                    crate::text!(
                        "cette action ({verb}) n'est pas possible sur un coffre « {label} »",
                        "a vault in status `{code}` cannot be asked to {verb}"
                    ),
                )
                .with("current_status", code)
                .with("current_status_label", label)
            }
            VaultError::ConsentRefused => ApiError::new(
                ErrorCode::ConsentRefused,
                Text::fixed(
                    "l'étudiant s'est opposé à son coffre (ou a retiré son consentement) ; rétablissez d'abord le consentement",
                    "the student objected to (or withdrew consent for) the vault; restore the consent first",
                ),
            ),
            VaultError::Lower(e) => e,
        }
    }
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
            move |conn, window| Ok(service::rows(conn, &scope, &filter, window)?.0),
            |(v, s)| Vault::from_rows(v, s).csv_cells(),
        )));
    }
    let window = Window::new(query.page, query.per_page)?;
    let (items, total) = state
        .db
        .run(move |conn| service::page(conn, &scope, &filter, window))
        .await?;
    let items = items.into_iter().map(Vault::listed).collect();
    Ok(Either::Left(web::Json(window.wrap(items, total))))
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
    let (counts, queued_subscriptions) = service::summary(&state.context(), scope, filter).await?;
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
    body: crate::api::extract::ValidJson<BulkSubscribeConfirmation>,
) -> Result<HttpResponse, ApiError> {
    let caller = super::caller(&principal, Permission::VaultsAct)?;
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
    let outcome = service::subscribe_all(&state.context(), &caller, filter, expected).await?;
    Ok(HttpResponse::Accepted().json(outcome))
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
    let detail = service::detail(&state.context(), scope, id.into_inner()).await?;
    Ok(web::Json(VaultDetail::of(detail)))
}

/// Records a vault action (see [`service::act`]).
async fn act(
    state: web::Data<AppState>,
    principal: Principal,
    id: String,
    action: VaultAction,
) -> Result<HttpResponse, ApiError> {
    let caller = super::caller(&principal, Permission::VaultsAct)?;
    let accepted = service::act(&state.context(), &caller, id, action).await?;
    Ok(HttpResponse::Accepted().json(VaultActionAccepted::of(accepted)))
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
