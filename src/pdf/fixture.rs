//! Realistic Apogée-like batches for tests, benchmarks and demonstrations: Oracle Reports
//! producer, an embedded TrueType font (WinAnsi, or Type0/Identity-H with a ToUnicode map),
//! accented names, an optional cover page, 1 to 3 pages per student — and, on request, each
//! defect validation must catch. Every batch says which student is on which pages, so tests
//! compare with this truth rather than with hard-coded answers.

use lopdf::{Dictionary, Document, Object, Stream, StringFormat};

/// DejaVu Sans, Latin-1 subset (see assets/fonts/DejaVuSans-LICENSE.txt).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Latin1.ttf");

/// Which Apogée edition a batch imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Edition {
    /// Relevés de notes: 1 to 3 pages per student.
    #[default]
    Releve,
    /// Attestations de réussite: one page per student.
    Attestation,
    /// Certificats de scolarité (a kind a site configures): one page per student.
    CertificatScolarite,
}

impl Edition {
    /// The document kind code of this edition (the certificat's as
    /// [`certificat_scolarite_kind`] configures it).
    pub fn code(self) -> &'static str {
        match self {
            Edition::Releve => "releve_notes",
            Edition::Attestation => "attestation_reussite",
            Edition::CertificatScolarite => "certificat_scolarite",
        }
    }
}

/// The `[[document_kinds]]` entry of the certificat de scolarité, as the README's example
/// writes it.
pub fn certificat_scolarite_kind() -> crate::domain::document_kind::DocumentKind {
    use crate::domain::document_kind::{DocumentKind, DocumentKindCode, PageLayout};
    DocumentKind {
        code: DocumentKindCode::parse(Edition::CertificatScolarite.code()).expect("a code"),
        label_fr: "Certificat de scolarité".into(),
        label_en: "Certificate of enrolment".into(),
        title_template: "{label} {academic_year}".into(),
        markers: vec!["certificat de scolarité".into()],
        pages: PageLayout::OnePerStudent,
    }
}

/// A fictional student of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureStudent {
    pub cod_etu: String,
    pub ine: String,
    pub last_name: String,
    pub first_name: String,
}

/// How a batch is made.
#[derive(Debug, Clone)]
pub struct BatchSpec {
    pub students: usize,
    pub seed: u64,
    pub kind: Edition,
    pub cover_page: bool,
    /// Use a Type0/CID Identity-H font with a ToUnicode map instead of a simple font.
    pub cid_font: bool,
    /// Attestations: put the number before its label for every other student.
    pub reversed_labels: bool,
    pub producer: String,
    pub creator: String,
    /// Pages per student for relevés: 1 to this many (at least 1).
    pub max_pages_per_student: usize,
    /// Student numbers start here and go up.
    pub first_number: u64,
    /// Shared resources as Oracle Reports editions carry them: a second (bold) font and a logo
    /// with a soft mask, so an output copies several objects that each reference others.
    pub bold_font_and_logo: bool,
}

impl Default for BatchSpec {
    fn default() -> Self {
        BatchSpec {
            students: 10,
            seed: 1,
            kind: Edition::Releve,
            cover_page: true,
            cid_font: false,
            reversed_labels: false,
            producer: "Oracle Reports".into(),
            creator: "Oracle Reports 11g".into(),
            max_pages_per_student: 3,
            first_number: 21_900_001,
            bold_font_and_logo: false,
        }
    }
}

/// A generated batch and its truth.
#[derive(Debug, Clone)]
pub struct Batch {
    pub bytes: Vec<u8>,
    pub students: Vec<FixtureStudent>,
    /// Per student (in order), the 1-based pages that are theirs.
    pub expected: Vec<(String, Vec<u32>)>,
    /// Pages without a student (the cover page).
    pub skipped: Vec<u32>,
}

/// What goes on one page: lines of text, or only an image (a scan).
#[derive(Debug, Clone)]
pub enum PageContent {
    Lines(Vec<String>),
    Image,
}

