//! Treatments (one uploaded batch) and the delivery of each split document: statuses with the
//! labels of the managers' manual, and the delivery state machine. Pure.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A treatment's status (the seed's four, plus the split in progress).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TreatmentStatus {
    /// Découpage en cours: the split job is running.
    Splitting,
    /// Fichier découpé: ready to send or cancel.
    Split,
    /// Erreur de découpage: the file was refused (its problem code says why).
    SplitFailed,
    /// Fichier envoyé à Digiposte.
    Sent,
    /// Annulé par l'utilisateur.
    Cancelled,
}

impl TreatmentStatus {
    pub const ALL: [TreatmentStatus; 5] = [
        TreatmentStatus::Splitting,
        TreatmentStatus::Split,
        TreatmentStatus::SplitFailed,
        TreatmentStatus::Sent,
        TreatmentStatus::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            TreatmentStatus::Splitting => "splitting",
            TreatmentStatus::Split => "split",
            TreatmentStatus::SplitFailed => "split_failed",
            TreatmentStatus::Sent => "sent",
            TreatmentStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        TreatmentStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            TreatmentStatus::Splitting => "Découpage en cours",
            TreatmentStatus::Split => "Fichier découpé",
            TreatmentStatus::SplitFailed => "Erreur de découpage",
            TreatmentStatus::Sent => "Fichier envoyé à Digiposte",
            TreatmentStatus::Cancelled => "Annulé par l'utilisateur",
        }
    }
}

/// Where one document stands on its way into the student's vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The student has no active vault (or the document awaits an identity check): not sent.
    NoVault,
    /// Waiting for its turn to be deposited.
    Queued,
    /// Deposited; Digiposte's return is awaited (up to ~24 h).
    AwaitingReceipt,
    /// Transmis.
    Transmitted,
    /// Erreur transmission: the vault is terminated at Digiposte.
    TransmissionError,
    /// Non transmis: an error on Digiposte's side.
    NotTransmitted,
    /// À vérifier: the deposit was sent but its answer was lost, so it may or may not be in
    /// the vault; no published call can tell, so it is never sent again without a manager.
    /// Also a deposit whose receipt never came and whose status Digiposte could not tell.
    Uncertain,
    /// Cancelled before deposit (e.g. the student withdrew their consent).
    Cancelled,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 8] = [
        DeliveryStatus::NoVault,
        DeliveryStatus::Queued,
        DeliveryStatus::AwaitingReceipt,
        DeliveryStatus::Transmitted,
        DeliveryStatus::TransmissionError,
        DeliveryStatus::NotTransmitted,
        DeliveryStatus::Uncertain,
        DeliveryStatus::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::NoVault => "no_vault",
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::AwaitingReceipt => "awaiting_receipt",
            DeliveryStatus::Transmitted => "transmitted",
            DeliveryStatus::TransmissionError => "transmission_error",
            DeliveryStatus::NotTransmitted => "not_transmitted",
            DeliveryStatus::Uncertain => "uncertain",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        DeliveryStatus::ALL.into_iter().find(|d| d.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            DeliveryStatus::NoVault => "Étudiant sans coffre",
            DeliveryStatus::Queued => "En file d'envoi",
            DeliveryStatus::AwaitingReceipt => "En attente du retour",
            DeliveryStatus::Transmitted => "Transmis",
            DeliveryStatus::TransmissionError => "Erreur transmission",
            DeliveryStatus::NotTransmitted => "Non transmis",
            DeliveryStatus::Uncertain => "À vérifier",
            DeliveryStatus::Cancelled => "Annulé",
        }
    }
    /// Both labels (French for people, English for programs).
    pub fn label_text(self) -> crate::i18n::Text {
        let en = match self {
            DeliveryStatus::NoVault => "Student without a vault",
            DeliveryStatus::Queued => "Queued",
            DeliveryStatus::AwaitingReceipt => "Awaiting Digiposte's return",
            DeliveryStatus::Transmitted => "Transmitted",
            DeliveryStatus::TransmissionError => "Transmission error",
            DeliveryStatus::NotTransmitted => "Not transmitted",
            DeliveryStatus::Uncertain => "To check",
            DeliveryStatus::Cancelled => "Cancelled",
        };
        crate::i18n::Text::fixed(self.label(), en)
    }
    /// Final: a receipt never moves a document out of these.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryStatus::Transmitted
                | DeliveryStatus::TransmissionError
                | DeliveryStatus::NotTransmitted
                | DeliveryStatus::Cancelled
        )
    }

    /// Whether the worker, a receipt or a manager's check may move a document from `self`
    /// to `to`: a row of [`DELIVERY_TRANSITIONS`] but sending again (a manager asks for it one
    /// document at a time: [`DeliveryStatus::may_send_again`]) and the lost receipt (its own
    /// check decides, never a deposit's outcome).
    pub fn may_become(self, to: DeliveryStatus) -> bool {
        DELIVERY_TRANSITIONS.iter().any(|&(f, t, s)| {
            f == Some(self)
                && s == to
                && !matches!(t, DeliveryTrigger::SendAgain | DeliveryTrigger::ReceiptLost)
        })
    }
}

