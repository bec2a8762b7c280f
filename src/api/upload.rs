//! Receiving request bodies that carry files: multipart forms streamed to a temporary file
//! under the data directory (hashed on the way, size-limited), and raw bodies read whole under
//! a limit. Nothing is registered until the caller adopts the file into the store.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_multipart::Multipart;
use actix_web::error::PayloadError;
use actix_web::web;
use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::domain::filetype;
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Text;
use crate::text;

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
        message: crate::i18n::Localized(text!(
            "le formulaire doit avoir une partie `{field}`",
            "the form needs a `{field}` part"
        )),
    }])
}

/// A multipart form on its way in, with the bounds it is read under.
pub struct Form {
    multipart: Multipart,
    meter: Rc<FormMeter>,
    max_parts: usize,
    max_field_bytes: usize,
}

/// What a form's body has brought so far, shared between the counting stream under the
/// multipart parser and the reader of its parts.
struct FormMeter {
    /// Bytes of the body received.
    received: Cell<u64>,
    /// Bytes that were file content (bounded by the operation's file limit).
    file_bytes: Cell<u64>,
    /// Everything else together (text fields, part headers, boundaries, preamble) at most.
    max_overhead: u64,
    exceeded: Cell<bool>,
}

impl FormMeter {
    fn overhead(&self) -> u64 {
        self.received.get().saturating_sub(self.file_bytes.get())
    }
}

/// The body under a multipart parser: counts what arrives and stops it once more than the
/// allowed overhead is not file content, so neither endless fields nor a header without end
/// (the parser buffers a part's headers whole) can fill the memory.
struct MeteredBody {
    inner: web::Payload,
    meter: Rc<FormMeter>,
}

impl Stream for MeteredBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // The parser asks for more only once it has handed out the file content it holds, so
        // what was received and is not file content is the overhead (give or take a boundary).
        let meter = &self.meter;
        if meter.exceeded.get() || meter.overhead() > meter.max_overhead {
            meter.exceeded.set(true);
            return Poll::Ready(Some(Err(PayloadError::Overflow)));
        }
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            let meter = &self.meter;
            meter
                .received
                .set(meter.received.get() + chunk.len() as u64);
        }
        polled
    }
}

/// Opens a request's multipart body under the configured bounds (`limits`): number of parts,
/// size of each text field, and what the body may carry besides its file.
pub fn form(
    req: &actix_web::HttpRequest,
    payload: web::Payload,
    limits: &crate::config::LimitsConfig,
) -> Form {
    let meter = Rc::new(FormMeter {
        received: Cell::new(0),
        file_bytes: Cell::new(0),
        max_overhead: limits.form_overhead_max_bytes,
        exceeded: Cell::new(false),
    });
    let body = MeteredBody {
        inner: payload,
        meter: meter.clone(),
    };
    Form {
        multipart: Multipart::new(req.headers(), body),
        meter,
        max_parts: limits.form_max_parts,
        max_field_bytes: limits.form_field_max_bytes,
    }
}

fn too_large(detail: Text) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, detail)
}

impl Form {
    /// A part that could not be read: past the form's bounds (413), or malformed (400).
    fn part_error(&self, e: impl std::fmt::Display) -> ApiError {
        if self.meter.exceeded.get() {
            let limit = self.meter.max_overhead;
            too_large(text!(
                "le formulaire porte plus de {limit} octets en plus de son fichier",
                "the form carries more than {limit} bytes besides its file"
            ))
            .with("limit_bytes", self.meter.max_overhead)
        } else {
            ApiError::bad_request(text!(
                "corps multipart mal formé : {e}",
                "malformed multipart body: {e}"
            ))
        }
    }
}

/// Streams a multipart form: text fields in memory (bounded by `limits.form_*`), the part named
/// `file_field` into a temporary file under `tmp_dir`, refusing it past `max_file_bytes` with
/// `too_large` (a 413 code).
/// A write failure (disk full) is a 507 and leaves nothing behind.
pub async fn receive_form(
    form: Form,
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
    mut form: Form,
    tmp_dir: &Path,
    file_fields: &[&str],
    max_file_bytes: u64,
    file_too_large: ErrorCode,
) -> Result<(HashMap<String, String>, HashMap<String, ReceivedFile>), ApiError> {
    let mut fields = HashMap::new();
    let mut files: HashMap<String, ReceivedFile> = HashMap::new();
    let mut parts = 0usize;
    while let Some(part) = form.multipart.next().await {
        let mut part = part.map_err(|e| form.part_error(e))?;
        parts += 1;
        if parts > form.max_parts {
            return Err(too_large({
                let max = form.max_parts;
                text!(
                    "le formulaire a plus de {max} parties",
                    "the form has more than {max} parts"
                )
            })
            .with("limit_parts", form.max_parts));
        }
        let name = part.name().unwrap_or_default().to_owned();
        if file_fields.contains(&name.as_str()) {
            if files.contains_key(&name) {
                return Err(ApiError::bad_request(text!(
                    "une seule partie `{name}` est acceptée",
                    "only one `{name}` part is accepted"
                )));
            }
            let file_name = part
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .map(str::to_owned);
            let file = stream_to_temp(
                &mut part,
                &form,
                tmp_dir,
                max_file_bytes,
                file_too_large,
                file_name,
            )
            .await?;
            files.insert(name, file);
        } else {
            let mut value = Vec::new();
            while let Some(chunk) = part.next().await {
                let chunk = chunk.map_err(|e| form.part_error(e))?;
                if value.len() + chunk.len() > form.max_field_bytes {
                    let max = form.max_field_bytes;
                    return Err(too_large(text!(
                        "le champ `{name}` du formulaire dépasse {max} octets",
                        "the form field `{name}` is longer than {max} bytes"
                    ))
                    .with("limit_bytes", form.max_field_bytes));
                }
                value.extend_from_slice(&chunk);
            }
            let value = String::from_utf8(value).map_err(|_| {
                ApiError::validation(vec![crate::error::FieldError {
                    field: name.clone(),
                    code: "encoding".into(),
                    message: crate::i18n::Localized(crate::i18n::Text::fixed(
                        "les champs du formulaire doivent être du texte UTF-8",
                        "form fields must be UTF-8 text",
                    )),
                }])
            })?;
            fields.insert(name, value);
        }
    }
    Ok((fields, files))
}

