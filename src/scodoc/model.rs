//! The parts of ScoDoc 9's JSON answers passerelle reads. Lenient: unknown fields are
//! ignored, missing ones default, and values ScoDoc writes either as numbers or as strings are
//! accepted both ways.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A number or a numeric string → i64.
fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// `2024`, `"2024"` or `"2024-2025"` → 2024.
fn year<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_i64().and_then(|y| i32::try_from(y).ok()),
        Some(Value::String(s)) => s.get(..4).and_then(|y| y.parse().ok()),
        _ => None,
    })
}

/// A string, a number, or a list of them → the comma-joined text.
fn text_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => o
                        .get("etape_apo")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    })
}

/// Splits ScoDoc's comma-separated code lists (`"V1RT,V1RT2"`, `"VRTU11, VRTU12"`),
/// dropping a VDI suffix (`V1RT!111` → `V1RT`).
pub fn split_codes(list: Option<&str>) -> Vec<String> {
    list.unwrap_or("")
        .split(',')
        .map(|c| c.split('!').next().unwrap_or("").trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// A `formsemestre` (ScoDoc's "semestre", also used for year-long sessions).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct FormSemestre {
    #[serde(deserialize_with = "int_or_string")]
    pub id: Option<i64>,
    #[serde(deserialize_with = "int_or_string")]
    pub formsemestre_id: Option<i64>,
    #[serde(deserialize_with = "year")]
    pub annee_scolaire: Option<i32>,
    #[serde(deserialize_with = "int_or_string")]
    pub semestre_id: Option<i64>,
    /// Étapes, comma-separated.
    #[serde(deserialize_with = "text_or_list")]
    pub etape_apo: Option<String>,
    /// Apogée codes of the semester element(s), comma-separated.
    pub elt_sem_apo: Option<String>,
    /// Apogée codes of the year element(s), comma-separated.
    pub elt_annee_apo: Option<String>,
    pub date_debut_iso: Option<String>,
    pub titre_num: Option<String>,
}

impl FormSemestre {
    pub fn key(&self) -> Option<i64> {
        self.formsemestre_id.or(self.id)
    }

    pub fn etapes(&self) -> Vec<String> {
        split_codes(self.etape_apo.as_deref())
    }
}

/// A student of `formsemestre/<id>/etudiants/long`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Etudiant {
    #[serde(deserialize_with = "int_or_string")]
    pub id: Option<i64>,
    #[serde(deserialize_with = "int_or_string")]
    pub etudid: Option<i64>,
    #[serde(deserialize_with = "text_or_list")]
    pub code_nip: Option<String>,
    #[serde(deserialize_with = "text_or_list")]
    pub code_ine: Option<String>,
    pub nom: Option<String>,
    pub prenom: Option<String>,
}

impl Etudiant {
    pub fn key(&self) -> Option<i64> {
        self.etudid.or(self.id)
    }

    pub fn nip(&self) -> Option<&str> {
        self.code_nip
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
    }
}

/// A UE of `formsemestre/<id>/programme`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ProgrammeUe {
    #[serde(deserialize_with = "int_or_string")]
    pub id: Option<i64>,
    #[serde(deserialize_with = "int_or_string")]
    pub ue_id: Option<i64>,
    pub code_apogee: Option<String>,
    pub acronyme: Option<String>,
}

impl ProgrammeUe {
    pub fn key(&self) -> Option<i64> {
        self.ue_id.or(self.id)
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ProgrammeModule {
    pub code_apogee: Option<String>,
    pub code: Option<String>,
    pub titre: Option<String>,
}

/// A module implementation (ressource, SAÉ or classic module) of the programme.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ProgrammeModuleImpl {
    /// The moduleimpl id.
    #[serde(deserialize_with = "int_or_string")]
    pub id: Option<i64>,
    #[serde(deserialize_with = "int_or_string")]
    pub moduleimpl_id: Option<i64>,
    pub module: ProgrammeModule,
}

impl ProgrammeModuleImpl {
    pub fn key(&self) -> Option<i64> {
        self.moduleimpl_id.or(self.id)
    }
}

/// `formsemestre/<id>/programme`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Programme {
    pub ues: Vec<ProgrammeUe>,
    pub ressources: Vec<ProgrammeModuleImpl>,
    pub saes: Vec<ProgrammeModuleImpl>,
    pub modules: Vec<ProgrammeModuleImpl>,
}

impl Programme {
    pub fn module_impls(&self) -> impl Iterator<Item = &ProgrammeModuleImpl> {
        self.ressources
            .iter()
            .chain(&self.saes)
            .chain(&self.modules)
    }
}

/// The semester part of a `decisions_jury` entry: `{"code", "ordre"}`. The code is the
/// semester's jury decision (classic formations; ScoDoc's codes `ADM`, `ADC`, `ADJ`, `ATT`,
/// `ATB`, `ATJ`, `AJ`, `NAR`, `RAT`); `ordre` is the semester's number. See `docs/scodoc.md`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SemestreDecision {
    pub code: Option<String>,
    #[serde(deserialize_with = "int_or_string")]
    pub ordre: Option<i64>,
}

