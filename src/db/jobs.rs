//! The durable job queue: work that must survive restarts (Digiposte subscriptions,
//! terminations, deliveries, synchronisation). At most one open job per (kind, subject).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::jobs;
use crate::error::ApiError;

/// Job kinds. Stored as text; the worker that runs each kind lives in `crate::jobs`.
pub mod kind {
    pub const VAULT_SUBSCRIBE: &str = "vault_subscribe";
    pub const VAULT_TERMINATE: &str = "vault_terminate";
    pub const VAULT_REINVITE: &str = "vault_reinvite";
    pub const DELIVER: &str = "deliver";
    /// Reads Digiposte's memberships and updates the vaults (nightly, or on demand).
    pub const VAULT_SYNC: &str = "vault_sync";
    /// Periodic: queues a `RECEIPT_STATUS` job per document whose receipt is overdue.
    pub const RECEIPT_RECONCILE: &str = "receipt_reconcile";
    /// Reads one overdue document's status at Digiposte and applies it as its receipt.
    pub const RECEIPT_STATUS: &str = "receipt_status";
}

/// The subject of a periodic job (one open job per periodic kind, re-enqueued when it ends).
pub const PERIODIC_SUBJECT: &str = "periodic";

pub mod status {
    pub const PENDING: &str = "pending";
    pub const RUNNING: &str = "running";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub subject_id: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub run_at: NaiveDateTime,
    pub locked_by: Option<String>,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub requested_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = jobs)]
struct NewJob<'a> {
    id: &'a str,
    kind: &'a str,
    subject_id: &'a str,
    payload: &'a str,
    status: &'a str,
    attempts: i32,
    run_at: NaiveDateTime,
    requested_by: &'a str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// The open (pending or running) job of this kind for this subject, if any.
pub fn open_job(
    conn: &mut DbConnection,
    kind: &str,
    subject_id: &str,
) -> Result<Option<JobRow>, ApiError> {
    Ok(jobs::table
        .filter(jobs::kind.eq(kind))
        .filter(jobs::subject_id.eq(subject_id))
        .filter(jobs::status.eq_any([status::PENDING, status::RUNNING]))
        .select(JobRow::as_select())
        .first(conn)
        .optional()?)
}

/// Enqueues a job unless one is already open for the same kind and subject; returns the open
/// job and whether it was created now.
pub fn enqueue(
    conn: &mut DbConnection,
    kind: &str,
    subject_id: &str,
    payload: &serde_json::Value,
    requested_by: &str,
) -> Result<(JobRow, bool), ApiError> {
    enqueue_at(conn, kind, subject_id, payload, requested_by, super::now())
}

/// [`enqueue`], due at `run_at` (scheduled work such as the nightly synchronisation).
pub fn enqueue_at(
    conn: &mut DbConnection,
    kind: &str,
    subject_id: &str,
    payload: &serde_json::Value,
    requested_by: &str,
    run_at: NaiveDateTime,
) -> Result<(JobRow, bool), ApiError> {
    if let Some(existing) = open_job(conn, kind, subject_id)? {
        return Ok((existing, false));
    }
    let now = super::now();
    let id = uuid::Uuid::now_v7().to_string();
    let payload = payload.to_string();
    diesel::insert_into(jobs::table)
        .values(&NewJob {
            id: &id,
            kind,
            subject_id,
            payload: &payload,
            status: status::PENDING,
            attempts: 0,
            run_at,
            requested_by,
            created_at: now,
            updated_at: now,
        })
        .execute(conn)?;
    let job = jobs::table
        .find(&id)
        .select(JobRow::as_select())
        .first(conn)?;
    Ok((job, true))
}

/// [`enqueue`] for many subjects of one kind at once (a pre-creation queues thousands): one
/// query finds those with an open job, the others are inserted in batches. Each payload is
/// built from its subject. Returns how many jobs were created.
pub fn enqueue_many(
    conn: &mut DbConnection,
    kind: &str,
    subject_ids: &[&str],
    payload: impl Fn(&str) -> serde_json::Value,
    requested_by: &str,
) -> Result<usize, ApiError> {
    let now = super::now();
    let mut created = 0;
    for chunk in subject_ids.chunks(500) {
        let open: std::collections::HashSet<String> = jobs::table
            .filter(jobs::kind.eq(kind))
            .filter(jobs::subject_id.eq_any(chunk))
            .filter(jobs::status.eq_any([status::PENDING, status::RUNNING]))
            .select(jobs::subject_id)
            .load::<String>(conn)?
            .into_iter()
            .collect();
        let fresh: Vec<(String, &str, String)> = chunk
            .iter()
            .filter(|s| !open.contains(**s))
            .map(|s| (uuid::Uuid::now_v7().to_string(), *s, payload(s).to_string()))
            .collect();
        let rows: Vec<NewJob> = fresh
            .iter()
            .map(|(id, subject_id, payload)| NewJob {
                id,
                kind,
                subject_id,
                payload,
                status: status::PENDING,
                attempts: 0,
                run_at: now,
                requested_by,
                created_at: now,
                updated_at: now,
            })
            .collect();
        for batch in rows.chunks(200) {
            super::batch_insert!(conn, jobs::table, batch);
        }
        created += rows.len();
    }
    Ok(created)
}