/// What moves a document from one delivery status to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryTrigger {
    /// The treatment is sent and the document may go.
    Send,
    /// The treatment is sent but the document is held (no vault, identity to check…).
    Hold,
    /// Digiposte took the deposit.
    Deposited,
    /// The deposit's end as the worker or a receipt tells it.
    Outcome,
    /// The student withdrew their consent before the deposit started.
    ConsentWithdrawn,
    /// The receipt never came: the deposit may or may not be in the vault.
    ReceiptLost,
    /// A manager looked at the student's vault about an uncertain deposit.
    ManagerChecked,
    /// A manager sends a held or surely failed document again.
    SendAgain,
}

/// The one table of allowed delivery transitions: (from, trigger, to); `None` is a split
/// document never sent. A write that is not a row here does not happen.
pub const DELIVERY_TRANSITIONS: &[(Option<DeliveryStatus>, DeliveryTrigger, DeliveryStatus)] = {
    use DeliveryStatus::*;
    use DeliveryTrigger::*;
    &[
        (None, Send, Queued),
        (None, Hold, NoVault),
        (Some(Queued), Deposited, AwaitingReceipt),
        (Some(Queued), Outcome, TransmissionError),
        (Some(Queued), Outcome, NotTransmitted),
        // The deposit's answer was lost: never sent again without a manager.
        (Some(Queued), Outcome, Uncertain),
        (Some(Queued), ConsentWithdrawn, Cancelled),
        (Some(AwaitingReceipt), Outcome, Transmitted),
        (Some(AwaitingReceipt), Outcome, TransmissionError),
        (Some(AwaitingReceipt), Outcome, NotTransmitted),
        (Some(AwaitingReceipt), ReceiptLost, Uncertain),
        // It is in the vault, or it is to be deposited again.
        (Some(Uncertain), ManagerChecked, Transmitted),
        (Some(Uncertain), ManagerChecked, Queued),
        (Some(NoVault), SendAgain, Queued),
        (Some(TransmissionError), SendAgain, Queued),
        (Some(NotTransmitted), SendAgain, Queued),
    ]
};

/// Whether `trigger` may move a document from `from` to `to`.
pub fn delivery_allows(
    from: Option<DeliveryStatus>,
    trigger: DeliveryTrigger,
    to: DeliveryStatus,
) -> bool {
    DELIVERY_TRANSITIONS.contains(&(from, trigger, to))
}

/// The one table of allowed treatment transitions: (from, to). A treatment is created
/// `splitting` (or `split_failed` when the upload itself is refused).
pub const TREATMENT_TRANSITIONS: &[(TreatmentStatus, TreatmentStatus)] = {
    use TreatmentStatus::*;
    &[
        (Splitting, Split),
        (Splitting, SplitFailed),
        (Split, Sent),
        (Split, Cancelled),
    ]
};

