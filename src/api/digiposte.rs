//! Digiposte: the signed webhook its receipts arrive on, and the membership synchronisation on
//! demand.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::vaults::PendingAction;
use crate::auth::{Permission, Principal};
use crate::db::receipts::ReceiptOutcome;
use crate::digiposte::{Receipt, signature};
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Text;
use crate::services::digiposte as service;
use crate::state::AppState;
use crate::text;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(receipt).service(sync);
}

/// A receipt, as Digiposte posts it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReceiptBody {
    /// Unique per receipt: a receipt id already processed changes nothing.
    receipt_id: String,
    /// Digiposte's id of the deposited document.
    document_id: String,
    /// `DELIVERED` (Transmis), `FAILED` (Non transmis), `VAULT_CLOSED` (Erreur transmission)
    /// or the intermediate `PROCESSING`.
    status: String,
    reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptAck {
    pub receipt_id: String,
    /// `applied`, `duplicate` (already processed) or `ignored` (the document is in a final
    /// state already, or the status is intermediate).
    pub outcome: String,
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The signature time (Unix seconds) of a receipt whose signature and freshness hold.
fn verified(
    config: &crate::digiposte::DigiposteConfig,
    req: &HttpRequest,
    body: &[u8],
) -> Result<i64, ApiError> {
    let invalid = |why: Text| ApiError::new(ErrorCode::WebhookSignatureInvalid, why);
    let (Some(ts), Some(sig)) = (
        header(req, signature::TIMESTAMP_HEADER),
        header(req, signature::SIGNATURE_HEADER),
    ) else {
        return Err(invalid(Text::fixed(
            "l'accusé de réception n'est pas signé",
            "the receipt carries no signature",
        )));
    };
    let seconds: i64 = ts.trim().parse().map_err(|_| {
        invalid(Text::fixed(
            "l'horodatage de la signature n'est pas une date Unix",
            "the signature timestamp is not a Unix time",
        ))
    })?;
    let now = chrono::Utc::now().timestamp();
    // abs_diff: a timestamp near i64::MIN or MAX cannot overflow the subtraction.
    if now.abs_diff(seconds) > config.webhook_tolerance_secs.unsigned_abs() {
        return Err(ApiError::new(ErrorCode::WebhookStale, {
            let (age, tolerance) = (now.saturating_sub(seconds), config.webhook_tolerance_secs);
            text!(
                "l'accusé de réception a été signé il y a {age} s ; {tolerance} s au plus sont acceptées",
                "the receipt was signed {age}s ago; at most {tolerance}s are accepted"
            )
        }));
    }
    if config.webhook_secret.is_empty()
        || !signature::verify(
            config.webhook_secret.expose().as_bytes(),
            ts.trim(),
            body,
            sig,
        )
    {
        tracing::warn!("Digiposte receipt refused: bad signature");
        return Err(invalid(Text::fixed(
            "la signature de l'accusé de réception ne correspond pas",
            "the receipt's signature does not match",
        )));
    }
    Ok(seconds)
}

/// Digiposte's receipts ("retours"), up to a day after the deposit. No bearer token: the body
/// is authenticated by `X-Digiposte-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`
/// with the configured `digiposte.webhook_secret`, and `X-Digiposte-Timestamp` (Unix seconds)
/// must be within 5 minutes. Each receipt id is processed once; a receipt never moves a
/// document out of a final state; a receipt for an unknown document is kept (and applied if
/// the deposit is recorded later) and answered 404.
#[utoipa::path(
    operation_id = "receiveDigiposteWebhook",
    tag = "digiposte",
    request_body = ReceiptBody,
    params(
        ("X-Digiposte-Timestamp" = String, Header, description = "Unix time of the signature, in seconds"),
        ("X-Digiposte-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of timestamp.body>"),
    ),
    responses(
        (status = 200, body = ReceiptAck, description = "Processed (or already processed)"),
        (status = 401, description = "Missing or wrong signature (`webhook_signature_invalid`), or too old (`webhook_stale`)"),
        (status = 404, description = "No document carries this Digiposte id (the receipt is kept)"),
    )
)]
#[post("/webhooks/digiposte")]
async fn receipt(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let seconds = verified(&state.config.digiposte, &req, &body)?;
    let parsed: Receipt = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            text!(
                "accusé de réception illisible : {e}",
                "unreadable receipt: {e}"
            ),
        )
    })?;
    let raw = String::from_utf8_lossy(&body).into_owned();
    let signed_at = chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.naive_utc())
        .unwrap_or_else(crate::db::now);
    let receipt_id = parsed.receipt_id.clone();
    let outcome = service::record_receipt(&state.context(), parsed, raw, signed_at).await?;
    tracing::debug!(%receipt_id, outcome = outcome.as_str(), "Digiposte receipt");
    if outcome == ReceiptOutcome::UnknownDocument {
        return Err(
            ApiError::not_found("document with this Digiposte id").with("receipt_id", &receipt_id)
        );
    }
    Ok(HttpResponse::Ok().json(ReceiptAck {
        receipt_id,
        outcome: outcome.as_str().to_owned(),
    }))
}

/// Runs the membership synchronisation now (it also runs nightly): Digiposte's memberships
/// update the vaults' statuses, `accepted` and `personalised`. A manager's synchronisation
/// touches only the vaults of their composantes' students. Queued; follow the job.
#[utoipa::path(
    operation_id = "syncDigiposte",
    tag = "digiposte",
    responses(
        (status = 202, body = PendingAction, description = "Queued (or already queued)"),
        (status = 403, description = "Administrators and managers only"),
        (status = 409, description = "Digiposte is not configured (`digiposte_not_configured`)"),
    )
)]
#[post("/digiposte/sync")]
async fn sync(state: web::Data<AppState>, principal: Principal) -> Result<HttpResponse, ApiError> {
    let scope = principal.authorize(Permission::DigiposteAdmin)?;
    if !state.config.digiposte.is_configured() {
        return Err(ApiError::new(
            ErrorCode::DigiposteNotConfigured,
            crate::i18n::Text::fixed(
                "Digiposte n'est pas configuré (digiposte.base_url) : pas de synchronisation possible",
                "set digiposte.base_url to synchronise with Digiposte",
            ),
        ));
    }
    let job = service::queue_sync(&state.context(), &scope, principal.actor()).await?;
    Ok(HttpResponse::Accepted().json(PendingAction::from(job)))
}
