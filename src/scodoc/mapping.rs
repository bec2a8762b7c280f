//! ScoDoc API answers → a [`GradeSource`] keyed by NIP and Apogée element code, following
//! what ScoDoc's own export does (`sco_apogee_csv.py`, `ApoEtud.search_elt_in_sem`). Pure.
//!
//! Per semester of the étape, per student with a NIP:
//! - each UE whose `code_apogee` lists codes and that has a UE decision in `decisions_jury`
//!   (ScoDoc exports a UE only once the jury decided on it): note = `moy_ue_<ue_id>` of
//!   `resultats`, result = that decision. Bonus UEs (sport) have no decision: their Apogée
//!   code goes on the bonus module, exported as a module;
//! - each module implementation whose module has a `code_apogee`: note = its average
//!   (`moy_res_<id>`, `moy_sae_<id>` or `moy_mod_<id>`; when `resultats` only has per-UE
//!   columns `moy_res_<id>_<ue_id>`, their common value, or nothing if they differ);
//! - the semester elements (`elt_sem_apo`): note = `moy_gen`, result = the semester decision.
//!
//! The étape itself (and `elt_annee_apo`) gets the year result, computed on the latest
//! semester of the year and the one before it in the same étape: result = the BUT year
//! decision (`annee.code` of an `is_apc` entry) when ScoDoc gives one — it stands even when
//! that semester has no semester code, BUT juries being yearly — otherwise (classic
//! formations) the latest semester's code if the earlier one was validated (ADM, ADC, ADJ),
//! else the earlier one's code (no result when either semester lacks a decision); note = the
//! mean of the two general averages. A démission/défaillance gets note 0.01, like ScoDoc
//! ("note non nulle pour les démissionnaires"); a démissionnaire without a recorded decision
//! gets code DEM (DEF for a défaillant). RCUEs (`rcues[]`) are read but give no element: no
//! published source links an RCUE to an Apogée code (`docs/scodoc.md`).
//!
//! Like ScoDoc's default (`block_export_res_sdj`), a student without a semester decision gets
//! no values from that semester: they stay in the source with no elements, so the check
//! reports their missing decision and the fill leaves their row alone.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::model::{DecisionJury, Etudiant, FormSemestre, Programme, note_value, split_codes};
use crate::apogee::grades::{GradeEntry, GradeSource, SourceKind};

/// Everything read about one semester.
#[derive(Clone, Debug, Default)]
pub struct SemesterData {
    pub formsemestre: FormSemestre,
    pub students: Vec<Etudiant>,
    pub programme: Programme,
    pub results: Vec<Map<String, Value>>,
    pub decisions: Vec<DecisionJury>,
}

const VALIDATING: &[&str] = &["ADM", "ADC", "ADJ"];

/// The averages of one module implementation for one student.
fn module_average(row: &Map<String, Value>, moduleimpl: i64) -> Result<Option<f64>, ()> {
    for kind in ["res", "sae", "mod"] {
        if let Some(n) = note_value(row.get(&format!("moy_{kind}_{moduleimpl}"))) {
            return Ok(Some(n));
        }
    }
    let mut per_ue: Vec<f64> = Vec::new();
    for kind in ["res", "sae", "mod"] {
        let prefix = format!("moy_{kind}_{moduleimpl}_");
        per_ue.extend(
            row.iter()
                .filter(|(k, _)| {
                    k.strip_prefix(&prefix)
                        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
                })
                .filter_map(|(_, v)| note_value(Some(v))),
        );
    }
    match per_ue.first() {
        None => Ok(None),
        Some(&first) if per_ue.iter().all(|&n| (n - first).abs() < 1e-9) => Ok(Some(first)),
        Some(_) => Err(()),
    }
}

struct StudentSemester<'a> {
    row: Option<&'a Map<String, Value>>,
    decision: Option<&'a DecisionJury>,
}