impl TreatmentStatus {
    /// Whether a treatment may go from `self` to `to`.
    pub fn may_become(self, to: TreatmentStatus) -> bool {
        TREATMENT_TRANSITIONS.contains(&(self, to))
    }
}

/// What a manager decided about an uncertain deposit, after looking at the student's vault
/// (or asking Digiposte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UncertainResolution {
    /// The document is in the vault: `transmitted`.
    Received,
    /// It is not: `queued` again, for one new deposit.
    DepositAgain,
}

impl UncertainResolution {
    /// The delivery state the decision leads to.
    pub fn target(self) -> DeliveryStatus {
        match self {
            UncertainResolution::Received => DeliveryStatus::Transmitted,
            UncertainResolution::DepositAgain => DeliveryStatus::Queued,
        }
    }
}

/// Per-document flags set by the split and the identity cross-check.
pub mod flags {
    /// A page without a number continued the previous student's relevé: review it.
    pub const CONTINUATION: &str = "continuation";
    /// The student's pages came in two separate runs and were merged.
    pub const MERGED: &str = "merged";
    /// The name on the page does not match the registry: not deliverable until confirmed.
    pub const IDENTITY_MISMATCH: &str = "identity_mismatch";
    /// The number is not in the registry: no vault can be found for it.
    pub const UNKNOWN_STUDENT: &str = "unknown_student";
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRIGGERS: [DeliveryTrigger; 8] = [
        DeliveryTrigger::Send,
        DeliveryTrigger::Hold,
        DeliveryTrigger::Deposited,
        DeliveryTrigger::Outcome,
        DeliveryTrigger::ConsentWithdrawn,
        DeliveryTrigger::ReceiptLost,
        DeliveryTrigger::ManagerChecked,
        DeliveryTrigger::SendAgain,
    ];

    #[test]
    fn every_delivery_row_is_allowed() {
        for &(from, trigger, to) in DELIVERY_TRANSITIONS {
            assert!(
                delivery_allows(from, trigger, to),
                "{from:?} {trigger:?} {to:?}"
            );
            if let Some(from) = from {
                assert_eq!(
                    from.may_become(to),
                    !matches!(
                        trigger,
                        DeliveryTrigger::SendAgain | DeliveryTrigger::ReceiptLost
                    ) || {
                        // A pair reachable by another trigger too stays allowed.
                        DELIVERY_TRANSITIONS.iter().any(|&(f, t, s)| {
                            f == Some(from)
                                && s == to
                                && !matches!(
                                    t,
                                    DeliveryTrigger::SendAgain | DeliveryTrigger::ReceiptLost
                                )
                        })
                    },
                    "{from:?} -> {to:?}"
                );
            }
        }
        // The lost receipt: an awaited return that never came is for a manager to check.
        assert!(delivery_allows(
            Some(DeliveryStatus::AwaitingReceipt),
            DeliveryTrigger::ReceiptLost,
            DeliveryStatus::Uncertain
        ));
        // A deposit's outcome never makes an awaited document uncertain.
        assert!(!DeliveryStatus::AwaitingReceipt.may_become(DeliveryStatus::Uncertain));
    }

    #[test]
    fn delivery_transitions_outside_the_table_are_refused() {
        use DeliveryStatus::*;
        use DeliveryTrigger::*;
        for (from, trigger, to) in [
            // Never deposited twice: nothing goes back to the deposit from a deposit.
            (Some(AwaitingReceipt), SendAgain, Queued),
            (Some(AwaitingReceipt), Outcome, Queued),
            (Some(Uncertain), SendAgain, Queued),
            (Some(Transmitted), SendAgain, Queued),
            (Some(Transmitted), Outcome, NotTransmitted),
            (Some(Cancelled), Send, Queued),
            (Some(Queued), Send, Queued),
            (None, Deposited, AwaitingReceipt),
            (None, Outcome, Transmitted),
            (Some(Queued), ManagerChecked, Transmitted),
            (Some(Queued), Outcome, Transmitted),
            (Some(Uncertain), Outcome, NotTransmitted),
            (Some(Uncertain), ReceiptLost, Uncertain),
            (Some(NoVault), Deposited, AwaitingReceipt),
            (Some(AwaitingReceipt), ConsentWithdrawn, Cancelled),
        ] {
            assert!(
                !delivery_allows(from, trigger, to),
                "{from:?} {trigger:?} {to:?}"
            );
        }
        assert!(!DeliveryStatus::NoVault.may_become(DeliveryStatus::Queued));
        assert!(!DeliveryStatus::Uncertain.may_send_again());
        assert!(!DeliveryStatus::AwaitingReceipt.may_send_again());
    }

