//! Examples for every request body and every successful answer of the OpenAPI description, so
//! that Swagger UI's "Try it out" and generated clients' docs start from something plausible.
//! A handler's own example (`#[schema(example = …)]`, `example = json!(…)`) is kept; where
//! there is none, one is built from the schema: the examples its properties declare, else
//! values typical of passerelle's data for well-known field names (a student number, a
//! composante code, an academic year…), else a value of the declared type and format.
//! `.ci/check_examples.py` validates each against its schema (JSON Schema 2020-12).

use serde_json::{Map, Value, json};
use utoipa::openapi::{self, RefOr};

/// A typical value for a field of this name, when its schema allows it.
fn by_name(name: &str) -> Option<Value> {
    Some(match name {
        "cod_etu" | "nip" => json!("21900001"),
        "ine" => json!("1234567890A"),
        "last_name" => json!("LEFÈVRE"),
        "first_name" => json!("Zoé"),
        "composante" | "code" => json!("905"),
        "etape" => json!("L1INF"),
        "etape_version" => json!("1"),
        "academic_year" | "year" => json!(2025),
        "label" => json!("Relevés L1 Informatique S1"),
        "title" => json!("Convention de stage"),
        "created_by" | "actor" => json!("manager:jdupont"),
        "email" => json!("zoe.lefevre@example.fr"),
        "sha256" | "file_sha256" | "maquette_sha256" | "hash" => {
            json!("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
        }
        "file_name" | "maquette_file_name" => json!("releves.pdf"),
        "session" => json!("1"),
        "reason" => json!("Document illisible"),
        _ => return None,
    })
}

fn first_type(schema: &Value) -> Option<&str> {
    match &schema["type"] {
        Value::String(t) => Some(t.as_str()),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .or(Some("null")),
        _ => None,
    }
}

/// An example value for `schema` (`components` resolves `$ref`s; `name` is the property's).
pub fn synthesize(schema: &Value, components: &Value, name: Option<&str>, depth: usize) -> Value {
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(first) = schema["examples"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    if depth > 24 {
        return Value::Null;
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let target = reference.rsplit('/').next().unwrap_or_default();
        return synthesize(&components[target], components, name, depth + 1);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(members) = schema[key].as_array() {
            let member = members
                .iter()
                .find(|m| m["type"] != "null")
                .or(members.first());
            return member.map_or(Value::Null, |m| synthesize(m, components, name, depth + 1));
        }
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(o) = synthesize(part, components, name, depth + 1) {
                merged.extend(o);
            }
        }
        return Value::Object(merged);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let typical = name.and_then(by_name);
    match first_type(schema) {
        Some("object") | None if schema["properties"].is_object() => {
            let mut object = Map::new();
            for (field, property) in schema["properties"].as_object().into_iter().flatten() {
                object.insert(
                    field.clone(),
                    synthesize(property, components, Some(field), depth + 1),
                );
            }
            Value::Object(object)
        }
        Some("object") => json!({}),
        Some("array") => json!([synthesize(&schema["items"], components, None, depth + 1)]),
        Some("string") => {
            if let Some(t @ Value::String(_)) = typical {
                return t;
            }
            match schema["format"].as_str() {
                Some("date-time") => json!("2025-09-01T08:00:00Z"),
                Some("date") => json!("2025-09-01"),
                Some("uuid") => json!("0f8e5a4c-3b1d-4e2a-9c7b-5d6e7f8a9b0c"),
                Some("uri") | Some("uri-reference") => json!("https://example.fr/"),
                Some("binary") => json!("(the file's bytes)"),
                _ => match name {
                    Some(n) if n.ends_with("id") => json!("0f8e5a4c-3b1d-4e2a-9c7b-5d6e7f8a9b0c"),
                    Some(n) => json!(n.replace('_', " ")),
                    None => json!("text"),
                },
            }
        }
        Some("integer") => {
            if let Some(t @ Value::Number(_)) = typical {
                return t;
            }
            let min = schema["minimum"].as_i64().unwrap_or(0);
            json!(min.max(1))
        }
        Some("number") => json!(schema["minimum"].as_f64().unwrap_or(0.0).max(1.0)),
        Some("boolean") => json!(true),
        Some("null") => Value::Null,
        _ => typical.unwrap_or(Value::Null),
    }
}

fn fill(content: &mut RefOr<openapi::content::Content>, media_type: &str, components: &Value) {
    let RefOr::T(content) = content else {
        return;
    };
    if content.example.is_some() || !content.examples.is_empty() {
        return;
    }
    let Some(schema) = &content.schema else {
        return;
    };
    let schema = serde_json::to_value(schema).unwrap_or(Value::Null);
    // A file body has no useful literal example.
    if schema["format"] == "binary" || (media_type == "text/csv" && schema["type"] == "string") {
        return;
    }
    content.example = Some(synthesize(&schema, components, None, 0));
}

/// Gives an example to every request body and successful answer that has none.
pub fn add(spec: &mut openapi::OpenApi) {
    let components = spec
        .components
        .as_ref()
        .map(|c| serde_json::to_value(&c.schemas).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    for item in spec.paths.paths.values_mut() {
        for operation in super::operations_mut(item) {
            if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
                for (media_type, content) in body.content.iter_mut() {
                    fill(content, media_type, &components);
                }
            }
            for (status, response) in operation.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                if !status.starts_with('2') {
                    continue;
                }
                for (media_type, content) in response.content.iter_mut() {
                    fill(content, media_type, &components);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_follow_the_schema() {
        let components = json!({
            "Student": {"type": "object", "properties": {
                "cod_etu": {"type": "string"},
                "academic_year": {"type": "integer", "format": "int32"},
                "status": {"$ref": "#/components/schemas/Status"},
                "ine": {"type": ["string", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
                "pages": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "note": {"type": "string", "example": "déclarée"},
            }},
            "Status": {"type": "string", "enum": ["active", "terminated"]},
        });
        let example = synthesize(
            &json!({"$ref": "#/components/schemas/Student"}),
            &components,
            None,
            0,
        );
        assert_eq!(
            example,
            json!({
                "cod_etu": "21900001",
                "academic_year": 2025,
                "status": "active",
                "ine": "1234567890A",
                "created_at": "2025-09-01T08:00:00Z",
                "pages": [1],
                "note": "déclarée",
            })
        );
    }

    /// Every request body and every successful JSON answer of the description has an example.
    #[test]
    fn every_body_has_an_example() {
        let spec: Value =
            serde_json::from_str(&super::super::spec_json(&crate::app::openapi_spec())).unwrap();
        let mut missing = Vec::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let mut contents: Vec<(&str, &Value)> = Vec::new();
                for (media, c) in op["requestBody"]["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                {
                    contents.push((media, c));
                }
                for (status, r) in op["responses"].as_object().unwrap() {
                    if status.starts_with('2') {
                        for (media, c) in r["content"].as_object().into_iter().flatten() {
                            contents.push((media, c));
                        }
                    }
                }
                for (media, content) in contents {
                    let binary = content["schema"]["format"] == "binary";
                    let has = content.get("example").is_some() || content["examples"].is_object();
                    if !binary && !has && media.contains("json") {
                        missing.push(format!("{method} {path} {media}"));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "bodies without an example: {missing:#?}"
        );
    }
}
