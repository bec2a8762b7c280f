//! The parts of the OpenAPI description that third-party tools (client generators, contract
//! testers) rely on and that handlers do not write themselves: binary bodies as binary strings,
//! the encodings of multipart parts, and the `Location` headers and links of the operations
//! that create an object.
//!
//! operationIds follow one rule (README, "API contract"): `<verb><Nouns>` in lowerCamelCase —
//! `list…` (GET of a collection), `get…` (GET of one object or a computed view), `download…`
//! (GET of a file), `create…` (POST to a collection), `update…` (PUT), `delete…` (DELETE), and
//! for a POST to an action segment the action itself (`send…`, `cancel…`, `import…`); then the
//! path's nouns, singular for an addressed object, `My` first under `/me`. The tests below
//! check the rule and the uniqueness.

use utoipa::openapi::{self, RefOr};

/// The media type of each file part of the multipart forms, by operationId and part.
pub const PART_ENCODINGS: &[(&str, &str, &str)] = &[
    ("createUpload", "file", "application/pdf"),
    ("createGradeTransfer", "maquette", "text/plain"),
    // ScoDoc's zip, a filled .TXT, a CSV or a JSON: told apart by their content.
    ("createGradeTransfer", "source", "application/octet-stream"),
    ("createLockerDeposit", "file", "application/octet-stream"),
    (
        "createMySupportingDocument",
        "file",
        "application/pdf, image/png, image/jpeg",
    ),
    ("importStudents", "file", "text/csv"),
];

/// An operation that creates an object and answers its address in `Location`, and the GET
/// that reads it: (operationId, statuses carrying `Location`, GET operationId, the GET's path
/// parameter, the JSON pointer of its value in the created object).
pub const CREATIONS: &[(&str, &[&str], &str, &str, &str)] = &[
    (
        "createComposante",
        &["201"],
        "getComposante",
        "code",
        "/code",
    ),
    ("createUpload", &["202", "422"], "getTreatment", "id", "/id"),
    (
        "createGradeTransfer",
        &["201"],
        "getGradeTransfer",
        "id",
        "/id",
    ),
    (
        "createLockerDeposit",
        &["201"],
        "getLockerDeposit",
        "id",
        "/id",
    ),
];

/// The verbs an operationId may start with, by HTTP method (POST: `create` or an action).
pub fn verbs_for(method: &str) -> &'static [&'static str] {
    match method {
        "get" => &["list", "get", "download"],
        "put" => &["update"],
        "delete" => &["delete"],
        _ => &[],
    }
}

fn binary_schema(media_type: &str) -> openapi::Schema {
    let mut schema = openapi::ObjectBuilder::new()
        .schema_type(openapi::schema::Type::String)
        .format(Some(openapi::SchemaFormat::KnownFormat(
            openapi::KnownFormat::Binary,
        )))
        .build();
    // OpenAPI 3.1 (JSON Schema) names the media type of a binary string `contentMediaType`.
    schema.extensions = Some(openapi::extensions::Extensions::from_iter([(
        "contentMediaType",
        media_type.split(';').next().unwrap_or(media_type).trim(),
    )]));
    openapi::Schema::Object(schema)
}

fn is_byte_array(schema: &RefOr<openapi::Schema>) -> bool {
    match schema {
        RefOr::T(openapi::Schema::Array(array)) => match &array.items {
            openapi::schema::ArrayItems::RefOrSchema(item) => matches!(
                item.as_ref(),
                RefOr::T(openapi::Schema::Object(o))
                    if o.schema_type
                        == openapi::schema::SchemaType::Type(openapi::schema::Type::Integer)
            ),
            _ => false,
        },
        _ => false,
    }
}

/// A description for every answer whose handler wrote none (OpenAPI requires one): the
/// status's reason, and the schema it carries.
pub fn describe_responses(operation: &mut openapi::path::Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !response.description.is_empty() {
            continue;
        }
        let reason = status
            .parse::<u16>()
            .ok()
            .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Answer");
        let schema = response.content.values().find_map(|c| match c {
            RefOr::T(openapi::content::Content {
                schema: Some(RefOr::Ref(r)),
                ..
            }) => r.ref_location.rsplit('/').next().map(str::to_owned),
            _ => None,
        });
        response.description = match schema {
            Some(name) => format!("{reason}: {}", name.replace('_', " of ")),
            None => reason.to_owned(),
        };
    }
}

/// File answers (`Vec<u8>` bodies) described as binary strings of their media type.
pub fn binary_bodies(operation: &mut openapi::path::Operation) {
    for response in operation.responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        for (media_type, content) in response.content.iter_mut() {
            let RefOr::T(content) = content else {
                continue;
            };
            if content.schema.as_ref().is_some_and(is_byte_array) {
                content.schema = Some(RefOr::T(binary_schema(media_type)));
            }
        }
    }
}

/// The encoding of each file part of a multipart request body.
pub fn multipart_encodings(operation: &mut openapi::path::Operation) {
    let Some(id) = operation.operation_id.clone() else {
        return;
    };
    let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
        return;
    };
    let Some(RefOr::T(content)) = body.content.get_mut("multipart/form-data") else {
        return;
    };
    for (_, part, media_type) in PART_ENCODINGS.iter().filter(|(op, ..)| *op == id) {
        content.encoding.insert(
            (*part).to_owned(),
            openapi::encoding::EncodingBuilder::new()
                .content_type(Some(*media_type))
                .build(),
        );
    }
}

