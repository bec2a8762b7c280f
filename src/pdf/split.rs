//! Grouping pages per student and writing each student's standalone PDF.
//!
//! Rules: leading pages without a number are cover pages (skipped, reported); in a relevé a
//! page without a number continues the previous student's document (flagged `continuation`);
//! in an attestation it is an error; a student found in two separate runs of pages is merged
//! in page order (flagged `merged`). Each output copies only the objects its pages reach, so
//! nothing of another student's pages can travel with it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};
use sha2::{Digest, Sha256};

use super::identify::{fold_for_match, identify_page};
use super::text::{TextReader, page_has_images};
use super::validate::load;
use super::{PageLayout, PdfError, SplitConfig, SplitDocument, SplitOutcome, flag};

struct Group {
    student: String,
    ine: Option<String>,
    /// (1-based page number, page object id)
    pages: Vec<(u32, ObjectId)>,
    flags: Vec<&'static str>,
    first_text: String,
}

/// Validates, reads every page, groups pages per student and writes each student's PDF.
/// `progress(done, total)` is called after each page is read.
pub fn split(
    bytes: &[u8],
    cfg: &SplitConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SplitOutcome, PdfError> {
    let (doc, _) = load(bytes, cfg)?;
    let kind = cfg.declared_kind()?;
    let one_page_each = kind.pages == PageLayout::OnePerStudent;
    let labels: Vec<String> = cfg
        .student_labels
        .iter()
        .map(|l| fold_for_match(l))
        .collect();
    let pages = doc.get_pages();
    let total = pages.len();
    let threads = cfg.thread_count();
    let page_ids: Vec<ObjectId> = pages.values().copied().collect();
    let mut texts = read_pages(&doc, &page_ids, cfg, threads, progress).into_iter();

    let mut groups: Vec<Group> = Vec::new();
    let mut by_student: HashMap<String, usize> = HashMap::new();
    let mut current: Option<usize> = None;
    let mut skipped = Vec::new();
    let mut warnings = Vec::new();
    let mut any_text = false;
    for (&number, &page_id) in &pages {
        let text = texts.next().expect("one text per page")?;
        any_text |= !text.is_empty();
        let found = identify_page(&text, &labels, cfg.read_ine);
        match found.student {
            Some(student) => {
                let index = match by_student.get(&student) {
                    Some(&i) => {
                        if current != Some(i) {
                            push_flag(&mut groups[i].flags, flag::MERGED);
                            warnings.push(crate::text!(
                                "page {number} : un étudiant dont les pages commençaient plus tôt \
                                 réapparaît ; les pages ont été réunies dans l'ordre des pages",
                                "page {number}: a student whose pages began earlier appears again; \
                                 the pages were merged in page order"
                            ));
                        }
                        i
                    }
                    None => {
                        groups.push(Group {
                            student: student.clone(),
                            ine: None,
                            pages: Vec::new(),
                            flags: Vec::new(),
                            first_text: text.clone(),
                        });
                        by_student.insert(student, groups.len() - 1);
                        groups.len() - 1
                    }
                };
                let group = &mut groups[index];
                group.pages.push((number, page_id));
                if group.ine.is_none() {
                    group.ine = found.ine;
                }
                if found.ambiguous {
                    push_flag(&mut group.flags, flag::AMBIGUOUS_STUDENT);
                    warnings.push(crate::text!(
                        "la page {number} porte deux numéros d'étudiant différents",
                        "page {number} names two different student numbers"
                    ));
                }
                current = Some(index);
            }
            None => match current {
                None => skipped.push(number),
                Some(_) if one_page_each => {
                    return Err(PdfError::AttestationContinuation { page: number });
                }
                Some(i) => {
                    groups[i].pages.push((number, page_id));
                    push_flag(&mut groups[i].flags, flag::CONTINUATION);
                }
            },
        }
    }
    if groups.is_empty() {
        let scanned = !any_text && pages.values().any(|id| page_has_images(&doc, *id));
        return Err(if scanned {
            PdfError::ScannedPdf
        } else {
            PdfError::NoStudentFound
        });
    }
    let kind_label = kind.label_fr.as_str();
    let build = |mut group: Group| -> Result<SplitDocument, PdfError> {
        group.pages.sort_by_key(|(n, _)| *n);
        let title = cfg
            .title_template
            .replace("{student}", &group.student)
            .replace("{kind}", kind_label);
        let ids: Vec<ObjectId> = group.pages.iter().map(|(_, id)| *id).collect();
        let pdf = extract_pages(&doc, &ids, &title)?;
        let sha256 = hex::encode(Sha256::digest(&pdf));
        Ok(SplitDocument {
            student: group.student,
            ine: group.ine,
            pages: group.pages.iter().map(|(n, _)| *n).collect(),
            flags: group.flags,
            pdf,
            sha256,
            text: group.first_text,
        })
    };
    let documents = in_parallel(groups, threads, build)
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SplitOutcome {
        pages: total,
        skipped,
        documents,
        warnings,
    })
}

