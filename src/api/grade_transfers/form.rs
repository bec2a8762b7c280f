//! The multipart form of `POST /grade-transfers`, received and checked for shape.

use actix_web::{HttpRequest, web};

use super::field_error;
use crate::api::upload;
use crate::apogee::fill::FillOptions;
use crate::error::{ApiError, ErrorCode};
use crate::services::grade_transfers::{Grades, NewTransfer};
use crate::state::AppState;

/// Receives the form (files streamed to disk under the size limit) and checks its fields.
pub async fn receive(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<NewTransfer, ApiError> {
    if upload::media_type(req) != "multipart/form-data" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            crate::i18n::Text::fixed(
                "envoyez un formulaire multipart/form-data avec une partie `maquette` et une partie `source` (ou `scodoc_department`)",
                "send multipart/form-data with a `maquette` part and a `source` part (or `scodoc_department`)",
            ),
        ));
    }
    let form = upload::form(req, payload, &state.config.limits);
    let (fields, mut files) = upload::receive_form_files(
        form,
        &state.config.data_dir.join("tmp"),
        &["maquette", "source"],
        state.config.grades.max_bytes,
        ErrorCode::FileTooLarge,
    )
    .await?;
    let text = |name: &str| {
        fields
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let composante = text("composante").ok_or_else(|| upload::missing("composante"))?;
    let maquette_file = files
        .remove("maquette")
        .ok_or_else(|| upload::missing("maquette"))?;
    let source_file = files.remove("source");
    let department = text("scodoc_department");
    let (accept_truncated_last_row, semester) = options(&text)?;
    let grades = grades(source_file, department, semester).await?;
    Ok(NewTransfer {
        composante,
        maquette: maquette_file.read().await?,
        maquette_name: maquette_file.file_name.clone(),
        grades,
        options: FillOptions {
            accept_truncated_last_row,
            ..state.config.grades.fill.clone()
        },
    })
}

/// `accept_truncated_last_row` (true or false) and `scodoc_semester` (a number), when sent.
fn options(text: &dyn Fn(&str) -> Option<String>) -> Result<(bool, Option<i64>), ApiError> {
    let accept_truncated_last_row = match text("accept_truncated_last_row").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(field_error(
                "accept_truncated_last_row",
                "boolean",
                crate::i18n::Text::fixed("true ou false", "true or false"),
            ));
        }
    };
    let semester = text("scodoc_semester")
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                field_error(
                    "scodoc_semester",
                    "number",
                    crate::i18n::Text::fixed(
                        "un formsemestre_id de ScoDoc",
                        "a ScoDoc formsemestre_id",
                    ),
                )
            })
        })
        .transpose()?;
    Ok((accept_truncated_last_row, semester))
}

/// The grades: the `source` file or the `scodoc_department` to pull from (one of them).
async fn grades(
    source_file: Option<upload::ReceivedFile>,
    department: Option<String>,
    semester: Option<i64>,
) -> Result<Grades, ApiError> {
    Ok(match (source_file, department) {
        (Some(_), Some(_)) => {
            return Err(field_error(
                "source",
                "exclusive",
                crate::i18n::Text::fixed(
                    "envoyez soit un fichier `source`, soit un `scodoc_department`, pas les deux",
                    "send either a `source` file or a `scodoc_department`, not both",
                ),
            ));
        }
        (None, None) => {
            return Err(field_error(
                "source",
                "required",
                crate::i18n::Text::fixed(
                    "envoyez un fichier `source` ou un `scodoc_department` d'où tirer les notes",
                    "send a `source` file or a `scodoc_department` to pull from",
                ),
            ));
        }
        (Some(f), None) => Grades::File {
            bytes: f.read().await?,
            name: f.file_name.clone(),
        },
        (None, Some(department)) => Grades::ScoDoc {
            department,
            semester,
        },
    })
}
