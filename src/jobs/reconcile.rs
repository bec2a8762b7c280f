//! Receipts that never came: a document still `awaiting_receipt` `digiposte.reconcile_after_secs`
//! after its deposit is reconciled, so none waits for ever.
//!
//! A periodic scan (`receipt_reconcile`) queues one `receipt_status` job per overdue document.
//! That job reads the deposit's status (`DigiposteApi::document_status`, a read passerelle adds
//! without a published counterpart, asked only when `digiposte.document_status_path` is set) and
//! applies a final answer through the receipts' own path (`receipts::record`: kept, once per
//! deposit, never out of a final state, so a late receipt afterwards changes nothing). Still
//! processing: asked again later, with the queue's backoff. No status read configured,
//! Digiposte not knowing the reference, or still processing at the last attempt: `uncertain`
//! ("À vérifier") with the reason, for a manager to settle
//! (`POST /treatments/{id}/documents/{doc}/uncertain`). Each outcome is audited and counted.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use super::{HandlerFuture, JobHandler, Outcome};
use crate::db::audit::{self, AuditEvent};
use crate::db::jobs::{self, JobRow};
use crate::db::{deliveries, receipts};
use crate::digiposte::{DigiposteApi, DocumentStatus, StatusRead};
use crate::domain::delivery::DeliveryStatus;
use crate::error::ApiError;
use crate::state::AppState;

/// Overdue documents queued per scan (a longer backlog is taken at the next scans).
const BATCH: i64 = 1000;
/// Status reads of one document before it is left to a manager.
pub const MAX_READS: i32 = 12;
/// Who the audit log and the queue name.
const ACTOR: &str = "digiposte-reconcile";

/// The reason of a document left to a manager because its receipt never came.
pub fn never_came(why: &str) -> String {
    format!("receipt_never_came: {why}")
}

/// How often the scan runs: half the delay, between a second and ten minutes.
pub fn scan_every(reconcile_after_secs: i64) -> Duration {
    Duration::from_secs((reconcile_after_secs / 2).clamp(1, 600) as u64)
}

/// What a status read leads to (pure).
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Apply this status as the deposit's receipt.
    Apply(DocumentStatus),
    /// Ask again later.
    AskAgain,
    /// Left to a manager, with the reason.
    Uncertain(String),
}

/// Decides from a status read, at the `attempt`-th read of the document.
pub fn decide(read: StatusRead, attempt: i32) -> Decision {
    match read {
        StatusRead::NotAvailable => Decision::Uncertain(never_came(
            "no status read configured (digiposte.document_status_path)",
        )),
        StatusRead::UnknownReference => {
            Decision::Uncertain(never_came("Digiposte does not know this deposit"))
        }
        StatusRead::Known(DocumentStatus::Processing) if attempt >= MAX_READS => {
            Decision::Uncertain(never_came(&format!(
                "still processing at Digiposte after {attempt} status reads"
            )))
        }
        StatusRead::Known(DocumentStatus::Processing) => Decision::AskAgain,
        StatusRead::Known(status) => Decision::Apply(status),
    }
}

/// The periodic scan.
pub struct ReconcileScanHandler {
    pub state: web::Data<AppState>,
}

impl JobHandler for ReconcileScanHandler {
    fn kind(&self) -> &'static str {
        jobs::kind::RECEIPT_RECONCILE
    }

    fn every(&self) -> Option<Duration> {
        Some(scan_every(self.state.config.digiposte.reconcile_after_secs))
    }

    fn run<'a>(&'a self, _job: &'a JobRow) -> HandlerFuture<'a> {
        Box::pin(async move {
            let after =
                chrono::Duration::seconds(self.state.config.digiposte.reconcile_after_secs.max(0));
            let before = crate::db::now() - after;
            let queued = self
                .state
                .db
                .write(move |conn| {
                    let overdue = deliveries::awaiting_since(conn, before, BATCH)?;
                    let ids: Vec<&str> = overdue.iter().map(String::as_str).collect();
                    jobs::enqueue_many(
                        conn,
                        jobs::kind::RECEIPT_STATUS,
                        &ids,
                        |_| serde_json::json!({}),
                        ACTOR,
                    )
                })
                .await;
            match queued {
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(documents = n, "receipts overdue: status reads queued");
                    }
                    Outcome::Done
                }
                Err(e) => Outcome::Retry {
                    error: e.to_string(),
                    after: None,
                },
            }
        })
    }
}

/// One overdue document's status read.
pub struct ReceiptStatusHandler {
    pub state: web::Data<AppState>,
    pub api: Arc<dyn DigiposteApi>,
}

impl JobHandler for ReceiptStatusHandler {
    fn kind(&self) -> &'static str {
        jobs::kind::RECEIPT_STATUS
    }

    fn max_attempts(&self) -> i32 {
        // The last read settles the document itself (`decide`); a spare for the bookkeeping.
        MAX_READS + 1
    }

    fn run<'a>(&'a self, job: &'a JobRow) -> HandlerFuture<'a> {
        Box::pin(async move {
            match self.reconcile(job).await {
                Ok(outcome) => outcome,
                Err(e) => Outcome::Retry {
                    error: e.to_string(),
                    after: None,
                },
            }
        })
    }
}

