//! From a verified token's claims to passerelle's principal: the declarative mapping of one
//! issuer (`auth.issuers[].mapping`). Pure: no I/O, no configuration lookups.
//!
//! Rules are tried in a fixed order — admin, manager, student, service — and the first that
//! matches wins. What a refusal says names claims, never their values (a token's claims are
//! personal data: a student number, an affiliation).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::{CredentialKind, Principal, Role};
use crate::i18n::{Lang, Text};
use crate::text;

/// How one issuer's claims make a principal. A rule left out never matches.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimMapping {
    /// The claim that names a person (`sub` when empty).
    pub subject_claim: String,
    /// The claim holding a display name (`name` when empty; absent claims are fine).
    pub name_claim: String,
    /// Administrators: a value of `claim` among `values`.
    pub admin: Option<RoleRule>,
    /// Managers: a value of `claim` among `values`, composantes from `composantes_claim`.
    pub manager: Option<ManagerRule>,
    /// Students: a value of `claim` among `values`, the student number in `cod_etu_claim`.
    pub student: Option<StudentRule>,
    /// Machine clients (the client-credentials grant).
    pub service: Option<ServiceRule>,
}

/// Matches when the claim (a string, or a list of strings) holds one of `values`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RoleRule {
    pub claim: String,
    pub values: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ManagerRule {
    pub claim: String,
    pub values: Vec<String>,
    /// The claim listing the manager's composantes: codes, SUPANN entity codes
    /// (`supannEntiteAffectation`) or group names.
    pub composantes_claim: String,
    /// Only values starting with this prefix count, and it is stripped (`"U"` turns the SUPANN
    /// code `U905` into the composante `905`; `"/passerelle/gestion/"` keeps matching groups).
    #[serde(default)]
    pub composante_prefix: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StudentRule {
    pub claim: String,
    pub values: Vec<String>,
    /// The claim holding the student number (COD_ETU), e.g. `supannEtuId`.
    pub cod_etu_claim: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServiceRule {
    /// The client ids that are machine clients. List only clients that use the
    /// client-credentials grant, never the ENT's sign-in client.
    pub clients: Vec<String>,
    /// Where the client id is (first present wins).
    #[serde(default = "default_client_claims")]
    pub client_claims: Vec<String>,
    /// The space-separated (or list) claim of granted scopes.
    #[serde(default = "default_scope_claim")]
    pub scope_claim: String,
    /// Require `sub` to be absent or equal to the client id, as RFC 9068 says client-credentials
    /// tokens are (oidc-provider, CAS). Keycloak names the service account in `sub`: set false.
    #[serde(default = "yes")]
    pub require_client_subject: bool,
}

fn default_client_claims() -> Vec<String> {
    vec!["client_id".into(), "azp".into()]
}

fn default_scope_claim() -> String {
    "scope".into()
}

fn yes() -> bool {
    true
}

/// Why a token maps to no principal: claim names and rule outcomes, never claim values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoRole {
    pub reasons: Vec<Text>,
}

impl NoRole {
    /// The problem's detail, in French and English.
    pub fn text(&self) -> Text {
        if self.reasons.is_empty() {
            return Text::fixed(
                "la correspondance de cet émetteur n'a aucune règle",
                "this issuer's mapping has no rule",
            );
        }
        let join = |lang, separator| {
            self.reasons
                .iter()
                .map(|r| r.get(lang))
                .collect::<Vec<_>>()
                .join(separator)
        };
        let (fr, en) = (join(Lang::Fr, " ; "), join(Lang::En, "; "));
        text!(
            "le jeton ne donne aucun rôle passerelle : {fr}",
            "the token maps to no passerelle role: {en}"
        )
    }
}

impl std::fmt::Display for NoRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.reasons.is_empty() {
            write!(f, "this issuer's mapping has no rule")
        } else {
            let reasons: Vec<&str> = self.reasons.iter().map(|r| r.get(Lang::En)).collect();
            write!(f, "{}", reasons.join("; "))
        }
    }
}

impl ClaimMapping {
    /// Whether at least one rule is configured.
    pub fn has_rules(&self) -> bool {
        self.admin.is_some()
            || self.manager.is_some()
            || self.student.is_some()
            || self.service.is_some()
    }

