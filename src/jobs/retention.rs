//! Retention: a split PDF is deleted a configured time after its delivery reached a final
//! state (Transmis, Erreur transmission, Non transmis, Annulé) or the send skipped it (Étudiant
//! sans coffre); the document row keeps its hash and states. Then stored documents no row refers
//! to are collected (`services::orphans`). Periodic: one run every `retention.check_interval_secs`.

use std::time::Duration;

use actix_web::web;

use super::{HandlerFuture, JobHandler, Outcome};
use crate::db::jobs::JobRow;
use crate::db::treatments;
use crate::error::ApiError;
use crate::state::AppState;

pub const KIND: &str = "retention";

/// Documents handled per batch (a long backlog is worked through batch after batch).
const BATCH: i64 = 500;

#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days a split PDF is kept after its final delivery state (or after a send that skipped
    /// it for want of a vault).
    pub split_documents_days: u32,
    /// How often the retention job looks for expired files, in seconds.
    pub check_interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            split_documents_days: 30,
            check_interval_secs: 3600,
        }
    }
}

pub struct RetentionHandler {
    pub state: web::Data<AppState>,
}

impl JobHandler for RetentionHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn every(&self) -> Option<Duration> {
        Some(Duration::from_secs(
            self.state.config.retention.check_interval_secs.max(1),
        ))
    }

    fn run<'a>(&'a self, _job: &'a JobRow) -> HandlerFuture<'a> {
        Box::pin(async move {
            match purge_expired(&self.state).await {
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(files = n, "retention: expired split PDFs deleted");
                    }
                    match crate::services::orphans::collect(&self.state.db, &self.state.store).await
                    {
                        Ok(0) => Outcome::Done,
                        Ok(n) => {
                            tracing::info!(files = n, "retention: orphan documents deleted");
                            Outcome::Done
                        }
                        Err(e) => Outcome::Retry {
                            error: e.to_string(),
                            after: None,
                        },
                    }
                }
                Err(e) => Outcome::Retry {
                    error: e.to_string(),
                    after: None,
                },
            }
        })
    }
}

/// Deletes every expired file; returns how many documents lost theirs.
pub async fn purge_expired(state: &web::Data<AppState>) -> Result<usize, ApiError> {
    let days = i64::from(state.config.retention.split_documents_days);
    let before = crate::db::now() - chrono::Duration::days(days);
    let mut total = 0;
    loop {
        let (ids, blobs) = state
            .db
            .run(move |conn| {
                let expired = treatments::expired_files(conn, before, BATCH)?;
                let ids: Vec<String> = expired.iter().map(|(id, _)| id.clone()).collect();
                let blobs: Vec<String> = expired.into_iter().map(|(_, sha)| sha).collect();
                let blobs = treatments::blobs_only_kept_by(conn, &ids, &blobs)?;
                Ok((ids, blobs))
            })
            .await?;
        if ids.is_empty() {
            return Ok(total);
        }
        // Files first, rows after: a crash in between leaves rows that the next run marks,
        // never a PDF kept past its time behind a row that says it is gone.
        crate::storage::delete_off_thread(&state.store, blobs.clone()).await?;
        let n = ids.len();
        state
            .db
            .write(move |conn| treatments::mark_files_deleted(conn, &ids))
            .await?;
        total += n;
        if (n as i64) < BATCH {
            return Ok(total);
        }
    }
}
