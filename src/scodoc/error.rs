//! ScoDoc client errors, with the stable codes passerelle's problem table uses.

/// Why a ScoDoc call failed. Messages name the route, never personal data.
#[derive(Debug, thiserror::Error)]
pub enum ScoDocError {
    /// Network failure, timeout or a 5xx answer.
    #[error("ScoDoc is unavailable: {0}")]
    Unavailable(String),
    /// The credentials or the token were refused (401 after one refresh, or 403).
    #[error("ScoDoc refused the credentials: {0}")]
    AuthFailed(String),
    /// 404, or no semester for the étape and year asked.
    #[error("not found in ScoDoc: {0}")]
    NotFound(String),
    /// No semester (or not the one asked) of the étape and year.
    #[error(
        "not found in ScoDoc: no semester{} of étape {etape} in {year}-{}",
        formsemestre.map(|id| format!(" {id}")).unwrap_or_default(),
        year + 1
    )]
    NoSemester {
        etape: String,
        year: i32,
        formsemestre: Option<i64>,
    },
    /// An answer passerelle cannot read.
    #[error("unexpected answer from ScoDoc: {0}")]
    BadResponse(String),
}

impl ScoDocError {
    pub fn code(&self) -> &'static str {
        match self {
            ScoDocError::Unavailable(_) => "scodoc_unavailable",
            ScoDocError::AuthFailed(_) => "scodoc_auth_failed",
            ScoDocError::NotFound(_) | ScoDocError::NoSemester { .. } => "scodoc_not_found",
            ScoDocError::BadResponse(_) => "scodoc_bad_response",
        }
    }

    /// What the manager reads, in French and English (the `Display` text); the technical part
    /// (route, status, library message) stays as written.
    pub fn text(&self) -> crate::i18n::Text {
        let fr = match self {
            ScoDocError::Unavailable(why) => format!("ScoDoc est indisponible : {why}"),
            ScoDocError::AuthFailed(why) => {
                format!("ScoDoc a refusé les identifiants : {why}")
            }
            ScoDocError::NotFound(what) => format!("introuvable dans ScoDoc : {what}"),
            ScoDocError::NoSemester {
                etape,
                year,
                formsemestre,
            } => format!(
                "introuvable dans ScoDoc : aucun semestre{} de l'étape {etape} en {year}-{}",
                formsemestre.map(|id| format!(" {id}")).unwrap_or_default(),
                year + 1
            ),
            ScoDocError::BadResponse(why) => format!("réponse inattendue de ScoDoc : {why}"),
        };
        crate::i18n::Text::new(fr, self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_semester_is_named_in_both_languages() {
        let any = ScoDocError::NoSemester {
            etape: "V1RT".into(),
            year: 2024,
            formsemestre: None,
        };
        assert_eq!(any.code(), "scodoc_not_found");
        assert_eq!(
            any.text().fr,
            "introuvable dans ScoDoc : aucun semestre de l'étape V1RT en 2024-2025"
        );
        assert_eq!(
            any.text().en,
            "not found in ScoDoc: no semester of étape V1RT in 2024-2025"
        );
        let one = ScoDocError::NoSemester {
            etape: "V1RT".into(),
            year: 2024,
            formsemestre: Some(99),
        };
        assert!(one.text().fr.contains("aucun semestre 99 de l'étape"));
        assert!(one.text().en.contains("no semester 99 of étape"));
        let down = ScoDocError::Unavailable("formsemestres/query: 502".into());
        assert_eq!(
            down.text().fr,
            "ScoDoc est indisponible : formsemestres/query: 502"
        );
    }
}