/// Options of the low-level writer.
#[derive(Debug, Clone)]
pub struct PdfOptions {
    pub producer: Option<String>,
    pub creator: Option<String>,
    pub cid_font: bool,
    pub creation_date: Option<String>,
    pub modification_date: Option<String>,
    /// Adds an /Encrypt entry to the trailer (the content is not really encrypted).
    pub encrypt_marker: bool,
    /// See [`BatchSpec::bold_font_and_logo`].
    pub bold_font_and_logo: bool,
    /// Rewrite signs, as a PDF library saving the file again would leave them: a second
    /// trailer /ID element different from the first, a cross-reference stream, object streams.
    pub changed_file_id: bool,
    pub xref_stream: bool,
    pub object_streams: bool,
}

impl Default for PdfOptions {
    fn default() -> Self {
        PdfOptions {
            producer: Some("Oracle Reports".into()),
            creator: Some("Oracle Reports 11g".into()),
            cid_font: false,
            creation_date: Some("D:20250701093000+02'00'".into()),
            modification_date: None,
            encrypt_marker: false,
            bold_font_and_logo: false,
            changed_file_id: false,
            xref_stream: false,
            object_streams: false,
        }
    }
}

const LAST_NAMES: &[&str] = &[
    "LEFÈVRE",
    "MARTIN",
    "DUPONT",
    "GARÇON",
    "MÜLLER",
    "D'ALEMBERT",
    "BERNARD",
    "FAURÉ",
    "LEFEBVRE-DURAND",
    "NGUYEN",
    "DE LA FONTAINE",
    "ROUSSEAU",
    "CHÂTELAIN",
    "BENOÎT",
    "MOREAU",
    "OUÉDRAOGO",
    "DIALLO",
    "LÆTITIA",
    "ŒHLER",
    "PETIT",
];
const FIRST_NAMES: &[&str] = &[
    "Zoé",
    "Chloé",
    "Anaïs",
    "François",
    "Jérôme",
    "Noël",
    "Hélène",
    "Maëlle",
    "Gaëlle",
    "Éloïse",
    "Léo",
    "Inès",
    "Raphaël",
    "Cécile",
    "Joël",
    "Aurélien",
    "Bérénice",
    "Loïc",
    "Agnès",
    "Timothée",
];
const MODULES: &[&str] = &[
    "Mathématiques générales",
    "Algorithmique et programmation",
    "Anglais scientifique",
    "Physique : mécanique",
    "Méthodologie du travail universitaire",
    "Projet personnel et professionnel",
    "Économie générale",
    "Sport (UE bonus)",
];

/// Deterministic pseudo-random numbers (SplitMix64): the same seed makes the same batch.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A valid INE-BEA (10 digits and their check letter).
fn ine_for(n: u64) -> String {
    let digits = format!("{:010}", n % 10_000_000_000);
    let body: [u8; 10] = digits.as_bytes().try_into().expect("ten digits");
    format!("{digits}{}", crate::apogee::ine::bea_key(&body) as char)
}

/// The students a batch of `spec` holds (also useful to import them before uploading).
pub fn students(spec: &BatchSpec) -> Vec<FixtureStudent> {
    let mut rng = Rng(spec.seed);
    (0..spec.students)
        .map(|i| {
            let number = spec.first_number + i as u64;
            FixtureStudent {
                cod_etu: number.to_string(),
                ine: ine_for(number * 7919),
                last_name: LAST_NAMES[rng.below(LAST_NAMES.len())].to_owned(),
                first_name: FIRST_NAMES[rng.below(FIRST_NAMES.len())].to_owned(),
            }
        })
        .collect()
}

/// The lines of one relevé page.
pub fn releve_page(s: &FixtureStudent, page: usize, pages: usize, rng_seed: u64) -> Vec<String> {
    let mut rng = Rng(rng_seed);
    let mut lines = vec![
        "UNIVERSITÉ DE PICARDIE JULES VERNE".to_owned(),
        "RELEVÉ DE NOTES ET RÉSULTATS".to_owned(),
        "Session 1 — Année universitaire 2025/2026".to_owned(),
        format!("N° Etudiant : {}          INE : {}", s.cod_etu, s.ine),
        format!("Nom : {}     Prénom : {}", s.last_name, s.first_name),
        "Licence Informatique — 1ère année (L1INF)".to_owned(),
        String::new(),
    ];
    for _ in 0..12 {
        let module = MODULES[rng.below(MODULES.len())];
        let note = 6 + rng.below(14);
        let cents = rng.below(4) * 25;
        let result = if note >= 10 { "ADM" } else { "AJ" };
        lines.push(format!("{module:<45} {note:>2},{cents:02} / 20   {result}"));
    }
    lines.push(String::new());
    lines.push(format!("Page {page}/{pages}"));
    lines
}

