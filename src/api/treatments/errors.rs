//! The treatments' refusals as problem documents (the same codes as the handlers gave).

use actix_web::http::header;

use crate::error::{ApiError, ErrorCode, FieldError};
use crate::i18n::Text;
use crate::services::delivery::DeliveryError;
use crate::services::treatments::TreatmentError;

pub(super) fn field_error(field: &str, code: &str, message: Text) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.into(),
        code: code.into(),
        message: crate::i18n::Localized(message),
    }])
}

impl From<TreatmentError> for ApiError {
    fn from(e: TreatmentError) -> Self {
        let transition = |fr: &'static str, en: &'static str| {
            ApiError::new(ErrorCode::InvalidTransition, Text::fixed(fr, en))
        };
        match e {
            TreatmentError::NotFound(what) => ApiError::not_found(what),
            TreatmentError::FileDeleted => {
                ApiError::not_found("document file (deleted by retention)")
            }
            TreatmentError::UnknownComposante => field_error(
                "composante",
                "unknown",
                Text::fixed(
                    "composante inconnue, ou que vous ne gérez pas",
                    "unknown composante, or one you do not manage",
                ),
            ),
            TreatmentError::Refused {
                error,
                treatment_id,
            } => ApiError::from(error)
                .with("treatment_id", &treatment_id)
                .with_header(header::LOCATION, &format!("/treatments/{treatment_id}")),
            TreatmentError::NotCancellable(status) => {
                let (label, code) = (status.label(), status.as_str());
                ApiError::new(
                    ErrorCode::InvalidTransition,
                    crate::text!(
                        "un traitement « {label} » ne peut pas être annulé",
                        "a treatment in status `{code}` cannot be cancelled"
                    ),
                )
                .with("current_status", code)
                .with("current_status_label", label)
            }
            TreatmentError::NotWaitingToSend(status) => transition(
                "le traitement n'est pas en attente d'envoi",
                "the treatment is not waiting to be sent",
            )
            .with("current_status", status.as_str()),
            TreatmentError::NoIdentityToConfirm => transition(
                "ce document n'a pas d'identité à confirmer",
                "this document has no identity to confirm",
            ),
            TreatmentError::NotUncertain { current_status } => transition(
                "ce document n'attend pas de vérification (incertain)",
                "this document is not waiting for a check (uncertain)",
            )
            .with("current_status", current_status),
            TreatmentError::Delivery(e) => e.into(),
            TreatmentError::Lower(e) => e,
        }
    }
}

impl From<DeliveryError> for ApiError {
    fn from(e: DeliveryError) -> Self {
        let transition = |fr: &'static str, en: &'static str| {
            ApiError::new(ErrorCode::InvalidTransition, Text::fixed(fr, en))
        };
        match e {
            DeliveryError::NotFound(what) => ApiError::not_found(what),
            DeliveryError::NotSendable(status) => {
                let (label, code) = (status.label(), status.as_str());
                ApiError::new(
                    ErrorCode::InvalidTransition,
                    crate::text!(
                        "un traitement « {label} » ne peut pas être envoyé",
                        "a treatment in status `{code}` cannot be sent"
                    ),
                )
                .with("current_status", code)
                .with("current_status_label", label)
            }
            DeliveryError::NotSentYet(status) => transition(
                "le traitement n'a pas encore été envoyé : envoyez-le d'abord en entier",
                "the treatment was not sent yet: send it as a whole first",
            )
            .with("current_status", status.as_str())
            .with("current_status_label", status.label()),
            DeliveryError::NotHeldNorFailed(status) => transition(
                "seul un document retenu ou en erreur peut être renvoyé",
                "only a held or failed document can be sent again",
            )
            .with(
                "current_status",
                status.map_or("unsent", |s| s.as_str()),
            ),
            DeliveryError::Held(held) => {
                let (fr, en) = (held.hold.label(), held.hold.label_text().en);
                ApiError::new(
                    ErrorCode::DocumentHeld,
                    crate::text!(
                        "ce document ne peut pas être envoyé maintenant : {fr}",
                        "this document cannot be sent now: {en}"
                    ),
                )
                .with("reason", held.hold)
                .with("reason_label", held.hold.label())
                .with("earlier_document_id", &held.earlier)
            }
            DeliveryError::ChangedMeanwhile => transition(
                "le document a changé entre-temps : regardez à nouveau",
                "the document changed meanwhile: look again",
            ),
            DeliveryError::NotOutsideComposante => transition(
                "ce document n'est pas retenu hors des composantes de l'expéditeur",
                "this document is not held outside the uploader's composantes",
            ),
            DeliveryError::ReplacesNothing => transition(
                "ce document ne remplace pas un document déjà déposé",
                "this document does not replace a delivered one",
            ),
            DeliveryError::ReplacementAlreadyConfirmed => transition(
                "le remplacement a déjà été confirmé",
                "the replacement was already confirmed",
            ),
            DeliveryError::ConfirmationMismatch {
                deliverable,
                expected,
            } => ApiError::new(
                ErrorCode::ConfirmationMismatch,
                crate::text!(
                    "{deliverable} documents seraient envoyés maintenant, et non {expected} : vérifiez avant de confirmer",
                    "{deliverable} documents would be sent now, not {expected}: look again before confirming"
                ),
            )
            .with("expected_documents", deliverable),
            DeliveryError::DuplicateUpload(live) => {
                let newest = live.first().cloned().unwrap_or_default();
                ApiError::new(
                    ErrorCode::DuplicateUpload,
                    crate::text!(
                        "ce fichier a déjà été déposé (traitement {newest}) : pour créer un autre traitement exprès, envoyez `replace_of={newest}`",
                        "these bytes were already uploaded as treatment {newest}: to create another treatment on purpose, send `replace_of={newest}`"
                    ),
                )
                .with("treatment_id", &newest)
                .with("treatments", &live)
                .with_header(header::LOCATION, &format!("/treatments/{newest}"))
            }
            DeliveryError::UnknownKind(e) => e.into(),
            DeliveryError::Lower(e) => e,
        }
    }
}
