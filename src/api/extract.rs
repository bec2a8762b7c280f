//! Request extractors shared by every resource: JSON bodies that are parsed with the exact
//! path of a bad field and then validated, and strict query strings.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use serde::de::DeserializeOwned;
use validator::Validate;

use crate::error::{ApiError, ErrorCode, FieldError};
use crate::i18n::{Localized, Text};
use crate::text;

/// A JSON body, deserialized (422 naming the field on a type error, 400 on broken JSON,
/// 415 on another media type, 413 over the limit) and validated (422 listing each field).
pub struct ValidJson<T>(pub T);

impl<T> FromRequest for ValidJson<T>
where
    T: DeserializeOwned + Validate + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    Text::fixed(
                        "cette opération prend un corps application/json",
                        "this operation takes an application/json body",
                    ),
                ));
            }
            let bytes = bytes.await.map_err(|e| {
                if e.as_response_error().status_code()
                    == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
                {
                    ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        Text::fixed(
                            "le corps JSON dépasse la limite configurée",
                            "the JSON body exceeds the configured limit",
                        ),
                    )
                } else {
                    ApiError::bad_request(text!(
                        "le corps de la requête est illisible : {e}",
                        "cannot read the request body: {e}"
                    ))
                }
            })?;
            let value = parse_json::<T>(&bytes)?;
            value.validate()?;
            Ok(ValidJson(value))
        })
    }
}

/// Parses JSON, naming the failing field's path for type and missing-field errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    match result {
        Ok(v) => {
            de.end().map_err(|e| malformed_json(&e))?;
            Ok(v)
        }
        Err(err) => {
            let inner = err.inner();
            if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                return Err(malformed_json(inner));
            }
            let path = err.path().to_string();
            let message = inner.to_string();
            // serde reports a missing field at the parent path; name the field itself.
            let (field, code) = match message.strip_prefix("missing field `") {
                Some(rest) => {
                    let name = rest.split('`').next().unwrap_or_default();
                    let field = if path == "." {
                        name.to_owned()
                    } else {
                        format!("{path}.{name}")
                    };
                    (field, "required")
                }
                None if message.starts_with("unknown field") => (path, "unknown_field"),
                None => (path, "invalid_type"),
            };
            let message = strip_position(&message);
            let message = match code {
                "required" => text!("champ obligatoire absent ({message})", "{message}"),
                "unknown_field" => text!("champ inconnu ({message})", "{message}"),
                _ => text!("valeur du mauvais type ({message})", "{message}"),
            };
            Err(ApiError::validation(vec![FieldError {
                field,
                code: code.into(),
                message: Localized(message),
            }]))
        }
    }
}

/// Broken JSON: the parser's words (with where it stopped) in a sentence of each language.
fn malformed_json(e: &serde_json::Error) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedJson,
        text!("JSON mal formé : {e}", "malformed JSON: {e}"),
    )
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Query strings are parsed with `deny_unknown_fields` structs: an unknown parameter is a 400
/// naming it, a bad value a 400 saying which.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    let message = err.to_string();
    let message = message
        .strip_prefix("Query deserialize error: ")
        .unwrap_or(&message)
        .to_owned();
    let code = if message.starts_with("unknown field") {
        ErrorCode::UnknownParameter
    } else {
        ErrorCode::InvalidParameter
    };
    let text = match code {
        ErrorCode::UnknownParameter => text!(
            "paramètre de requête inconnu ({message})",
            "unknown query parameter ({message})"
        ),
        _ => text!(
            "paramètre de requête invalide : {message}",
            "invalid query parameter: {message}"
        ),
    };
    ApiError::new(code, text).into()
}

pub fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::new(
        ErrorCode::InvalidParameter,
        text!(
            "paramètre de chemin invalide : {err}",
            "invalid path parameter: {err}"
        ),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        code: String,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Body>(br#"{"code": "x", "inner": {"n": "seven"}}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationFailed);
        assert_eq!(e.errors.as_ref().unwrap()[0].field, "inner.n");
        let e = parse_json::<Body>(br#"{"inner": {"n": 1}}"#).unwrap_err();
        assert_eq!(e.errors.as_ref().unwrap()[0].field, "code");
        assert_eq!(e.errors.as_ref().unwrap()[0].code, "required");
        let e = parse_json::<Body>(br#"{"code": "x", "inner": {"n": 1}, "extra": 1}"#).unwrap_err();
        assert_eq!(e.errors.as_ref().unwrap()[0].code, "unknown_field");
        let e = parse_json::<Body>(br#"{"code": "x", "#).unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedJson);
        let e = parse_json::<Body>(br#"{"code": "x", "inner": {"n": 1}} trailing"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedJson);
    }
}