impl ReceiptStatusHandler {
    async fn reconcile(&self, job: &JobRow) -> Result<Outcome, ApiError> {
        let id = job.subject_id.clone();
        let found = {
            let id = id.clone();
            self.state
                .db
                .run(move |conn| deliveries::awaiting_receipt(conn, &id))
                .await?
        };
        // Its receipt came meanwhile (or a manager moved it): nothing left to do.
        let Some((cod_etu, reference)) = found else {
            return Ok(Outcome::Done);
        };
        let read = match &reference {
            Some(reference) => match self.api.document_status(reference).await {
                Ok(read) => read,
                Err(e) if e.is_transient() && job.attempts < MAX_READS => {
                    return Ok(Outcome::Retry {
                        error: e.code().to_owned(),
                        after: None,
                    });
                }
                Err(e) => {
                    return self
                        .settle(
                            &id,
                            &cod_etu,
                            None,
                            Decision::Uncertain(never_came(&format!(
                                "the status read failed ({})",
                                e.code()
                            ))),
                        )
                        .await;
                }
            },
            None => StatusRead::UnknownReference,
        };
        let decision = decide(read, job.attempts);
        self.settle(&id, &cod_etu, reference, decision).await
    }

    async fn settle(
        &self,
        id: &str,
        cod_etu: &str,
        reference: Option<String>,
        decision: Decision,
    ) -> Result<Outcome, ApiError> {
        let metrics = self.state.metrics.clone();
        if decision == Decision::AskAgain {
            metrics.digiposte_reconciled("processing");
            return Ok(Outcome::Retry {
                error: "digiposte_processing".into(),
                after: None,
            });
        }
        let document = id.to_owned();
        let (id, cod_etu) = (id.to_owned(), cod_etu.to_owned());
        let key = self.state.audit_key.clone();
        let outcome = self
            .state
            .db
            .write(move |conn| {
                let (label, reason, moved) = match &decision {
                    Decision::Apply(status) => {
                        let reference = reference.as_deref().unwrap_or_default();
                        let Some(receipt) = status.as_receipt(reference) else {
                            return Ok("processing");
                        };
                        let raw = serde_json::to_string(&receipt).unwrap_or_default();
                        let (outcome, _) =
                            receipts::record(conn, &receipt, &raw, crate::db::now())?;
                        let to = receipts::target_of(&receipt.status).map(|(to, _)| to);
                        (
                            to.map_or("ignored", DeliveryStatus::as_str),
                            receipt.reason.clone(),
                            outcome == receipts::ReceiptOutcome::Applied,
                        )
                    }
                    Decision::Uncertain(reason) => (
                        DeliveryStatus::Uncertain.as_str(),
                        Some(reason.clone()),
                        deliveries::receipt_lost(conn, &id, reason)?,
                    ),
                    Decision::AskAgain => return Ok("processing"),
                };
                if !moved {
                    // A receipt or a manager moved it first.
                    return Ok("ignored");
                }
                audit::append(
                    conn,
                    key.expose().as_bytes(),
                    AuditEvent {
                        actor: ACTOR,
                        action: "document.reconcile",
                        student: Some(&cod_etu),
                        object_type: "document",
                        object_id: Some(&id),
                        details: serde_json::json!({
                            "delivery_status": label,
                            "reason": reason,
                        }),
                    },
                )?;
                Ok(label)
            })
            .await?;
        metrics.digiposte_reconciled(outcome);
        if outcome == DeliveryStatus::Uncertain.as_str() {
            tracing::warn!(%document, "receipt never came: uncertain, for a manager to check");
        }
        Ok(Outcome::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_read_has_one_decision() {
        assert_eq!(
            decide(StatusRead::Known(DocumentStatus::Delivered), 1),
            Decision::Apply(DocumentStatus::Delivered)
        );
        assert_eq!(
            decide(StatusRead::Known(DocumentStatus::Processing), 1),
            Decision::AskAgain
        );
        // Never asked for ever: the last read leaves it to a manager.
        let Decision::Uncertain(why) =
            decide(StatusRead::Known(DocumentStatus::Processing), MAX_READS)
        else {
            panic!("the last read settles it")
        };
        assert!(
            why.starts_with("receipt_never_came: still processing"),
            "{why}"
        );
        let Decision::Uncertain(why) = decide(StatusRead::NotAvailable, 1) else {
            panic!("no status read: a manager decides")
        };
        assert!(why.contains("digiposte.document_status_path"), "{why}");
        assert!(matches!(
            decide(StatusRead::UnknownReference, 1),
            Decision::Uncertain(w) if w.starts_with("receipt_never_came: ")
        ));
    }

    #[test]
    fn the_scan_runs_often_enough_and_not_too_often() {
        assert_eq!(scan_every(0), Duration::from_secs(1));
        assert_eq!(scan_every(10), Duration::from_secs(5));
        assert_eq!(scan_every(24 * 3600), Duration::from_secs(600));
    }
}
