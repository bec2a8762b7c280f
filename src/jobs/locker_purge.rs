//! Purges a recipient's locker item for good once it has stayed in the trash for
//! `lockers.trash_retention_secs`. Enqueued, due at the end of the retention, when the item is
//! trashed; called off when it is restored. Running it again changes nothing. The deposit and
//! its file stay: they are the sender's history, and other recipients may still hold it.

use actix_web::web;

use super::{HandlerFuture, JobHandler, Outcome};
use crate::db::jobs::JobRow;
use crate::db::lockers;
use crate::state::AppState;

pub const KIND: &str = "locker_purge";

pub struct LockerPurgeHandler {
    pub state: web::Data<AppState>,
}

/// What the job found.
enum Verdict {
    Purged,
    NothingToDo,
    NotYet(std::time::Duration),
}

impl JobHandler for LockerPurgeHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn run<'a>(&'a self, job: &'a JobRow) -> HandlerFuture<'a> {
        Box::pin(async move {
            let Some((deposit, recipient)) = job.subject_id.split_once('|') else {
                return Outcome::Failed {
                    error: "malformed subject".into(),
                };
            };
            let (deposit, recipient) = (deposit.to_owned(), recipient.to_owned());
            let retention = chrono::Duration::seconds(
                i64::try_from(self.state.config.lockers.trash_retention_secs)
                    .unwrap_or(i64::MAX / 2),
            );
            let verdict = self
                .state
                .db
                .write(move |conn| {
                    let Some(item) = lockers::item(conn, &deposit, &recipient)? else {
                        return Ok(Verdict::NothingToDo);
                    };
                    let Some(trashed_at) = item.trashed_at else {
                        return Ok(Verdict::NothingToDo);
                    };
                    let due = trashed_at
                        .checked_add_signed(retention)
                        .unwrap_or(chrono::NaiveDateTime::MAX);
                    let now = crate::db::now();
                    if due > now {
                        // Trashed again after a restore: wait for the new deadline.
                        return Ok(Verdict::NotYet((due - now).to_std().unwrap_or_default()));
                    }
                    lockers::purge_item(conn, &deposit, &recipient)?;
                    Ok(Verdict::Purged)
                })
                .await;
            match verdict {
                Ok(Verdict::Purged | Verdict::NothingToDo) => Outcome::Done,
                Ok(Verdict::NotYet(after)) => Outcome::Retry {
                    error: "not due yet".into(),
                    after: Some(after),
                },
                Err(e) => Outcome::Retry {
                    error: e.to_string(),
                    after: None,
                },
            }
        })
    }
}