impl StudentSemester<'_> {
    /// The semester code, with ScoDoc's DEM/DEF when the student left without a decision.
    fn semester_code(&self) -> Option<String> {
        let decision = self.decision?;
        decision
            .semester_code()
            .or(decision.left_code())
            .map(str::to_string)
    }

    /// The BUT year decision (`annee.code`), for a BUT entry only.
    fn year_code(&self) -> Option<String> {
        self.decision?.year_code().map(str::to_string)
    }

    fn left(&self) -> bool {
        matches!(self.semester_code().as_deref(), Some("DEM") | Some("DEF"))
    }

    fn general_average(&self) -> Option<f64> {
        note_value(self.row?.get("moy_gen"))
    }
}

/// What one semester gives a student who has a semester code: the UEs the jury decided on,
/// the module averages, the semester elements. Returns how many module averages were
/// ambiguous (left out).
fn semester_entries(
    sem: &SemesterData,
    state: &StudentSemester<'_>,
    sem_codes: &[String],
    elements: &mut BTreeMap<String, GradeEntry>,
) -> usize {
    let semester_code = state.semester_code();
    let mut ambiguous = 0;
    let row = state.row;
    // UEs.
    for ue in &sem.programme.ues {
        let Some(ue_id) = ue.key() else { continue };
        let codes = split_codes(ue.code_apogee.as_deref());
        if codes.is_empty() {
            continue;
        }
        let note = row.and_then(|r| note_value(r.get(&format!("moy_ue_{ue_id}"))));
        let result = state
            .decision
            .and_then(|d| d.ues.iter().find(|u| u.key() == Some(ue_id)))
            .and_then(|u| u.code.clone());
        // Like ScoDoc, a UE goes to Apogée once the jury decided on it.
        if result.is_none() {
            continue;
        }
        for code in codes {
            elements.insert(
                code,
                GradeEntry {
                    note,
                    result: result.clone(),
                    jury_points: None,
                },
            );
        }
    }
    // Modules.
    for moduleimpl in sem.programme.module_impls() {
        let Some(id) = moduleimpl.key() else { continue };
        let codes = split_codes(moduleimpl.module.code_apogee.as_deref());
        if codes.is_empty() {
            continue;
        }
        let note = match row.map(|r| module_average(r, id)) {
            Some(Ok(n)) => n,
            Some(Err(())) => {
                ambiguous += 1;
                None
            }
            None => None,
        };
        if let Some(note) = note {
            for code in codes {
                elements.insert(
                    code,
                    GradeEntry {
                        note: Some(note),
                        result: None,
                        jury_points: None,
                    },
                );
            }
        }
    }
    // Semester elements.
    let note = if state.left() {
        Some(0.01)
    } else {
        state.general_average()
    };
    for code in sem_codes {
        elements.insert(
            code.clone(),
            GradeEntry {
                note,
                result: semester_code.clone(),
                jury_points: None,
            },
        );
    }
    ambiguous
}