/// The lines of one attestation (one page per student); `reversed` puts the number before
/// its label, as some editions extract.
pub fn attestation_page(s: &FixtureStudent, reversed: bool) -> Vec<String> {
    let number_line = if reversed {
        format!("{} N° étudiant", s.cod_etu)
    } else {
        format!("N° étudiant : {}", s.cod_etu)
    };
    vec![
        "UNIVERSITÉ DE PICARDIE JULES VERNE".to_owned(),
        "ATTESTATION DE RÉUSSITE".to_owned(),
        "Le Président de l'Université atteste que".to_owned(),
        format!("{} {}", s.first_name, s.last_name),
        number_line,
        format!("INE : {}", s.ine),
        "a été déclaré(e) admis(e) à la Licence Informatique — 1ère année".to_owned(),
        "Session 1 de l'année universitaire 2025/2026, mention Assez bien".to_owned(),
        "Fait à Amiens, le 10 juillet 2026".to_owned(),
    ]
}

/// The lines of one certificat de scolarité (one page per student).
pub fn certificat_scolarite_page(s: &FixtureStudent) -> Vec<String> {
    vec![
        "UNIVERSITÉ DE PICARDIE JULES VERNE".to_owned(),
        "CERTIFICAT DE SCOLARITÉ".to_owned(),
        "Année universitaire 2025/2026".to_owned(),
        "Le Président de l'Université certifie que".to_owned(),
        format!("{} {}", s.first_name, s.last_name),
        format!("N° étudiant : {}", s.cod_etu),
        format!("INE : {}", s.ine),
        "est régulièrement inscrit(e) en Licence Informatique — 1ère année".to_owned(),
        "Fait à Amiens, le 15 septembre 2025".to_owned(),
    ]
}

/// The cover page Apogée puts first.
pub fn cover_page(students: usize) -> Vec<String> {
    vec![
        "APOGÉE — ÉDITION DES RELEVÉS DE NOTES".to_owned(),
        "Page de garde".to_owned(),
        format!("Nombre d'étudiants : {students}"),
        "Composante : 905 — UFR des Sciences".to_owned(),
    ]
}

/// A whole batch.
pub fn batch(spec: &BatchSpec) -> Batch {
    let students = students(spec);
    let mut rng = Rng(spec.seed ^ 0xA5A5);
    let mut pages: Vec<PageContent> = Vec::new();
    let mut skipped = Vec::new();
    if spec.cover_page {
        pages.push(PageContent::Lines(cover_page(students.len())));
        skipped.push(1);
    }
    let mut expected = Vec::with_capacity(students.len());
    for (i, s) in students.iter().enumerate() {
        // Most relevés fit on one page, some need two or three (≈ 1.5 pages per student).
        let count = match spec.kind {
            Edition::Releve => match rng.below(10) {
                0..=5 => 1,
                6..=8 => 2,
                _ => 3,
            }
            .min(spec.max_pages_per_student.max(1)),
            Edition::Attestation | Edition::CertificatScolarite => 1,
        };
        let mut numbers = Vec::with_capacity(count);
        for p in 1..=count {
            let lines = match spec.kind {
                Edition::Releve => {
                    releve_page(s, p, count, spec.seed.wrapping_add((i * 31 + p) as u64))
                }
                Edition::Attestation => attestation_page(s, spec.reversed_labels && i % 2 == 1),
                Edition::CertificatScolarite => certificat_scolarite_page(s),
            };
            pages.push(PageContent::Lines(lines));
            numbers.push(pages.len() as u32);
        }
        expected.push((s.cod_etu.clone(), numbers));
    }
    let options = PdfOptions {
        producer: Some(spec.producer.clone()),
        creator: Some(spec.creator.clone()),
        cid_font: spec.cid_font,
        bold_font_and_logo: spec.bold_font_and_logo,
        ..PdfOptions::default()
    };
    Batch {
        bytes: write_pdf(&pages, &options),
        students,
        expected,
        skipped,
    }
}