/// Below this many pages (or documents) a thread more costs more than it saves.
const MIN_ITEMS_PER_THREAD: usize = 32;

/// Every page's folded text, in page order, read by up to `threads` workers over runs of
/// consecutive pages (each worker decodes the fonts once). Errors stay in place, so the
/// caller meets them in page order as a one-thread read would. `progress(done, total)` is
/// called on this thread after each page.
fn read_pages(
    doc: &Document,
    page_ids: &[ObjectId],
    cfg: &SplitConfig,
    threads: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Vec<Result<String, PdfError>> {
    let total = page_ids.len();
    let budget = AtomicUsize::new(cfg.max_total_inflated_bytes);
    let read_run = |run: &[ObjectId], tick: &dyn Fn()| -> Vec<Result<String, PdfError>> {
        let mut reader = TextReader::new(doc, cfg.max_stream_bytes, &budget);
        run.iter()
            .map(|&id| {
                let text = reader.page_text(id).map(|t| fold_for_match(&t));
                tick();
                text
            })
            .collect()
    };
    let workers = threads.min(total.div_ceil(MIN_ITEMS_PER_THREAD)).max(1);
    if workers == 1 {
        let done = std::cell::Cell::new(0);
        let mut texts = Vec::with_capacity(total);
        for &id in page_ids {
            texts.extend(read_run(&[id], &|| done.set(done.get() + 1)));
            progress(done.get(), total);
        }
        return texts;
    }
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<()>();
        let handles: Vec<_> = page_ids
            .chunks(total.div_ceil(workers))
            .map(|run| {
                let tx = tx.clone();
                let read_run = &read_run;
                scope.spawn(move || {
                    read_run(run, &|| {
                        let _ = tx.send(());
                    })
                })
            })
            .collect();
        drop(tx);
        for (done, ()) in rx.iter().enumerate() {
            progress(done + 1, total);
        }
        handles.into_iter().flat_map(join).collect()
    })
}

/// `work` applied to every item by up to `threads` workers over runs of consecutive items;
/// the answers come back in the items' order.
pub(super) fn in_parallel<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let workers = threads
        .min(items.len().div_ceil(MIN_ITEMS_PER_THREAD))
        .max(1);
    if workers == 1 {
        return items.into_iter().map(work).collect();
    }
    let per_worker = items.len().div_ceil(workers);
    let mut runs: Vec<Vec<T>> = Vec::with_capacity(workers);
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        runs.push(items.by_ref().take(per_worker).collect());
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| scope.spawn(move || run.into_iter().map(work).collect::<Vec<R>>()))
            .collect();
        handles.into_iter().flat_map(join).collect()
    })
}

/// A worker's answers; a worker's panic goes on in the caller, as it would on one thread.
fn join<R>(handle: std::thread::ScopedJoinHandle<'_, R>) -> R {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn push_flag(flags: &mut Vec<&'static str>, f: &'static str) {
    if !flags.contains(&f) {
        flags.push(f);
    }
}