/// The BUT year part of a `decisions_jury` entry: `{"code", "ordre", "annee_scolaire"}` — the
/// year decision (`ADM`, `ADSUP`, `PASD`, `RED`, `ADJ`, `NAR`, `DEF`, `DEM`…), the BUT year
/// (1–3) and the academic year (2024 for 2024-2025).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AnneeDecision {
    pub code: Option<String>,
    #[serde(deserialize_with = "int_or_string")]
    pub ordre: Option<i64>,
    #[serde(deserialize_with = "year")]
    pub annee_scolaire: Option<i32>,
}

/// One UE decision of a `decisions_jury` entry.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct UeDecision {
    #[serde(deserialize_with = "int_or_string")]
    pub ue_id: Option<i64>,
    #[serde(deserialize_with = "int_or_string")]
    pub id: Option<i64>,
    pub code: Option<String>,
}

impl UeDecision {
    pub fn key(&self) -> Option<i64> {
        self.ue_id.or(self.id)
    }
}

/// A number, a numeric string, or a "no note" marker → a note.
fn note<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    Ok(note_value(value.as_ref()))
}

/// One RCUE (a competence level: the pair of UEs of one year) of a BUT `decisions_jury`
/// entry: its decision and its average.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct RcueDecision {
    pub code: Option<String>,
    #[serde(deserialize_with = "note")]
    pub moy: Option<f64>,
}

/// One student of `formsemestre/<id>/decisions_jury`, for a BUT (`is_apc: true`) or a classic
/// formsemestre. Which field comes from which source is in `docs/scodoc.md`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct DecisionJury {
    #[serde(deserialize_with = "int_or_string")]
    pub etudid: Option<i64>,
    #[serde(deserialize_with = "text_or_list")]
    pub code_nip: Option<String>,
    #[serde(deserialize_with = "text_or_list")]
    pub code_ine: Option<String>,
    /// `true` for a BUT formsemestre (ScoDoc's "APC", approche par compétences).
    pub is_apc: Option<bool>,
    /// Inscription state: `I` (inscrit), `D` (démission), `DEF` (défaillant).
    pub etat: Option<String>,
    #[serde(deserialize_with = "int_or_string")]
    pub nb_competences: Option<i64>,
    pub semestre: Option<SemestreDecision>,
    pub ues: Vec<UeDecision>,
    /// BUT: one per competence of the year.
    pub rcues: Vec<RcueDecision>,
    /// BUT: the year decision.
    pub annee: Option<AnneeDecision>,
}

/// The formation a `decisions_jury` answer is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormationKind {
    /// BUT (`is_apc: true`): yearly juries, RCUEs, a year decision.
    But,
    /// Every other formation (`is_apc: false`): semester and UE decisions.
    Classic,
}

impl DecisionJury {
    /// `is_apc` as published; without it (an older server), an entry with RCUEs or a year
    /// decision is read as BUT, any other as classic.
    pub fn kind(&self) -> FormationKind {
        let but = match self.is_apc {
            Some(apc) => apc,
            None => !self.rcues.is_empty() || self.annee.as_ref().is_some_and(|a| a.code.is_some()),
        };
        if but {
            FormationKind::But
        } else {
            FormationKind::Classic
        }
    }

    /// The semester decision code.
    pub fn semester_code(&self) -> Option<&str> {
        self.semestre
            .as_ref()
            .and_then(|s| s.code.as_deref())
            .filter(|c| !c.trim().is_empty())
    }

    /// The BUT year decision: `annee.code` of a BUT entry (never of a classic one).
    pub fn year_code(&self) -> Option<&str> {
        if self.kind() == FormationKind::Classic {
            return None;
        }
        self.annee
            .as_ref()
            .and_then(|a| a.code.as_deref())
            .filter(|c| !c.trim().is_empty())
    }

    /// `DEM` or `DEF` when the student left (`etat` `D` or `DEF`).
    pub fn left_code(&self) -> Option<&'static str> {
        match self.etat.as_deref().map(str::trim) {
            Some("D") | Some("DEM") => Some("DEM"),
            Some("DEF") => Some("DEF"),
            _ => None,
        }
    }
}

/// Checks a whole `decisions_jury` answer: its entries must agree on `is_apc` (one formsemestre
/// is either BUT or not), and a classic entry carries no RCUE. Returns the formation kind
/// (`None` for an empty answer).
pub fn decisions_kind(decisions: &[DecisionJury]) -> Result<Option<FormationKind>, String> {
    let mut kind = None;
    for d in decisions {
        let k = d.kind();
        if kind.is_some_and(|known| known != k) {
            return Err("entries disagree on is_apc (BUT and classic in one formsemestre)".into());
        }
        if k == FormationKind::Classic && !d.rcues.is_empty() {
            return Err("a classic (is_apc false) entry has RCUEs".into());
        }
        kind = Some(k);
    }
    Ok(kind)
}

/// A value of a `resultats` row as a note: numbers, or numeric strings with `.` or `,`;
/// ScoDoc's markers for "no note" (`~`, `-`, `NA`, `EXC`, `ABS`, empty) are `None`.
pub fn note_value(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => crate::apogee::grades::parse_note(s),
        _ => None,
    }
}
