//! The RGPD consent and objection ledger: append-only events per student and purpose; the
//! current state is always derived from them, never stored alone. Pure.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the student consents to, or objects to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentPurpose {
    /// The university pre-creates the student's vault "sans refus écrit de votre part": the
    /// student may object.
    VaultPrecreation,
    /// The university delivers documents (relevés, attestations) into the vault.
    DocumentDelivery,
}

/// One event of the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentEventKind {
    /// The student refuses (e.g. a written refusal of the vault's pre-creation).
    Objected,
    /// The student takes back a consent they had given (or that applied by default).
    Withdrawn,
    /// The student gives an explicit consent.
    Granted,
    /// A previous objection or withdrawal is lifted.
    Restored,
}

/// Where the event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// The student, through the ENT.
    Ent,
    /// A paper letter, recorded by a manager (evidence: the scanned letter's id).
    Paper,
    /// A manager acting on the student's request by other means.
    Manager,
    /// Collected at enrolment and imported.
    Import,
}

/// The derived state for one purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    /// Allowed: by default (no event yet) or explicitly.
    Consented,
    /// Refused: objected or withdrawn, not restored.
    Refused,
}

macro_rules! str_enum {
    ($ty:ty { $($variant:path => $s:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($variant => $s),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($variant),)* _ => None }
            }
        }
    };
}

str_enum!(ConsentPurpose {
    ConsentPurpose::VaultPrecreation => "vault_precreation",
    ConsentPurpose::DocumentDelivery => "document_delivery",
});
str_enum!(ConsentEventKind {
    ConsentEventKind::Objected => "objected",
    ConsentEventKind::Withdrawn => "withdrawn",
    ConsentEventKind::Granted => "granted",
    ConsentEventKind::Restored => "restored",
});
str_enum!(ConsentSource {
    ConsentSource::Ent => "ent",
    ConsentSource::Paper => "paper",
    ConsentSource::Manager => "manager",
    ConsentSource::Import => "import",
});

impl ConsentPurpose {
    pub const ALL: [ConsentPurpose; 2] = [
        ConsentPurpose::VaultPrecreation,
        ConsentPurpose::DocumentDelivery,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ConsentPurpose::VaultPrecreation => "Création automatique du coffre-fort",
            ConsentPurpose::DocumentDelivery => "Dépôt des documents dans le coffre-fort",
        }
    }
}

impl ConsentState {
    pub fn label(self) -> &'static str {
        match self {
            ConsentState::Consented => "Accepté",
            ConsentState::Refused => "Refusé",
        }
    }
}

/// The state after a sequence of events (oldest first). Both purposes are opt-out: with no
/// event, the student consents.
pub fn derive(events: impl IntoIterator<Item = ConsentEventKind>) -> ConsentState {
    events
        .into_iter()
        .fold(ConsentState::Consented, |_, e| match e {
            ConsentEventKind::Objected | ConsentEventKind::Withdrawn => ConsentState::Refused,
            ConsentEventKind::Granted | ConsentEventKind::Restored => ConsentState::Consented,
        })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` does not apply while the consent is {}", event.as_str(), if *current == ConsentState::Refused { "refused" } else { "given" })]
pub struct UselessEvent {
    pub current: ConsentState,
    pub event: ConsentEventKind,
}

/// Checks that an event changes something: an objection or withdrawal applies to a consent
/// in force, a restoration to a refusal; a grant applies unless already refused
/// (then it is a restoration) — recording it makes an implicit consent explicit.
pub fn check(
    current: ConsentState,
    event: ConsentEventKind,
    has_events: bool,
) -> Result<(), UselessEvent> {
    let ok = match event {
        ConsentEventKind::Objected | ConsentEventKind::Withdrawn => {
            current == ConsentState::Consented
        }
        ConsentEventKind::Restored => current == ConsentState::Refused,
        ConsentEventKind::Granted => current == ConsentState::Refused || !has_events,
    };
    if ok {
        Ok(())
    } else {
        Err(UselessEvent { current, event })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConsentEventKind::*;

    #[test]
    fn state_is_derived_from_the_last_event() {
        assert_eq!(derive([]), ConsentState::Consented);
        assert_eq!(derive([Objected]), ConsentState::Refused);
        assert_eq!(derive([Objected, Restored]), ConsentState::Consented);
        assert_eq!(derive([Granted, Withdrawn]), ConsentState::Refused);
        assert_eq!(
            derive([Granted, Withdrawn, Restored, Objected]),
            ConsentState::Refused
        );
    }

    #[test]
    fn events_must_change_something() {
        assert!(check(ConsentState::Consented, Objected, false).is_ok());
        assert!(check(ConsentState::Refused, Objected, true).is_err());
        assert!(check(ConsentState::Refused, Restored, true).is_ok());
        assert!(check(ConsentState::Consented, Restored, false).is_err());
        assert!(check(ConsentState::Consented, Granted, false).is_ok());
        assert!(check(ConsentState::Consented, Granted, true).is_err());
        assert!(check(ConsentState::Refused, Granted, true).is_ok());
        assert!(check(ConsentState::Consented, Withdrawn, true).is_ok());
    }

    #[test]
    fn names_round_trip() {
        for p in ConsentPurpose::ALL {
            assert_eq!(ConsentPurpose::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        for e in [Objected, Withdrawn, Granted, Restored] {
            assert_eq!(ConsentEventKind::parse(e.as_str()), Some(e));
        }
    }
}