/// Attributes a page inherits from its ancestors in the page tree.
const INHERITED: [&[u8]; 4] = [b"Resources", b"MediaBox", b"CropBox", b"Rotate"];

/// Object trees deeper than this are refused (lopdf's parser bounds them too).
const MAX_DEPTH: usize = 256;

/// A new document holding only `pages` (in this order) and what they reference.
pub(super) fn extract_pages(
    doc: &Document,
    pages: &[ObjectId],
    title: &str,
) -> Result<Vec<u8>, PdfError> {
    let mut out = Document::with_version(doc.version.clone());
    let pages_id = out.new_object_id();
    let mut copier = Copier {
        src: doc,
        out: &mut out,
        map: HashMap::new(),
        pending: VecDeque::new(),
        keep_pages: pages,
    };
    let mut kids = Vec::with_capacity(pages.len());
    for &page_id in pages {
        let mut page = doc
            .get_dictionary(page_id)
            .map_err(|e| {
                PdfError::CorruptPdf(crate::text!("objet de page : {e}", "page object: {e}"))
            })?
            .clone();
        for key in INHERITED {
            if !page.has(key)
                && let Some(value) = inherited(doc, &page, key)
            {
                page.set(key, value);
            }
        }
        page.remove(b"Parent");
        // The new page id is reserved first, so references back to it resolve to it.
        let new_id = copier.id_for(page_id);
        let copied = copier.copy_value(&Object::Dictionary(page), 0)?;
        let Object::Dictionary(mut copied) = copied else {
            unreachable!()
        };
        copied.set("Parent", Object::Reference(pages_id));
        copier
            .out
            .objects
            .insert(new_id, Object::Dictionary(copied));
        kids.push(Object::Reference(new_id));
    }
    copier.drain()?;
    let count = kids.len() as i64;
    out.objects.insert(
        pages_id,
        Object::Dictionary(Dictionary::from_iter(vec![
            ("Type", Object::Name(b"Pages".to_vec())),
            ("Kids", Object::Array(kids)),
            ("Count", Object::Integer(count)),
        ])),
    );
    let catalog_id = out.add_object(Dictionary::from_iter(vec![
        ("Type", Object::Name(b"Catalog".to_vec())),
        ("Pages", Object::Reference(pages_id)),
    ]));
    let mut info = Dictionary::new();
    info.set("Title", Object::string_literal(utf16_text(title)));
    for key in [b"Producer".as_slice(), b"Creator", b"CreationDate"] {
        if let Some(v) = super::validate::info_string(doc, key) {
            info.set(key, Object::string_literal(utf16_text(&v)));
        }
    }
    let info_id = out.add_object(info);
    out.trailer.set("Root", Object::Reference(catalog_id));
    out.trailer.set("Info", Object::Reference(info_id));
    out.max_id = out.objects.keys().map(|(id, _)| *id).max().unwrap_or(0);
    let mut bytes = Vec::new();
    out.save_to(&mut bytes).map_err(|e| {
        PdfError::CorruptPdf(crate::text!(
            "écriture d'un document découpé : {e}",
            "writing a split document: {e}"
        ))
    })?;
    Ok(bytes)
}

/// PDF text string: UTF-16BE with BOM (so accents survive in any reader).
fn utf16_text(s: &str) -> Vec<u8> {
    let mut v = vec![0xfe, 0xff];
    for unit in s.encode_utf16() {
        v.extend_from_slice(&unit.to_be_bytes());
    }
    v
}

fn inherited(doc: &Document, page: &Dictionary, key: &[u8]) -> Option<Object> {
    let mut node = page;
    for _ in 0..64 {
        let parent = node.get(b"Parent").ok()?.as_reference().ok()?;
        node = doc.get_dictionary(parent).ok()?;
        if let Ok(v) = node.get(key) {
            return Some(v.clone());
        }
    }
    None
}

