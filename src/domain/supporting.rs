//! Supporting documents (pièces justificatives): the kinds an étape requires, and the status
//! of each one for a student, with the labels the scolarité uses.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::enrolment::Regime;

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

/// Whether a requirement applies to a student, by population.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applies {
    Yes,
    No,
    /// The requirement targets a population and the student's is unknown (the import had no
    /// such column): it is required — a filter never silently skips a student — and flagged so
    /// that a manager checks it.
    Unknown,
}

/// Whether a requirement for `regimes` (empty: every régime) and `boursier` (None: either)
/// applies to a student of `regime` and `boursier` (None: unknown).
pub fn applies(
    regimes: &[Regime],
    boursier: Option<bool>,
    student_regime: Option<Regime>,
    student_boursier: Option<bool>,
) -> Applies {
    let by_regime = match (regimes.is_empty(), student_regime) {
        (true, _) => Applies::Yes,
        (false, None) => Applies::Unknown,
        (false, Some(r)) if regimes.contains(&r) => Applies::Yes,
        (false, Some(_)) => Applies::No,
    };
    let by_boursier = match (boursier, student_boursier) {
        (None, _) => Applies::Yes,
        (Some(_), None) => Applies::Unknown,
        (Some(want), Some(is)) if want == is => Applies::Yes,
        (Some(_), Some(_)) => Applies::No,
    };
    match (by_regime, by_boursier) {
        (Applies::No, _) | (_, Applies::No) => Applies::No,
        (Applies::Unknown, _) | (_, Applies::Unknown) => Applies::Unknown,
        _ => Applies::Yes,
    }
}

/// A requirement's régimes as stored (comma-separated codes; None: every régime).
pub fn regimes_column(regimes: &[Regime]) -> Option<String> {
    (!regimes.is_empty()).then(|| {
        regimes
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// The régimes of a stored requirement (unknown codes are dropped).
pub fn parse_regimes(column: Option<&str>) -> Vec<Regime> {
    column
        .unwrap_or_default()
        .split(',')
        .filter_map(Regime::parse)
        .collect()
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

    #[test]
    fn requirements_apply_by_population_and_an_unknown_population_is_not_skipped() {
        use Regime::*;
        let fa = [Apprenticeship];
        assert_eq!(applies(&[], None, None, None), Applies::Yes);
        assert_eq!(applies(&fa, None, Some(Apprenticeship), None), Applies::Yes);
        assert_eq!(applies(&fa, None, Some(InitialTraining), None), Applies::No);
        assert_eq!(applies(&fa, None, None, Some(true)), Applies::Unknown);
        assert_eq!(
            applies(&[], Some(true), Some(InitialTraining), Some(true)),
            Applies::Yes
        );
        assert_eq!(applies(&[], Some(true), None, Some(false)), Applies::No);
        assert_eq!(applies(&[], Some(true), None, None), Applies::Unknown);
        // A known mismatch wins over an unknown.
        assert_eq!(applies(&fa, Some(true), None, Some(false)), Applies::No);
        let both = [Apprenticeship, ContinuingEducation];
        assert_eq!(
            parse_regimes(regimes_column(&both).as_deref()),
            both.to_vec()
        );
        assert_eq!(regimes_column(&[]), None);
    }
}
