//! Enrolment records as an Apogée extraction gives them, and the import report. Pure.

use crate::i18n::{Localized, Text};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Apogée's ETA_IAE: the state of an administrative enrolment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum EnrolmentState {
    /// En cours: a valid enrolment.
    E,
    /// Annulée.
    A,
    /// Résiliée / remboursée.
    R,
}

impl EnrolmentState {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrolmentState::E => "E",
            EnrolmentState::A => "A",
            EnrolmentState::R => "R",
        }
    }

    pub fn parse(s: &str) -> Option<EnrolmentState> {
        match s.trim() {
            "E" | "e" => Some(EnrolmentState::E),
            "A" | "a" => Some(EnrolmentState::A),
            "R" | "r" => Some(EnrolmentState::R),
            _ => None,
        }
    }
}

/// The régime of an enrolment (formation initiale, apprentissage, formation continue), as the
/// import's optional `regime` column gives it; supporting documents may be required by régime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    InitialTraining,
    Apprenticeship,
    ContinuingEducation,
}

impl Regime {
    pub const ALL: [Regime; 3] = [
        Regime::InitialTraining,
        Regime::Apprenticeship,
        Regime::ContinuingEducation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Regime::InitialTraining => "initial_training",
            Regime::Apprenticeship => "apprenticeship",
            Regime::ContinuingEducation => "continuing_education",
        }
    }

    /// The API code, or the words an extraction uses (accents, case and separators folded):
    /// `FI`/`formation initiale`, `FA`/`apprentissage`/`apprenti`, `FC`/`formation continue`.
    /// Numeric Apogée codes (COD_RGI) differ between institutions and are not guessed.
    pub fn parse(s: &str) -> Option<Regime> {
        let folded: String = crate::domain::text::fold(s)
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '_' })
            .collect();
        match folded.as_str() {
            "initial_training" | "fi" | "formation_initiale" | "initiale" => {
                Some(Regime::InitialTraining)
            }
            "apprenticeship" | "fa" | "apprentissage" | "apprenti" | "formation_apprentissage" => {
                Some(Regime::Apprenticeship)
            }
            "continuing_education" | "fc" | "formation_continue" | "continue" => {
                Some(Regime::ContinuingEducation)
            }
            _ => None,
        }
    }

    pub fn label(self) -> Text {
        match self {
            Regime::InitialTraining => Text::fixed("Formation initiale", "Initial training"),
            Regime::Apprenticeship => Text::fixed("Apprentissage", "Apprenticeship"),
            Regime::ContinuingEducation => {
                Text::fixed("Formation continue", "Continuing education")
            }
        }
    }
}

/// One valid row of an enrolment import: a student's identity and one enrolment.
#[derive(Clone, Debug, PartialEq)]
pub struct EnrolmentRecord {
    /// 1-based line in the CSV (header = line 1), or 1-based item index in JSON.
    pub line: usize,
    pub cod_etu: String,
    pub ine: Option<String>,
    pub last_name: String,
    pub first_name: String,
    pub birth_date: Option<NaiveDate>,
    pub email: Option<String>,
    pub composante: String,
    pub etape: String,
    pub academic_year: i32,
    pub state: EnrolmentState,
    /// Optional column; None: unknown (an existing enrolment keeps what it had).
    pub regime: Option<Regime>,
    /// Optional column; None: unknown (an existing enrolment keeps what it had).
    pub boursier: Option<bool>,
}

impl EnrolmentRecord {
    /// Whether this row makes the student validly enrolled in `year`.
    pub fn is_valid_for(&self, year: i32) -> bool {
        self.state == EnrolmentState::E && self.academic_year == year
    }
}

/// A row the import did not accept, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = RowRejection)]
pub struct Rejection {
    pub line: usize,
    /// Stable snake_case reason: invalid_ine, invalid_date, unknown_composante, duplicate_ine,
    /// conflicting_duplicate, composante_out_of_scope, outside_scope, missing_field…
    pub code: String,
    /// What is wrong, naming the field (never the personal value), in the request's language.
    #[schema(value_type = String)]
    pub reason: Localized,
    /// The code's meaning, in the request's language (`Accept-Language`, French by default).
    #[schema(value_type = String, example = "INE invalide")]
    pub label: Localized,
}

