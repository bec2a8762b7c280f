//! The problem responses of the OpenAPI description, generated from the error table
//! (`crate::error::ErrorCode`): each operation documents every status it can answer, with the
//! problem+json schema and one named example per possible `code`.
//!
//! An operation's codes are the codes of its kinds (`OperationKind`: authenticated, with query
//! or path parameters, with a JSON or streamed body — read off the operation itself) plus its
//! own, declared once below under its operationId. A new endpoint adds one row to
//! [`OPERATION_CODES`] when it answers codes beyond its kinds'; nothing is written per status.

use std::collections::{BTreeMap, BTreeSet};

use utoipa::openapi::{self, RefOr};

use crate::error::{ErrorCode, OperationKind, PROBLEM_JSON};

/// The codes an operation answers beyond those of its kinds, by operationId.
pub const OPERATION_CODES: &[(&str, &[ErrorCode])] = {
    use ErrorCode::*;
    &[
        ("getHealthReady", &[StorageUnavailable]),
        ("createComposante", &[AlreadyExists]),
        ("listConsents", &[NotFound]),
        ("createConsent", &[NotFound, InvalidTransition]),
        ("listMyConsents", &[NotFound]),
        ("createMyConsent", &[NotFound, InvalidTransition]),
        ("getMyPersonalData", &[NotFound]),
        ("getMyVault", &[NotFound]),
        ("eraseStudent", &[InvalidTransition]),
        ("importStudents", &[InvalidEnrolmentFile, MalformedJson]),
        ("syncDigiposte", &[DigiposteNotConfigured, AlreadyExists]),
        (
            "receiveDigiposteWebhook",
            &[
                WebhookSignatureInvalid,
                WebhookStale,
                NotFound,
                AlreadyExists,
            ],
        ),
        (
            "createUpload",
            &[
                FileTooLarge,
                EmptyFile,
                NotAPdf,
                CorruptPdf,
                EncryptedPdf,
                ScannedPdf,
                ModifiedPdf,
                NotFromApogee,
                NoStudentFound,
                AttestationContinuation,
                TooComplexPdf,
                DocumentKindMismatch,
                UnknownDocumentKind,
                AcademicYearMismatch,
                DuplicateUpload,
            ],
        ),
        ("cancelTreatment", &[InvalidTransition]),
        ("confirmTreatmentDocumentIdentity", &[InvalidTransition]),
        ("resolveUncertainTreatmentDocument", &[InvalidTransition]),
        (
            "sendTreatment",
            &[
                ConfirmationMismatch,
                InvalidTransition,
                DigiposteNotConfigured,
            ],
        ),
        (
            "sendTreatmentHeldDocuments",
            &[ConfirmationMismatch, InvalidTransition],
        ),
        ("sendTreatmentDocument", &[DocumentHeld, InvalidTransition]),
        ("releaseTreatmentDocument", &[InvalidTransition]),
        ("confirmTreatmentDocumentReplacement", &[InvalidTransition]),
        ("subscribeVaults", &[ConfirmationMismatch]),
        ("subscribeVault", &[InvalidTransition, ConsentRefused]),
        ("terminateVault", &[InvalidTransition]),
        ("reinviteVault", &[InvalidTransition, ConsentRefused]),
        (
            "createGradeTransfer",
            &[
                FileTooLarge,
                NotAMaquette,
                UnsupportedEncoding,
                InvalidMaquette,
                InvalidGradeSource,
                NoMatchingMaquette,
                MaquetteMalformed,
                EtapeMismatch,
                YearMismatch,
                ScodocUnavailable,
                ScodocAuthFailed,
                ScodocNotFound,
                ScodocBadResponse,
            ],
        ),
        (
            "createLockerDeposit",
            &[
                NotFound,
                DepositSuperseded,
                FileTooLarge,
                QuotaExceeded,
                UnknownRecipient,
                EmptyFile,
                ForbiddenFileType,
            ],
        ),
        ("updateLockerDeposit", &[DepositImmutable]),
        ("deleteLockerDeposit", &[DepositImmutable]),
        ("updateLockerGroup", &[UnknownRecipient]),
        ("trashMyLockerDeposits", &[NotFound]),
        ("restoreMyLockerDeposits", &[NotFound]),
        ("markMyLockerDepositsRead", &[NotFound]),
        (
            "createMySupportingDocument",
            &[
                NotFound,
                InvalidTransition,
                FileTooLarge,
                EmptyFile,
                ForbiddenFileType,
            ],
        ),
        ("listMySupportingDocuments", &[NotFound]),
        ("recordSupportingDocumentPaper", &[InvalidTransition]),
        ("acceptSupportingDocument", &[InvalidTransition]),
        ("rejectSupportingDocument", &[InvalidTransition]),
    ]
};

