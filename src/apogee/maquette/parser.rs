//! The maquette reader, one section at a time: the current section (and, inside
//! XX-APO_COLONNES-XX, where the column declarations stand) is an enum, each section's lines
//! go to their own method, and `finish` checks what the whole file must hold.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::super::text::{LineSpan, TextEncoding, decode, is_blank};
use super::{
    COLONNES, Column, FILE, Maquette, MaquetteError, MaquetteErrorKind, ParseOptions, ResultType,
    StudentRow, TITRES, TYP_RES, VALEURS, check_row_lengths, marker, parse_year,
};
use crate::i18n::Text;
use crate::text;

/// The section a line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Section {
    /// Before XX-APO_TITRES-XX: only blank lines may stand there.
    Preamble,
    Titres,
    TypRes,
    Colonnes(Columns),
    Valeurs,
    /// A marker passerelle does not know: its lines are kept as they are.
    Unknown,
}

/// Where XX-APO_COLONNES-XX stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Columns {
    /// Expects the `apoL_a01_code` header line.
    Header,
    /// The four fixed columns, until APO_COL_VAL_DEB.
    Fixed,
    /// One value column per line, until APO_COL_VAL_FIN.
    Values,
    /// After APO_COL_VAL_FIN: the declaration is complete.
    Done,
}

impl Section {
    /// The section a marker line opens, and the name it is checked under for duplicates.
    fn opened_by(marker: &str) -> (Section, Option<&'static str>) {
        match marker {
            TITRES => (Section::Titres, Some(TITRES)),
            TYP_RES => (Section::TypRes, Some(TYP_RES)),
            COLONNES => (Section::Colonnes(Columns::Header), Some(COLONNES)),
            VALEURS => (Section::Valeurs, Some(VALEURS)),
            _ => (Section::Unknown, None),
        }
    }

    /// Leaving this section for `next` at `line`: XX-APO_COLONNES-XX must be complete first.
    pub(super) fn leave(self, next: Section, line: usize) -> Result<Section, MaquetteError> {
        let missing = match (self, next) {
            (Section::Colonnes(_), Section::Colonnes(_)) => None,
            (Section::Colonnes(Columns::Values), _) => Some(Text::fixed(
                "APO_COL_VAL_FIN manque avant la section suivante",
                "APO_COL_VAL_FIN is missing before the next section",
            )),
            (Section::Colonnes(Columns::Header | Columns::Fixed), _) => Some(Text::fixed(
                "APO_COL_VAL_DEB manque avant la section suivante",
                "APO_COL_VAL_DEB is missing before the next section",
            )),
            _ => None,
        };
        match missing {
            Some(message) => Err(MaquetteError::at(COLONNES, Some(line), message)),
            None => Ok(next),
        }
    }
}

impl Columns {
    /// The next state after a line whose first field is `first`; `Ok(None)` keeps the state
    /// and means the line declares a value column.
    pub(super) fn after(self, first: &str, line: usize) -> Result<Option<Columns>, MaquetteError> {
        match self {
            Columns::Header if first == "apoL_a01_code" => Ok(Some(Columns::Fixed)),
            Columns::Header => Err(MaquetteError::at(
                COLONNES,
                Some(line),
                Text::fixed(
                    "la ligne d'en-tête apoL_a01_code est attendue",
                    "expected the apoL_a01_code header line",
                ),
            )),
            Columns::Fixed if first == "APO_COL_VAL_DEB" => Ok(Some(Columns::Values)),
            Columns::Fixed => Ok(Some(Columns::Fixed)),
            Columns::Values if first == "APO_COL_VAL_FIN" => Ok(Some(Columns::Done)),
            Columns::Values => Ok(None),
            Columns::Done => Ok(Some(Columns::Done)),
        }
    }
}

