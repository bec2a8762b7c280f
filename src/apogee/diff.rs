//! Cell-by-cell comparison of two maquettes (before / after filling): the seed's "vérifier
//! que les résultats sont les mêmes", done by the machine. Pure.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::Serialize;

use super::maquette::Maquette;
use crate::i18n::{Lang, Text};
use crate::{text, writeln_in};

/// One cell that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CellChange {
    pub nip: String,
    pub last_name: String,
    pub first_name: String,
    /// `apoL_c0007`…
    pub column_id: String,
    pub element_code: String,
    /// The element's libellé (from its first labelled column).
    pub label: String,
    /// `N`, `B`, `R`, `J`…
    pub result_type: String,
    pub before: String,
    pub after: String,
}

/// What changed between two maquettes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MaquetteDiff {
    pub changes: Vec<CellChange>,
    /// Students (NIP) whose row disappeared or appeared.
    pub students_only_before: Vec<String>,
    pub students_only_after: Vec<String>,
    /// Differences outside the values: titles, column definitions, column order (in the
    /// language of the request that made the diff).
    #[serde(serialize_with = "crate::i18n::localized_list")]
    pub structure_differences: Vec<Text>,
}

impl MaquetteDiff {
    pub fn students_changed(&self) -> usize {
        let mut nips: Vec<&str> = self.changes.iter().map(|c| c.nip.as_str()).collect();
        nips.dedup();
        nips.len()
    }

    /// The counts, structure differences and students who appeared or disappeared, without
    /// the cell-by-cell list.
    pub fn summary_text(&self) -> String {
        self.summary_text_in(Lang::Fr)
    }

    /// [`MaquetteDiff::summary_text`] in `lang`.
    pub fn summary_text_in(&self, lang: Lang) -> String {
        let mut t = String::new();
        let (cells, students) = (self.changes.len(), self.students_changed());
        writeln_in!(
            t,
            lang,
            "{cells} cellule(s) modifiée(s) pour {students} étudiant(s)",
            "{cells} cell(s) changed for {students} student(s)"
        );
        for d in &self.structure_differences {
            let d = d.get(lang);
            writeln_in!(t, lang, "Structure : {d}", "Structure: {d}");
        }
        for nip in &self.students_only_before {
            writeln_in!(
                t,
                lang,
                "Étudiant {nip} disparu de la maquette",
                "Student {nip} gone from the maquette"
            );
        }
        for nip in &self.students_only_after {
            writeln_in!(
                t,
                lang,
                "Étudiant {nip} ajouté à la maquette",
                "Student {nip} added to the maquette"
            );
        }
        t
    }

    /// The changes, in French, one student after the other.
    pub fn to_text(&self) -> String {
        self.to_text_in(Lang::Fr)
    }

    /// [`MaquetteDiff::to_text`] in `lang`.
    pub fn to_text_in(&self, lang: Lang) -> String {
        let mut t = self.summary_text_in(lang);
        let mut current = "";
        for c in &self.changes {
            if c.nip != current {
                let _ = writeln!(t, "{} {} {}", c.nip, c.last_name, c.first_name);
                current = &c.nip;
            }
            let show = |v: &str| {
                if v.is_empty() {
                    match lang {
                        Lang::Fr => "(vide)".to_string(),
                        Lang::En => "(empty)".to_string(),
                    }
                } else {
                    v.to_string()
                }
            };
            let _ = writeln!(
                t,
                "  {} {} [{}] {} : {} → {}",
                c.column_id,
                c.element_code,
                c.result_type,
                c.label,
                show(&c.before),
                show(&c.after)
            );
        }
        t
    }
}

fn labels(m: &Maquette) -> HashMap<&str, &str> {
    let mut labels = HashMap::new();
    for c in m.columns() {
        if !c.label.is_empty() {
            labels.entry(c.code.as_str()).or_insert(c.label.as_str());
        }
    }
    labels
}