/// Paths anyone may call without credentials (no `Authenticated` kind).
pub fn is_public(path: &str) -> bool {
    super::PUBLIC_PATH_PREFIXES
        .iter()
        .any(|p| path.starts_with(p))
}

/// The kinds of an operation, read off its description.
pub fn kinds(path: &str, operation: &openapi::path::Operation) -> Vec<OperationKind> {
    use openapi::path::ParameterIn;
    let mut kinds = vec![OperationKind::Any];
    if !is_public(path) {
        kinds.push(OperationKind::Authenticated);
    }
    let located = |place: ParameterIn| {
        operation.parameters.iter().flatten().any(
            |p| matches!(p, RefOr::T(p) if std::mem::discriminant(&p.parameter_in) == std::mem::discriminant(&place)),
        )
    };
    if located(ParameterIn::Query) {
        kinds.push(OperationKind::Query);
    }
    if located(ParameterIn::Path) {
        kinds.push(OperationKind::Path);
    }
    if let Some(RefOr::T(body)) = &operation.request_body {
        if body.content.contains_key("application/json") {
            kinds.push(OperationKind::JsonBody);
        }
        if body.content.keys().any(|k| k != "application/json") {
            kinds.push(OperationKind::StreamedBody);
        }
    }
    kinds
}

/// Every code an operation can answer: its kinds' and its own.
pub fn codes(path: &str, operation: &openapi::path::Operation) -> BTreeSet<ErrorCode> {
    let mut codes: BTreeSet<ErrorCode> = kinds(path, operation)
        .into_iter()
        .flat_map(|k| k.codes().iter().copied())
        .collect();
    if let Some(id) = &operation.operation_id
        && let Some((_, own)) = OPERATION_CODES.iter().find(|(op, _)| op == id)
    {
        codes.extend(own.iter().copied());
    }
    codes
}

/// A problem document as an operation would answer it, for the examples.
pub fn example_problem(code: ErrorCode) -> serde_json::Value {
    serde_json::json!({
        "type": format!("urn:passerelle:problem:{}", code.as_str()),
        "title": code.title(),
        "status": code.status().as_u16(),
        "detail": code.title(),
        "code": code.as_str(),
        "request_id": "0f8e5a4c-3b1d-4e2a-9c7b-5d6e7f8a9b0c",
    })
}

/// The name of a code's example among the components (`components.examples`).
pub fn example_name(code: ErrorCode) -> String {
    format!("problem_{}", code.as_str())
}

/// One example problem per code, referenced by the operations that can answer it.
pub fn add_examples(components: &mut openapi::Components) {
    for code in ErrorCode::ALL {
        components.examples.insert(
            example_name(*code),
            RefOr::T(
                openapi::example::ExampleBuilder::new()
                    .summary(code.title())
                    .value(Some(example_problem(*code)))
                    .build(),
            ),
        );
    }
}

/// Documents on `operation` every status its codes can answer: the handler's own description
/// (if it wrote one) followed by the codes, the problem+json schema, one example per code, and
/// `Retry-After` where the answer carries it.
pub fn document(path: &str, operation: &mut openapi::path::Operation) {
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in codes(path, operation) {
        by_status
            .entry(code.status().as_u16())
            .or_default()
            .push(code);
    }
    for (status, codes) in by_status {
        let key = status.to_string();
        let own = match operation.responses.responses.get(&key) {
            Some(RefOr::T(r)) => Some(r.description.clone()),
            _ => None,
        };
        let listed: Vec<String> = codes
            .iter()
            .map(|c| format!("`{}` ({})", c.as_str(), c.title()))
            .collect();
        let description = match own {
            Some(own) if !own.is_empty() => format!("{own}. Codes: {}.", listed.join(", ")),
            _ => format!("Codes: {}.", listed.join(", ")),
        };
        let content = openapi::content::ContentBuilder::new()
            .schema(Some(openapi::Ref::from_schema_name("Problem")))
            .examples_from_iter(codes.iter().map(|c| {
                (
                    c.as_str(),
                    RefOr::Ref(openapi::Ref::new(format!(
                        "#/components/examples/{}",
                        example_name(*c)
                    ))),
                )
            }))
            .build();
        let mut response = openapi::ResponseBuilder::new()
            .description(description)
            .content(PROBLEM_JSON, content);
        if status == 429 || status == 503 {
            response = response.header("Retry-After", retry_after_header());
        }
        operation
            .responses
            .responses
            .insert(key, RefOr::T(response.build()));
    }
}