    #[test]
    fn the_table_guards_what_matters() {
        type Row = (Option<DeliveryStatus>, DeliveryTrigger, DeliveryStatus);
        let rows =
            |pred: &dyn Fn(&Row) -> bool| DELIVERY_TRANSITIONS.iter().filter(|r| pred(r)).count();
        // Only Digiposte's answer puts a document in the vault's "awaiting" state.
        assert_eq!(rows(&|r| r.2 == DeliveryStatus::AwaitingReceipt), 1);
        // Nothing leaves a final state but a manager's send again of a surely failed deposit.
        for from in DeliveryStatus::ALL.into_iter().filter(|s| s.is_final()) {
            for trigger in TRIGGERS {
                for to in DeliveryStatus::ALL {
                    if delivery_allows(Some(from), trigger, to) {
                        assert_eq!(
                            (trigger, to),
                            (DeliveryTrigger::SendAgain, DeliveryStatus::Queued),
                            "{from:?}"
                        );
                        assert_ne!(from, DeliveryStatus::Transmitted);
                    }
                }
            }
        }
        // An uncertain deposit leaves only through a manager's check.
        assert!(
            DELIVERY_TRANSITIONS
                .iter()
                .filter(|r| r.0 == Some(DeliveryStatus::Uncertain))
                .all(|r| r.1 == DeliveryTrigger::ManagerChecked)
        );
    }

