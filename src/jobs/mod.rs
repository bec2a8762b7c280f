//! The workers of the durable queue: each loop claims a due job, runs its kind's handler, and
//! records the outcome (done, retry later with backoff, or failed for good). A job whose worker
//! died is claimed again once its lease expires, so nothing is lost across restarts.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::db::jobs::{self, JobRow};

pub mod deliver;
pub mod locker_purge;
pub mod reconcile;
pub mod retention;
pub mod split;
pub mod sync;
pub mod vaults;

/// Every kind of job this build knows how to run. The Digiposte kinds run only when Digiposte
/// is configured (their jobs wait in the queue otherwise); the nightly synchronisation is
/// scheduled here.
pub fn handlers(state: &actix_web::web::Data<crate::state::AppState>) -> Vec<Arc<dyn JobHandler>> {
    let mut handlers: Vec<Arc<dyn JobHandler>> = vec![
        Arc::new(split::SplitHandler {
            state: state.clone(),
        }),
        Arc::new(retention::RetentionHandler {
            state: state.clone(),
        }),
        Arc::new(locker_purge::LockerPurgeHandler {
            state: state.clone(),
        }),
    ];
    let config = &state.config.digiposte;
    if !config.is_configured() {
        return handlers;
    }
    let api: Arc<dyn crate::digiposte::DigiposteApi> =
        match crate::digiposte::DigiposteClient::new(config) {
            Ok(client) => Arc::new(client.with_metrics(state.metrics.clone())),
            Err(e) => {
                tracing::error!(error = %e, "Digiposte client unavailable; its jobs will wait");
                return handlers;
            }
        };
    handlers.push(Arc::new(deliver::DeliverHandler {
        state: state.clone(),
        api: api.clone(),
    }));
    for kind in [
        crate::db::jobs::kind::VAULT_SUBSCRIBE,
        crate::db::jobs::kind::VAULT_TERMINATE,
        crate::db::jobs::kind::VAULT_REINVITE,
    ] {
        handlers.push(Arc::new(vaults::VaultHandler {
            kind,
            state: state.clone(),
            api: api.clone(),
        }));
    }
    handlers.push(Arc::new(reconcile::ReconcileScanHandler {
        state: state.clone(),
    }));
    handlers.push(Arc::new(reconcile::ReceiptStatusHandler {
        state: state.clone(),
        api: api.clone(),
    }));
    handlers.push(Arc::new(sync::SyncHandler {
        state: state.clone(),
        api,
    }));
    if config.sync_enabled && state.config.jobs.enabled {
        let scheduled = state
            .db
            .conn()
            .and_then(|mut conn| sync::schedule_nightly(&mut conn, config.sync_hour_utc));
        if let Err(e) = scheduled {
            tracing::warn!(error = %e, "could not schedule the nightly synchronisation");
        }
    }
    handlers
}

/// What a handler made of a job.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// Try again later (after `after`, or the kind's backoff).
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Give up: the job is failed for good.
    Failed {
        error: String,
    },
}

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// Runs the jobs of one kind.
pub trait JobHandler: Send + Sync {
    fn kind(&self) -> &'static str;
    /// Attempts before a job is failed for good.
    fn max_attempts(&self) -> i32 {
        10
    }
    fn run<'a>(&'a self, job: &'a JobRow) -> HandlerFuture<'a>;
    /// For periodic kinds (retention, synchronisation): how long after one run ends the next
    /// is due. One job of the kind is kept open in the queue, so instances sharing a database
    /// run it once between them.
    fn every(&self) -> Option<Duration> {
        None
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Run the workers in this process (turn off for an API-only instance).
    pub enabled: bool,
    /// Concurrent worker loops in this process.
    pub workers: usize,
    /// How often an idle worker looks for due jobs, in milliseconds.
    pub poll_interval_ms: u64,
    /// How long a claimed job is reserved, in seconds; renewed while the job runs, so it
    /// bounds how soon a dead worker's job is taken over.
    pub lease_secs: i64,
    /// First retry delay, doubled at each attempt (with jitter), in seconds.
    pub backoff_base_secs: u64,
    /// Longest retry delay, in seconds.
    pub backoff_max_secs: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            enabled: true,
            workers: 4,
            poll_interval_ms: 250,
            lease_secs: 300,
            backoff_base_secs: 5,
            backoff_max_secs: 3600,
        }
    }
}

