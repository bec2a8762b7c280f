//! The vault registry: the list (with objections), the dashboard counts, one vault with its
//! history and pending work, and the actions a manager asks for (subscribe, terminate,
//! re-invite), one by one or in bulk.

use chrono::NaiveDateTime;

use super::context::{Caller, Context};
use super::vault_subscriptions::{self, BulkSubscription};
use crate::auth::DataScope;
use crate::db::audit::{self, AuditEvent};
use crate::db::consents;
use crate::db::{DbConnection, jobs};
use crate::domain::consent::ConsentSource;
use crate::domain::vault::{VaultAction, VaultStatus, VaultTrigger};
use crate::error::ApiError;
use crate::pagination::Window;

pub use crate::db::jobs::JobRow;
use crate::db::vaults as repo;
pub use crate::db::vaults::{HistoryRow, VaultFilter, VaultRow, VaultSort, VaultStudent};

/// Why a vault use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("no such vault within the caller's scope")]
    NotFound,
    /// The vault's status does not allow the action.
    #[error("a vault in status {status:?} cannot be asked to {action:?}")]
    NotAllowed {
        status: VaultStatus,
        action: VaultAction,
    },
    /// The student objected to (or withdrew consent for) the vault: nothing is sent.
    #[error("the student's consent is refused")]
    ConsentRefused,
    /// What the repositories (or a bulk rule) answered, passed on unchanged.
    #[error(transparent)]
    Lower(#[from] ApiError),
}

type Result<T, E = VaultError> = std::result::Result<T, E>;

/// A vault as listed: with its student and, for "Opposition enregistrée", the objection in
/// force (when and from where).
pub struct Listed {
    pub vault: VaultRow,
    pub student: VaultStudent,
    pub objection: Option<(NaiveDateTime, ConsentSource)>,
}

/// One page of vaults (rows as the repository gives them, for the CSV export).
pub fn rows(
    conn: &mut DbConnection,
    scope: &DataScope,
    filter: &VaultFilter,
    window: Window,
) -> Result<(Vec<(VaultRow, VaultStudent)>, i64), ApiError> {
    repo::list(conn, scope, filter, window)
}

/// One page of vaults with the objections of those objected.
pub fn page(
    conn: &mut DbConnection,
    scope: &DataScope,
    filter: &VaultFilter,
    window: Window,
) -> Result<(Vec<Listed>, i64), ApiError> {
    let (rows, total) = repo::list(conn, scope, filter, window)?;
    Ok((with_objections(conn, rows)?, total))
}

fn with_objections(
    conn: &mut DbConnection,
    rows: Vec<(VaultRow, VaultStudent)>,
) -> Result<Vec<Listed>, ApiError> {
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
        .map(|(vault, student)| Listed {
            objection: objections.remove(&vault.student_id),
            vault,
            student,
        })
        .collect())
}

/// How many vaults per status, and the subscriptions queued and not yet carried out.
pub async fn summary(
    ctx: &Context,
    scope: DataScope,
    filter: VaultFilter,
) -> Result<(Vec<(VaultStatus, i64)>, i64)> {
    ctx.db
        .run_as(move |conn| {
            Ok((
                repo::summary(conn, &scope, &filter)?,
                repo::queued_subscriptions(conn, &scope, &filter)?,
            ))
        })
        .await
}

/// One vault with its history and the work queued for it.
pub struct Detail {
    pub vault: Listed,
    pub history: Vec<HistoryRow>,
    pub pending: Vec<JobRow>,
}

pub async fn detail(ctx: &Context, scope: DataScope, id: String) -> Result<Detail> {
    ctx.db
        .run_as(move |conn| {
            let found = repo::get(conn, &scope, &id)?.ok_or(VaultError::NotFound)?;
            let history = repo::history(conn, &found.0.id)?;
            let pending = jobs::open_jobs_for(conn, &found.0.id)?;
            let vault = with_objections(conn, vec![found])?
                .pop()
                .ok_or(VaultError::NotFound)?;
            Ok(Detail {
                vault,
                history,
                pending,
            })
        })
        .await
}