    #[test]
    fn treatment_transitions_follow_the_table() {
        use TreatmentStatus::*;
        for &(from, to) in TREATMENT_TRANSITIONS {
            assert!(from.may_become(to), "{from:?} -> {to:?}");
        }
        let allowed = [
            (Splitting, Split),
            (Splitting, SplitFailed),
            (Split, Sent),
            (Split, Cancelled),
        ];
        for from in TreatmentStatus::ALL {
            for to in TreatmentStatus::ALL {
                assert_eq!(
                    from.may_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
        // A sent treatment is never cancelled, a cancelled one never sent.
        assert!(!Sent.may_become(Cancelled));
        assert!(!Cancelled.may_become(Sent));
        assert!(!SplitFailed.may_become(Split));
    }

    #[test]
    fn final_states_never_move() {
        for from in DeliveryStatus::ALL.into_iter().filter(|s| s.is_final()) {
            for to in DeliveryStatus::ALL {
                assert!(!from.may_become(to), "{from:?} -> {to:?}");
            }
        }
        assert!(DeliveryStatus::Queued.may_become(DeliveryStatus::AwaitingReceipt));
        assert!(DeliveryStatus::AwaitingReceipt.may_become(DeliveryStatus::Transmitted));
        assert!(!DeliveryStatus::AwaitingReceipt.may_become(DeliveryStatus::Queued));
        assert!(!DeliveryStatus::NoVault.may_become(DeliveryStatus::Queued));
        // An uncertain deposit waits for a manager: no receipt or worker settles it.
        assert!(DeliveryStatus::Queued.may_become(DeliveryStatus::Uncertain));
        assert!(!DeliveryStatus::Uncertain.is_final());
        assert!(!DeliveryStatus::Uncertain.may_become(DeliveryStatus::AwaitingReceipt));
        assert!(!DeliveryStatus::Uncertain.may_become(DeliveryStatus::NotTransmitted));
        // A receipt that never came, unreadable by the status read: a manager decides too —
        // only through the lost-receipt row, never as a receipt's or the worker's outcome.
        assert!(delivery_allows(
            Some(DeliveryStatus::AwaitingReceipt),
            DeliveryTrigger::ReceiptLost,
            DeliveryStatus::Uncertain
        ));
        assert!(!DeliveryStatus::AwaitingReceipt.may_become(DeliveryStatus::Uncertain));
        assert_eq!(DeliveryStatus::Uncertain.label(), "À vérifier");
    }

    #[test]
    fn names_and_labels() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        }
        for s in TreatmentStatus::ALL {
            assert_eq!(TreatmentStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(TreatmentStatus::Split.label(), "Fichier découpé");
        assert_eq!(
            DeliveryStatus::AwaitingReceipt.label(),
            "En attente du retour"
        );
    }
}

/// Why a document of a treatment is not sent (the reason code; `Held` adds the earlier
/// document a duplicate or a correction refers to).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Hold {
    /// The number on the pages is not in the registry.
    UnknownStudent,
    /// The student has no valid enrolment this year in a composante the uploader may act
    /// for: never sent, unless an administrator releases the document.
    OutsideComposante,
    /// The name on the page differs from the registry, or the page named two students: a
    /// manager must confirm first.
    IdentityToConfirm,
    /// The student objected to or withdrew their consent.
    ConsentRefused,
    /// The same content (sha256 of the student's PDF) was already queued, deposited or
    /// transmitted to this student (`earlier_document_id`).
    AlreadyDelivered,
    /// The student already received a document of this kind and year with another content
    /// (`earlier_document_id`): a manager must confirm the replacement first.
    ReplacesDelivered,
    /// The student's vault is not active.
    NoActiveVault,
}

impl Hold {
    pub const ALL: [Hold; 7] = [
        Hold::UnknownStudent,
        Hold::OutsideComposante,
        Hold::IdentityToConfirm,
        Hold::ConsentRefused,
        Hold::AlreadyDelivered,
        Hold::ReplacesDelivered,
        Hold::NoActiveVault,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::UnknownStudent => "unknown_student",
            Hold::OutsideComposante => "outside_composante",
            Hold::IdentityToConfirm => "identity_to_confirm",
            Hold::ConsentRefused => "consent_refused",
            Hold::AlreadyDelivered => "already_delivered",
            Hold::ReplacesDelivered => "replaces_delivered",
            Hold::NoActiveVault => "no_active_vault",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Hold::ALL.into_iter().find(|h| h.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Hold::UnknownStudent => "Étudiant inconnu",
            Hold::OutsideComposante => "Hors de votre composante",
            Hold::IdentityToConfirm => "Identité à confirmer",
            Hold::ConsentRefused => "Consentement refusé",
            Hold::AlreadyDelivered => "Déjà déposé",
            Hold::ReplacesDelivered => "Remplace un document déposé",
            Hold::NoActiveVault => "Étudiant sans coffre",
        }
    }
    /// Both labels (French for people, English for programs).
    pub fn label_text(self) -> crate::i18n::Text {
        let en = match self {
            Hold::UnknownStudent => "Unknown student",
            Hold::OutsideComposante => "Outside your composante",
            Hold::IdentityToConfirm => "Identity to confirm",
            Hold::ConsentRefused => "Consent refused",
            Hold::AlreadyDelivered => "Already delivered",
            Hold::ReplacesDelivered => "Replaces a delivered document",
            Hold::NoActiveVault => "Student without a vault",
        };
        crate::i18n::Text::fixed(self.label(), en)
    }
}

/// A held document's reason, with the earlier document it duplicates or corrects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub hold: Hold,
    pub earlier: Option<String>,
}

impl From<Hold> for Held {
    fn from(hold: Hold) -> Self {
        Held {
            hold,
            earlier: None,
        }
    }
}

/// What is known of one document and its student when deciding whether to send it.
#[derive(Clone, Debug, Default)]
pub struct DeliveryFacts {
    /// The number is in the registry.
    pub known_student: bool,
    /// Validly enrolled this year in a composante the uploader may act for, or released by
    /// an administrator.
    pub within_authority: bool,
    pub needs_identity_check: bool,
    pub consent_refused: bool,
    pub vault_active: bool,
    /// An earlier document with the same content already sent to this student.
    pub same_content_sent: Option<String>,
    /// An earlier document of the same kind and year, another content, already sent to this
    /// student, whose replacement no manager confirmed.
    pub unconfirmed_replacement_of: Option<String>,
}

/// Whether a document may be queued for Digiposte. The checks go from the most serious (a
/// document that may not be this student's, or not the uploader's to send) to the most
/// ordinary (no vault yet). A document outside the uploader's authority says nothing more
/// (its student's vault and consent are none of the uploader's business).
pub fn deliverability(f: &DeliveryFacts) -> Result<(), Held> {
    if !f.known_student {
        Err(Hold::UnknownStudent.into())
    } else if !f.within_authority {
        Err(Hold::OutsideComposante.into())
    } else if f.needs_identity_check {
        Err(Hold::IdentityToConfirm.into())
    } else if f.consent_refused {
        Err(Hold::ConsentRefused.into())
    } else if let Some(earlier) = &f.same_content_sent {
        Err(Held {
            hold: Hold::AlreadyDelivered,
            earlier: Some(earlier.clone()),
        })
    } else if let Some(earlier) = &f.unconfirmed_replacement_of {
        Err(Held {
            hold: Hold::ReplacesDelivered,
            earlier: Some(earlier.clone()),
        })
    } else if !f.vault_active {
        Err(Hold::NoActiveVault.into())
    } else {
        Ok(())
    }
}

/// How many documents were held for one reason.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct HeldCount {
    pub reason: Hold,
    /// The reason as managers read it, e.g. "Hors de votre composante".
    #[serde(default)]
    pub label: String,
    pub count: i64,
}