/// Copies the objects reachable from the kept pages into the new document, renumbering them.
/// References to pages that are not kept (links, annotation parents) become null, and the
/// page tree above is never followed.
///
/// Numbering is deterministic (issue: the same batch must always split into the same bytes, so a
/// document's sha256 identifies it across uploads): new ids are handed out in the order objects
/// are first reached — pages in page order, each object's references in dictionary order, then
/// breadth-first — and `pending` keeps that order. The hash map is only a look-up, never iterated.
struct Copier<'s, 'o> {
    src: &'s Document,
    out: &'o mut Document,
    map: HashMap<ObjectId, ObjectId>,
    /// Objects numbered but not copied yet, in numbering order.
    pending: VecDeque<(ObjectId, ObjectId)>,
    keep_pages: &'s [ObjectId],
}

impl Copier<'_, '_> {
    fn id_for(&mut self, old: ObjectId) -> ObjectId {
        if let Some(id) = self.map.get(&old) {
            return *id;
        }
        let id = self.out.new_object_id();
        self.map.insert(old, id);
        self.pending.push_back((old, id));
        id
    }

    fn is_foreign_page(&self, id: ObjectId) -> bool {
        if self.keep_pages.contains(&id) {
            return false;
        }
        match self.src.get_dictionary(id) {
            Ok(d) => matches!(
                d.get(b"Type").and_then(Object::as_name),
                Ok(b"Page") | Ok(b"Pages")
            ),
            Err(_) => false,
        }
    }

    fn copy_value(&mut self, value: &Object, depth: usize) -> Result<Object, PdfError> {
        if depth > MAX_DEPTH {
            return Err(PdfError::TooComplexPdf(crate::i18n::Text::fixed(
                "les objets s'imbriquent trop profondément",
                "objects nest too deeply",
            )));
        }
        Ok(match value {
            Object::Reference(id) => {
                if self.is_foreign_page(*id) || self.src.get_object(*id).is_err() {
                    Object::Null
                } else {
                    Object::Reference(self.id_for(*id))
                }
            }
            Object::Array(items) => Object::Array(
                items
                    .iter()
                    .map(|i| self.copy_value(i, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            Object::Dictionary(d) => Object::Dictionary(self.copy_dict(d, depth)?),
            Object::Stream(s) => {
                let dict = self.copy_dict(&s.dict, depth)?;
                // Content bytes are copied as they are (still compressed): lossless and fast.
                let mut stream = Stream::new(dict, s.content.clone());
                stream.allows_compression = false;
                Object::Stream(stream)
            }
            other => other.clone(),
        })
    }

    fn copy_dict(&mut self, d: &Dictionary, depth: usize) -> Result<Dictionary, PdfError> {
        let mut out = Dictionary::new();
        for (k, v) in d.iter() {
            // The page tree above a page is rebuilt, never copied.
            if k.as_slice() == b"Parent"
                && matches!(v, Object::Reference(id) if self.is_foreign_page(*id))
            {
                continue;
            }
            out.set(k.clone(), self.copy_value(v, depth + 1)?);
        }
        Ok(out)
    }

    /// Copies every object referenced so far (and what they reference), breadth-first in
    /// numbering order: an explicit work list, so reference chains and loops cost no stack.
    /// Kept pages are already written by `extract_pages` and are not copied again.
    fn drain(&mut self) -> Result<(), PdfError> {
        let src = self.src;
        while let Some((old, new)) = self.pending.pop_front() {
            if self.out.objects.contains_key(&new) {
                continue;
            }
            let object = src.get_object(old).map_err(|e| {
                PdfError::CorruptPdf(crate::text!("objet {old:?} : {e}", "object {old:?}: {e}"))
            })?;
            let copied = self.copy_value(object, 0)?;
            self.out.objects.insert(new, copied);
        }
        Ok(())
    }
}
