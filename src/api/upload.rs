//! Receiving request bodies that carry files: multipart forms streamed to a temporary file
//! under the data directory (hashed on the way, size-limited), and raw bodies read whole under
//! a limit. Nothing is registered until the caller adopts the file into the store.

use std::collections::HashMap;
use std::path::Path;

use actix_multipart::Multipart;
use actix_web::web;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, ErrorCode};

/// A file received in a multipart form, sitting in a temporary file until adopted.
pub struct ReceivedFile {
    pub file_name: Option<String>,
    pub size: u64,
    pub sha256: String,
    /// Deleted on drop unless persisted.
    pub temp: tempfile::TempPath,
}

impl ReceivedFile {
    pub async fn read(&self) -> Result<Vec<u8>, ApiError> {
        tokio::fs::read(&self.temp)
            .await
            .map_err(|e| ApiError::internal(format!("reading the received file: {e}")))
    }
}

/// The text fields of a form and its one file.
pub struct ReceivedForm {
    pub fields: HashMap<String, String>,
    pub file: Option<ReceivedFile>,
}

impl ReceivedForm {
    /// A required text field, or a 422 naming it.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| missing(name))
    }

    pub fn optional(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn take_file(&mut self, field: &str) -> Result<ReceivedFile, ApiError> {
        self.file.take().ok_or_else(|| missing(field))
    }
}

pub fn missing(field: &str) -> ApiError {
    ApiError::validation(vec![crate::error::FieldError {
        field: field.into(),
        code: "required".into(),
        message: format!("the form needs a `{field}` part"),
    }])
}

const MAX_TEXT_FIELD: usize = 64 * 1024;

/// Streams a multipart form: text fields in memory (64 KiB each at most), the part named
/// `file_field` into a temporary file under `tmp_dir`, refusing it past `max_file_bytes` with
/// `too_large` (a 413 code).
/// A write failure (disk full) is a 507 and leaves nothing behind.
pub async fn receive_form(
    form: Multipart,
    tmp_dir: &Path,
    file_field: &str,
    max_file_bytes: u64,
    too_large: ErrorCode,
) -> Result<ReceivedForm, ApiError> {
    let (fields, mut files) =
        receive_form_files(form, tmp_dir, &[file_field], max_file_bytes, too_large).await?;
    Ok(ReceivedForm {
        fields,
        file: files.remove(file_field),
    })
}

/// The same as [`receive_form`] for a form with several file parts (each at most once).
pub async fn receive_form_files(
    mut form: Multipart,
    tmp_dir: &Path,
    file_fields: &[&str],
    max_file_bytes: u64,
    too_large: ErrorCode,
) -> Result<(HashMap<String, String>, HashMap<String, ReceivedFile>), ApiError> {
    let mut fields = HashMap::new();
    let mut files: HashMap<String, ReceivedFile> = HashMap::new();
    while let Some(part) = form.next().await {
        let mut part =
            part.map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
        let name = part.name().unwrap_or_default().to_owned();
        if file_fields.contains(&name.as_str()) {
            if files.contains_key(&name) {
                return Err(ApiError::bad_request(format!(
                    "only one `{name}` part is accepted"
                )));
            }
            let file_name = part
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .map(str::to_owned);
            let file =
                stream_to_temp(&mut part, tmp_dir, max_file_bytes, too_large, file_name).await?;
            files.insert(name, file);
        } else {
            let mut value = Vec::new();
            while let Some(chunk) = part.next().await {
                let chunk = chunk
                    .map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
                if value.len() + chunk.len() > MAX_TEXT_FIELD {
                    return Err(ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        format!("the form field `{name}` is longer than {MAX_TEXT_FIELD} bytes"),
                    ));
                }
                value.extend_from_slice(&chunk);
            }
            let value = String::from_utf8(value).map_err(|_| {
                ApiError::validation(vec![crate::error::FieldError {
                    field: name.clone(),
                    code: "encoding".into(),
                    message: "form fields must be UTF-8 text".into(),
                }])
            })?;
            fields.insert(name, value);
        }
    }
    Ok((fields, files))
}

async fn stream_to_temp(
    part: &mut actix_multipart::Field,
    tmp_dir: &Path,
    max_bytes: u64,
    too_large: ErrorCode,
    file_name: Option<String>,
) -> Result<ReceivedFile, ApiError> {
    let storage_error = |e: std::io::Error| {
        tracing::error!(error = %e, "cannot write an upload to the data directory");
        ApiError::new(
            ErrorCode::StorageUnavailable,
            "the data directory cannot take the file (disk full or unwritable); nothing was registered",
        )
    };
    tokio::fs::create_dir_all(tmp_dir)
        .await
        .map_err(storage_error)?;
    let temp = tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(tmp_dir)
        .map_err(storage_error)?
        .into_temp_path();
    let mut out = tokio::fs::File::create(&temp)
        .await
        .map_err(storage_error)?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = part.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(ApiError::new(
                too_large,
                format!("the file exceeds the limit of {max_bytes} bytes"),
            )
            .with("limit_bytes", max_bytes));
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(storage_error)?;
    }
    // tokio hands each write to a background task: the last one's error (a full disk) comes
    // out of `flush`, not out of `sync_all`, which would let a truncated file through.
    out.flush().await.map_err(storage_error)?;
    out.sync_all().await.map_err(storage_error)?;
    Ok(ReceivedFile {
        file_name,
        size,
        sha256: hex::encode(hasher.finalize()),
        temp,
    })
}

/// Reads a raw body whole, refusing it past `limit` bytes (413).
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body exceeds the limit of {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The media type of a request, lower-case, without parameters.
pub fn media_type(req: &actix_web::HttpRequest) -> String {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}