/// Open jobs about these subjects (e.g. a vault's pending actions).
pub fn open_jobs_for(conn: &mut DbConnection, subject_id: &str) -> Result<Vec<JobRow>, ApiError> {
    Ok(jobs::table
        .filter(jobs::subject_id.eq(subject_id))
        .filter(jobs::status.eq_any([status::PENDING, status::RUNNING]))
        .order(jobs::created_at.asc())
        .select(JobRow::as_select())
        .load(conn)?)
}

/// Cancels the pending jobs of this kind for this subject (a running one finishes: workers
/// re-check the conditions before acting). Returns how many were cancelled.
pub fn cancel_pending(
    conn: &mut DbConnection,
    kind: &str,
    subject_id: &str,
    reason: &str,
) -> Result<usize, ApiError> {
    let now = super::now();
    Ok(diesel::update(
        jobs::table
            .filter(jobs::kind.eq(kind))
            .filter(jobs::subject_id.eq(subject_id))
            .filter(jobs::status.eq(status::PENDING)),
    )
    .set((
        jobs::status.eq(status::CANCELLED),
        jobs::last_error.eq(reason),
        jobs::updated_at.eq(now),
        jobs::finished_at.eq(now),
    ))
    .execute(conn)?)
}

/// The queue's own bookkeeping (claim, lease, outcome) commits without waiting for the disk on
/// PostgreSQL (`synchronous_commit = off` for that transaction only): a commit is otherwise
/// a WAL flush, several per delivered document. Safe because losing one to a server crash
/// only replays a job, and handlers are idempotent; and a later durable commit (a deposit's
/// intent, a receipt) flushes the WAL up to it anyway. SQLite (WAL, `synchronous = NORMAL`)
/// already commits so.
fn bookkeeping<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    if matches!(conn, DbConnection::Postgresql(_)) {
        return conn.transaction(|conn| {
            if let DbConnection::Postgresql(pg) = conn {
                diesel::sql_query("SET LOCAL synchronous_commit = off").execute(pg)?;
            }
            f(conn)
        });
    }
    f(conn)
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

/// Claims the next due job of these kinds for `worker`: a pending job whose time has come, or
/// a running one whose lease expired (its worker died). The claim holds a lease until
/// `now + lease`, renewed by the worker while the job runs, so only a dead worker's job is
/// taken over.
/// PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several instances share the queue. SQLite: one
/// writer at a time, so a guarded update suffices.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    kinds: &[&str],
    lease: chrono::Duration,
) -> Result<Option<JobRow>, ApiError> {
    let now = super::now();
    let until = now + lease;
    // Two cheap probes rather than one OR: a dead worker's expired job first (few rows, its
    // own partial index), then the oldest due pending job straight off the (status, run_at)
    // index. One query with an OR and an ORDER BY sorted every due job at every claim, which
    // made draining a queue of n jobs cost n².
    let claimed_id = bookkeeping(conn, |conn| {
        Ok(
            match claim_one(conn, worker, kinds, now, until, Probe::Expired)? {
                Some(id) => Some(id),
                None => claim_one(conn, worker, kinds, now, until, Probe::Due)?,
            },
        )
    })?;
    match claimed_id {
        Some(id) => Ok(Some(
            jobs::table
                .find(&id)
                .select(JobRow::as_select())
                .first(conn)?,
        )),
        None => Ok(None),
    }
}

#[derive(Clone, Copy)]
enum Probe {
    /// A running job whose lease expired (its worker died).
    Expired,
    /// A pending job whose time has come, oldest first.
    Due,
}