/// `Location` on the answers of the operations that create an object, and the link from the
/// created object to the GET that reads it (for clients and stateful contract testers).
pub fn creation_links(operation: &mut openapi::path::Operation) {
    let Some(id) = operation.operation_id.clone() else {
        return;
    };
    let Some((_, statuses, target, parameter, pointer)) =
        CREATIONS.iter().find(|(op, ..)| *op == id)
    else {
        return;
    };
    for status in *statuses {
        let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status) else {
            continue;
        };
        response.headers.insert(
            "Location".to_owned(),
            RefOr::T(
                openapi::header::HeaderBuilder::new()
                    .schema(Some(
                        openapi::ObjectBuilder::new()
                            .schema_type(openapi::schema::Type::String)
                            .format(Some(openapi::SchemaFormat::Custom("uri-reference".into()))),
                    ))
                    .description(Some("The address of the created object"))
                    .build(),
            ),
        );
        if status.starts_with('2') {
            response.links.insert(
                target.to_string(),
                RefOr::T(
                    openapi::link::LinkBuilder::new()
                        .operation_id(*target)
                        .parameter(*parameter, format!("$response.body#{pointer}"))
                        .description("The created object, at the address in `Location`")
                        .build(),
                ),
            );
        }
    }
}

/// The breaking changes from a released description to the current one: operations removed,
/// parameters removed, schemas or fields removed, types narrowed (a type, `$ref` or enum value
/// the old description allowed and the new one does not). Each is one line, e.g.
/// `removed operation GET /vaults`, `removed field Vault.ine`, `narrowed type Vault.status`;
/// CHANGELOG.md must quote each line for the change to pass `tests/api/contract.rs`.
pub fn breaking_changes(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    let mut changes = Vec::new();
    let empty = serde_json::Map::new();
    let methods = ["get", "put", "post", "delete", "patch"];
    let old_paths = old["paths"].as_object().unwrap_or(&empty);
    for (path, item) in old_paths {
        for method in methods {
            let Some(old_op) = item.get(method) else {
                continue;
            };
            let Some(new_op) = new["paths"][path].get(method) else {
                changes.push(format!(
                    "removed operation {} {path}",
                    method.to_uppercase()
                ));
                continue;
            };
            let names = |op: &Value| -> Vec<String> {
                op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| Some(format!("{}:{}", p["in"].as_str()?, p["name"].as_str()?)))
                    .collect()
            };
            let kept = names(new_op);
            for name in names(old_op) {
                if !kept.contains(&name) {
                    changes.push(format!(
                        "removed parameter {} {path} {name}",
                        method.to_uppercase()
                    ));
                }
            }
        }
    }
    let old_schemas = old["components"]["schemas"].as_object().unwrap_or(&empty);
    for (name, old_schema) in old_schemas {
        let Some(new_schema) = new["components"]["schemas"].get(name) else {
            changes.push(format!("removed schema {name}"));
            continue;
        };
        if narrowed(old_schema, new_schema) {
            changes.push(format!("narrowed type {name}"));
        }
        let Some(old_props) = old_schema["properties"].as_object() else {
            continue;
        };
        for (field, old_prop) in old_props {
            match new_schema["properties"].get(field) {
                None => changes.push(format!("removed field {name}.{field}")),
                Some(new_prop) if narrowed(old_prop, new_prop) => {
                    changes.push(format!("narrowed type {name}.{field}"))
                }
                Some(_) => {}
            }
        }
    }
    changes
}

/// What a schema allows, coarsely: its types, `$ref`s and enum values (of itself and of its
/// `oneOf`/`anyOf` members and array items).
fn allowed(schema: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    use serde_json::Value;
    match &schema["type"] {
        Value::String(t) => {
            out.insert(format!("type:{t}"));
        }
        Value::Array(ts) => out.extend(
            ts.iter()
                .filter_map(|t| Some(format!("type:{}", t.as_str()?))),
        ),
        _ => {}
    }
    if let Some(r) = schema["$ref"].as_str() {
        out.insert(format!("ref:{r}"));
    }
    for e in schema["enum"].as_array().into_iter().flatten() {
        out.insert(format!("enum:{e}"));
    }
    for key in ["oneOf", "anyOf"] {
        for member in schema[key].as_array().into_iter().flatten() {
            allowed(member, out);
        }
    }
    if schema["items"].is_object() {
        let mut items = std::collections::BTreeSet::new();
        allowed(&schema["items"], &mut items);
        out.extend(items.into_iter().map(|i| format!("items:{i}")));
    }
}

/// Whether `new` refuses something `old` allowed (an enum that appears where there was none
/// narrows; a schema that describes nothing checkable never does).
fn narrowed(old: &serde_json::Value, new: &serde_json::Value) -> bool {
    let (mut a, mut b) = (Default::default(), Default::default());
    allowed(old, &mut a);
    allowed(new, &mut b);
    if b.is_empty() {
        return false;
    }
    let a_enum = a.iter().any(|x: &String| x.starts_with("enum:"));
    let b_enum = b.iter().any(|x: &String| x.starts_with("enum:"));
    if b_enum && !a_enum {
        return true;
    }
    a.iter()
        .filter(|x| b_enum || !x.starts_with("enum:"))
        .any(|x| !b.contains(x))
}

#[cfg(test)]
mod tests;