/// An action recorded.
pub struct Accepted {
    pub vault: VaultRow,
    pub student: VaultStudent,
    pub action: VaultAction,
    /// The queued job that carries the action out through Digiposte.
    pub job: JobRow,
    /// False when the same action was already queued (nothing new was enqueued).
    pub newly_queued: bool,
}

/// Records a vault action: checks the status allows it, applies the immediate transition
/// (termination and re-invitation are visible at once), and queues the Digiposte work.
/// Asking again for an action already under way changes nothing.
pub async fn act(
    ctx: &Context,
    caller: &Caller,
    id: String,
    action: VaultAction,
) -> Result<Accepted> {
    let (scope, actor, key) = (
        caller.scope.clone(),
        caller.name.clone(),
        ctx.audit_key.clone(),
    );
    ctx.db
        .write_as(move |conn| {
            let (vault, student) = repo::get(conn, &scope, &id)?.ok_or(VaultError::NotFound)?;
            let status = vault.status();
            let kind = match action {
                VaultAction::Subscribe => jobs::kind::VAULT_SUBSCRIBE,
                VaultAction::Terminate => jobs::kind::VAULT_TERMINATE,
                VaultAction::Reinvite => jobs::kind::VAULT_REINVITE,
            };
            let (job, created) = match jobs::open_job(conn, kind, &vault.id)? {
                Some(open) => (open, false),
                None => {
                    let queued = queue(conn, &vault, action, kind, &actor)?;
                    audit::append(
                        conn,
                        key.expose().as_bytes(),
                        AuditEvent {
                            actor: &actor,
                            action: &format!("vault.{}", action.as_str()),
                            student: Some(&student.cod_etu),
                            object_type: "vault",
                            object_id: Some(&vault.id),
                            details: serde_json::json!({ "from_status": status, "job_id": queued.0.id }),
                        },
                    )?;
                    queued
                }
            };
            let (vault, student) = repo::get(conn, &scope, &id)?.ok_or(VaultError::NotFound)?;
            Ok(Accepted {
                vault,
                student,
                action,
                job,
                newly_queued: created,
            })
        })
        .await
}

/// Checks the action is allowed now, applies its immediate transition and queues its job.
fn queue(
    conn: &mut DbConnection,
    vault: &VaultRow,
    action: VaultAction,
    kind: &str,
    actor: &str,
) -> Result<(JobRow, bool)> {
    let status = vault.status();
    if !action.allowed_from(status) {
        return Err(VaultError::NotAllowed { status, action });
    }
    // Nothing is sent for a student who objected or withdrew their consent.
    if matches!(action, VaultAction::Subscribe | VaultAction::Reinvite)
        && consents::any_refused(conn, &vault.student_id)?
    {
        return Err(VaultError::ConsentRefused);
    }
    match action {
        VaultAction::Subscribe => {}
        VaultAction::Terminate => {
            repo::transition(conn, vault, VaultTrigger::TerminationRequested, actor, None)?;
        }
        VaultAction::Reinvite => {
            repo::transition(conn, vault, VaultTrigger::Reinvited, actor, None)?;
        }
    }
    let payload = serde_json::json!({ "vault_id": vault.id });
    Ok(jobs::enqueue(conn, kind, &vault.id, &payload, actor)?)
}

/// Queues the subscription of every subscribable vault the filter selects, confirmed by
/// their number.
pub async fn subscribe_all(
    ctx: &Context,
    caller: &Caller,
    filter: VaultFilter,
    expected: i64,
) -> Result<BulkSubscription> {
    let (scope, actor, key) = (
        caller.scope.clone(),
        caller.name.clone(),
        ctx.audit_key.clone(),
    );
    Ok(ctx
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
        .await?)
}
