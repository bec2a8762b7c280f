//! Vault jobs carried out through Digiposte: subscription (partial account, route code stored
//! before anything else, customisation link), termination (membership cancellation) and
//! re-invitation (a new customisation link). Each re-reads the vault first: a job whose
//! conditions no longer hold (consent withdrawn, status moved) does nothing.

use std::sync::Arc;

use actix_web::web;

use super::{HandlerFuture, JobHandler, Outcome};
use crate::db::jobs::{JobRow, kind};
use crate::db::vaults::{self, VaultFacts, VaultRow};
use crate::db::{consents, students};
use crate::digiposte::{DigiposteApi, DigiposteError, PartialUser};
use crate::domain::vault::{VaultStatus, VaultTrigger};
use crate::error::ApiError;
use crate::state::AppState;

/// Who the vault history names for what the workers do.
pub const ACTOR: &str = "worker:digiposte";

pub struct VaultHandler {
    pub kind: &'static str,
    pub state: web::Data<AppState>,
    pub api: Arc<dyn DigiposteApi>,
}

impl JobHandler for VaultHandler {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn max_attempts(&self) -> i32 {
        20
    }

    fn run<'a>(&'a self, job: &'a JobRow) -> HandlerFuture<'a> {
        Box::pin(async move {
            let result = match self.kind {
                kind::VAULT_SUBSCRIBE => self.subscribe(&job.subject_id).await,
                kind::VAULT_TERMINATE => self.terminate(&job.subject_id).await,
                _ => self.reinvite(&job.subject_id).await,
            };
            match result {
                Ok(()) => Outcome::Done,
                Err(Failure::Transient(e)) => Outcome::Retry {
                    error: e.code().to_owned(),
                    after: match e {
                        DigiposteError::CircuitOpen(wait) => Some(wait),
                        _ => None,
                    },
                },
                Err(Failure::Db(e)) => Outcome::Retry {
                    error: e.to_string(),
                    after: None,
                },
            }
        })
    }
}

enum Failure {
    Transient(DigiposteError),
    Db(ApiError),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Db(e)
    }
}

impl VaultHandler {
    async fn load(
        &self,
        vault_id: &str,
    ) -> Result<(VaultRow, students::StudentRow, bool), ApiError> {
        let id = vault_id.to_owned();
        self.state
            .db
            .run(move |conn| {
                let vault = vaults::find(conn, &id)?;
                let student = students::find(conn, &vault.student_id)?;
                let refused = consents::any_refused(conn, &vault.student_id)?;
                Ok((vault, student, refused))
            })
            .await
    }

    async fn facts(
        &self,
        vault_id: &str,
        route_code: Option<String>,
        membership_id: Option<String>,
        url: Option<String>,
        last_error: Option<Option<String>>,
    ) -> Result<(), ApiError> {
        let id = vault_id.to_owned();
        self.state
            .db
            .write(move |conn| {
                vaults::set_facts(
                    conn,
                    &id,
                    VaultFacts {
                        route_code: route_code.as_deref(),
                        membership_id: membership_id.as_deref(),
                        customization_url: url.as_deref(),
                        last_error: last_error.as_ref().map(|e| e.as_deref()),
                        ..VaultFacts::default()
                    },
                )
            })
            .await
    }

    /// Digiposte refused a customisation link because the account is customised already.
    async fn personalised(&self, vault_id: &str) -> Result<(), ApiError> {
        let id = vault_id.to_owned();
        self.state
            .db
            .write(move |conn| {
                vaults::set_facts(
                    conn,
                    &id,
                    VaultFacts {
                        personalised: Some(true),
                        last_error: Some(None),
                        ..VaultFacts::default()
                    },
                )
            })
            .await
    }

    /// Applies a trigger if the vault's current status allows it (re-read in the transaction).
    async fn transition(
        &self,
        vault_id: &str,
        trigger: VaultTrigger,
        reason: Option<String>,
    ) -> Result<(), ApiError> {
        let id = vault_id.to_owned();
        self.state
            .db
            .write(move |conn| {
                let vault = vaults::find(conn, &id)?;
                if crate::domain::vault::next(vault.status(), trigger).is_ok() {
                    vaults::transition(conn, &vault, trigger, ACTOR, reason.as_deref())?;
                }
                vaults::set_facts(
                    conn,
                    &id,
                    VaultFacts {
                        last_error: Some(reason.as_deref()),
                        ..VaultFacts::default()
                    },
                )
            })
            .await
    }

