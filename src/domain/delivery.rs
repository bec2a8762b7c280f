//! Treatments (one uploaded batch) and the delivery of each split document: statuses with the
//! labels of the managers' manual, and the delivery state machine. Pure.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Kinds of Apogée editions passerelle splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Relevé de notes: one or more pages per student.
    ReleveNotes,
    /// Attestation de réussite: one page per student.
    AttestationReussite,
}

impl DocumentType {
    pub const ALL: [DocumentType; 2] =
        [DocumentType::ReleveNotes, DocumentType::AttestationReussite];
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::ReleveNotes => "releve_notes",
            DocumentType::AttestationReussite => "attestation_reussite",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [DocumentType::ReleveNotes, DocumentType::AttestationReussite]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            DocumentType::ReleveNotes => "Relevé de notes",
            DocumentType::AttestationReussite => "Attestation de réussite",
        }
    }
    /// Both labels (French for people, English for programs).
    pub fn label_text(self) -> crate::i18n::Text {
        let en = match self {
            DocumentType::ReleveNotes => "Transcript",
            DocumentType::AttestationReussite => "Certificate of achievement",
        };
        crate::i18n::Text::fixed(self.label(), en)
    }
}

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

    /// Whether a document may go from `self` to `to`.
    pub fn may_become(self, to: DeliveryStatus) -> bool {
        use DeliveryStatus::*;
        matches!(
            (self, to),
            (Queued, AwaitingReceipt)
                | (Queued, Cancelled)
                | (Queued, TransmissionError)
                | (Queued, NotTransmitted)
                | (Queued, Uncertain)
                // A manager checked the vault: it is there, or it is to be deposited again.
                | (Uncertain, Transmitted)
                | (Uncertain, Queued)
                | (AwaitingReceipt, Transmitted)
                | (AwaitingReceipt, TransmissionError)
                | (AwaitingReceipt, NotTransmitted)
        )
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
        assert_eq!(
            DocumentType::parse("releve_notes"),
            Some(DocumentType::ReleveNotes)
        );
    }
}

/// Why a document of a treatment is not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Hold {
    /// The number on the pages is not in the registry.
    UnknownStudent,
    /// The name on the page differs from the registry, or the page named two students: a
    /// manager must confirm first.
    IdentityToConfirm,
    /// The student objected to or withdrew their consent.
    ConsentRefused,
    /// The student's vault is not active.
    NoActiveVault,
}

impl Hold {
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::UnknownStudent => "unknown_student",
            Hold::IdentityToConfirm => "identity_to_confirm",
            Hold::ConsentRefused => "consent_refused",
            Hold::NoActiveVault => "no_active_vault",
        }
    }
}

/// Whether a document may be queued for Digiposte. The checks go from the most serious (a
/// document that may not be this student's) to the most ordinary (no vault yet).
pub fn deliverability(
    known_student: bool,
    needs_identity_check: bool,
    consent_refused: bool,
    vault_active: bool,
) -> Result<(), Hold> {
    if !known_student {
        Err(Hold::UnknownStudent)
    } else if needs_identity_check {
        Err(Hold::IdentityToConfirm)
    } else if consent_refused {
        Err(Hold::ConsentRefused)
    } else if !vault_active {
        Err(Hold::NoActiveVault)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod deliverability_tests {
    use super::*;

    #[test]
    fn only_a_checked_active_consenting_student_receives() {
        assert_eq!(deliverability(true, false, false, true), Ok(()));
        assert_eq!(
            deliverability(false, false, false, true),
            Err(Hold::UnknownStudent)
        );
        assert_eq!(
            deliverability(true, true, false, true),
            Err(Hold::IdentityToConfirm)
        );
        assert_eq!(
            deliverability(true, false, true, true),
            Err(Hold::ConsentRefused)
        );
        assert_eq!(
            deliverability(true, false, false, false),
            Err(Hold::NoActiveVault)
        );
        // The identity check wins over everything but an unknown student.
        assert_eq!(
            deliverability(true, true, true, false),
            Err(Hold::IdentityToConfirm)
        );
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
