//! The vault (coffre) state machine: seven statuses as managers know them, and the one table
//! of allowed transitions. Pure: no I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A student's vault status, with the label managers see in the seed manual.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VaultStatus {
    /// Adhésion non transmise à Digiposte: known, subscription not sent yet.
    NotTransmitted,
    /// Erreur transmission à Digiposte: Digiposte refused or failed the subscription.
    TransmissionError,
    /// L'étudiant n'a pas d'inscription valide: no enrolment in state E this year.
    NoValidEnrolment,
    /// Demande en cours de réalisation: termination requested (Digiposte CANCEL_IN_PROGRESS).
    TerminationPending,
    /// Adhésion résiliée: membership ended.
    Terminated,
    /// Préinscription: re-subscription link issued, awaiting the student.
    Preregistered,
    /// Validé: membership ACTIVE, documents can be delivered.
    Active,
    /// Opposition enregistrée: the student refused the pre-creation in writing (or through the
    /// ENT) before anything was sent; nothing is sent until the objection is withdrawn.
    Objected,
}

impl VaultStatus {
    pub const ALL: [VaultStatus; 8] = [
        VaultStatus::NotTransmitted,
        VaultStatus::TransmissionError,
        VaultStatus::NoValidEnrolment,
        VaultStatus::TerminationPending,
        VaultStatus::Terminated,
        VaultStatus::Preregistered,
        VaultStatus::Active,
        VaultStatus::Objected,
    ];

    /// The French label, exactly as the managers' manual names it.
    pub fn label(self) -> &'static str {
        match self {
            VaultStatus::NotTransmitted => "Adhésion non transmise à Digiposte",
            VaultStatus::TransmissionError => "Erreur transmission à Digiposte",
            VaultStatus::NoValidEnrolment => "L'étudiant n'a pas d'inscription valide",
            VaultStatus::TerminationPending => "Demande en cours de réalisation",
            VaultStatus::Terminated => "Adhésion résiliée",
            VaultStatus::Preregistered => "Préinscription",
            VaultStatus::Active => "Validé",
            VaultStatus::Objected => "Opposition enregistrée",
        }
    }

    /// The label in English, for English-speaking readers.
    pub fn label_en(self) -> &'static str {
        match self {
            VaultStatus::NotTransmitted => "Subscription not sent to Digiposte",
            VaultStatus::TransmissionError => "Digiposte transmission error",
            VaultStatus::NoValidEnrolment => "The student has no valid enrolment",
            VaultStatus::TerminationPending => "Termination in progress",
            VaultStatus::Terminated => "Membership terminated",
            VaultStatus::Preregistered => "Pre-registered",
            VaultStatus::Active => "Active",
            VaultStatus::Objected => "Objection recorded",
        }
    }

    /// Both labels.
    pub fn label_text(self) -> crate::i18n::Text {
        crate::i18n::Text::fixed(self.label(), self.label_en())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VaultStatus::NotTransmitted => "not_transmitted",
            VaultStatus::TransmissionError => "transmission_error",
            VaultStatus::NoValidEnrolment => "no_valid_enrolment",
            VaultStatus::TerminationPending => "termination_pending",
            VaultStatus::Terminated => "terminated",
            VaultStatus::Preregistered => "preregistered",
            VaultStatus::Active => "active",
            VaultStatus::Objected => "objected",
        }
    }

    pub fn parse(s: &str) -> Option<VaultStatus> {
        VaultStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether the subscription was ever sent to Digiposte from this status: once it was,
    /// the vault never returns to `not_transmitted` or `no_valid_enrolment`.
    pub fn was_transmitted(self) -> bool {
        !matches!(
            self,
            VaultStatus::NotTransmitted | VaultStatus::NoValidEnrolment | VaultStatus::Objected
        )
    }

    /// What the student should do next (the "vérification compte" page), in French and
    /// English. `personalised`: the student already finished the account with a personal
    /// e-mail, so nothing asks them to do it again.
    pub fn student_guidance(self, personalised: bool) -> crate::i18n::Text {
        use crate::i18n::Text;
        match self {
            VaultStatus::NotTransmitted => Text::fixed(
                "Votre coffre-fort numérique va être créé par l'université. Vous recevrez ensuite \
                 un lien pour finaliser sa création avec une adresse e-mail personnelle.",
                "The university is about to create your digital vault. You will then receive a \
                 link to finish it with a personal e-mail address.",
            ),
            VaultStatus::TransmissionError => Text::fixed(
                "La création de votre coffre-fort a rencontré une erreur chez Digiposte. La \
                 scolarité a été informée et va renouveler la demande ; vous n'avez rien à faire.",
                "Creating your vault failed at Digiposte. The registrar's office knows and will \
                 ask again; you have nothing to do.",
            ),
            VaultStatus::NoValidEnrolment => Text::fixed(
                "Vous n'avez pas d'inscription administrative valide pour l'année en cours : votre \
                 coffre-fort ne peut pas être créé. Contactez votre scolarité.",
                "You have no valid administrative enrolment for this academic year: your vault \
                 cannot be created. Contact your registrar's office.",
            ),
            VaultStatus::TerminationPending => Text::fixed(
                "Votre demande de résiliation est en cours de traitement par Digiposte.",
                "Digiposte is processing the termination of your membership.",
            ),
            VaultStatus::Terminated => Text::fixed(
                "Votre coffre-fort universitaire est résilié : l'université n'y dépose plus de \
                 documents. Pour adhérer à nouveau, demandez à votre scolarité un nouveau lien \
                 d'adhésion ; il apparaîtra ici.",
                "Your university vault membership has ended: the university no longer deposits \
                 documents in it. To join again, ask your registrar's office for a new \
                 subscription link; it will appear here.",
            ),
            VaultStatus::Preregistered => Text::fixed(
                "Suivez le lien de finalisation pour adhérer de nouveau au coffre-fort de \
                 l'université, avec votre numéro étudiant et une adresse e-mail personnelle.",
                "Follow the finalisation link to join the university's vault again, with your \
                 student number and a personal e-mail address.",
            ),
            VaultStatus::Active if personalised => Text::fixed(
                "Votre coffre-fort est actif et personnalisé : vos relevés de notes et \
                 attestations y sont déposés et vous y accédez à vie avec votre adresse e-mail \
                 personnelle. Vous n'avez rien à faire.",
                "Your vault is active and personalised: your transcripts and certificates are \
                 deposited in it and you keep access for life with your personal e-mail \
                 address. You have nothing to do.",
            ),
            VaultStatus::Active => Text::fixed(
                "Votre coffre-fort est actif : vos relevés de notes et attestations y sont déposés. \
                 Finalisez-le avec une adresse e-mail personnelle pour y accéder à vie.",
                "Your vault is active: your transcripts and certificates are deposited in it. \
                 Finish it with a personal e-mail address to keep access for life.",
            ),
            VaultStatus::Objected => Text::fixed(
                "Vous vous êtes opposé(e) à la création de votre coffre-fort : l'université ne le \
                 crée pas et n'y dépose aucun document. Pour retirer votre opposition, faites-le \
                 depuis l'ENT (rétablir le consentement « Création automatique du coffre-fort ») \
                 ou écrivez à votre scolarité ; votre coffre sera alors créé.",
                "You objected to the creation of your vault: the university does not create it \
                 and deposits no document in it. To withdraw your objection, restore the consent \
                 \"vault pre-creation\" in the ENT or write to your registrar's office; your vault \
                 will then be created.",
            ),
        }
    }

    /// Whether the student still has something to do with a customisation link: a link issued
    /// earlier is stale once the account is personalised or the membership ended.
    pub fn finalisation_link_applies(self, personalised: bool) -> bool {
        match self {
            VaultStatus::Preregistered => true,
            VaultStatus::Active | VaultStatus::TransmissionError => !personalised,
            _ => false,
        }
    }
}