/// Counts held documents per reason, in the order of [`Hold::ALL`].
pub fn count_holds<'a>(holds: impl IntoIterator<Item = &'a Hold>) -> Vec<HeldCount> {
    let mut counts: Vec<HeldCount> = Vec::new();
    for h in holds {
        match counts.iter_mut().find(|c| c.reason == *h) {
            Some(c) => c.count += 1,
            None => counts.push(HeldCount {
                reason: *h,
                label: h.label().to_owned(),
                count: 1,
            }),
        }
    }
    counts.sort_by_key(|c| Hold::ALL.iter().position(|h| *h == c.reason));
    counts
}

impl DeliveryStatus {
    /// Whether a manager may send this document again, one at a time: it was held at the
    /// send, or its deposit surely failed (never one that may be in the vault).
    pub fn may_send_again(self) -> bool {
        delivery_allows(
            Some(self),
            DeliveryTrigger::SendAgain,
            DeliveryStatus::Queued,
        )
    }
}

#[cfg(test)]
mod deliverability_tests {
    use super::*;

    fn ok() -> DeliveryFacts {
        DeliveryFacts {
            known_student: true,
            within_authority: true,
            vault_active: true,
            ..DeliveryFacts::default()
        }
    }

    fn hold(f: DeliveryFacts) -> Option<Hold> {
        deliverability(&f).err().map(|h| h.hold)
    }

    #[test]
    fn only_a_checked_active_consenting_student_within_authority_receives() {
        assert_eq!(deliverability(&ok()), Ok(()));
        let unknown = DeliveryFacts {
            known_student: false,
            ..ok()
        };
        assert_eq!(hold(unknown), Some(Hold::UnknownStudent));
        let check = DeliveryFacts {
            needs_identity_check: true,
            ..ok()
        };
        assert_eq!(hold(check), Some(Hold::IdentityToConfirm));
        let refused = DeliveryFacts {
            consent_refused: true,
            ..ok()
        };
        assert_eq!(hold(refused), Some(Hold::ConsentRefused));
        let no_vault = DeliveryFacts {
            vault_active: false,
            ..ok()
        };
        assert_eq!(hold(no_vault), Some(Hold::NoActiveVault));
        // The identity check wins over consent and vault.
        let both = DeliveryFacts {
            needs_identity_check: true,
            consent_refused: true,
            vault_active: false,
            ..ok()
        };
        assert_eq!(hold(both), Some(Hold::IdentityToConfirm));
    }