/// Exponential backoff with full jitter: a random delay up to base·2^(attempt-1), capped.
pub fn backoff(config: &JobsConfig, attempt: i32) -> Duration {
    let exp = config
        .backoff_base_secs
        .saturating_mul(1u64 << (attempt.clamp(1, 30) - 1) as u32)
        .min(config.backoff_max_secs)
        .max(1);
    let millis = rand::random_range(exp * 500..=exp * 1000);
    Duration::from_millis(millis)
}

/// Starts `config.workers` loops on the current (actix) runtime.
pub fn start(db: Db, config: JobsConfig, handlers: Vec<Arc<dyn JobHandler>>) {
    if !config.enabled || handlers.is_empty() {
        return;
    }
    let periodic: Vec<&'static str> = handlers
        .iter()
        .filter(|h| h.every().is_some())
        .map(|h| h.kind())
        .collect();
    let handlers: Arc<HashMap<&'static str, Arc<dyn JobHandler>>> =
        Arc::new(handlers.into_iter().map(|h| (h.kind(), h)).collect());
    for kind in periodic {
        actix_web::rt::spawn(schedule_next(db.clone(), kind, Duration::ZERO));
    }
    let instance = uuid::Uuid::new_v4().simple().to_string();
    for n in 0..config.workers.max(1) {
        let worker = format!("{}-{n}", &instance[..8]);
        actix_web::rt::spawn(run_loop(
            db.clone(),
            config.clone(),
            handlers.clone(),
            worker,
        ));
    }
}

async fn run_loop(
    db: Db,
    config: JobsConfig,
    handlers: Arc<HashMap<&'static str, Arc<dyn JobHandler>>>,
    worker: String,
) {
    let kinds: Vec<&'static str> = handlers.keys().copied().collect();
    let idle = Duration::from_millis(config.poll_interval_ms.max(10));
    loop {
        let claim = {
            let worker = worker.clone();
            let kinds = kinds.clone();
            let lease = chrono::Duration::seconds(config.lease_secs.max(1));
            db.run(move |conn| jobs::claim(conn, &worker, &kinds, lease))
                .await
        };
        let job = match claim {
            Ok(Some(job)) => job,
            Ok(None) => {
                actix_web::rt::time::sleep(idle).await;
                continue;
            }
            Err(e) => {
                // The database is away: wait and try again; no job is lost meanwhile.
                tracing::warn!(%worker, error = %e, "job queue unavailable; retrying");
                actix_web::rt::time::sleep(idle * 8).await;
                continue;
            }
        };
        let Some(handler) = handlers.get(job.kind.as_str()).cloned() else {
            continue;
        };
        let lease = chrono::Duration::seconds(config.lease_secs.max(1));
        let outcome = tokio::select! {
            outcome = handler.run(&job) => outcome,
            never = keep_lease(db.clone(), job.id.clone(), worker.clone(), lease) => match never {},
        };
        let (attempts, kind) = (job.attempts, job.kind.clone());
        let record = match outcome {
            Outcome::Done => Record::Complete,
            Outcome::Retry { error, after } => {
                let give_up = attempts >= handler.max_attempts();
                let delay = after.unwrap_or_else(|| backoff(&config, attempts));
                let retry_at = (!give_up).then(|| {
                    crate::db::now()
                        + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(60))
                });
                if give_up {
                    tracing::warn!(%kind, job = %job.id, attempts, "job failed for good after its last attempt");
                }
                Record::Release { error, retry_at }
            }
            Outcome::Failed { error } => {
                tracing::warn!(%kind, job = %job.id, "job failed for good");
                Record::Release {
                    error,
                    retry_at: None,
                }
            }
        };
        record_outcome(&db, &job.id, &worker, record, idle * 8).await;
        if let (Some(every), true) = (handler.every(), job.subject_id == jobs::PERIODIC_SUBJECT) {
            // A retried periodic job is still open, so this adds nothing until it ends.
            schedule_next(db.clone(), handler.kind(), every).await;
        }
    }
}