/// What differs in the files' structure: titles, column declarations, the order of the
/// value columns.
fn structure_differences(before: &Maquette, after: &Maquette) -> Vec<Text> {
    let mut out = Vec::new();
    let titles_before: BTreeMap<&str, &str> = before
        .titles()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let titles_after: BTreeMap<&str, &str> = after
        .titles()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for (key, value) in &titles_before {
        match titles_after.get(key) {
            None => out.push(text!("titre {key} supprimé", "title {key} removed")),
            Some(v) if v.trim() != value.trim() => {
                let (was, now) = (value.trim(), v.trim());
                out.push(text!(
                    "titre {key} : {was} → {now}",
                    "title {key}: {was} → {now}"
                ))
            }
            _ => {}
        }
    }
    for key in titles_after
        .keys()
        .filter(|k| !titles_before.contains_key(*k))
    {
        out.push(text!("titre {key} ajouté", "title {key} added"));
    }
    for c in before.columns() {
        match after.column(&c.id) {
            None => {
                let id = &c.id;
                out.push(text!("colonne {id} supprimée", "column {id} removed"))
            }
            Some(a)
                if (
                    a.object_type.as_str(),
                    a.code.as_str(),
                    &a.result_type,
                    a.version.as_str(),
                ) != (
                    c.object_type.as_str(),
                    c.code.as_str(),
                    &c.result_type,
                    c.version.as_str(),
                ) =>
            {
                let id = &c.id;
                let was = format!("{} {} {}", c.object_type, c.code, c.result_type.letter());
                let now = format!("{} {} {}", a.object_type, a.code, a.result_type.letter());
                out.push(text!(
                    "colonne {id} : {was} → {now}",
                    "column {id}: {was} → {now}"
                ))
            }
            _ => {}
        }
    }
    for c in after
        .columns()
        .iter()
        .filter(|c| before.column(&c.id).is_none())
    {
        let id = &c.id;
        out.push(text!("colonne {id} ajoutée", "column {id} added"));
    }
    if before.value_ids() != after.value_ids() {
        out.push(Text::fixed(
            "l'ordre des colonnes de XX-APO_VALEURS-XX diffère",
            "the order of the XX-APO_VALEURS-XX columns differs",
        ));
    }
    out
}

/// Compares `before` and `after`: students matched by NIP (first row of a NIP), cells by
/// column id.
pub fn diff_maquettes(before: &Maquette, after: &Maquette) -> MaquetteDiff {
    let mut diff = MaquetteDiff {
        structure_differences: structure_differences(before, after),
        ..MaquetteDiff::default()
    };

    let labels_after = labels(after);
    let mut after_rows: HashMap<&str, usize> = HashMap::new();
    for (i, s) in after.students().iter().enumerate() {
        after_rows.entry(s.nip()).or_insert(i);
    }
    // Column id → cell index in `after` (computed once, not per cell).
    let after_index_of: HashMap<&str, usize> = after
        .value_ids()
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut before_seen: HashMap<&str, ()> = HashMap::new();
    for row in before.students() {
        let nip = row.nip();
        if before_seen.insert(nip, ()).is_some() {
            continue;
        }
        let Some(&a) = after_rows.get(nip) else {
            diff.students_only_before.push(nip.to_string());
            continue;
        };
        let after_row = &after.students()[a];
        for (index, id) in before.value_ids().iter().enumerate().skip(4) {
            let Some(&after_index) = after_index_of.get(id.as_str()) else {
                continue;
            };
            let old = row.cell(index);
            let new = after_row.cell(after_index);
            if old.trim() == new.trim() {
                continue;
            }
            let column = after.column(id).or_else(|| before.column(id));
            let (code, letter) =
                column.map_or(("", ""), |c| (c.code.as_str(), c.result_type.letter()));
            diff.changes.push(CellChange {
                nip: nip.to_string(),
                last_name: row.last_name().trim().to_string(),
                first_name: row.first_name().trim().to_string(),
                column_id: id.clone(),
                element_code: code.to_string(),
                label: labels_after.get(code).copied().unwrap_or("").to_string(),
                result_type: letter.to_string(),
                before: old.trim().to_string(),
                after: new.trim().to_string(),
            });
        }
    }
    for s in after.students() {
        if !before_seen.contains_key(s.nip())
            && !diff.students_only_after.iter().any(|n| n == s.nip())
        {
            diff.students_only_after.push(s.nip().to_string());
        }
    }
    diff
}