    #[test]
    fn outside_the_authority_hides_everything_else() {
        let outside = DeliveryFacts {
            within_authority: false,
            needs_identity_check: true,
            consent_refused: true,
            same_content_sent: Some("d0".into()),
            ..ok()
        };
        assert_eq!(
            deliverability(&outside),
            Err(Hold::OutsideComposante.into())
        );
    }

    #[test]
    fn never_twice_and_corrections_name_the_earlier_document() {
        let twice = DeliveryFacts {
            same_content_sent: Some("d1".into()),
            unconfirmed_replacement_of: Some("d2".into()),
            ..ok()
        };
        assert_eq!(
            deliverability(&twice),
            Err(Held {
                hold: Hold::AlreadyDelivered,
                earlier: Some("d1".into())
            })
        );
        let correction = DeliveryFacts {
            unconfirmed_replacement_of: Some("d2".into()),
            vault_active: false,
            ..ok()
        };
        assert_eq!(
            deliverability(&correction),
            Err(Held {
                hold: Hold::ReplacesDelivered,
                earlier: Some("d2".into())
            })
        );
    }

    #[test]
    fn holds_are_counted_per_reason_with_their_labels() {
        let c = count_holds(&[
            Hold::NoActiveVault,
            Hold::OutsideComposante,
            Hold::NoActiveVault,
        ]);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].reason, Hold::OutsideComposante);
        assert_eq!(c[0].label, "Hors de votre composante");
        assert_eq!(c[1].count, 2);
        for h in Hold::ALL {
            assert_eq!(Hold::parse(h.as_str()), Some(h));
        }
        assert!(DeliveryStatus::NoVault.may_send_again());
        assert!(!DeliveryStatus::Uncertain.may_send_again());
        assert!(!DeliveryStatus::Transmitted.may_send_again());
    }
}

/// What became of a treatment's documents, as the treatments list shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryCounts {
    /// Documents split from the batch.
    pub documents: i64,
    /// Sent to Digiposte: queued, deposited (awaiting, uncertain) or settled.
    pub sent: i64,
    /// Transmis.
    pub transmitted: i64,
    /// Erreur transmission or Non transmis.
    pub errors: i64,
    /// Not sent by the send: no active vault, or cancelled before its deposit.
    pub held: i64,
}

impl DeliveryCounts {
    /// Counts `n` documents in `status` (`None`: not sent yet).
    pub fn add(&mut self, status: Option<DeliveryStatus>, n: i64) {
        self.documents += n;
        let Some(status) = status else { return };
        match status {
            DeliveryStatus::NoVault | DeliveryStatus::Cancelled => self.held += n,
            DeliveryStatus::Queued
            | DeliveryStatus::AwaitingReceipt
            | DeliveryStatus::Uncertain => self.sent += n,
            DeliveryStatus::Transmitted => {
                self.sent += n;
                self.transmitted += n;
            }
            DeliveryStatus::TransmissionError | DeliveryStatus::NotTransmitted => {
                self.sent += n;
                self.errors += n;
            }
        }
    }
}

#[cfg(test)]
mod counts_tests {
    use super::*;

    #[test]
    fn every_status_lands_in_its_counts() {
        let mut c = DeliveryCounts::default();
        c.add(None, 2);
        for status in DeliveryStatus::ALL {
            c.add(Some(status), 1);
        }
        assert_eq!(
            c,
            DeliveryCounts {
                documents: 10,
                sent: 6,
                transmitted: 1,
                errors: 2,
                held: 2,
            }
        );
    }
}