    /// The principal these claims make, or why none.
    pub fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, NoRole> {
        let mut reasons = Vec::new();
        let subject_claim = non_empty_or(&self.subject_claim, "sub");
        let name = first_string(claims, non_empty_or(&self.name_claim, "name"));
        let person = |role, composantes, cod_etu| -> Result<Principal, Text> {
            let subject = first_string(claims, subject_claim).ok_or_else(|| {
                text!(
                    "`{subject_claim}` (le sujet) est absent",
                    "`{subject_claim}` (the subject) is missing"
                )
            })?;
            Ok(Principal {
                subject,
                role,
                composantes,
                cod_etu,
                scopes: vec![],
                credential: CredentialKind::Jwt,
                name: name.clone(),
            })
        };
        if let Some(rule) = &self.admin {
            match has_value(claims, &rule.claim, &rule.values)
                .and_then(|()| person(Role::Admin, vec![], None))
            {
                Ok(p) => return Ok(p),
                Err(why) => reasons.push(prefixed("admin", why)),
            }
        }
        if let Some(rule) = &self.manager {
            let outcome = has_value(claims, &rule.claim, &rule.values).and_then(|()| {
                let composantes: Vec<String> = strings(claims.get(&rule.composantes_claim))
                    .into_iter()
                    .filter_map(|v| {
                        v.strip_prefix(rule.composante_prefix.as_str())
                            .map(|c| c.trim().to_owned())
                    })
                    .filter(|c| !c.is_empty())
                    .collect();
                if composantes.is_empty() {
                    let claim = &rule.composantes_claim;
                    return Err(if rule.composante_prefix.is_empty() {
                        text!(
                            "`{claim}` ne liste aucune composante",
                            "`{claim}` lists no composante"
                        )
                    } else {
                        text!(
                            "`{claim}` n'a aucune valeur commençant par le préfixe configuré",
                            "`{claim}` has no value starting with the configured prefix"
                        )
                    });
                }
                person(Role::Manager, dedup(composantes), None)
            });
            match outcome {
                Ok(p) => return Ok(p),
                Err(why) => reasons.push(prefixed("manager", why)),
            }
        }
        if let Some(rule) = &self.student {
            let outcome = has_value(claims, &rule.claim, &rule.values).and_then(|()| {
                let cod_etu = first_string(claims, &rule.cod_etu_claim)
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| {
                        let claim = &rule.cod_etu_claim;
                        text!(
                            "`{claim}` est absent ou vide",
                            "`{claim}` is missing or empty"
                        )
                    })?;
                person(Role::Student, vec![], Some(cod_etu))
            });
            match outcome {
                Ok(p) => return Ok(p),
                Err(why) => reasons.push(prefixed("student", why)),
            }
        }
        if let Some(rule) = &self.service {
            match service(rule, claims, name.clone()) {
                Ok(p) => return Ok(p),
                Err(why) => reasons.push(prefixed("service", why)),
            }
        }
        Err(NoRole { reasons })
    }
}

/// A rule's reason, named by the rule (`admin: …`).
fn prefixed(rule: &str, why: Text) -> Text {
    let (fr, en) = (why.fr, why.en);
    text!("{rule} : {fr}", "{rule}: {en}")
}

fn service(
    rule: &ServiceRule,
    claims: &Map<String, Value>,
    name: Option<String>,
) -> Result<Principal, Text> {
    let (claim, client) = rule
        .client_claims
        .iter()
        .find_map(|c| first_string(claims, c).map(|v| (c, v)))
        .ok_or_else(|| {
            let claims = rule
                .client_claims
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            text!(
                "aucun identifiant de client ({claims})",
                "no client id ({claims})"
            )
        })?;
    if !rule.clients.contains(&client) {
        return Err(text!(
            "`{claim}` n'est pas un client de service configuré",
            "`{claim}` is not a configured service client"
        ));
    }
    if rule.require_client_subject && first_string(claims, "sub").is_some_and(|sub| sub != client) {
        return Err(text!(
            "`sub` nomme quelqu'un d'autre que le client de `{claim}` (le jeton d'une personne)",
            "`sub` names someone other than the client in `{claim}` (a person's token)"
        ));
    }
    let scopes = match claims.get(&rule.scope_claim) {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        other => strings(other),
    };
    Ok(Principal {
        subject: client,
        role: Role::Service,
        composantes: vec![],
        cod_etu: None,
        scopes: dedup(scopes),
        credential: CredentialKind::Jwt,
        name,
    })
}

fn non_empty_or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() { default } else { value }
}

/// A claim's string values: a string is one value, a list keeps its strings.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    }
}

fn first_string(claims: &Map<String, Value>, claim: &str) -> Option<String> {
    strings(claims.get(claim)).into_iter().next()
}

fn has_value(claims: &Map<String, Value>, claim: &str, values: &[String]) -> Result<(), Text> {
    let Some(value) = claims.get(claim) else {
        return Err(text!("`{claim}` est absent", "`{claim}` is missing"));
    };
    if strings(Some(value)).iter().any(|v| values.contains(v)) {
        Ok(())
    } else {
        Err(text!(
            "`{claim}` ne contient aucune des valeurs configurées",
            "`{claim}` holds none of the configured values"
        ))
    }
}

