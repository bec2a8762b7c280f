//! The multipart form of `POST /uploads`, received and checked for shape.

use actix_web::{HttpRequest, web};

use super::errors::field_error;
use crate::api::upload::{self, ReceivedFile};
use crate::domain::delivery::TreatmentStatus;
use crate::domain::document_kind::DocumentKindCode;
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Text;
use crate::services::treatments as service;
use crate::state::AppState;

/// The fields of an upload, as the form gave them.
pub struct Fields {
    pub document_type: DocumentKindCode,
    pub academic_year: i32,
    pub composante: String,
    pub label: String,
    pub session: Option<String>,
    pub replace_of: Option<String>,
    pub file_name: String,
}

/// Streams the form to disk under the size limit and reads its fields.
pub async fn receive(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Fields, ReceivedFile), ApiError> {
    if upload::media_type(req) != "multipart/form-data" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            Text::fixed(
                "envoyez le lot en multipart/form-data avec une partie `file`",
                "send the batch as multipart/form-data with a `file` part",
            ),
        ));
    }
    let form = upload::form(req, payload, &state.config.limits);
    let mut form = upload::receive_form(
        form,
        &state.config.data_dir.join("tmp"),
        "file",
        state.config.split.max_bytes,
        ErrorCode::FileTooLarge,
    )
    .await?;
    let kinds = state.config.document_kinds();
    let document_type = service::document_kind(&kinds, form.required("document_type")?)?;
    let academic_year: i32 = form
        .required("academic_year")?
        .trim()
        .parse()
        .ok()
        .filter(|y| (1990..=2100).contains(y))
        .ok_or_else(|| {
            field_error(
                "academic_year",
                "year",
                crate::i18n::Text::fixed(
                    "une année comme 2025 est attendue",
                    "expected a year such as 2025",
                ),
            )
        })?;
    let composante = form.required("composante")?.trim().to_owned();
    let label = form.required("label")?.trim().to_owned();
    if label.chars().count() > 200 {
        return Err(field_error(
            "label",
            "length",
            crate::i18n::Text::fixed("200 caractères au plus", "at most 200 characters"),
        ));
    }
    let session = form.optional("session").map(|s| s.trim().to_owned());
    let replace_of = form
        .optional("replace_of")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let file = form.take_file("file")?;
    let file_name = file
        .file_name
        .clone()
        .unwrap_or_else(|| "batch.pdf".into())
        .chars()
        .take(200)
        .collect::<String>();
    let fields = Fields {
        document_type,
        academic_year,
        composante,
        label,
        session,
        replace_of,
        file_name,
    };
    Ok((fields, file))
}

/// The `status` filter: statuses, comma-separated.
pub fn parse_statuses(s: Option<&str>) -> Result<Vec<TreatmentStatus>, ApiError> {
    let Some(s) = s else { return Ok(Vec::new()) };
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            TreatmentStatus::parse(p).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidParameter,
                    crate::text!(
                        "`{p}` n'est pas un statut de traitement (splitting, split, split_failed, sent, cancelled)",
                        "`{p}` is not a treatment status (splitting, split, split_failed, sent, cancelled)"
                    ),
                )
            })
        })
        .collect()
}