/// The year result of a student from the semesters they are in (position in the semester
/// order, state): the code and the note, or none without a decision.
fn year_result(states: &[(usize, StudentSemester<'_>)]) -> Option<(String, Option<f64>)> {
    // The latest semester the student is in, and the one before it.
    let (cur_pos, cur) = states.iter().max_by_key(|(p, _)| *p)?;
    // BUT: the year decision of the latest semester (juries are yearly, so it stands even
    // when that semester has no semester code of its own).
    let year_decision = cur.year_code();
    let cur_code = cur.semester_code();
    if year_decision.is_none() && cur_code.is_none() {
        return None; // no decision: no year result, like ScoDoc
    }
    let previous = states
        .iter()
        .filter(|(p, _)| p < cur_pos)
        .max_by_key(|(p, _)| *p);
    let left = cur.left()
        || previous.is_some_and(|(_, p)| p.left())
        || matches!(year_decision.as_deref(), Some("DEM") | Some("DEF"));
    let mean = match previous {
        None => cur.general_average(),
        Some((_, prev)) => match (cur.general_average(), prev.general_average()) {
            (Some(a), Some(b)) => Some((a + b) / 2.0),
            _ => None,
        },
    };
    let code = match (year_decision, cur_code, previous) {
        // ScoDoc's year decision (BUT) wins.
        (Some(code), _, _) => code,
        (None, None, _) => return None,
        (None, Some(cur_code), None) => cur_code,
        (None, Some(cur_code), Some((_, prev))) => {
            let Some(prev_code) = prev.semester_code() else {
                return None; // no decision in the other semester: no year result
            };
            if VALIDATING.contains(&prev_code.as_str()) {
                cur_code
            } else {
                prev_code
            }
        }
    };
    let note = if left { Some(0.01) } else { mean };
    Some((code, note))
}

/// Builds the grade source for `etape` in academic year `year` from the semesters read.
pub fn grade_source(etape: &str, year: i32, semesters: &[SemesterData]) -> GradeSource {
    let mut source = GradeSource {
        kind: SourceKind::ScoDocApi,
        year: Some(year),
        etape: Some(etape.to_string()),
        ..GradeSource::default()
    };
    let mut order: Vec<&SemesterData> = semesters.iter().collect();
    order.sort_by(|a, b| {
        (a.formsemestre.semestre_id, &a.formsemestre.date_debut_iso)
            .cmp(&(b.formsemestre.semestre_id, &b.formsemestre.date_debut_iso))
    });

    let mut without_nip = 0usize;
    let mut ambiguous_modules = 0usize;
    // nip → per semester (in `order`) what ScoDoc says of the student.
    let mut per_student: BTreeMap<String, Vec<(usize, StudentSemester<'_>)>> = BTreeMap::new();

    for (position, sem) in order.iter().enumerate() {
        let rows: HashMap<i64, &Map<String, Value>> = sem
            .results
            .iter()
            .filter_map(|r| {
                let id = r.get("etudid").or_else(|| r.get("id"))?;
                let id = id.as_i64().or_else(|| id.as_str()?.parse().ok())?;
                Some((id, r))
            })
            .collect();
        let decisions: HashMap<i64, &DecisionJury> = sem
            .decisions
            .iter()
            .filter_map(|d| Some((d.etudid?, d)))
            .collect();
        let sem_codes = split_codes(sem.formsemestre.elt_sem_apo.as_deref());

        for student in &sem.students {
            let Some(nip) = student.nip() else {
                without_nip += 1;
                continue;
            };
            let Some(etudid) = student.key() else {
                continue;
            };
            let state = StudentSemester {
                row: rows.get(&etudid).copied(),
                decision: decisions.get(&etudid).copied(),
            };
            let elements = source.students.entry(nip.to_string()).or_default();
            let semester_code = state.semester_code();
            if semester_code.is_some() {
                ambiguous_modules += semester_entries(sem, &state, &sem_codes, elements);
            }
            per_student
                .entry(nip.to_string())
                .or_default()
                .push((position, state));
        }
    }

    // The étape and year elements.
    let latest_year_codes = order
        .last()
        .map(|s| split_codes(s.formsemestre.elt_annee_apo.as_deref()))
        .unwrap_or_default();
    let mut year_codes = vec![etape.to_string()];
    year_codes.extend(latest_year_codes.into_iter().filter(|c| c != etape));
    for (nip, states) in &per_student {
        let Some((code, note)) = year_result(states) else {
            continue;
        };
        let elements = source.students.entry(nip.clone()).or_default();
        for c in &year_codes {
            elements.insert(
                c.clone(),
                GradeEntry {
                    note,
                    result: Some(code.clone()),
                    jury_points: None,
                },
            );
        }
    }

    if without_nip > 0 {
        source.warnings.push(crate::text!(
            "{without_nip} inscription(s) d'étudiant dans ScoDoc sans NIP (code_nip) ne peuvent pas être rapprochées",
            "{without_nip} ScoDoc student enrolment(s) have no NIP (code_nip) and cannot be matched"
        ));
    }
    if ambiguous_modules > 0 {
        source.warnings.push(crate::text!(
            "{ambiguous_modules} moyenne(s) de module diffèrent d'une UE à l'autre dans les résultats de ScoDoc et n'ont pas été transférées",
            "{ambiguous_modules} module average(s) differ between UEs in ScoDoc's results and were not transferred"
        ));
    }
    source
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scodoc::model::{AnneeDecision, FormationKind, decisions_kind};
    use serde_json::json;

    fn sem(value: Value) -> SemesterData {
        SemesterData {
            formsemestre: serde_json::from_value(value["formsemestre"].clone()).unwrap(),
            students: serde_json::from_value(value["etudiants"].clone()).unwrap(),
            programme: serde_json::from_value(value["programme"].clone()).unwrap(),
            results: serde_json::from_value(value["resultats"].clone()).unwrap(),
            decisions: serde_json::from_value(value["decisions_jury"].clone()).unwrap(),
        }
    }

    fn s1() -> SemesterData {
        sem(json!({
            "formsemestre": {"id": 11, "formsemestre_id": 11, "annee_scolaire": 2024, "semestre_id": 1,
                             "etape_apo": "V1RT!111", "elt_sem_apo": "VRTS1", "elt_annee_apo": null,
                             "date_debut_iso": "2024-09-01"},
            "etudiants": [
                {"id": 1, "etudid": 1, "code_nip": "21900001", "nom": "DUPONT", "prenom": "Alice"},
                {"id": 2, "etudid": 2, "code_nip": "21900002", "nom": "PETIT", "prenom": "Noé"},
                {"id": 3, "etudid": 3, "code_nip": "21900003", "nom": "SANS", "prenom": "Décision"},
                {"id": 4, "etudid": 4, "code_nip": null, "nom": "X", "prenom": "Y"}
            ],
            "programme": {
                "ues": [{"id": 101, "code_apogee": "VRTU11", "acronyme": "UE11"},
                        {"id": 102, "code_apogee": "VRTU12, VRTU12B", "acronyme": "UE12"},
                        {"id": 103, "code_apogee": "", "acronyme": "Bonus"}],
                "ressources": [{"id": 501, "module": {"code_apogee": "VRTM111", "code": "R1.01"}},
                               {"id": 502, "module": {"code_apogee": "VRTM112", "code": "R1.02"}}],
                "saes": [{"id": 601, "module": {"code_apogee": "VRTSAE1", "code": "SAE1"}}],
                "modules": []
            },
            "resultats": [
                {"etudid": 1, "code_nip": "21900001", "moy_gen": "12.40", "moy_ue_101": 10.375, "moy_ue_102": "14.20",
                 "moy_res_501_101": "12.5", "moy_res_501_102": "12.50",
                 "moy_res_502_101": "8", "moy_res_502_102": "9",
                 "moy_sae_601": 15},
                {"etudid": 2, "moy_gen": "~", "moy_ue_101": "~"},
                {"etudid": 3, "moy_gen": 9.0, "moy_ue_101": 9.0}
            ],
            "decisions_jury": [
                {"etudid": 1, "code_nip": "21900001", "etat": "I", "semestre": {"code": "ADM"},
                 "ues": [{"ue_id": 101, "code": "ADM"}, {"ue_id": 102, "code": "ADM"}]},
                {"etudid": 2, "etat": "D", "semestre": null, "ues": []}
            ]
        }))
    }

    #[test]
    fn maps_ues_modules_semester_and_etape() {
        let source = grade_source("V1RT", 2024, &[s1()]);
        assert_eq!(source.kind, SourceKind::ScoDocApi);
        assert_eq!(
            (source.year, source.etape.as_deref()),
            (Some(2024), Some("V1RT"))
        );
        let alice = &source.students["21900001"];
        assert_eq!(
            alice["VRTU11"],
            GradeEntry {
                note: Some(10.375),
                result: Some("ADM".into()),
                jury_points: None
            }
        );
        assert_eq!(alice["VRTU12"].note, Some(14.2));
        assert_eq!(
            alice["VRTU12B"], alice["VRTU12"],
            "a UE may carry several codes"
        );
        assert_eq!(
            alice["VRTM111"].note,
            Some(12.5),
            "per-UE columns that agree"
        );
        assert!(
            !alice.contains_key("VRTM112"),
            "per-UE columns that disagree are not guessed"
        );
        assert_eq!(alice["VRTSAE1"].note, Some(15.0));
        assert_eq!(
            alice["VRTS1"],
            GradeEntry {
                note: Some(12.4),
                result: Some("ADM".into()),
                jury_points: None
            }
        );
        assert_eq!(
            alice["V1RT"], alice["VRTS1"],
            "one-semester étape: the semester result"
        );
        // The démissionnaire: DEM and 0.01.
        let noe = &source.students["21900002"];
        assert_eq!(
            noe["VRTS1"],
            GradeEntry {
                note: Some(0.01),
                result: Some("DEM".into()),
                jury_points: None
            }
        );
        assert_eq!(noe["V1RT"].result.as_deref(), Some("DEM"));
        assert!(!noe.contains_key("VRTU11"), "no note (~), no decision");
        // No decision: present, without elements.
        assert!(source.students["21900003"].is_empty());
        assert_eq!(source.warnings.len(), 2, "{:?}", source.warnings);
    }

    #[test]
    fn the_year_result_combines_both_semesters() {
        let mut s1 = s1();
        s1.formsemestre.etape_apo = Some("V1RT".into());
        let s2 = sem(json!({
            "formsemestre": {"id": 12, "annee_scolaire": "2024-2025", "semestre_id": 2, "etape_apo": ["V1RT"],
                             "elt_sem_apo": "VRTS2", "elt_annee_apo": "VRT1A", "date_debut_iso": "2025-02-01"},
            "etudiants": [{"etudid": 1, "code_nip": "21900001"}, {"etudid": 3, "code_nip": "21900003"}],
            "programme": {"ues": [], "ressources": [], "saes": [], "modules": []},
            "resultats": [{"etudid": 1, "moy_gen": 13.6}, {"etudid": 3, "moy_gen": 11}],
            "decisions_jury": [{"etudid": 1, "semestre": {"code": "AJ"}},
                               {"etudid": 3, "semestre": {"code": "ADM"}, "annee": {"code": "PASD"}}]
        }));
        let source = grade_source("V1RT", 2024, &[s2, s1]);
        let alice = &source.students["21900001"];
        // S1 ADM (validating) → the year takes S2's code; note = (12.4 + 13.6) / 2.
        assert_eq!(alice["V1RT"].result.as_deref(), Some("AJ"));
        assert!((alice["V1RT"].note.unwrap() - 13.0).abs() < 1e-9);
        assert_eq!(alice["VRT1A"], alice["V1RT"]);
        assert_eq!(alice["VRTS2"].result.as_deref(), Some("AJ"));
        // No S1 decision for 21900003, but ScoDoc's year decision: it wins; note = (9 + 11) / 2.
        assert_eq!(
            source.students["21900003"]["V1RT"].result.as_deref(),
            Some("PASD")
        );
        assert_eq!(source.students["21900003"]["V1RT"].note, Some(10.0));
        assert_eq!(
            source.students["21900003"]["VRTS2"].result.as_deref(),
            Some("ADM")
        );
    }

    /// A BUT year (S1, S2) as ScoDoc's `decisions_jury` publishes it: `is_apc`, `etat`,
    /// `rcues[]`, `annee` with the year decision, `semestre` with its number.
    fn but_year() -> Vec<SemesterData> {
        let entry = |etudid: i64, nip: &str, etat: &str, sem: Value, annee: Value| {
            json!({"etudid": etudid, "code_nip": nip, "code_ine": null, "is_apc": true, "etat": etat,
                   "nb_competences": 2, "semestre": sem, "ues": [],
                   "rcues": [{"code": "ADM", "moy": 12.5}, {"code": "AJ", "moy": "8.75"}], "annee": annee})
        };
        let s1 = sem(json!({
            "formsemestre": {"id": 21, "annee_scolaire": 2024, "semestre_id": 1, "etape_apo": "V1INFO",
                             "elt_sem_apo": "VINS1", "date_debut_iso": "2024-09-01"},
            "etudiants": [{"etudid": 1, "code_nip": "22000001"}, {"etudid": 2, "code_nip": "22000002"}],
            "programme": {"ues": [], "ressources": [], "saes": [], "modules": []},
            "resultats": [{"etudid": 1, "moy_gen": 11.0}, {"etudid": 2, "moy_gen": 9.0}],
            "decisions_jury": [
                entry(1, "22000001", "I", json!({"code": "ADM", "ordre": 1}), json!({})),
                entry(2, "22000002", "I", json!({"ordre": 1}), json!({}))
            ]
        }));
        let s2 = sem(json!({
            "formsemestre": {"id": 22, "annee_scolaire": 2024, "semestre_id": 2, "etape_apo": "V1INFO",
                             "elt_sem_apo": "VINS2", "elt_annee_apo": "VIN1A", "date_debut_iso": "2025-01-20"},
            "etudiants": [{"etudid": 1, "code_nip": "22000001"}, {"etudid": 2, "code_nip": "22000002"}],
            "programme": {"ues": [], "ressources": [], "saes": [], "modules": []},
            "resultats": [{"etudid": 1, "moy_gen": 13.0}, {"etudid": 2, "moy_gen": 7.0}],
            "decisions_jury": [
                entry(1, "22000001", "I", json!({"ordre": 2}),
                      json!({"code": "PASD", "ordre": 1, "annee_scolaire": 2024})),
                entry(2, "22000002", "D", json!({"ordre": 2}),
                      json!({"code": "DEM", "ordre": 1, "annee_scolaire": 2024}))
            ]
        }));
        vec![s1, s2]
    }

    #[test]
    fn a_but_year_takes_the_year_decision_without_a_semester_code() {
        let data = but_year();
        assert_eq!(
            decisions_kind(&data[1].decisions),
            Ok(Some(FormationKind::But))
        );
        assert_eq!(data[1].decisions[0].rcues[1].moy, Some(8.75));
        let source = grade_source("V1INFO", 2024, &data);
        let a = &source.students["22000001"];
        // The yearly jury: PASD on the étape and the year element; mean of both semesters.
        assert_eq!(a["V1INFO"].result.as_deref(), Some("PASD"));
        assert_eq!(a["V1INFO"].note, Some(12.0));
        assert_eq!(a["VIN1A"], a["V1INFO"]);
        assert_eq!(a["VINS1"].result.as_deref(), Some("ADM"));
        assert!(
            !a.contains_key("VINS2"),
            "no semester code in S2: no semester element"
        );
        // A démissionnaire: the year decision DEM, note 0.01; S2's element from etat D.
        let b = &source.students["22000002"];
        assert_eq!(
            b["V1INFO"],
            GradeEntry {
                note: Some(0.01),
                result: Some("DEM".into()),
                jury_points: None
            }
        );
        assert_eq!(b["VINS2"].result.as_deref(), Some("DEM"));
        assert!(!b.contains_key("VINS1"), "no S1 decision");
    }

    #[test]
    fn a_classic_entry_never_gives_a_year_decision() {
        let mut s1 = s1();
        for d in &mut s1.decisions {
            d.is_apc = Some(false);
            d.annee = Some(AnneeDecision {
                code: Some("PASD".into()),
                ..AnneeDecision::default()
            });
        }
        let source = grade_source("V1RT", 2024, &[s1]);
        assert_eq!(
            source.students["21900001"]["V1RT"].result.as_deref(),
            Some("ADM")
        );
    }

    #[test]
    fn one_formsemestre_is_but_or_classic_not_both() {
        let mut data = but_year();
        assert_eq!(decisions_kind(&[]), Ok(None));
        assert_eq!(
            decisions_kind(&s1().decisions),
            Ok(Some(FormationKind::Classic))
        );
        data[1].decisions[1].is_apc = Some(false);
        assert!(
            decisions_kind(&data[1].decisions)
                .unwrap_err()
                .contains("is_apc")
        );
        data[1].decisions.truncate(1);
        data[1].decisions[0].is_apc = Some(false);
        assert!(
            decisions_kind(&data[1].decisions)
                .unwrap_err()
                .contains("RCUE")
        );
    }
}