impl Rejection {
    pub fn new(line: usize, code: &str, reason: Text) -> Rejection {
        Rejection {
            line,
            label: Localized(rejection_label(code)),
            code: code.to_owned(),
            reason: Localized(reason),
        }
    }
}

/// What each rejection code means, for the manager who reads the import report.
pub fn rejection_label(code: &str) -> Text {
    let (fr, en) = match code {
        "missing_field" => ("Champ obligatoire vide", "A required field is empty"),
        "invalid_cod_etu" => ("Numéro étudiant invalide", "Invalid student number"),
        "invalid_ine" => ("INE invalide", "Invalid INE"),
        "invalid_name" => ("Nom ou prénom invalide", "Invalid name"),
        "invalid_date" => ("Date invalide", "Invalid date"),
        "invalid_composante" => ("Code composante invalide", "Invalid composante code"),
        "invalid_etape" => ("Code étape invalide", "Invalid étape code"),
        "invalid_etape_version" => ("Version d'étape invalide", "Invalid étape version"),
        "invalid_year" => ("Année universitaire invalide", "Invalid academic year"),
        "invalid_state" => (
            "État d'inscription invalide (E, A ou R)",
            "Invalid enrolment state (E, A or R)",
        ),
        "invalid_email" => ("Adresse e-mail invalide", "Invalid e-mail address"),
        "invalid_vault_objection" => (
            "Opposition au coffre illisible (oui/non)",
            "Unreadable vault objection (yes/no)",
        ),
        "invalid_regime" => (
            "Régime illisible (formation initiale, apprentissage, formation continue)",
            "Unreadable régime (initial training, apprenticeship, continuing education)",
        ),
        "invalid_boursier" => (
            "Boursier illisible (oui/non)",
            "Unreadable boursier (yes/no)",
        ),
        "wrong_field_count" => ("Nombre de colonnes incorrect", "Wrong number of fields"),
        "invalid_row" => ("Ligne illisible", "Unreadable row"),
        "unknown_field" => ("Colonne inconnue", "Unknown field"),
        "conflicting_duplicate" => (
            "Doublon contradictoire : même numéro étudiant, autre identité",
            "Conflicting duplicate: same student number, another identity",
        ),
        "duplicate_ine" => (
            "Doublon d'INE : un INE sous deux numéros étudiants",
            "Duplicate INE: one INE under two student numbers",
        ),
        "unknown_composante" => ("Composante inconnue", "Unknown composante"),
        "composante_out_of_scope" => (
            "Composante hors de votre périmètre",
            "Composante outside your scope",
        ),
        "outside_scope" => (
            "Étudiant hors de votre périmètre",
            "Student outside your scope",
        ),
        _ => ("Ligne refusée", "Row refused"),
    };
    Text::fixed(fr, en)
}

/// What an import did, row by row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportReport {
    /// Data rows read (header excluded).
    pub rows: usize,
    /// Rows that created a student or an enrolment.
    pub created: usize,
    /// Rows that changed an existing student or enrolment.
    pub updated: usize,
    /// Rows identical to what passerelle already held.
    pub unchanged: usize,
    pub rejected: usize,
    /// Each rejected row, in line order.
    pub rejections: Vec<Rejection>,
    /// Vaults created (pre-created or marked without valid enrolment) by this import.
    pub vaults_created: usize,
    /// Vaults moved between "not transmitted" and "no valid enrolment" by this import.
    pub vaults_updated: usize,
    /// Objections to the vault's pre-creation collected at enrolment and recorded now.
    pub objections_recorded: usize,
    /// Vault subscriptions queued by this import (`vaults.auto_subscribe`): the job queue sends
    /// them to Digiposte, paced under the partner quota; `GET /vaults/summary` shows progress.
    pub vaults_queued: usize,
}

/// The outcome of one accepted row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowOutcome {
    Created,
    Updated,
    Unchanged,
}

impl ImportReport {
    pub fn count(&mut self, outcome: RowOutcome) {
        match outcome {
            RowOutcome::Created => self.created += 1,
            RowOutcome::Updated => self.updated += 1,
            RowOutcome::Unchanged => self.unchanged += 1,
        }
    }

    pub fn reject(&mut self, rejection: Rejection) {
        self.rejected += 1;
        self.rejections.push(rejection);
    }

    /// Sorts rejections by line (they are found in several passes).
    pub fn finish(&mut self) {
        self.rejections.sort_by_key(|r| r.line);
    }
}