async fn stream_to_temp(
    part: &mut actix_multipart::Field,
    form: &Form,
    tmp_dir: &Path,
    max_bytes: u64,
    too_large: ErrorCode,
    file_name: Option<String>,
) -> Result<ReceivedFile, ApiError> {
    let storage_error = |e: std::io::Error| {
        tracing::error!(error = %e, "cannot write an upload to the data directory");
        ApiError::new(
            ErrorCode::StorageUnavailable,
            crate::i18n::Text::fixed(
                "le répertoire de données ne peut pas recevoir le fichier (disque plein ou protégé) ; rien n'a été enregistré",
                "the data directory cannot take the file (disk full or unwritable); nothing was registered",
            ),
        )
    };
    crate::storage::private_dir(tmp_dir).map_err(storage_error)?;
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
        let chunk = chunk.map_err(|e| form.part_error(e))?;
        size += chunk.len() as u64;
        let meter = &form.meter;
        meter
            .file_bytes
            .set(meter.file_bytes.get() + chunk.len() as u64);
        if size > max_bytes {
            return Err(ApiError::new(
                too_large,
                crate::text!(
                    "le fichier dépasse la limite de {max_bytes} octets",
                    "the file exceeds the limit of {max_bytes} bytes"
                ),
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
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(text!(
                "le corps de la requête est illisible : {e}",
                "cannot read the request body: {e}"
            ))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                text!(
                    "le corps dépasse la limite de {limit} octets",
                    "the body exceeds the limit of {limit} bytes"
                ),
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

/// A `Content-Disposition` value (RFC 6266): a plain ASCII `filename` for old clients, and the
/// exact name as `filename*` (RFC 8187, UTF-8, percent-encoded). Control and invisible
/// formatting characters are dropped from both.
pub fn content_disposition(disposition: &str, file_name: &str) -> String {
    let visible: String = file_name
        .chars()
        .filter(|c| !c.is_control() && !crate::domain::text::is_invisible_format(*c))
        .collect();
    let ascii: String = visible
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii() => c,
            _ => '_',
        })
        .collect();
    let ascii = if ascii.trim().is_empty() {
        "document".to_owned()
    } else {
        ascii
    };
    let mut encoded = String::new();
    for byte in visible.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Detects a received file's type on its first bytes and checks it against `allowed`;
/// returns the detected media type.
pub(crate) async fn check_type(
    file: &ReceivedFile,
    allowed: &[String],
) -> Result<String, ApiError> {
    if file.size == 0 {
        return Err(ApiError::new(
            ErrorCode::EmptyFile,
            crate::i18n::Text::fixed("le fichier est vide", "the file is empty"),
        ));
    }
    let mut head = Vec::with_capacity(filetype::HEAD_BYTES);
    tokio::fs::File::open(&file.temp)
        .await
        .map_err(|e| ApiError::internal(format!("reading the received file: {e}")))?
        .take(filetype::HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .await
        .map_err(|e| ApiError::internal(format!("reading the received file: {e}")))?;
    let sniffed = filetype::sniff(&head);
    if !filetype::allowed(&sniffed, allowed) {
        let (why_fr, why_en) = if sniffed.executable {
            (
                "les exécutables et les scripts ne sont jamais acceptés".to_owned(),
                "executables and scripts are never accepted".to_owned(),
            )
        } else {
            let allowed = allowed.join(", ");
            (
                format!("types acceptés : {allowed}"),
                format!("accepted types: {allowed}"),
            )
        };
        let detected = &sniffed.media_type;
        return Err(ApiError::new(
            ErrorCode::ForbiddenFileType,
            crate::text!(
                "le contenu du fichier est `{detected}` (reconnu sur le contenu, pas sur le nom) ; {why_fr}",
                "the file's content is `{detected}` (detected on the content, not the name); {why_en}"
            ),
        )
        .with("detected_type", &sniffed.media_type));
    }
    Ok(sniffed.media_type)
}

/// A file name safe to echo in a Content-Disposition header.
pub(crate) fn safe_file_name(name: Option<&str>, fallback: &str) -> String {
    let cleaned: String = name
        .unwrap_or(fallback)
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(fallback)
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && !crate::domain::text::is_invisible_format(*c))
        .take(200)
        .collect();
    if cleaned.trim().is_empty() {
        fallback.to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn content_disposition_has_an_ascii_fallback_and_the_exact_name() {
        assert_eq!(
            content_disposition("attachment", "relevé de notes.pdf"),
            "attachment; filename=\"relev_ de notes.pdf\"; filename*=UTF-8''relev%C3%A9%20de%20notes.pdf"
        );
        assert_eq!(
            content_disposition("attachment", "facture\u{202E}fdp.exe"),
            "attachment; filename=\"facturefdp.exe\"; filename*=UTF-8''facturefdp.exe"
        );
        assert_eq!(
            content_disposition("inline", "\"\u{200B}"),
            "inline; filename=\"_\"; filename*=UTF-8''%22"
        );
    }
}