/// Writes a PDF of these pages (A4, 10 pt text) with the embedded font.
pub fn write_pdf(pages: &[PageContent], options: &PdfOptions) -> Vec<u8> {
    let face = ttf_parser::Face::parse(FONT, 0).expect("the bundled font parses");
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = if options.cid_font {
        add_cid_font(&mut doc, &face)
    } else {
        add_simple_font(&mut doc, &face)
    };
    let image_id = pages
        .iter()
        .any(|p| matches!(p, PageContent::Image))
        .then(|| add_scan_image(&mut doc));
    let mut fonts = Dictionary::from_iter(vec![("F1", Object::Reference(font_id))]);
    let mut xobjects = Dictionary::new();
    if let Some(id) = image_id {
        xobjects.set("Im1", Object::Reference(id));
    }
    if options.bold_font_and_logo {
        let bold_id = if options.cid_font {
            add_cid_font(&mut doc, &face)
        } else {
            add_simple_font(&mut doc, &face)
        };
        fonts.set("F2", Object::Reference(bold_id));
        xobjects.set("Logo", Object::Reference(add_logo(&mut doc)));
    }
    let resources_id = doc.add_object(Dictionary::from_iter(vec![
        ("Font", Object::Dictionary(fonts)),
        ("XObject", Object::Dictionary(xobjects)),
    ]));
    let mut kids = Vec::with_capacity(pages.len());
    for page in pages {
        let content = match page {
            PageContent::Lines(lines) => text_content(lines, &face, options.cid_font),
            PageContent::Image => b"q 595 0 0 842 0 0 cm /Im1 Do Q".to_vec(),
        };
        let mut stream = Stream::new(Dictionary::new(), content);
        let _ = stream.compress();
        let content_id = doc.add_object(stream);
        let page_id = doc.add_object(Dictionary::from_iter(vec![
            ("Type", Object::Name(b"Page".to_vec())),
            ("Parent", Object::Reference(pages_id)),
            ("Resources", Object::Reference(resources_id)),
            ("Contents", Object::Reference(content_id)),
        ]));
        kids.push(Object::Reference(page_id));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(Dictionary::from_iter(vec![
            ("Type", Object::Name(b"Pages".to_vec())),
            ("Kids", Object::Array(kids)),
            ("Count", Object::Integer(count)),
            (
                "MediaBox",
                Object::Array(vec![0.into(), 0.into(), 595.into(), 842.into()]),
            ),
        ])),
    );
    let catalog_id = doc.add_object(Dictionary::from_iter(vec![
        ("Type", Object::Name(b"Catalog".to_vec())),
        ("Pages", Object::Reference(pages_id)),
    ]));
    set_trailer(&mut doc, catalog_id, options);
    // Oracle Reports writes a classic cross-reference table (lopdf's default is a stream).
    doc.reference_table.cross_reference_type = if options.xref_stream {
        lopdf::xref::XrefType::CrossReferenceStream
    } else {
        lopdf::xref::XrefType::CrossReferenceTable
    };
    let save = lopdf::SaveOptions::builder()
        .use_object_streams(options.object_streams)
        .use_xref_streams(options.xref_stream || options.object_streams)
        .build();
    let mut bytes = Vec::new();
    doc.save_with_options(&mut bytes, save)
        .expect("writing to memory cannot fail");
    bytes
}

