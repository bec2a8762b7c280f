//! The operationId rule, the contract fix-ups and the breaking-change finder.

use super::*;
use std::collections::BTreeSet;

fn spec_json() -> serde_json::Value {
    serde_json::from_str(&super::super::spec_json(&crate::app::openapi_spec())).unwrap()
}

fn operations(spec: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

/// operationIds are unique and follow the README's rule.
#[test]
fn operation_ids_are_unique_and_follow_the_rule() {
    let spec = spec_json();
    let mut seen = BTreeSet::new();
    for (method, path, op) in operations(&spec) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(seen.insert(id.to_owned()), "operationId {id} is not unique");
        assert!(
            id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{id} ({method} {path}) is not lowerCamelCase"
        );
        let verb: String = id.chars().take_while(|c| c.is_ascii_lowercase()).collect();
        let rest = &id[verb.len()..];
        assert!(!rest.is_empty(), "{id}: a verb without nouns");
        let allowed = verbs_for(&method);
        if allowed.is_empty() {
            // POST: `create` to a collection, otherwise the action, never a read verb.
            assert!(
                !["list", "get", "download", "update", "delete"].contains(&verb.as_str()),
                "{id} ({method} {path}) starts with a verb of another method"
            );
            let last = path.rsplit('/').next().unwrap_or_default();
            let to_collection = !path.contains('{') || last.starts_with('{');
            if verb == "create" {
                assert!(to_collection, "{id}: `create` on an action segment");
            }
        } else {
            assert!(
                allowed.contains(&verb.as_str()),
                "{id} ({method} {path}) must start with one of {allowed:?}"
            );
        }
        if path == "/me" || path.starts_with("/me/") || path.starts_with("/lockers/me/") {
            assert!(
                rest.starts_with("My") || rest == "Me",
                "{id}: `My` under /me"
            );
        }
        if verb == "download" {
            let content = op["responses"]["200"]["content"].as_object().unwrap();
            assert!(
                content.keys().all(|k| !k.contains("json")),
                "{id}: `download` answers a file"
            );
        }
    }
    assert!(seen.contains("listVaults") && seen.contains("getTreatment"));
}

#[test]
fn files_are_binary_strings() {
    let spec = spec_json();
    for (method, path, op) in operations(&spec) {
        for (status, response) in op["responses"].as_object().unwrap() {
            for (media, content) in response["content"].as_object().into_iter().flatten() {
                let schema = &content["schema"];
                if !media.contains("json") {
                    assert_ne!(
                        schema["type"], "array",
                        "{method} {path} {status} {media}: a file is not an array"
                    );
                }
                if media.contains("pdf") || media.contains("octet-stream") {
                    assert_eq!(schema["type"], "string");
                    assert_eq!(schema["format"], "binary");
                    assert!(schema["contentMediaType"].is_string());
                }
            }
        }
    }
    let deposit = &spec["paths"]["/lockers/deposits/{id}/file"]["get"]["responses"]["200"];
    assert_eq!(
        deposit["content"]["application/octet-stream"]["schema"]["contentMediaType"],
        "application/octet-stream"
    );
}

#[test]
fn breaking_changes_are_found() {
    let old = serde_json::json!({
        "paths": {
            "/a": {"get": {"parameters": [{"in": "query", "name": "q"}]}, "post": {}},
        },
        "components": {"schemas": {
            "A": {"type": "object", "properties": {
                "x": {"type": ["string", "null"]},
                "y": {"type": "string"},
                "s": {"type": "string", "enum": ["a", "b"]},
                "r": {"$ref": "#/components/schemas/B"},
            }},
            "Gone": {"type": "string"},
        }},
    });
    let same = breaking_changes(&old, &old);
    assert!(same.is_empty(), "{same:?}");
    let new = serde_json::json!({
        "paths": {"/a": {"get": {"parameters": []}}, "/b": {"get": {}}},
        "components": {"schemas": {
            "A": {"type": "object", "properties": {
                "x": {"type": "string"},
                "s": {"type": "string", "enum": ["a"]},
                "r": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/B"}]},
                "z": {"type": "integer"},
            }},
        }},
    });
    let mut found = breaking_changes(&old, &new);
    found.sort();
    let mut expected = vec![
        "removed operation POST /a",
        "removed parameter GET /a query:q",
        "narrowed type A.s",
        "narrowed type A.x",
        "removed field A.y",
        "removed schema Gone",
    ];
    expected.sort();
    assert_eq!(found, expected);
    // Widening is not breaking: the reverse of a narrowing, a new field, a new operation.
    let widened = serde_json::json!({
        "paths": {"/a": {"get": {"parameters": [{"in": "query", "name": "q"}]}, "post": {}}},
        "components": {"schemas": {
            "A": {"type": "object", "properties": {
                "x": {"type": ["string", "null", "integer"]},
                "y": {"type": "string"},
                "s": {"type": "string", "enum": ["a", "b", "c"]},
                "r": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/B"}]},
            }},
            "Gone": {"type": "string"},
        }},
    });
    assert!(breaking_changes(&old, &widened).is_empty());
}

/// The description against the last release's committed copy (`openapi/releases/`): every
/// breaking change must be quoted in CHANGELOG.md, or the build fails.
#[test]
fn breaking_changes_since_the_last_release_are_in_the_changelog() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut releases: Vec<(Vec<u64>, std::path::PathBuf)> =
        std::fs::read_dir(root.join("openapi/releases"))
            .expect("openapi/releases")
            .filter_map(|e| {
                let path = e.ok()?.path();
                let version = path.file_stem()?.to_str()?.to_owned();
                let parts = version
                    .split('.')
                    .map(|p| p.parse().ok())
                    .collect::<Option<_>>()?;
                Some((parts, path))
            })
            .collect();
    releases.sort();
    let (_, last) = releases
        .last()
        .expect("a released description in openapi/releases");
    let old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(last).unwrap()).unwrap();
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).expect("CHANGELOG.md");
    let missing: Vec<String> = breaking_changes(&old, &spec_json())
        .into_iter()
        .filter(|c| !changelog.contains(c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "breaking changes of the API since {} that CHANGELOG.md does not announce \
         (quote each line under the next version's \"Breaking\" heading, or undo it):\n{}",
        last.display(),
        missing.join("\n")
    );
}

#[test]
fn the_version_follows_the_crate() {
    assert_eq!(spec_json()["info"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn creations_declare_location_and_link_to_their_get() {
    let spec = spec_json();
    let ops = operations(&spec);
    for (id, statuses, target, parameter, _) in CREATIONS {
        let (_, _, op) = ops
            .iter()
            .find(|(_, _, op)| op["operationId"] == *id)
            .unwrap_or_else(|| panic!("{id}"));
        let (_, target_path, _) = ops
            .iter()
            .find(|(m, _, op)| m == "get" && op["operationId"] == *target)
            .unwrap_or_else(|| panic!("{target}"));
        assert!(target_path.contains(&format!("{{{parameter}}}")));
        for status in *statuses {
            let response = &op["responses"][*status];
            assert!(response["headers"]["Location"].is_object(), "{id} {status}");
        }
        let ok = &op["responses"][statuses[0]];
        assert_eq!(ok["links"][*target]["operationId"], *target);
    }
    for (id, part, _) in PART_ENCODINGS {
        let (_, _, op) = ops
            .iter()
            .find(|(_, _, op)| op["operationId"] == *id)
            .unwrap_or_else(|| panic!("{id}"));
        let encoding = &op["requestBody"]["content"]["multipart/form-data"]["encoding"][*part];
        assert!(encoding["contentType"].is_string(), "{id} {part}");
    }
}