    /// The vault's route code: stored, or from a new partial account (stored at once), or —
    /// when Digiposte says the account exists (409 "client id already exist for current
    /// partner") — from that user's memberships (`X-PartnerUserId`), whose `id` is the routing
    /// code. `Ok(Err(reason))`: Digiposte refused.
    async fn route_code(
        &self,
        vault: &VaultRow,
        student: &students::StudentRow,
    ) -> Result<Result<String, String>, Failure> {
        if let Some(rc) = &vault.route_code {
            return Ok(Ok(rc.clone()));
        }
        let user = PartialUser {
            partner_user_id: student.cod_etu.clone(),
            first_name: student.first_name.clone(),
            last_name: student.last_name.clone(),
            date_of_birth: student.birth_date.map(|d| d.to_string()),
            email: student.email.clone(),
        };
        let account = match self.api.create_partial_user(&user).await {
            Ok(a) => a,
            Err(e) if e.code() == "digiposte_already_exists" => {
                let memberships = self
                    .api
                    .memberships_of(&student.cod_etu)
                    .await
                    .map_err(Failure::Transient)?;
                match memberships.into_iter().next() {
                    Some(m) => crate::digiposte::PartialAccount { route_code: m.id },
                    None => return Ok(Err(e.reason())),
                }
            }
            Err(e) if e.is_transient() => return Err(Failure::Transient(e)),
            Err(e) => return Ok(Err(e.reason())),
        };
        // Before anything else: a retry of /user/partial would only answer 409. The
        // membership id is the routing code.
        self.facts(
            &vault.id,
            Some(account.route_code.clone()),
            Some(account.route_code.clone()),
            None,
            None,
        )
        .await?;
        Ok(Ok(account.route_code))
    }

    async fn subscribe(&self, vault_id: &str) -> Result<(), Failure> {
        let (vault, student, refused) = self.load(vault_id).await?;
        if refused
            || !matches!(
                vault.status(),
                VaultStatus::NotTransmitted | VaultStatus::TransmissionError
            )
        {
            return Ok(());
        }
        if let Err(reason) = self.route_code(&vault, &student).await? {
            self.transition(vault_id, VaultTrigger::SubscriptionFailed, Some(reason))
                .await?;
            return Ok(());
        }
        match self.api.customization_url(&student.cod_etu).await {
            Ok(url) => {
                self.facts(vault_id, None, None, Some(url), None).await?;
                self.transition(vault_id, VaultTrigger::SubscriptionSucceeded, None)
                    .await?;
            }
            // The account exists and is already customised: nothing left for the student to do.
            Err(e) if e.is_already_customised() => {
                self.personalised(vault_id).await?;
                self.transition(vault_id, VaultTrigger::SubscriptionSucceeded, None)
                    .await?;
            }
            Err(e) if e.is_transient() => return Err(Failure::Transient(e)),
            Err(e) => {
                self.transition(vault_id, VaultTrigger::SubscriptionFailed, Some(e.reason()))
                    .await?;
            }
        }
        Ok(())
    }

    async fn terminate(&self, vault_id: &str) -> Result<(), Failure> {
        let (vault, _, _) = self.load(vault_id).await?;
        if vault.status() != VaultStatus::TerminationPending {
            return Ok(());
        }
        let Some(route) = vault.route_code.clone() else {
            // Never reached Digiposte: nothing to cancel there.
            self.transition(vault_id, VaultTrigger::MembershipCancelled, None)
                .await?;
            return Ok(());
        };
        let membership = match vault.membership_id.clone() {
            Some(m) => Some(m),
            None => self
                .api
                .memberships()
                .await
                .map_err(Failure::Transient)?
                .into_iter()
                .find(|m| m.route_code() == route)
                .map(|m| m.id),
        };
        let Some(membership) = membership else {
            self.transition(vault_id, VaultTrigger::MembershipCancelled, None)
                .await?;
            return Ok(());
        };
        match self.api.cancel_membership(&membership).await {
            Ok(status) => {
                if status == crate::digiposte::membership_status::CANCELLED {
                    self.transition(vault_id, VaultTrigger::MembershipCancelled, None)
                        .await?;
                } else {
                    // CANCEL_IN_PROGRESS: the synchronisation sees it through.
                    self.facts(vault_id, None, Some(membership), None, Some(None))
                        .await?;
                }
            }
            Err(e) if e.is_transient() => return Err(Failure::Transient(e)),
            Err(e) if e.code() == "digiposte_not_found" => {
                self.transition(vault_id, VaultTrigger::MembershipCancelled, None)
                    .await?;
            }
            Err(e) => {
                self.facts(vault_id, None, None, None, Some(Some(e.reason())))
                    .await?;
            }
        }
        Ok(())
    }

    async fn reinvite(&self, vault_id: &str) -> Result<(), Failure> {
        let (vault, student, refused) = self.load(vault_id).await?;
        if refused || vault.status() != VaultStatus::Preregistered {
            return Ok(());
        }
        if let Err(reason) = self.route_code(&vault, &student).await? {
            self.facts(vault_id, None, None, None, Some(Some(reason)))
                .await?;
            return Ok(());
        }
        match self.api.customization_url(&student.cod_etu).await {
            Ok(url) => {
                self.facts(vault_id, None, None, Some(url), Some(None))
                    .await?
            }
            Err(e) if e.is_already_customised() => self.personalised(vault_id).await?,
            Err(e) if e.is_transient() => return Err(Failure::Transient(e)),
            Err(e) => {
                self.facts(vault_id, None, None, None, Some(Some(e.reason())))
                    .await?
            }
        }
        Ok(())
    }
}