/// What moves a vault. Each transition in the table names its trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VaultTrigger {
    /// The registry shows a valid enrolment (state E) for the current year.
    EnrolmentValid,
    /// The registry shows no valid enrolment for the current year.
    EnrolmentInvalid,
    /// Digiposte created the (partial) account: membership ACTIVE.
    SubscriptionSucceeded,
    /// Digiposte refused or failed the subscription.
    SubscriptionFailed,
    /// A manager (or the student's objection) asked for termination.
    TerminationRequested,
    /// Digiposte reports the membership cancelled.
    MembershipCancelled,
    /// A re-subscription link was issued to a terminated student.
    Reinvited,
    /// Digiposte reports the membership active again (the student finalised).
    MembershipActive,
    /// The student objected to the pre-creation before anything was sent.
    ObjectionRecorded,
    /// The student's objection was withdrawn (consent restored).
    ObjectionLifted,
}

use VaultStatus::*;
use VaultTrigger::*;

/// The one table of allowed transitions: (from, trigger, to).
pub const TRANSITIONS: &[(VaultStatus, VaultTrigger, VaultStatus)] = &[
    (NoValidEnrolment, EnrolmentValid, NotTransmitted),
    (NotTransmitted, EnrolmentInvalid, NoValidEnrolment),
    (NotTransmitted, SubscriptionSucceeded, Active),
    (NotTransmitted, SubscriptionFailed, TransmissionError),
    (TransmissionError, SubscriptionSucceeded, Active),
    (TransmissionError, SubscriptionFailed, TransmissionError),
    (TransmissionError, MembershipCancelled, Terminated),
    (Active, TerminationRequested, TerminationPending),
    (Active, MembershipCancelled, Terminated),
    (Active, SubscriptionFailed, TransmissionError),
    (Preregistered, TerminationRequested, TerminationPending),
    (Preregistered, MembershipActive, Active),
    (Preregistered, MembershipCancelled, Terminated),
    (TerminationPending, MembershipCancelled, Terminated),
    (TerminationPending, MembershipActive, Active),
    (Terminated, Reinvited, Preregistered),
    (Terminated, MembershipActive, Active),
    (NotTransmitted, ObjectionRecorded, Objected),
    (NoValidEnrolment, ObjectionRecorded, Objected),
    (Objected, ObjectionLifted, NotTransmitted),
];