/// The trailer: the Info dictionary, the catalog, the file identifier (and the encryption
/// marker when asked).
fn set_trailer(doc: &mut Document, catalog_id: lopdf::ObjectId, options: &PdfOptions) {
    let mut info = Dictionary::new();
    let text = |s: &str| Object::String(s.as_bytes().to_vec(), StringFormat::Literal);
    if let Some(p) = &options.producer {
        info.set("Producer", text(p));
    }
    if let Some(c) = &options.creator {
        info.set("Creator", text(c));
    }
    if let Some(d) = &options.creation_date {
        info.set("CreationDate", text(d));
    }
    if let Some(d) = &options.modification_date {
        info.set("ModDate", text(d));
    }
    let info_id = doc.add_object(info);
    doc.trailer.set("Root", Object::Reference(catalog_id));
    doc.trailer.set("Info", Object::Reference(info_id));
    if options.encrypt_marker {
        let encrypt_id = doc.add_object(Dictionary::from_iter(vec![
            ("Filter", Object::Name(b"Standard".to_vec())),
            ("V", Object::Integer(2)),
            ("R", Object::Integer(3)),
            ("Length", Object::Integer(128)),
            ("O", Object::String(vec![0; 32], StringFormat::Hexadecimal)),
            ("U", Object::String(vec![0; 32], StringFormat::Hexadecimal)),
            ("P", Object::Integer(-4)),
        ]));
        doc.trailer.set("Encrypt", Object::Reference(encrypt_id));
        doc.trailer.set(
            "ID",
            Object::Array(vec![
                Object::String(vec![1; 16], StringFormat::Hexadecimal),
                Object::String(vec![1; 16], StringFormat::Hexadecimal),
            ]),
        );
    }
    if !options.encrypt_marker {
        // As a first write does: both elements of the file identifier are the same.
        let first = Object::String(vec![0x5a; 16], StringFormat::Hexadecimal);
        let second = if options.changed_file_id {
            Object::String(vec![0xa5; 16], StringFormat::Hexadecimal)
        } else {
            first.clone()
        };
        doc.trailer.set("ID", Object::Array(vec![first, second]));
    }
}

/// Appends an incremental update (a new Info naming another producer), as a tool that
/// edits a PDF in place would.
pub fn append_incremental_update(original: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(original);
    let startxref: usize = text
        .rfind("startxref")
        .and_then(|at| text[at + 9..].split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the original has a startxref");
    let size: usize = text
        .rfind("/Size ")
        .and_then(|at| text[at + 6..].split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("the original trailer has a size");
    let root = text
        .rfind("/Root ")
        .map(|at| {
            text[at + 6..]
                .split('R')
                .next()
                .unwrap_or("1 0")
                .trim()
                .to_owned()
        })
        .expect("the original trailer has a root");
    let mut out = original.to_vec();
    out.extend_from_slice(b"\n");
    let object_offset = out.len();
    out.extend_from_slice(
        format!(
            "{size} 0 obj\n<< /Producer (Oracle Reports) /ModDate (D:20250702100000) >>\nendobj\n"
        )
        .as_bytes(),
    );
    let xref_offset = out.len();
    out.extend_from_slice(
        format!(
            "xref\n{size} 1\n{object_offset:010} 00000 n \ntrailer\n<< /Size {} /Root {root} R /Info {size} 0 R /Prev {startxref} >>\nstartxref\n{xref_offset}\n%%EOF\n",
            size + 1
        )
        .as_bytes(),
    );
    out
}

/// "BT … ET" with one line of text every 14 pt from the top.
fn text_content(lines: &[String], face: &ttf_parser::Face, cid: bool) -> Vec<u8> {
    let mut c = Vec::with_capacity(lines.len() * 64);
    c.extend_from_slice(b"BT\n/F1 10 Tf\n14 TL\n50 800 Td\n");
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            c.extend_from_slice(b"T*\n");
        }
        if line.is_empty() {
            continue;
        }
        c.push(b'<');
        for ch in line.chars() {
            if cid {
                let gid = face.glyph_index(ch).map(|g| g.0).unwrap_or(0);
                c.extend_from_slice(format!("{gid:04X}").as_bytes());
            } else {
                let byte = win_ansi_byte(ch).unwrap_or(b'?');
                c.extend_from_slice(format!("{byte:02X}").as_bytes());
            }
        }
        c.extend_from_slice(b"> Tj\n");
    }
    c.extend_from_slice(b"ET\n");
    c
}

/// WinAnsiEncoding is Windows-1252 for every character a French name needs.
fn win_ansi_byte(ch: char) -> Option<u8> {
    let mut buf = [0u8; 4];
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(ch.encode_utf8(&mut buf));
    (!unmappable && bytes.len() == 1).then(|| bytes[0])
}