/// How a job ended, to be written to the queue.
enum Record {
    Complete,
    Release {
        error: String,
        retry_at: Option<chrono::NaiveDateTime>,
    },
}

/// Writes a job's outcome. While the database is unavailable (an outage during the run), the
/// worker waits and tries again rather than leaving the job claimed until its lease expires:
/// the write is a compare-and-set on this worker's claim, so it changes nothing if another
/// worker took the job over meanwhile.
async fn record_outcome(db: &Db, id: &str, worker: &str, record: Record, pause: Duration) {
    let record = Arc::new(record);
    loop {
        let (id, worker_id, record) = (id.to_owned(), worker.to_owned(), record.clone());
        let written = db
            .run(move |conn| match &*record {
                Record::Complete => jobs::complete(conn, &id, &worker_id),
                Record::Release { error, retry_at } => {
                    jobs::release(conn, &id, &worker_id, error, *retry_at)
                }
            })
            .await;
        match written {
            Ok(_) => return,
            Err(e) if e.code == crate::error::ErrorCode::DatabaseUnavailable => {
                tracing::warn!(%worker, error = %e, "job queue unavailable; will record the outcome when it is back");
                actix_web::rt::time::sleep(pause).await;
            }
            Err(e) => {
                // The lease will expire and the job run again: handlers are idempotent.
                tracing::warn!(%worker, error = %e, "could not record a job's outcome");
                return;
            }
        }
    }
}

/// Renews a running job's lease every third of its length for as long as the job runs, so a
/// long split or a slow Digiposte call is never taken over by another worker while this one
/// lives. Never returns; dropped when the job ends.
async fn keep_lease(
    db: Db,
    id: String,
    worker: String,
    lease: chrono::Duration,
) -> std::convert::Infallible {
    let every = Duration::from_millis((lease.num_milliseconds() / 3).max(100) as u64);
    loop {
        actix_web::rt::time::sleep(every).await;
        let (job_id, holder) = (id.clone(), worker.clone());
        match db
            .run(move |conn| jobs::renew(conn, &job_id, &holder, lease))
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                // Taken over after all (a pause longer than the lease): the other run's
                // compare-and-set keeps the outcome single; stop renewing.
                tracing::warn!(%worker, "job lease lost while running");
                return std::future::pending().await;
            }
            // The database is away: try again at the next tick.
            Err(e) => tracing::warn!(%worker, error = %e, "could not renew a job lease"),
        }
    }
}

/// Keeps one open job of a periodic kind, due `after` from now. Instances racing to do the
/// same meet the queue's one-open-job-per-subject rule: the loser's insert fails harmlessly.
async fn schedule_next(db: Db, kind: &'static str, after: Duration) {
    let run_at = crate::db::now() + chrono::Duration::from_std(after).unwrap_or_default();
    let scheduled = db
        .run(move |conn| {
            jobs::enqueue_at(
                conn,
                kind,
                jobs::PERIODIC_SUBJECT,
                &serde_json::json!({}),
                "scheduler",
                run_at,
            )
        })
        .await;
    if let Err(e) = scheduled {
        tracing::debug!(%kind, error = %e, "periodic job not scheduled (another instance did)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let c = JobsConfig {
            backoff_base_secs: 2,
            backoff_max_secs: 60,
            ..JobsConfig::default()
        };
        for _ in 0..50 {
            let first = backoff(&c, 1);
            assert!(first >= Duration::from_secs(1) && first <= Duration::from_secs(2));
            let fifth = backoff(&c, 5);
            assert!(fifth >= Duration::from_secs(16) && fifth <= Duration::from_secs(32));
            let late = backoff(&c, 40);
            assert!(late <= Duration::from_secs(60) && late >= Duration::from_secs(30));
        }
    }
}
