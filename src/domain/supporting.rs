//! Supporting documents (pièces justificatives): the kinds an étape requires, and the status
//! of each one for a student, with the labels the scolarité uses.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a required document stands for a student.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupportingStatus {
    /// Nothing deposited yet.
    Missing,
    /// Deposited, waiting for a manager's check.
    Pending,
    /// Checked and accepted.
    Accepted,
    /// Checked and refused: the student sees the reason and deposits again.
    Rejected,
}

impl SupportingStatus {
    pub const ALL: [SupportingStatus; 4] = [
        SupportingStatus::Missing,
        SupportingStatus::Pending,
        SupportingStatus::Accepted,
        SupportingStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SupportingStatus::Missing => "missing",
            SupportingStatus::Pending => "pending",
            SupportingStatus::Accepted => "accepted",
            SupportingStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<SupportingStatus> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            SupportingStatus::Missing => "Pièce manquante",
            SupportingStatus::Pending => "En attente de contrôle",
            SupportingStatus::Accepted => "Pièce validée",
            SupportingStatus::Rejected => "Pièce refusée",
        }
    }

    /// Whether the student may deposit (again) in this status.
    pub fn accepts_deposit(self) -> bool {
        matches!(self, SupportingStatus::Missing | SupportingStatus::Rejected)
    }
}

/// The usual kinds and their labels; an admin may define others with their own label.
pub const KNOWN_KINDS: &[(&str, &str)] = &[
    ("identity_document", "Pièce d'identité"),
    ("cvec_certificate", "Attestation CVEC"),
    ("photo", "Photo d'identité"),
    ("scholarship_notice", "Notification de bourse"),
    ("previous_diploma", "Diplôme ou relevé de notes antérieur"),
    ("apprenticeship_contract", "Contrat d'apprentissage"),
];

pub fn known_label(kind: &str) -> Option<&'static str> {
    KNOWN_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, l)| *l)
}

/// Kind codes are snake_case, 1 to 64 characters.
pub fn valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind.len() <= 64
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_kinds() {
        for s in SupportingStatus::ALL {
            assert_eq!(SupportingStatus::parse(s.as_str()), Some(s));
        }
        assert!(SupportingStatus::Rejected.accepts_deposit());
        assert!(!SupportingStatus::Pending.accepts_deposit());
        assert_eq!(known_label("cvec_certificate"), Some("Attestation CVEC"));
        assert!(valid_kind("photo") && !valid_kind("Photo") && !valid_kind(""));
    }
}
