//! The membership synchronisation: reads Digiposte's memberships and brings every vault it
//! knows up to date (status, `accepted`), so a vault cancelled at Digiposte
//! stops receiving documents. Runs nightly (a scheduled job), on demand (`POST
//! /digiposte/sync`), or from the command line (`passerelle sync vaults`).

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::web;
use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use super::{HandlerFuture, JobHandler, Outcome};
use crate::db::jobs::{self, JobRow, kind};
use crate::db::vaults::{self, VaultFacts};
use crate::db::{Db, DbConnection};
use crate::digiposte::{DigiposteApi, DigiposteError, membership_status};
use crate::domain::vault::{VaultStatus, VaultTrigger};
use crate::error::ApiError;
use crate::state::AppState;

/// The subject of the scheduled runs starts with this; on-demand runs use `manual`.
pub const NIGHTLY: &str = "nightly";
pub const MANUAL: &str = "manual";

/// The job subject and payload of an on-demand synchronisation within `scope`: one open job
/// for the whole registry, and one per set of composantes a manager holds.
pub fn manual_subject(scope: &crate::auth::DataScope) -> (String, serde_json::Value) {
    match scope {
        crate::auth::DataScope::Composantes(codes) => {
            let mut codes = codes.clone();
            codes.sort();
            codes.dedup();
            (
                format!("{MANUAL}:{}", codes.join(",")),
                serde_json::json!({ "composantes": codes }),
            )
        }
        _ => (MANUAL.to_owned(), serde_json::json!({})),
    }
}

