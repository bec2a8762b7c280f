//! From an uploaded extraction (CSV or JSON) to validated enrolment records, rejections and
//! the objections collected at enrolment. A file that is not such an extraction at all is one
//! `invalid_enrolment_file` problem; a bad row is one rejection, never more.

use std::collections::HashSet;

use serde::Deserialize;
use utoipa::ToSchema;

use super::enrolments;
use crate::domain::enrolment::{EnrolmentRecord, EnrolmentState, Regime, Rejection};
use crate::error::{ApiError, ErrorCode};

/// One enrolment row in a JSON import (the same data as the Apogée CSV, English names). This
/// type documents the JSON body in the OpenAPI description; `apogee::enrolments` parses it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentInput {
    /// COD_ETU.
    pub cod_etu: String,
    /// COD_NNE_IND (+ key): the 11-character INE.
    pub ine: Option<String>,
    /// LIB_NOM_PAT_IND.
    pub last_name: String,
    /// LIB_PR1_IND.
    pub first_name: String,
    /// DATE_NAI_IND, `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// COD_CMP.
    pub composante: String,
    /// COD_ETP.
    pub etape: String,
    /// COD_VRS_VET.
    pub etape_version: Option<String>,
    /// COD_ANU: 2025 means 2025-2026.
    pub academic_year: i32,
    /// ETA_IAE: E, A or R.
    pub enrolment_state: String,
    /// ADR_MAIL_PERSO.
    pub email: Option<String>,
    /// The student refused the vault's pre-creation at enrolment (recorded as an `objected`
    /// consent event with source `import`).
    #[serde(default)]
    pub vault_objection: bool,
    /// The régime: `initial_training` (FI), `apprenticeship` (FA) or `continuing_education`
    /// (FC); absent or null: unknown (an existing enrolment keeps the régime it had).
    pub regime: Option<Regime>,
    /// Whether the student holds a scholarship; absent or null: unknown.
    pub boursier: Option<bool>,
}

/// An extraction, read.
#[derive(Debug, Default)]
pub struct ParsedEnrolments {
    /// Data rows read (header excluded).
    pub rows: usize,
    pub records: Vec<EnrolmentRecord>,
    pub rejections: Vec<Rejection>,
    /// Student numbers whose row carries an objection to the vault's pre-creation.
    pub objections: HashSet<String>,
}

pub fn parse_csv(bytes: &[u8]) -> Result<ParsedEnrolments, ApiError> {
    enrolments::parse_enrolments_csv(bytes)
        .map(from_file)
        .map_err(|e| ApiError::new(ErrorCode::InvalidEnrolmentFile, e.text()))
}

pub fn parse_json(bytes: &[u8]) -> Result<ParsedEnrolments, ApiError> {
    enrolments::parse_enrolments_json(bytes)
        .map(from_file)
        .map_err(|e| ApiError::new(ErrorCode::InvalidEnrolmentFile, e.text()))
}

/// Accepted rows become records, except every row of a contradiction inside the file (one
/// student number with two identities, one INE under two numbers): those are rejected.
fn from_file(file: enrolments::EnrolmentFile) -> ParsedEnrolments {
    let conflicts = enrolments::find_conflicts(&file.rows);
    let conflicting: HashSet<usize> = conflicts.iter().map(|r| r.line).collect();
    let mut parsed = ParsedEnrolments {
        rows: file.rows.len(),
        ..ParsedEnrolments::default()
    };
    for row in file.rows {
        match row {
            Ok(row) if !conflicting.contains(&row.line) => {
                if row.vault_objection {
                    parsed.objections.insert(row.cod_etu.clone());
                }
                parsed.records.push(EnrolmentRecord {
                    line: row.line,
                    cod_etu: row.cod_etu,
                    ine: row.ine,
                    last_name: row.last_name,
                    first_name: row.first_name,
                    birth_date: row.birth_date,
                    email: row.email,
                    composante: row.composante,
                    etape: row.etape,
                    academic_year: row.academic_year,
                    regime: row.regime,
                    boursier: row.boursier,
                    state: match row.state {
                        enrolments::EnrolmentState::E => EnrolmentState::E,
                        enrolments::EnrolmentState::A => EnrolmentState::A,
                        enrolments::EnrolmentState::R => EnrolmentState::R,
                    },
                });
            }
            Ok(_) => {}
            Err(r) => parsed.rejections.push(rejection(r)),
        }
    }
    parsed
        .rejections
        .extend(conflicts.into_iter().map(rejection));
    parsed.rejections.sort_by_key(|r| r.line);
    parsed
}

fn rejection(r: enrolments::RowRejection) -> Rejection {
    Rejection::new(r.line, r.code, r.reason)
}