fn char_of_win_ansi(byte: u8) -> Option<char> {
    let input = [byte];
    let (text, _, malformed) = encoding_rs::WINDOWS_1252.decode(&input);
    if malformed { None } else { text.chars().next() }
}

fn scaled(face: &ttf_parser::Face, units: i32) -> i64 {
    (units as i64 * 1000) / face.units_per_em() as i64
}

fn descriptor(doc: &mut Document, face: &ttf_parser::Face) -> Object {
    let mut file = Stream::new(
        Dictionary::from_iter(vec![("Length1", Object::Integer(FONT.len() as i64))]),
        FONT.to_vec(),
    );
    let _ = file.compress();
    let file_id = doc.add_object(file);
    let bbox = face.global_bounding_box();
    let descriptor_id = doc.add_object(Dictionary::from_iter(vec![
        ("Type", Object::Name(b"FontDescriptor".to_vec())),
        ("FontName", Object::Name(b"DejaVuSans".to_vec())),
        ("Flags", Object::Integer(32)),
        (
            "FontBBox",
            Object::Array(vec![
                scaled(face, bbox.x_min as i32).into(),
                scaled(face, bbox.y_min as i32).into(),
                scaled(face, bbox.x_max as i32).into(),
                scaled(face, bbox.y_max as i32).into(),
            ]),
        ),
        ("ItalicAngle", Object::Integer(0)),
        ("Ascent", scaled(face, face.ascender() as i32).into()),
        ("Descent", scaled(face, face.descender() as i32).into()),
        ("CapHeight", Object::Integer(729)),
        ("StemV", Object::Integer(80)),
        ("FontFile2", Object::Reference(file_id)),
    ]));
    Object::Reference(descriptor_id)
}

fn add_simple_font(doc: &mut Document, face: &ttf_parser::Face) -> lopdf::ObjectId {
    let widths: Vec<Object> = (32u8..=255)
        .map(|b| {
            let width = char_of_win_ansi(b)
                .and_then(|ch| face.glyph_index(ch))
                .and_then(|g| face.glyph_hor_advance(g))
                .map(|w| scaled(face, w as i32))
                .unwrap_or(600);
            Object::Integer(width)
        })
        .collect();
    let descriptor = descriptor(doc, face);
    doc.add_object(Dictionary::from_iter(vec![
        ("Type", Object::Name(b"Font".to_vec())),
        ("Subtype", Object::Name(b"TrueType".to_vec())),
        ("BaseFont", Object::Name(b"DejaVuSans".to_vec())),
        ("FirstChar", Object::Integer(32)),
        ("LastChar", Object::Integer(255)),
        ("Widths", Object::Array(widths)),
        ("Encoding", Object::Name(b"WinAnsiEncoding".to_vec())),
        ("FontDescriptor", descriptor),
    ]))
}