/// One student's changes (by NIP): what `diff_maquettes` lists for them.
pub fn student_changes(before: &Maquette, after: &Maquette, nip: &str) -> Vec<CellChange> {
    let mut diff = diff_maquettes(before, after);
    diff.changes.retain(|c| c.nip == nip);
    diff.changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apogee::fill::{FillOptions, fill};
    use crate::apogee::fixtures::{EXPECTED_ROWS, SOURCE_CSV, maquette_latin1, maquette_text};
    use crate::apogee::grades::parse_grade_csv;

    #[test]
    fn lists_every_changed_cell_of_a_fill() {
        let before = Maquette::parse(&maquette_latin1()).unwrap();
        let mut after = before.clone();
        fill(
            &mut after,
            &parse_grade_csv(SOURCE_CSV.as_bytes()).unwrap(),
            &FillOptions::default(),
        )
        .unwrap();
        let diff = diff_maquettes(&before, &after);
        assert_eq!(diff.changes.len(), after.changed_cells());
        assert!(diff.structure_differences.is_empty());
        assert!(diff.students_only_before.is_empty() && diff.students_only_after.is_empty());
        assert_eq!(diff.students_changed(), 4);
        // Chloé's jury points were removed on purpose.
        let removed = diff
            .changes
            .iter()
            .find(|c| c.nip == "21900003" && c.column_id == "apoL_c0014")
            .unwrap();
        assert_eq!(
            (
                removed.element_code.as_str(),
                removed.result_type.as_str(),
                removed.before.as_str(),
                removed.after.as_str()
            ),
            ("VRTU12", "J", "0,25", "")
        );
        assert_eq!(removed.label, "VRTU12 - UE12 Communication");
        // Every change matches the hand-computed rows.
        for c in &diff.changes {
            let (_, expected) = EXPECTED_ROWS.iter().find(|(nip, _)| *nip == c.nip).unwrap();
            let index: usize = c.column_id["apoL_c".len()..].parse().unwrap();
            assert_eq!(expected[index - 1], c.after);
        }
        let text = diff.to_text();
        assert!(text.contains("21900003 LEROY Chloé"), "{text}");
        assert!(
            text.contains("apoL_c0014 VRTU12 [J] VRTU12 - UE12 Communication : 0,25 → (vide)"),
            "{text}"
        );
    }

    #[test]
    fn reports_structure_and_student_differences() {
        let before = Maquette::parse(&maquette_latin1()).unwrap();
        let noe = format!("21900004\tPETIT\tNoé\t30/11/2004{}\r\n", "\t".repeat(23));
        let text = maquette_text()
            .replace(&noe, "")
            .replace("apoC_cod_vdi\t111", "apoC_cod_vdi\t112")
            .replace(
                "apoL_c0019\tELP\tVRTS1\t\t2024\t0\t1\tR",
                "apoL_c0019\tELP\tVRTS2\t\t2024\t0\t1\tR",
            );
        let after = Maquette::parse(text.as_bytes()).unwrap();
        let diff = diff_maquettes(&before, &after);
        assert_eq!(diff.students_only_before, vec!["21900004".to_string()]);
        assert!(diff.changes.is_empty());
        assert_eq!(
            diff.structure_differences,
            vec![
                Text::fixed(
                    "titre apoC_cod_vdi : 111 → 112",
                    "title apoC_cod_vdi: 111 → 112"
                ),
                Text::fixed(
                    "colonne apoL_c0019 : ELP VRTS1 R → ELP VRTS2 R",
                    "column apoL_c0019: ELP VRTS1 R → ELP VRTS2 R"
                )
            ]
        );
    }
}
