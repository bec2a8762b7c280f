//! Lockers (casiers): who a locker belongs to and how recipients are written.
//!
//! A locker user id is stable across tokens: `student:<COD_ETU>` for a student (their JWT
//! `cod_etu`), `manager:<sub>` and `admin:<sub>` for staff (their JWT `sub`, as in the audit
//! log's actor). Services have no locker. Recipients are user ids or groups:
//! `etape:<COD_ETP>` (the students validly enrolled in that étape this academic year) or
//! `group:<name>` (a named group an admin defines).

use crate::auth::{Principal, Role};

/// The locker user id of a principal, or None for services.
pub fn user_id(principal: &Principal) -> Option<String> {
    match principal.role {
        Role::Student => principal.cod_etu.as_ref().map(|c| format!("student:{c}")),
        Role::Manager => Some(format!("manager:{}", principal.subject)),
        Role::Admin => Some(format!("admin:{}", principal.subject)),
        Role::Service => None,
    }
}

/// One recipient as the sender wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Student(String),
    Staff(String),
    Etape(String),
    Group(String),
}

impl Recipient {
    /// `student:…`, `manager:…`, `admin:…`, `etape:…` or `group:…`; anything else is None.
    pub fn parse(s: &str) -> Option<Recipient> {
        let (kind, value) = s.trim().split_once(':')?;
        let value = value.trim();
        if value.is_empty() || value.len() > 200 {
            return None;
        }
        Some(match kind {
            "student" => Recipient::Student(value.to_owned()),
            "manager" | "admin" => Recipient::Staff(format!("{kind}:{value}")),
            "etape" => Recipient::Etape(value.to_owned()),
            "group" => Recipient::Group(value.to_owned()),
            _ => return None,
        })
    }
}

/// The recipients of a form field: a JSON array of strings, or a list separated by commas,
/// semicolons or line breaks. Duplicates are dropped, order kept.
pub fn split_recipients(field: &str) -> Vec<String> {
    let trimmed = field.trim();
    let list: Vec<String> = if trimmed.starts_with('[') {
        serde_json::from_str::<Vec<String>>(trimmed).unwrap_or_else(|_| vec![trimmed.to_owned()])
    } else {
        trimmed.split([',', ';', '\n']).map(str::to_owned).collect()
    };
    let mut out: Vec<String> = Vec::new();
    for r in list {
        let r = r.trim().to_owned();
        if !r.is_empty() && !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_parsed() {
        assert_eq!(
            Recipient::parse("student:21900001"),
            Some(Recipient::Student("21900001".into()))
        );
        assert_eq!(
            Recipient::parse(" manager:jdupont "),
            Some(Recipient::Staff("manager:jdupont".into()))
        );
        assert_eq!(
            Recipient::parse("etape:L1INF"),
            Some(Recipient::Etape("L1INF".into()))
        );
        assert_eq!(Recipient::parse("21900001"), None);
        assert_eq!(Recipient::parse("teacher:x"), None);
        assert_eq!(Recipient::parse("group:"), None);
        assert_eq!(
            split_recipients("student:1, group:g;student:1\netape:E"),
            vec!["student:1", "group:g", "etape:E"]
        );
        assert_eq!(split_recipients(r#"["a:b","c:d"]"#), vec!["a:b", "c:d"]);
    }
}