fn add_cid_font(doc: &mut Document, face: &ttf_parser::Face) -> lopdf::ObjectId {
    // Every character the subset covers: glyph id → Unicode, for the ToUnicode map and widths.
    let mut glyphs: Vec<(u16, char)> = (0x20u32..0x2200)
        .filter_map(char::from_u32)
        .filter_map(|ch| face.glyph_index(ch).map(|g| (g.0, ch)))
        .collect();
    glyphs.sort();
    glyphs.dedup_by_key(|(g, _)| *g);
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    for chunk in glyphs.chunks(100) {
        cmap.push_str(&format!("{} beginbfchar\n", chunk.len()));
        for (gid, ch) in chunk {
            let mut units = [0u16; 2];
            let encoded: String = ch
                .encode_utf16(&mut units)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            cmap.push_str(&format!("<{gid:04X}> <{encoded}>\n"));
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    let mut to_unicode = Stream::new(Dictionary::new(), cmap.into_bytes());
    let _ = to_unicode.compress();
    let to_unicode_id = doc.add_object(to_unicode);
    let widths: Vec<Object> = glyphs
        .iter()
        .flat_map(|(gid, _)| {
            let w = face
                .glyph_hor_advance(ttf_parser::GlyphId(*gid))
                .map(|w| scaled(face, w as i32))
                .unwrap_or(600);
            [
                Object::Integer(*gid as i64),
                Object::Array(vec![Object::Integer(w)]),
            ]
        })
        .collect();
    let descriptor = descriptor(doc, face);
    let descendant = doc.add_object(Dictionary::from_iter(vec![
        ("Type", Object::Name(b"Font".to_vec())),
        ("Subtype", Object::Name(b"CIDFontType2".to_vec())),
        ("BaseFont", Object::Name(b"DejaVuSans".to_vec())),
        (
            "CIDSystemInfo",
            Object::Dictionary(Dictionary::from_iter(vec![
                ("Registry", Object::string_literal("Adobe")),
                ("Ordering", Object::string_literal("Identity")),
                ("Supplement", Object::Integer(0)),
            ])),
        ),
        ("FontDescriptor", descriptor),
        ("CIDToGIDMap", Object::Name(b"Identity".to_vec())),
        ("W", Object::Array(widths)),
    ]));
    doc.add_object(Dictionary::from_iter(vec![
        ("Type", Object::Name(b"Font".to_vec())),
        ("Subtype", Object::Name(b"Type0".to_vec())),
        ("BaseFont", Object::Name(b"DejaVuSans".to_vec())),
        ("Encoding", Object::Name(b"Identity-H".to_vec())),
        (
            "DescendantFonts",
            Object::Array(vec![Object::Reference(descendant)]),
        ),
        ("ToUnicode", Object::Reference(to_unicode_id)),
    ]))
}

/// A small grey image, as a scanner would produce page-sized.
fn add_scan_image(doc: &mut Document) -> lopdf::ObjectId {
    let (w, h) = (64i64, 90i64);
    let pixels: Vec<u8> = (0..w * h).map(|i| (180 + (i % 50)) as u8).collect();
    let mut stream = Stream::new(
        Dictionary::from_iter(vec![
            ("Type", Object::Name(b"XObject".to_vec())),
            ("Subtype", Object::Name(b"Image".to_vec())),
            ("Width", Object::Integer(w)),
            ("Height", Object::Integer(h)),
            ("ColorSpace", Object::Name(b"DeviceGray".to_vec())),
            ("BitsPerComponent", Object::Integer(8)),
        ]),
        pixels,
    );
    let _ = stream.compress();
    doc.add_object(stream)
}

/// A small logo image with a soft mask (an image that references another).
fn add_logo(doc: &mut Document) -> lopdf::ObjectId {
    let image = |pixels: Vec<u8>, extra: Vec<(&str, Object)>| {
        let mut dict = Dictionary::from_iter(vec![
            ("Type", Object::Name(b"XObject".to_vec())),
            ("Subtype", Object::Name(b"Image".to_vec())),
            ("Width", Object::Integer(16)),
            ("Height", Object::Integer(16)),
            ("ColorSpace", Object::Name(b"DeviceGray".to_vec())),
            ("BitsPerComponent", Object::Integer(8)),
        ]);
        for (k, v) in extra {
            dict.set(k, v);
        }
        Stream::new(dict, pixels)
    };
    let mask_id = doc.add_object(image((0..=255).collect(), vec![]));
    doc.add_object(image(
        (0..=255).rev().collect(),
        vec![("SMask", Object::Reference(mask_id))],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_deterministic_and_truthful() {
        let spec = BatchSpec {
            students: 5,
            ..BatchSpec::default()
        };
        let a = batch(&spec);
        let b = batch(&spec);
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.expected.len(), 5);
        let pages: usize = a.expected.iter().map(|(_, p)| p.len()).sum();
        let doc = Document::load_mem(&a.bytes).unwrap();
        assert_eq!(doc.get_pages().len(), pages + 1);
        assert_eq!(a.skipped, vec![1]);
    }

    #[test]
    fn win_ansi_covers_french() {
        for ch in "éèêëàâçôûùüïîœŒÿŸ’–—€".chars() {
            let b = win_ansi_byte(ch).unwrap_or_else(|| panic!("{ch}"));
            assert_eq!(char_of_win_ansi(b), Some(ch));
        }
    }
}