fn dedup(mut list: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    list.retain(|v| seen.insert(v.clone()));
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The SUPANN example of deploy/passerelle.oidc.example.toml.
    fn supann() -> ClaimMapping {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/passerelle.oidc.example.toml"
        );
        let config = crate::config::Config::load(Some(std::path::Path::new(path)))
            .expect("the deploy example loads");
        config.auth.issuers[0].mapping.clone()
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn supann_student_manager_admin_and_service() {
        let m = supann();
        let student = m
            .principal(&claims(json!({
                "sub": "jdupont", "eduPersonAffiliation": ["student", "member"],
                "supannEtuId": "21900001"
            })))
            .unwrap();
        assert_eq!(student.role, Role::Student);
        assert_eq!(student.cod_etu.as_deref(), Some("21900001"));

        let manager = m
            .principal(&claims(json!({
                "sub": "mmartin", "eduPersonAffiliation": ["staff", "employee"],
                "supannEntiteAffectation": ["U905", "U906", "DSI", "U905"]
            })))
            .unwrap();
        assert_eq!(manager.role, Role::Manager);
        assert_eq!(manager.composantes, vec!["905", "906"]);

        let admin = m
            .principal(&claims(json!({
                "sub": "root", "eduPersonAffiliation": ["staff"],
                "eduPersonEntitlement": ["urn:mace:univ-exemple.fr:passerelle:admin"]
            })))
            .unwrap();
        assert_eq!(admin.role, Role::Admin);

        let service = m
            .principal(&claims(json!({
                "sub": "ent-backend", "client_id": "ent-backend", "scope": "vaults:read consents:write"
            })))
            .unwrap();
        assert_eq!(service.role, Role::Service);
        assert_eq!(service.subject, "ent-backend");
        assert_eq!(service.scopes, vec!["vaults:read", "consents:write"]);
    }

    #[test]
    fn no_role_names_claims_never_values() {
        let m = supann();
        let err = m
            .principal(&claims(json!({
                "sub": "jdupont", "eduPersonAffiliation": ["alum"], "supannEtuId": "21900001",
                "supannEntiteAffectation": ["DSI"]
            })))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`eduPersonAffiliation`"), "{text}");
        assert!(text.contains("`client_id`"), "{text}");
        // The problem's detail: every rule's reason, in each language.
        let detail = err.text();
        assert!(
            detail
                .fr
                .starts_with("le jeton ne donne aucun rôle passerelle : admin : "),
            "{}",
            detail.fr
        );
        assert!(
            detail
                .fr
                .contains("`eduPersonAffiliation` ne contient aucune des valeurs configurées")
        );
        assert!(
            detail
                .fr
                .contains(" ; service : aucun identifiant de client"),
            "{}",
            detail.fr
        );
        assert!(
            detail
                .en
                .starts_with("the token maps to no passerelle role: admin: "),
            "{}",
            detail.en
        );
        assert!(
            detail.en.contains("; service: no client id"),
            "{}",
            detail.en
        );
        assert_eq!(
            NoRole { reasons: vec![] }.text().fr,
            "la correspondance de cet émetteur n'a aucune règle"
        );
        for value in ["jdupont", "alum", "21900001", "DSI"] {
            assert!(!text.contains(value), "value {value} leaked: {text}");
        }
        // A staff member without any composante code is not a manager of nothing.
        let err = m
            .principal(&claims(json!({
                "sub": "x", "eduPersonAffiliation": ["staff"], "supannEntiteAffectation": ["DSI"]
            })))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("`supannEntiteAffectation` has no value starting"),
            "{err}"
        );
        // A student without a student number is refused, not a student with an empty one.
        assert!(
            m.principal(&claims(
                json!({"sub": "x", "eduPersonAffiliation": "student"})
            ))
            .is_err()
        );
    }

    #[test]
    fn a_persons_token_through_a_service_client_is_not_a_service() {
        let m = supann();
        let err = m
            .principal(&claims(json!({
                "sub": "jdupont", "client_id": "ent-backend", "scope": "vaults:read"
            })))
            .unwrap_err();
        assert!(err.to_string().contains("a person's token"), "{err}");
        let unknown = m
            .principal(&claims(json!({"sub": "other", "client_id": "other"})))
            .unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("not a configured service client")
        );
    }

    #[test]
    fn group_lists_with_a_prefix() {
        let m = ClaimMapping {
            manager: Some(ManagerRule {
                claim: "groups".into(),
                values: vec!["/passerelle/gestion".into()],
                composantes_claim: "groups".into(),
                composante_prefix: "/passerelle/gestion/".into(),
            }),
            ..ClaimMapping::default()
        };
        let p = m
            .principal(&claims(json!({
                "sub": "g", "groups": ["/passerelle/gestion", "/passerelle/gestion/905", "/other/1"]
            })))
            .unwrap();
        assert_eq!(p.composantes, vec!["905"]);
    }
}