fn claim_one(
    conn: &mut DbConnection,
    worker: &str,
    kinds: &[&str],
    now: NaiveDateTime,
    until: NaiveDateTime,
    probe: Probe,
) -> Result<Option<String>, ApiError> {
    match conn {
        DbConnection::Postgresql(pg) => {
            use diesel::sql_types::{Array, Text, Timestamp};
            let candidates = match probe {
                Probe::Expired => "status = 'running' AND locked_until < $3",
                Probe::Due => "status = 'pending' AND run_at <= $3 ORDER BY run_at",
            };
            let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
            Ok(diesel::sql_query(format!(
                "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, \
                 attempts = attempts + 1, updated_at = $3 \
                 WHERE id = (SELECT id FROM jobs WHERE kind = ANY($4) AND {candidates} \
                   LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING id"
            ))
            .bind::<Text, _>(worker)
            .bind::<Timestamp, _>(until)
            .bind::<Timestamp, _>(now)
            .bind::<Array<Text>, _>(kinds)
            .get_result::<ClaimedId>(pg)
            .optional()?
            .map(|c| c.id))
        }
        DbConnection::Sqlite(_) => super::write_transaction(conn, |conn| {
            let candidates = jobs::table.filter(jobs::kind.eq_any(kinds)).into_boxed();
            let candidates = match probe {
                Probe::Expired => candidates
                    .filter(jobs::status.eq(status::RUNNING))
                    .filter(jobs::locked_until.lt(now)),
                Probe::Due => candidates
                    .filter(jobs::status.eq(status::PENDING))
                    .filter(jobs::run_at.le(now))
                    .order(jobs::run_at.asc()),
            };
            let Some(id) = candidates
                .select(jobs::id)
                .first::<String>(conn)
                .optional()?
            else {
                return Ok(None);
            };
            diesel::update(jobs::table.find(&id))
                .set((
                    jobs::status.eq(status::RUNNING),
                    jobs::locked_by.eq(worker),
                    jobs::locked_until.eq(until),
                    jobs::attempts.eq(jobs::attempts + 1),
                    jobs::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(Some(id))
        }),
    }
}

/// Extends a running job's lease (only if this worker still holds it): false means the job
/// was taken over or ended.
pub fn renew(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    lease: chrono::Duration,
) -> Result<bool, ApiError> {
    bookkeeping(conn, |conn| {
        let now = super::now();
        Ok(diesel::update(
            jobs::table
                .filter(jobs::id.eq(id))
                .filter(jobs::status.eq(status::RUNNING))
                .filter(jobs::locked_by.eq(worker)),
        )
        .set((jobs::locked_until.eq(now + lease), jobs::updated_at.eq(now)))
        .execute(conn)?
            == 1)
    })
}

/// Marks a claimed job done (only if this worker still holds it); the row keeps the worker's
/// name in `locked_by`.
pub fn complete(conn: &mut DbConnection, id: &str, worker: &str) -> Result<bool, ApiError> {
    bookkeeping(conn, |conn| {
        let now = super::now();
        Ok(diesel::update(
            jobs::table
                .filter(jobs::id.eq(id))
                .filter(jobs::status.eq(status::RUNNING))
                .filter(jobs::locked_by.eq(worker)),
        )
        .set((
            jobs::status.eq(status::DONE),
            // `locked_by` stays: which worker (and so which instance) ran the job.
            jobs::locked_until.eq(None::<NaiveDateTime>),
            jobs::last_error.eq(None::<String>),
            jobs::updated_at.eq(now),
            jobs::finished_at.eq(now),
        ))
        .execute(conn)?
            == 1)
    })
}

/// Puts a claimed job back for a later attempt, or fails it for good (`retry_at: None`).
pub fn release(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    error: &str,
    retry_at: Option<NaiveDateTime>,
) -> Result<bool, ApiError> {
    bookkeeping(conn, |conn| {
        let now = super::now();
        let (new_status, finished, run_at) = match retry_at {
            Some(at) => (status::PENDING, None, at),
            None => (status::FAILED, Some(now), now),
        };
        Ok(diesel::update(
            jobs::table
                .filter(jobs::id.eq(id))
                .filter(jobs::status.eq(status::RUNNING))
                .filter(jobs::locked_by.eq(worker)),
        )
        .set((
            jobs::status.eq(new_status),
            jobs::run_at.eq(run_at),
            jobs::locked_by.eq(None::<String>),
            jobs::locked_until.eq(None::<NaiveDateTime>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(now),
            jobs::finished_at.eq(finished),
        ))
        .execute(conn)?
            == 1)
    })
}

/// Pending jobs per kind with the age of the oldest (queue depth metrics).
pub fn depth(
    conn: &mut DbConnection,
) -> Result<Vec<(String, i64, Option<NaiveDateTime>)>, ApiError> {
    use diesel::dsl::{count_star, min};
    Ok(jobs::table
        .filter(jobs::status.eq_any([status::PENDING, status::RUNNING]))
        .group_by(jobs::kind)
        .select((jobs::kind, count_star(), min(jobs::created_at)))
        .load(conn)?)
}