/// The `Retry-After` header: seconds to wait before trying again.
pub fn retry_after_header() -> openapi::header::Header {
    openapi::header::HeaderBuilder::new()
        .schema(Some(
            openapi::ObjectBuilder::new()
                .schema_type(openapi::schema::Type::Integer)
                .minimum(Some(0)),
        ))
        .description(Some("Seconds to wait before trying again"))
        .build()
}

/// The codes a documented error status lists (its examples' names), for the tests.
pub fn documented_codes(response: &openapi::Response) -> Vec<String> {
    response
        .content
        .get(PROBLEM_JSON)
        .and_then(|c| match c {
            RefOr::T(c) => Some(c.examples.keys().cloned().collect()),
            RefOr::Ref(_) => None,
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operations(spec: &openapi::OpenApi) -> Vec<(String, &openapi::path::Operation)> {
        spec.paths
            .paths
            .iter()
            .flat_map(|(path, item)| {
                [
                    item.get.as_ref(),
                    item.put.as_ref(),
                    item.post.as_ref(),
                    item.delete.as_ref(),
                    item.patch.as_ref(),
                ]
                .into_iter()
                .flatten()
                .map(move |op| (path.clone(), op))
            })
            .collect()
    }

    #[test]
    fn every_declared_operation_exists() {
        let spec = crate::app::openapi_spec();
        let ids: BTreeSet<String> = operations(&spec)
            .into_iter()
            .filter_map(|(_, op)| op.operation_id.clone())
            .collect();
        for (id, codes) in OPERATION_CODES {
            assert!(
                ids.contains(*id),
                "OPERATION_CODES names `{id}`: no such operation"
            );
            assert!(!codes.is_empty(), "{id}: an empty row");
        }
        let mut seen = BTreeSet::new();
        for (id, _) in OPERATION_CODES {
            assert!(seen.insert(id), "{id} has two rows in OPERATION_CODES");
        }
    }

    /// Every error status an operation documents lists its codes, each answering that status,
    /// and no error status is left without a code (a status written by hand with no code in
    /// the table fails here: declare the code in `OPERATION_CODES`).
    #[test]
    fn every_error_status_lists_its_codes() {
        let spec = crate::app::openapi_spec();
        for (path, op) in operations(&spec) {
            let id = op.operation_id.clone().unwrap_or_default();
            for (status, response) in &op.responses.responses {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let RefOr::T(response) = response else {
                    panic!("{id}: {status} is a reference")
                };
                let codes = documented_codes(response);
                assert!(
                    !codes.is_empty(),
                    "{id} ({path}) documents {status} but no code of the error table answers \
                     it there: add the code to OPERATION_CODES"
                );
                for code in codes {
                    let code = ErrorCode::ALL
                        .iter()
                        .find(|c| c.as_str() == code)
                        .unwrap_or_else(|| panic!("{id}: unknown code {code}"));
                    assert_eq!(
                        code.status().as_str(),
                        status,
                        "{id}: {code} under {status}"
                    );
                }
            }
        }
    }

    #[test]
    fn kinds_are_read_off_the_operation() {
        let spec = crate::app::openapi_spec();
        let ops = operations(&spec);
        let find = |id: &str| {
            ops.iter()
                .find(|(_, op)| op.operation_id.as_deref() == Some(id))
                .unwrap_or_else(|| panic!("{id}"))
        };
        let (path, op) = find("createComposante");
        let k = kinds(path, op);
        assert!(k.contains(&OperationKind::JsonBody) && k.contains(&OperationKind::Authenticated));
        let (path, op) = find("getHealthLive");
        assert_eq!(kinds(path, op), vec![OperationKind::Any]);
        let (path, op) = find("createUpload");
        assert!(kinds(path, op).contains(&OperationKind::StreamedBody));
        let (path, op) = find("getTreatment");
        assert!(codes(path, op).contains(&ErrorCode::NotFound));
    }
}