#[derive(Debug, Default, Clone, Serialize, ToSchema)]
pub struct SyncReport {
    /// Memberships Digiposte listed.
    pub memberships: usize,
    /// Vaults with a route code that were compared.
    pub vaults: usize,
    /// Vaults whose status changed.
    pub moved: usize,
    /// Vaults whose `accepted`/`personalised`/membership changed.
    pub updated: usize,
    /// Vaults with a route code Digiposte did not list.
    pub missing: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Digiposte(#[from] DigiposteError),
    #[error(transparent)]
    Db(#[from] ApiError),
}

/// The trigger a membership status means for a vault in `status` (`None`: nothing to do).
fn trigger_for(
    status: VaultStatus,
    membership: &str,
    termination_open: bool,
) -> Option<VaultTrigger> {
    let trigger = match membership {
        membership_status::CANCELLED => VaultTrigger::MembershipCancelled,
        membership_status::ACTIVE => match status {
            VaultStatus::Preregistered | VaultStatus::Terminated => VaultTrigger::MembershipActive,
            // A termination not yet carried out is not undone by the membership still active.
            VaultStatus::TerminationPending if !termination_open => VaultTrigger::MembershipActive,
            _ => return None,
        },
        _ => return None,
    };
    crate::domain::vault::next(status, trigger)
        .ok()
        .map(|_| trigger)
}

fn apply(
    conn: &mut DbConnection,
    by_route: &HashMap<String, crate::digiposte::Membership>,
    composantes: Option<&[String]>,
    actor: &str,
    report: &mut SyncReport,
) -> Result<(), ApiError> {
    let known = vaults::with_route_code(conn, composantes)?;
    report.vaults = known.len();
    for vault in known {
        let Some(m) = vault.route_code.as_ref().and_then(|rc| by_route.get(rc)) else {
            report.missing += 1;
            continue;
        };
        crate::db::write_transaction(conn, |conn| {
            let vault = vaults::find(conn, &vault.id)?;
            let open = jobs::open_job(conn, kind::VAULT_TERMINATE, &vault.id)?.is_some();
            if let Some(trigger) = trigger_for(vault.status(), &m.status, open) {
                vaults::transition(conn, &vault, trigger, actor, Some("digiposte_sync"))?;
                report.moved += 1;
            }
            // `accepted` is the published `accept_full_dematerialization`; whether the account
            // is personalised is not in the membership list (the customisation link's 403/409
            // tells it, see the vault jobs).
            if vault.accepted != m.accept_full_dematerialization
                || vault.membership_id.as_deref() != Some(m.id.as_str())
            {
                vaults::set_facts(
                    conn,
                    &vault.id,
                    VaultFacts {
                        accepted: Some(m.accept_full_dematerialization),
                        membership_id: Some(&m.id),
                        ..VaultFacts::default()
                    },
                )?;
                report.updated += 1;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// One synchronisation run.
/// One synchronisation run; `composantes`: only the vaults of these composantes' students (a
/// manager's synchronisation), all of them otherwise.
pub async fn sync_vaults(
    db: &Db,
    api: &dyn DigiposteApi,
    actor: &str,
    composantes: Option<Vec<String>>,
) -> Result<SyncReport, SyncError> {
    let memberships = api.memberships().await?;
    let mut report = SyncReport {
        memberships: memberships.len(),
        ..SyncReport::default()
    };
    let by_route: HashMap<String, crate::digiposte::Membership> = memberships
        .into_iter()
        .map(|m| (m.route_code().to_owned(), m))
        .collect();
    let actor = actor.to_owned();
    let report = db
        .run(move |conn| {
            apply(conn, &by_route, composantes.as_deref(), &actor, &mut report)?;
            Ok(report)
        })
        .await?;
    Ok(report)
}

/// The next nightly run after `now`.
pub fn next_nightly(now: NaiveDateTime, hour: u32) -> NaiveDateTime {
    let today = now
        .date()
        .and_hms_opt(hour.min(23), 0, 0)
        .expect("a valid hour");
    if today > now {
        today
    } else {
        today + chrono::Duration::days(1)
    }
}

/// Makes sure the next nightly run is queued (idempotent: one open job per night).
pub fn schedule_nightly(conn: &mut DbConnection, hour: u32) -> Result<(), ApiError> {
    let at = next_nightly(crate::db::now(), hour);
    let subject = format!("{NIGHTLY}-{}", at.date());
    jobs::enqueue_at(
        conn,
        kind::VAULT_SYNC,
        &subject,
        &serde_json::json!({}),
        "system:scheduler",
        at,
    )?;
    Ok(())
}

pub struct SyncHandler {
    pub state: web::Data<AppState>,
    pub api: Arc<dyn DigiposteApi>,
}

impl JobHandler for SyncHandler {
    fn kind(&self) -> &'static str {
        kind::VAULT_SYNC
    }

    fn max_attempts(&self) -> i32 {
        5
    }

    fn run<'a>(&'a self, job: &'a JobRow) -> HandlerFuture<'a> {
        Box::pin(async move {
            let composantes: Option<Vec<String>> =
                serde_json::from_str::<serde_json::Value>(&job.payload)
                    .ok()
                    .and_then(|p| serde_json::from_value(p.get("composantes")?.clone()).ok());
            let outcome = match sync_vaults(
                &self.state.db,
                self.api.as_ref(),
                "worker:sync",
                composantes,
            )
            .await
            {
                Ok(report) => {
                    tracing::info!(?report, "Digiposte synchronisation done");
                    Outcome::Done
                }
                Err(e) => Outcome::Retry {
                    error: e.to_string(),
                    after: None,
                },
            };
            let config = &self.state.config.digiposte;
            if job.subject_id.starts_with(NIGHTLY) && config.sync_enabled {
                let hour = config.sync_hour_utc;
                let scheduled = self
                    .state
                    .db
                    .write(move |conn| schedule_nightly(conn, hour))
                    .await;
                if let Err(e) = scheduled {
                    tracing::warn!(error = %e, "could not schedule the next synchronisation");
                }
            }
            outcome
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    #[test]
    fn memberships_map_to_triggers() {
        use VaultStatus::*;
        let c = membership_status::CANCELLED;
        let a = membership_status::ACTIVE;
        assert_eq!(
            trigger_for(Active, c, false),
            Some(VaultTrigger::MembershipCancelled)
        );
        assert_eq!(
            trigger_for(TerminationPending, c, true),
            Some(VaultTrigger::MembershipCancelled)
        );
        assert_eq!(trigger_for(Terminated, c, false), None);
        assert_eq!(
            trigger_for(Preregistered, a, false),
            Some(VaultTrigger::MembershipActive)
        );
        assert_eq!(trigger_for(TerminationPending, a, true), None);
        assert_eq!(trigger_for(Active, a, false), None);
        assert_eq!(
            trigger_for(Active, membership_status::CANCEL_IN_PROGRESS, false),
            None
        );
    }

    #[test]
    fn nightly_is_the_next_occurrence_of_the_hour() {
        let d = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            next_nightly(d("2026-11-23 01:00:00"), 2),
            d("2026-11-23 02:00:00")
        );
        assert_eq!(
            next_nightly(d("2026-11-23 02:00:00"), 2),
            d("2026-11-24 02:00:00")
        );
        assert_eq!(next_nightly(d("2026-11-23 23:00:00"), 2).hour(), 2);
    }
}
