//! `/lockers`: the ENT's Casier. A person deposits a document into the lockers of users or
//! groups; the server time-stamps and hashes it at receipt, and the receipt points at the
//! audit entry that proves what was deposited and when. Deposits are immutable (a new version
//! is a new deposit that `replaces` the previous one). Each person has three folders: "Mon
//! casier" (inbox), "Historique" (sent) and "Corbeille" (trash, purged after a delay). The
//! rules live in `services::lockers`; these handlers authorize, call one use case and answer.

use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{DataScope, Permission, Principal, Role};
use crate::domain::locker;
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::services::lockers::{self as service, LockerError};
use crate::state::AppState;

mod deposits;
mod folders;
mod groups;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(deposits::deposit)
        .service(deposits::show)
        .service(deposits::update_refused)
        .service(deposits::delete_refused)
        .service(deposits::download)
        .service(folders::inbox)
        .service(folders::sent)
        .service(folders::trash)
        .service(folders::move_to_trash)
        .service(folders::restore)
        .service(folders::mark_read)
        .service(groups::search_recipients)
        .service(groups::list_groups)
        .service(groups::show_group)
        .service(groups::put_group)
        .service(groups::delete_group);
}

/// The locker user id of the caller, after checking they may use lockers; staff are recorded
/// so that others can address them.
async fn me(state: &AppState, principal: &Principal) -> Result<(String, DataScope), ApiError> {
    let scope = principal.authorize(Permission::LockersUse)?;
    let id = locker::user_id(principal).ok_or_else(|| {
        ApiError::forbidden(crate::i18n::Text::fixed(
            "seules les personnes ont un casier",
            "only people have a locker",
        ))
    })?;
    if principal.role != Role::Student {
        let role = if principal.role == Role::Admin {
            "admin"
        } else {
            "manager"
        };
        let (uid, name) = (id.clone(), principal.name.clone());
        state
            .context()
            .read(move |conn| service::register_staff(conn, &uid, role, name.as_deref()))
            .await?;
    }
    Ok((id, scope))
}

fn field_error(field: &str, code: &str, message: crate::i18n::Text) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.into(),
        code: code.into(),
        message: crate::i18n::Localized(message),
    }])
}

/// How the lockers' refusals answer.
impl From<LockerError> for ApiError {
    fn from(e: LockerError) -> Self {
        match e {
            LockerError::UnknownRecipient(unknown) => {
                let names = unknown.join(", ");
                ApiError::new(
                    ErrorCode::UnknownRecipient,
                    crate::text!(
                        "destinataire(s) inconnu(s), ou auxquels vous ne pouvez pas écrire : {names}",
                        "unknown recipient(s), or ones you may not address: {names}"
                    ),
                )
                .with("recipients", &unknown)
            }
            LockerError::MembersNotPeople(bad) => ApiError::new(
                ErrorCode::UnknownRecipient,
                {
                    let bad = bad.join(", ");
                    crate::text!(
                        "les membres d'un groupe sont des personnes (student:…, manager:…, admin:…) : {bad}",
                        "group members are people (student:…, manager:…, admin:…): {bad}"
                    )
                },
            )
            .with("recipients", &bad),
            LockerError::NoOne => field_error(
                "recipients",
                "empty",
                crate::i18n::Text::fixed(
                    "les destinataires ne désignent personne (une étape sans étudiant inscrit valablement, un groupe vide)",
                    "the recipients resolve to no one (an étape without validly enrolled students, an empty group)",
                ),
            ),
            LockerError::UnknownReplaced => {
                field_error(
                "replaces",
                "unknown",
                crate::i18n::Text::fixed(
                    "aucun de vos dépôts n'a cet identifiant",
                    "no deposit of yours has this id",
                ),
            )
            }
            LockerError::Superseded { latest_id } => ApiError::new(
                ErrorCode::DepositSuperseded,
                crate::i18n::Text::fixed(
                    "ce dépôt a déjà une version plus récente : remplacez la dernière",
                    "this deposit already has a newer version: replace the latest one",
                ),
            )
            .with("latest_id", latest_id),
            LockerError::QuotaExceeded { size, quota, used } => ApiError::new(
                ErrorCode::QuotaExceeded,
                crate::text!(
                    "ce dépôt de {size} octets dépasserait votre quota de {quota} octets ({used} utilisés)",
                    "this deposit of {size} bytes would take you over your quota of {quota} bytes ({used} used)"
                ),
            )
            .with("quota_bytes", quota)
            .with("used_bytes", used),
            LockerError::NotFound(what) => ApiError::not_found(what),
            LockerError::Immutable => ApiError::new(
                ErrorCode::DepositImmutable,
                crate::i18n::Text::fixed(
                    "un dépôt ne peut être ni modifié ni supprimé une fois fait ; déposez une nouvelle \
                     version avec `replaces` (un destinataire peut mettre sa copie à la corbeille)",
                    "a deposit cannot be changed or deleted once made; deposit a new version with \
                     `replaces` (a recipient may move their copy to the trash)",
                ),
            ),
            LockerError::InvalidGroupName => field_error(
                "name",
                "format",
                crate::i18n::Text::fixed(
                    "1 à 64 lettres, chiffres, `-`, `_` ou `.`",
                    "1 to 64 letters, digits, `-`, `_` or `.`",
                ),
            ),
            LockerError::Storage(e) => e.into(),
            LockerError::Lower(e) => e,
        }
    }
}
