//! The delivery job: deposits one document into its student's vault, exactly once.
//!
//! `queued` → (intent recorded) → deposit → `awaiting_receipt`; a receipt later makes it
//! `transmitted`, `transmission_error` or `not_transmitted`. The intent (`deposit_started_at`)
//! is written before the HTTP call and withdrawn when the call surely never reached Digiposte.
//! A deposit whose outcome is unknown (timeout or 5xx after sending, an unreadable answer, a
//! crash before the bookkeeping: an intent still there) goes to `uncertain` ("À vérifier"):
//! Digiposte publishes no listing of a vault's documents, so passerelle cannot look, and a
//! blind second deposit could put the document in the vault twice. A manager confirms it was
//! received or has it deposited again (`POST /treatments/{id}/documents/{doc}/uncertain`).
//! The vault and the consent are checked again just before depositing.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use super::{HandlerFuture, JobHandler, Outcome};
use crate::db::deliveries;
use crate::db::jobs::JobRow;
use crate::digiposte::{CertifiedDeposit, DigiposteApi, DigiposteError, deposit_file_name};
use crate::domain::delivery::DeliveryStatus;
use crate::domain::vault::VaultStatus;
use crate::error::ApiError;
use crate::state::AppState;

pub struct DeliverHandler {
    pub state: web::Data<AppState>,
    pub api: Arc<dyn DigiposteApi>,
}

/// Attempts before a delivery is given up (closed as `not_transmitted`).
pub const MAX_ATTEMPTS: i32 = 50;

impl JobHandler for DeliverHandler {
    fn kind(&self) -> &'static str {
        crate::db::jobs::kind::DELIVER
    }

    fn max_attempts(&self) -> i32 {
        MAX_ATTEMPTS
    }

    fn run<'a>(&'a self, job: &'a JobRow) -> HandlerFuture<'a> {
        Box::pin(async move {
            let outcome = match self.deliver(job).await {
                Ok(outcome) => outcome,
                Err(e) => Outcome::Retry {
                    error: e.to_string(),
                    after: None,
                },
            };
            match outcome {
                // The last attempt still could not settle the deposit (Digiposte unreachable,
                // outcome unknown): the document must not sit in `queued` for ever, so it is
                // closed as `not_transmitted` with the reason, for the manager to see and resend.
                Outcome::Retry { error, .. } if job.attempts >= MAX_ATTEMPTS => {
                    let reason = error.clone();
                    match self
                        .finish(&job.subject_id, DeliveryStatus::NotTransmitted, &reason)
                        .await
                    {
                        Ok(done) => done,
                        Err(_) => Outcome::Failed { error },
                    }
                }
                outcome => outcome,
            }
        })
    }
}

/// How a failed call is retried by the queue (the last attempt is closed by `run`).
fn retry(error: &DigiposteError) -> Outcome {
    Outcome::Retry {
        error: error.code().to_owned(),
        after: match error {
            DigiposteError::CircuitOpen(wait) => Some(*wait),
            _ => None,
        },
    }
}

impl DeliverHandler {
    fn reconcile_delay(&self) -> Duration {
        Duration::from_millis(self.state.config.digiposte.reconcile_delay_ms)
    }

    /// The deposit may have landed: `uncertain`, with the routing code and the attempt's
    /// cause in the reason (the time and the hash are the document's own fields).
    async fn uncertain(&self, id: &str, route: &str, why: &str) -> Result<Outcome, ApiError> {
        tracing::warn!(document = %id, %why, "deposit outcome unknown: uncertain, for a manager to check");
        self.state.metrics.digiposte_uncertain_deposits.inc();
        self.finish(
            id,
            DeliveryStatus::Uncertain,
            &format!("digiposte_uncertain: route_code {route}; {why}"),
        )
        .await
    }

    /// The deposit surely never reached Digiposte: withdraw its intent (see `clear_attempt`).
    async fn withdraw(&self, id: &str, started: chrono::NaiveDateTime) -> Result<(), ApiError> {
        let id = id.to_owned();
        self.state
            .db
            .write(move |conn| deliveries::clear_attempt(conn, &id, started))
            .await?;
        Ok(())
    }

    async fn finish(
        &self,
        id: &str,
        to: DeliveryStatus,
        reason: &str,
    ) -> Result<Outcome, ApiError> {
        let (id, reason) = (id.to_owned(), reason.to_owned());
        self.state
            .db
            .write(move |conn| deliveries::finish(conn, &id, to, Some(&reason)))
            .await?;
        Ok(Outcome::Done)
    }

    async fn record(&self, id: &str, digiposte_id: &str) -> Result<Outcome, ApiError> {
        let (id, digiposte_id) = (id.to_owned(), digiposte_id.to_owned());
        self.state
            .db
            .write(move |conn| deliveries::record_deposit(conn, &id, &digiposte_id))
            .await?;
        Ok(Outcome::Done)
    }