/// The status a vault starts in when first known.
pub fn initial_status(has_valid_enrolment: bool) -> VaultStatus {
    if has_valid_enrolment {
        NotTransmitted
    } else {
        NoValidEnrolment
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a vault in status `{}` cannot take `{trigger:?}`", from.as_str())]
pub struct ForbiddenTransition {
    pub from: VaultStatus,
    pub trigger: VaultTrigger,
}

/// Applies a trigger; the answer is the new status or why it is not allowed.
pub fn next(from: VaultStatus, trigger: VaultTrigger) -> Result<VaultStatus, ForbiddenTransition> {
    TRANSITIONS
        .iter()
        .find(|(f, t, _)| *f == from && *t == trigger)
        .map(|(_, _, to)| *to)
        .ok_or(ForbiddenTransition { from, trigger })
}

/// Manager actions on a vault: which statuses they apply to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VaultAction {
    /// Send (or re-send) the subscription to Digiposte.
    Subscribe,
    /// Ask Digiposte to end the membership.
    Terminate,
    /// Issue a re-subscription link to a terminated student.
    Reinvite,
}

impl VaultAction {
    pub fn as_str(self) -> &'static str {
        match self {
            VaultAction::Subscribe => "subscribe",
            VaultAction::Terminate => "terminate",
            VaultAction::Reinvite => "reinvite",
        }
    }

    /// Whether the action may be requested from `status`. A subscription is sent from
    /// `not_transmitted` or re-sent after an error; the other actions follow the table.
    pub fn allowed_from(self, status: VaultStatus) -> bool {
        match self {
            VaultAction::Subscribe => matches!(status, NotTransmitted | TransmissionError),
            VaultAction::Terminate => next(status, TerminationRequested).is_ok(),
            VaultAction::Reinvite => next(status, Reinvited).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const TRIGGERS: [VaultTrigger; 10] = [
        EnrolmentValid,
        EnrolmentInvalid,
        SubscriptionSucceeded,
        SubscriptionFailed,
        TerminationRequested,
        MembershipCancelled,
        Reinvited,
        MembershipActive,
        ObjectionRecorded,
        ObjectionLifted,
    ];

    #[test]
    fn every_allowed_transition_applies() {
        for (from, trigger, to) in TRANSITIONS {
            assert_eq!(next(*from, *trigger), Ok(*to), "{from:?} --{trigger:?}-->");
        }
    }

    #[test]
    fn every_other_pair_is_refused_with_the_current_status() {
        let allowed: HashSet<(VaultStatus, VaultTrigger)> =
            TRANSITIONS.iter().map(|(f, t, _)| (*f, *t)).collect();
        let mut refused = 0;
        for from in VaultStatus::ALL {
            for trigger in TRIGGERS {
                if allowed.contains(&(from, trigger)) {
                    continue;
                }
                let err = next(from, trigger).unwrap_err();
                assert_eq!(err.from, from);
                assert!(err.to_string().contains(from.as_str()));
                refused += 1;
            }
        }
        assert_eq!(
            refused,
            VaultStatus::ALL.len() * TRIGGERS.len() - TRANSITIONS.len()
        );
    }

    #[test]
    fn a_transmitted_vault_never_returns_to_not_transmitted() {
        for (from, _, to) in TRANSITIONS {
            if from.was_transmitted() {
                assert!(to.was_transmitted(), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn table_has_no_duplicate_pairs() {
        let mut seen = HashSet::new();
        for (f, t, _) in TRANSITIONS {
            assert!(seen.insert((f, t)), "duplicate ({f:?}, {t:?})");
        }
    }

    #[test]
    fn labels_are_the_managers_labels() {
        assert_eq!(Active.label(), "Validé");
        assert_eq!(
            NoValidEnrolment.label(),
            "L'étudiant n'a pas d'inscription valide"
        );
        let labels: HashSet<&str> = VaultStatus::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(labels.len(), VaultStatus::ALL.len());
        assert_eq!(Objected.label(), "Opposition enregistrée");
        for s in VaultStatus::ALL {
            assert_eq!(VaultStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn actions_follow_the_statuses() {
        assert!(VaultAction::Subscribe.allowed_from(NotTransmitted));
        assert!(VaultAction::Subscribe.allowed_from(TransmissionError));
        assert!(!VaultAction::Subscribe.allowed_from(Active));
        assert!(VaultAction::Terminate.allowed_from(Active));
        assert!(!VaultAction::Terminate.allowed_from(NotTransmitted));
        assert!(VaultAction::Reinvite.allowed_from(Terminated));
        assert!(!VaultAction::Reinvite.allowed_from(Active));
        assert_eq!(initial_status(true), NotTransmitted);
        assert_eq!(initial_status(false), NoValidEnrolment);
    }
}