/// What the sections read so far hold.
pub(super) struct Parser<'a> {
    bytes: &'a [u8],
    encoding: TextEncoding,
    section: Section,
    seen: HashSet<&'static str>,
    titles: Vec<(String, String)>,
    title_lines: HashMap<String, usize>,
    result_codes: Vec<Vec<String>>,
    columns: Vec<Column>,
    column_by_id: HashMap<String, usize>,
    value_ids: Vec<String>,
    students: Vec<StudentRow>,
}

impl<'a> Parser<'a> {
    pub(super) fn new(bytes: &'a [u8], encoding: TextEncoding) -> Self {
        Parser {
            bytes,
            encoding,
            section: Section::Preamble,
            seen: HashSet::new(),
            titles: Vec::new(),
            title_lines: HashMap::new(),
            result_codes: Vec::new(),
            columns: Vec::new(),
            column_by_id: HashMap::new(),
            value_ids: Vec::new(),
            students: Vec::new(),
        }
    }

    fn fields(&self, span: &LineSpan) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        let mut start = span.start;
        for (i, &b) in self.bytes[span.start..span.end].iter().enumerate() {
            if b == b'\t' {
                spans.push((start, span.start + i));
                start = span.start + i + 1;
            }
        }
        spans.push((start, span.end));
        spans
    }

    fn text(&self, (s, e): (usize, usize)) -> String {
        decode(&self.bytes[s..e], self.encoding).into_owned()
    }

    /// Reads line `index` (0-based).
    pub(super) fn line(&mut self, index: usize, span: &LineSpan) -> Result<(), MaquetteError> {
        let line_no = index + 1;
        let content = &self.bytes[span.start..span.end];
        if let Some(m) = marker(content) {
            let (next, name) = Section::opened_by(m);
            if let Some(name) = name
                && !self.seen.insert(name)
            {
                return Err(MaquetteError::at(
                    name,
                    Some(line_no),
                    Text::fixed("la section apparaît deux fois", "the section appears twice"),
                ));
            }
            self.section = self.section.leave(next, line_no)?;
            return Ok(());
        }
        if is_blank(content) {
            return Ok(());
        }
        match self.section {
            Section::Preamble => Err(MaquetteError::at(
                FILE,
                Some(line_no),
                Text::fixed(
                    "le fichier doit commencer par XX-APO_TITRES-XX",
                    "the file must start with XX-APO_TITRES-XX",
                ),
            )
            .of_kind(MaquetteErrorKind::NotAMaquette)),
            Section::Unknown => Ok(()),
            Section::Titres => self.title(span, line_no),
            Section::TypRes => {
                let codes = self
                    .fields(span)
                    .into_iter()
                    .map(|f| self.text(f).trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                self.result_codes.push(codes);
                Ok(())
            }
            Section::Colonnes(state) => self.column_line(state, span, line_no),
            Section::Valeurs if self.value_ids.is_empty() => self.value_ids(span, line_no),
            Section::Valeurs => {
                let cells = self.fields(span);
                let values = cells.iter().map(|&c| self.text(c)).collect();
                self.students.push(StudentRow {
                    line: line_no,
                    line_index: index,
                    cells,
                    values,
                });
                Ok(())
            }
        }
    }

    fn title(&mut self, span: &LineSpan, line_no: usize) -> Result<(), MaquetteError> {
        let fields = self.fields(span);
        let non_empty = fields
            .iter()
            .rposition(|&(s, e)| !is_blank(&self.bytes[s..e]))
            .map_or(0, |i| i + 1);
        if non_empty > 2 {
            return Err(MaquetteError::at(
                TITRES,
                Some(line_no),
                text!(
                    "une ligne de titre a une clé et une valeur, celle-ci a {non_empty} champs",
                    "a title line has a key and one value, this one has {non_empty} fields"
                ),
            ));
        }
        let key = self.text(fields[0]).trim().to_string();
        let value = fields.get(1).map(|&f| self.text(f)).unwrap_or_default();
        self.title_lines.insert(key.clone(), line_no);
        self.titles.push((key, value));
        Ok(())
    }

    fn column_line(
        &mut self,
        state: Columns,
        span: &LineSpan,
        line_no: usize,
    ) -> Result<(), MaquetteError> {
        let fields = self.fields(span);
        let first = self.text(fields[0]).trim().to_string();
        match state.after(&first, line_no)? {
            Some(next) => {
                self.section = Section::Colonnes(next);
                Ok(())
            }
            None => self.declare_column(first, &fields, line_no),
        }
    }

    /// A value column's line between APO_COL_VAL_DEB and APO_COL_VAL_FIN.
    fn declare_column(
        &mut self,
        id: String,
        fields: &[(usize, usize)],
        line_no: usize,
    ) -> Result<(), MaquetteError> {
        let refuse = |message: Text| Err(MaquetteError::at(COLONNES, Some(line_no), message));
        let Some(number) = id
            .strip_prefix("apoL_c")
            .filter(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            return refuse(Text::fixed(
                "un identifiant de colonne s'écrit apoL_c suivi de 4 chiffres",
                "a column id must be apoL_c followed by 4 digits",
            ));
        };
        if self.column_by_id.contains_key(&id) {
            return refuse(text!(
                "la colonne {id} est déclarée deux fois",
                "column {id} is declared twice"
            ));
        }
        let expected = self.columns.len() as u32 + 1;
        if number != expected {
            return refuse(text!(
                "les identifiants de colonne doivent se suivre : {id} trouvé, apoL_c{expected:04} attendu",
                "column ids must be consecutive: found {id}, expected apoL_c{expected:04}"
            ));
        }
        if fields.len() < 8 {
            let count = fields.len();
            return refuse(text!(
                "la colonne {id} a {count} champs, il en faut au moins 8 (id, type objet, code, version, année, session, admission, type résultat)",
                "column {id} has {count} fields, at least 8 are needed (id, type objet, code, version, année, session, admission, type résultat)"
            ));
        }
        let f = |i: usize| {
            fields
                .get(i)
                .map(|&s| self.text(s).trim().to_string())
                .unwrap_or_default()
        };
        let code = f(2);
        if code.is_empty() {
            return refuse(text!(
                "la colonne {id} n'a pas de code d'élément",
                "column {id} has no element code"
            ));
        }
        let column = Column {
            id: id.clone(),
            number,
            object_type: f(1),
            code,
            version: f(3),
            year: f(4),
            session: f(5),
            admission: f(6),
            result_type: ResultType::parse(&f(7)),
            label: f(8),
            line: line_no,
        };
        self.column_by_id.insert(id, self.columns.len());
        self.columns.push(column);
        Ok(())
    }

    /// The first line of XX-APO_VALEURS-XX: the column ids.
    fn value_ids(&mut self, span: &LineSpan, line_no: usize) -> Result<(), MaquetteError> {
        let refuse = |message: Text| Err(MaquetteError::at(VALEURS, Some(line_no), message));
        let mut ids: Vec<String> = self
            .fields(span)
            .into_iter()
            .map(|f| self.text(f).trim().to_string())
            .collect();
        ids.truncate(ids.iter().rposition(|s| !s.is_empty()).map_or(0, |i| i + 1));
        if ids.first().map(String::as_str) != Some("apoL_a01_code") || ids.len() < 4 {
            return refuse(Text::fixed(
                "la première ligne doit lister les identifiants de colonne, en commençant par apoL_a01_code et les 3 autres colonnes fixes",
                "the first line must list the column ids, starting with apoL_a01_code and the 3 other fixed columns",
            ));
        }
        let mut unique = HashSet::new();
        for id in &ids[4..] {
            if !self.column_by_id.contains_key(id) {
                return refuse(text!(
                    "la colonne {id} n'est pas déclarée dans XX-APO_COLONNES-XX",
                    "column {id} is not declared in XX-APO_COLONNES-XX"
                ));
            }
            if !unique.insert(id.as_str()) {
                return refuse(text!(
                    "la colonne {id} est listée deux fois",
                    "column {id} is listed twice"
                ));
            }
        }
        self.value_ids = ids;
        Ok(())
    }

    /// Checks what the whole file must hold and builds the maquette.
    pub(super) fn finish(
        self,
        text_start: usize,
        lines: Vec<LineSpan>,
        options: ParseOptions,
    ) -> Result<Maquette, MaquetteError> {
        if !self.seen.contains(TITRES) {
            // Nothing but blank lines (any other line before TITRES is refused above).
            return Err(MaquetteError::at(
                TITRES,
                None,
                Text::fixed(
                    "la section manque : le fichier est vide",
                    "the section is missing: the file is empty",
                ),
            )
            .of_kind(MaquetteErrorKind::NotAMaquette));
        }
        for name in [TYP_RES, COLONNES, VALEURS] {
            if !self.seen.contains(name) {
                return Err(MaquetteError::at(
                    name,
                    None,
                    Text::fixed("la section manque", "the section is missing"),
                ));
            }
        }
        // Leaving XX-APO_COLONNES-XX unfinished is refused above: only a file ending inside it
        // is left to catch.
        if matches!(self.section, Section::Colonnes(c) if c != Columns::Done) {
            return Err(MaquetteError::at(
                COLONNES,
                None,
                Text::fixed(
                    "les définitions de colonnes (APO_COL_VAL_DEB … APO_COL_VAL_FIN) manquent ou sont inachevées",
                    "the column definitions (APO_COL_VAL_DEB … APO_COL_VAL_FIN) are missing or unfinished",
                ),
            ));
        }
        if self.value_ids.is_empty() {
            return Err(MaquetteError::at(
                VALEURS,
                None,
                Text::fixed(
                    "la ligne des identifiants de colonne manque",
                    "the column id line is missing",
                ),
            ));
        }
        if !self.columns.iter().any(|c| c.object_type == "VET") {
            return Err(MaquetteError::at(
                COLONNES,
                None,
                Text::fixed(
                    "aucun élément VET (étape) : les maquettes d'Apogée se terminent par les colonnes de l'étape",
                    "no VET (étape) element: Apogée maquettes end with the étape's columns",
                ),
            ));
        }
        let year_value = self
            .titles
            .iter()
            .find(|(k, _)| k == "apoC_annee")
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| {
                MaquetteError::at(
                    TITRES,
                    None,
                    Text::fixed(
                        "apoC_annee (l'année universitaire) manque",
                        "apoC_annee (the academic year) is missing",
                    ),
                )
            })?;
        let academic_year = parse_year(year_value).ok_or_else(|| {
            MaquetteError::at(
                TITRES,
                self.title_lines.get("apoC_annee").copied(),
                Text::fixed(
                    "apoC_annee doit être une année universitaire comme 2024/2025",
                    "apoC_annee must be an academic year like 2024/2025",
                ),
            )
        })?;
        let truncated =
            check_row_lengths(self.bytes, &lines, &self.value_ids, &self.students, options)?;
        Ok(Maquette {
            bytes: self.bytes.to_vec(),
            text_start,
            encoding: self.encoding,
            lines,
            titles: self.titles,
            academic_year,
            result_codes: self.result_codes,
            columns: self.columns,
            column_by_id: self.column_by_id,
            value_ids: self.value_ids,
            students: self.students,
            truncated,
            edits: BTreeMap::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_COLUMNS: [Columns; 4] = [
        Columns::Header,
        Columns::Fixed,
        Columns::Values,
        Columns::Done,
    ];

    #[test]
    fn markers_open_their_sections() {
        assert_eq!(Section::opened_by(TITRES), (Section::Titres, Some(TITRES)));
        assert_eq!(
            Section::opened_by(TYP_RES),
            (Section::TypRes, Some(TYP_RES))
        );
        assert_eq!(
            Section::opened_by(COLONNES),
            (Section::Colonnes(Columns::Header), Some(COLONNES))
        );
        assert_eq!(
            Section::opened_by(VALEURS),
            (Section::Valeurs, Some(VALEURS))
        );
        assert_eq!(
            Section::opened_by("XX-APO_AUTRE-XX"),
            (Section::Unknown, None)
        );
    }

    #[test]
    fn the_columns_walk_header_fixed_values_done() {
        let step = |state: Columns, first: &str| state.after(first, 7).unwrap();
        assert_eq!(step(Columns::Header, "apoL_a01_code"), Some(Columns::Fixed));
        assert_eq!(step(Columns::Fixed, "apoL_a02_nom"), Some(Columns::Fixed));
        assert_eq!(
            step(Columns::Fixed, "APO_COL_VAL_DEB"),
            Some(Columns::Values)
        );
        // A value column keeps the state (the line declares a column).
        assert_eq!(step(Columns::Values, "apoL_c0001"), None);
        assert_eq!(
            step(Columns::Values, "APO_COL_VAL_FIN"),
            Some(Columns::Done)
        );
        assert_eq!(step(Columns::Done, "anything"), Some(Columns::Done));
        // APO_COL_VAL_FIN before APO_COL_VAL_DEB is a fixed-column line, not an end.
        assert_eq!(
            step(Columns::Fixed, "APO_COL_VAL_FIN"),
            Some(Columns::Fixed)
        );
    }

    #[test]
    fn the_columns_must_start_with_the_header_line() {
        let err = Columns::Header.after("APO_COL_VAL_DEB", 7).unwrap_err();
        assert_eq!((err.section.as_str(), err.line), (COLONNES, Some(7)));
        assert!(err.message.contains("apoL_a01_code"), "{}", err.message);
    }

    #[test]
    fn leaving_the_columns_needs_them_done() {
        for next in [Section::Valeurs, Section::Unknown, Section::TypRes] {
            assert_eq!(
                Section::Colonnes(Columns::Done).leave(next, 9).unwrap(),
                next
            );
            for (state, missing) in [
                (Columns::Header, "APO_COL_VAL_DEB"),
                (Columns::Fixed, "APO_COL_VAL_DEB"),
                (Columns::Values, "APO_COL_VAL_FIN"),
            ] {
                let err = Section::Colonnes(state).leave(next, 9).unwrap_err();
                assert_eq!((err.section.as_str(), err.line), (COLONNES, Some(9)));
                assert!(
                    err.message.en.starts_with(missing),
                    "{state:?}: {}",
                    err.message
                );
            }
        }
    }

    #[test]
    fn the_other_sections_can_always_be_left() {
        let others = [
            Section::Preamble,
            Section::Titres,
            Section::TypRes,
            Section::Valeurs,
            Section::Unknown,
        ];
        for from in others {
            for next in others.into_iter().chain(ALL_COLUMNS.map(Section::Colonnes)) {
                assert_eq!(from.leave(next, 1).unwrap(), next, "{from:?} → {next:?}");
            }
        }
    }

    #[test]
    fn a_file_ending_inside_the_columns_is_refused() {
        let file = "XX-APO_TITRES-XX\napoC_annee\t2024/2025\nXX-APO_TYP_RES-XX\nADM\n\
                    XX-APO_VALEURS-XX\nXX-APO_COLONNES-XX\napoL_a01_code\tType Objet\n\
                    APO_COL_VAL_DEB\n";
        // VALEURS is empty and COLONNES never ends: the unfinished columns are named.
        let err = Maquette::parse(file.as_bytes()).unwrap_err();
        assert_eq!(err.section, COLONNES);
        assert!(
            err.message.contains("missing or unfinished"),
            "{}",
            err.message
        );
    }
}