    async fn deliver(&self, job: &JobRow) -> Result<Outcome, ApiError> {
        let id = job.subject_id.clone();
        let ctx = {
            let id = id.clone();
            self.state
                .db
                .run(move |conn| deliveries::context(conn, &id))
                .await?
        };
        let Some(ctx) = ctx else {
            return Ok(Outcome::Done);
        };
        let doc = &ctx.document;
        if doc.delivery_status.as_deref() != Some(DeliveryStatus::Queued.as_str()) {
            // Deposited, finished or cancelled already: nothing left to do.
            return Ok(Outcome::Done);
        }
        let file_name = deposit_file_name(&doc.id);
        let route_code = ctx.vault.as_ref().and_then(|v| v.route_code.clone());

        // 1. An earlier attempt may have reached Digiposte (it crashed, or its lease ran out,
        // between the intent and the bookkeeping): nothing published can tell, so a manager
        // decides. A fresh intent may be another worker's call under way: look again later.
        let previous = doc.deposit_started_at;
        if let Some(started) = previous {
            let age = (crate::db::now() - started).to_std().unwrap_or_default();
            if age < self.reconcile_delay() {
                return Ok(Outcome::Retry {
                    error: "deposit_in_progress".into(),
                    after: Some(self.reconcile_delay() - age),
                });
            }
            let route = route_code.as_deref().unwrap_or("none");
            return self
                .uncertain(
                    &doc.id,
                    route,
                    "an earlier attempt ended without its outcome",
                )
                .await;
        }

        // 2. Check again, now, that this student still wants and can receive it.
        if ctx.consent_refused {
            return self
                .finish(
                    &doc.id,
                    DeliveryStatus::Cancelled,
                    crate::services::consents::CONSENT_WITHDRAWN,
                )
                .await;
        }
        let vault_active = ctx
            .vault
            .as_ref()
            .is_some_and(|v| v.status() == VaultStatus::Active);
        let Some(route) = route_code.filter(|_| vault_active) else {
            return self
                .finish(
                    &doc.id,
                    DeliveryStatus::TransmissionError,
                    "vault_not_active",
                )
                .await;
        };
        if doc.file_deleted_at.is_some() {
            return self
                .finish(&doc.id, DeliveryStatus::NotTransmitted, "file_deleted")
                .await;
        }

        // 3. What is needed for the call, before the intent (a failure here sent nothing).
        let kinds = self.state.config.document_kinds();
        let kind = kinds.get(&ctx.treatment.document_type);
        let Some((kind, nature)) = kind.and_then(|kind| {
            let nature = self
                .state
                .config
                .digiposte
                .document_type(kind.code.as_str())?;
            Some((kind, nature.to_owned()))
        }) else {
            // Without the partner's code Digiposte would refuse the deposit.
            return self
                .finish(
                    &doc.id,
                    DeliveryStatus::NotTransmitted,
                    "digiposte_document_type_not_configured",
                )
                .await;
        };
        let bytes = {
            let store = self.state.store.clone();
            let sha = doc.sha256.clone();
            web::block(move || store.get(&sha)).await??
        };

        // 4. Record the intent durably, then call.
        let started = {
            let id = doc.id.clone();
            self.state
                .db
                .write(move |conn| deliveries::start_attempt(conn, &id, None))
                .await?
        };
        let Some(started) = started else {
            // Another worker moved first: look again later.
            return Ok(Outcome::Retry {
                error: "deposit_in_progress".into(),
                after: Some(self.reconcile_delay()),
            });
        };
        let year = ctx.treatment.academic_year;
        let deposit = CertifiedDeposit {
            route_code: route.clone(),
            title: kind.title(year),
            doc_type: nature,
            file_name,
            sha256: doc.sha256.clone(),
            bytes,
        };
        match self.api.deposit_certified(&deposit).await {
            Ok(d) => self.record(&doc.id, &d.id_routage).await,
            Err(DigiposteError::Uncertain(why)) => self.uncertain(&doc.id, &route, &why).await,
            Err(e) if e.is_vault_closed() => {
                self.finish(&doc.id, DeliveryStatus::TransmissionError, &e.reason())
                    .await
            }
            Err(e) if e.is_transient() => {
                // The client repeats a deposit, and answers anything but `Uncertain`, only
                // when the request surely never reached Digiposte.
                self.withdraw(&doc.id, started).await?;
                Ok(retry(&e))
            }
            Err(e) => {
                self.finish(&doc.id, DeliveryStatus::NotTransmitted, &e.reason())
                    .await
            }
        }
    }
}
