//! The split job: reads an uploaded batch from the store, splits it with the PDF core,
//! cross-checks each document's name against the registry, and records the documents and the
//! treatment's new status in one transaction (a crash before commit leaves the job to run
//! again; after commit, running it again changes nothing). The status moves first, by
//! compare-and-set, so two workers that both split the batch (a lease taken over) record it
//! once; a unique index on (treatment, student) backs this up. The batch itself is deleted once
//! split: only the per-student documents are kept.

use std::collections::HashMap;
use std::time::Instant;

use actix_web::web;
use diesel::prelude::*;

use super::{HandlerFuture, JobHandler, Outcome};
use crate::db::jobs::JobRow;
use crate::db::schema::students;
use crate::db::treatments::{self, DocumentRow};
use crate::domain::delivery::{TreatmentStatus, flags};
use crate::error::ApiError;
use crate::pdf::{self, DocumentKindCode, PdfError};
use crate::state::AppState;

pub const KIND: &str = "split";

pub struct SplitHandler {
    pub state: web::Data<AppState>,
}

impl JobHandler for SplitHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn max_attempts(&self) -> i32 {
        5
    }

    fn run<'a>(&'a self, job: &'a JobRow) -> HandlerFuture<'a> {
        Box::pin(async move {
            match split_treatment(&self.state, &job.subject_id).await {
                Ok(()) => Outcome::Done,
                Err(e) => Outcome::Retry {
                    error: e.to_string(),
                    after: None,
                },
            }
        })
    }
}

async fn split_treatment(state: &web::Data<AppState>, treatment_id: &str) -> Result<(), ApiError> {
    let id = treatment_id.to_owned();
    let treatment = state
        .db
        .run(move |conn| treatments::find(conn, &id))
        .await?;
    if treatment.status() != TreatmentStatus::Splitting {
        return Ok(());
    }
    // A code stored at upload; a kind since removed from the configuration fails the split
    // (`unknown_document_kind`) rather than being split by another kind's rules.
    let kind = DocumentKindCode::parse(&treatment.document_type).unwrap_or_default();
    let mut config = state
        .config
        .split
        .for_kind(&state.config.document_kinds(), &kind);
    config.academic_year = Some(treatment.academic_year);
    let store = state.store.clone();
    let db = state.db.clone();
    let blob = treatment.file_sha256.clone();
    let tid = treatment.id.clone();
    let started = Instant::now();
    let result = web::block(
        move || -> Result<Result<pdf::SplitOutcome, PdfError>, ApiError> {
            let bytes = store.get(&blob)?;
            let mut last_reported = 0;
            let mut progress = |done: usize, total: usize| {
                // Progress is best effort: a failed update never fails the split.
                if done - last_reported >= 100 || done == total {
                    last_reported = done;
                    if let Ok(mut conn) = db.conn() {
                        let _ =
                            treatments::set_progress(&mut conn, &tid, done as i32, total as i32);
                    }
                }
            };
            Ok(pdf::split(&bytes, &config, &mut progress))
        },
    )
    .await??;
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(rejection) => {
            let id = treatment.id.clone();
            let (code, detail) = (rejection.code(), rejection.text().to_stored());
            state
                .db
                .write(move |conn| treatments::mark_failed(conn, &id, code, &detail))
                .await?;
            // Refused (by this worker or one that took the job over): the batch is not kept.
            delete_batch(state, &treatment.id, &treatment.file_sha256).await?;
            return Ok(());
        }
    };
    state
        .metrics
        .observe_split(outcome.pages, started.elapsed().as_secs_f64());
    // Files first (content-addressed, so a rerun stores the same bytes again harmlessly).
    let store = state.store.clone();
    let documents = web::block(move || -> Result<pdf::SplitOutcome, ApiError> {
        for d in &outcome.documents {
            store.put(&d.pdf)?;
        }
        Ok(outcome)
    })
    .await??;
    let id = treatment.id.clone();
    state
        .db
        .write(move |conn| {
            // Status first, as a compare-and-set: if another worker recorded this split
            // (lease taken over), nothing is inserted twice.
            if !treatments::mark_split(
                conn,
                &id,
                documents.pages as i32,
                &documents.skipped,
                &documents.warnings,
            )? {
                return Ok(());
            }
            let numbers: Vec<&str> = documents
                .documents
                .iter()
                .map(|d| d.student.as_str())
                .collect();
            let known: HashMap<String, (String, String)> = students::table
                .filter(students::cod_etu.eq_any(&numbers))
                .select((students::cod_etu, students::id, students::last_name))
                .load::<(String, String, String)>(conn)?
                .into_iter()
                .map(|(cod, sid, last)| (cod, (sid, last)))
                .collect();
            let now = crate::db::now();
            let rows: Vec<DocumentRow> = documents
                .documents
                .iter()
                .map(|d| {
                    let mut doc_flags: Vec<String> =
                        d.flags.iter().map(|f| f.to_string()).collect();
                    let student_id = match known.get(&d.student) {
                        Some((sid, last_name)) => {
                            // The worst failure is a transcript in the wrong vault: the name on
                            // the page must be the registry's.
                            if !pdf::name_appears(&d.text, last_name) {
                                doc_flags.push(flags::IDENTITY_MISMATCH.into());
                            }
                            Some(sid.clone())
                        }
                        None => {
                            doc_flags.push(flags::UNKNOWN_STUDENT.into());
                            None
                        }
                    };
                    DocumentRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        treatment_id: id.clone(),
                        student_id,
                        cod_etu: d.student.clone(),
                        ine: d.ine.clone(),
                        pages: serde_json::to_string(&d.pages).unwrap_or_default(),
                        flags: serde_json::to_string(&doc_flags).unwrap_or_default(),
                        sha256: d.sha256.clone(),
                        size: d.pdf.len() as i64,
                        identity_confirmed_by: None,
                        identity_confirmed_at: None,
                        delivery_status: None,
                        delivery_reason: None,
                        digiposte_document_id: None,
                        deposit_started_at: None,
                        queued_at: None,
                        deposited_at: None,
                        receipt_at: None,
                        file_deleted_at: None,
                        created_at: now,
                        updated_at: now,
                        earlier_document_id: None,
                        replacement_confirmed_by: None,
                        replacement_confirmed_at: None,
                        released_by: None,
                        released_at: None,
                    }
                })
                .collect();
            treatments::insert_documents(conn, &rows)
        })
        .await?;
    // The whole batch holds every student's pages: it is not kept once split.
    delete_batch(state, &treatment.id, &treatment.file_sha256).await
}

/// Deletes a split (or refused) batch file, unless another upload of the same bytes still
/// waits for its own split: deleting it then would leave that one nothing to split.
async fn delete_batch(
    state: &web::Data<AppState>,
    treatment_id: &str,
    file_sha256: &str,
) -> Result<(), ApiError> {
    let (id, sha) = (treatment_id.to_owned(), file_sha256.to_owned());
    let needed = state
        .db
        .run(move |conn| treatments::batch_file_still_needed(conn, &sha, &id))
        .await?;
    if !needed {
        crate::storage::delete_off_thread(&state.store, vec![file_sha256.to_owned()]).await?;
    }
    Ok(())
}
