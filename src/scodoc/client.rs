//! The ScoDoc 9 API client: token handling, department routes, error mapping. Thin: the
//! mapping to grades lives in `mapping`.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::error::ScoDocError;
use super::mapping::{SemesterData, grade_source};
use super::model::{DecisionJury, Etudiant, FormSemestre, Programme, decisions_kind};
use crate::apogee::grades::GradeSource;

/// One department of one ScoDoc server. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct ScoDocConfig {
    /// The server, e.g. `https://scodoc.univ.fr` (a trailing `/ScoDoc` is accepted too).
    pub base_url: String,
    /// The department acronym as ScoDoc spells it (`RT`, `GEII`…).
    pub dept: String,
    pub username: String,
    pub password: String,
    /// Per request.
    #[serde(default = "default_timeout", with = "seconds")]
    pub timeout: Duration,
}

impl std::fmt::Debug for ScoDocConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScoDocConfig")
            .field("base_url", &self.base_url)
            .field("dept", &self.dept)
            .field("username", &self.username)
            .field("password", &"***")
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

mod seconds {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs_f64(f64::deserialize(d)?))
    }
}

/// What passerelle asks ScoDoc. Async without `async-trait`: each method returns a `Send`
/// future, so callers can be generic over the real client and test doubles.
pub trait ScoDocApi {
    /// The semesters of `etape` in academic year `year` (first year: 2024 for 2024-2025).
    fn semesters(
        &self,
        year: i32,
        etape: &str,
    ) -> impl Future<Output = Result<Vec<FormSemestre>, ScoDocError>> + Send;
    fn students(
        &self,
        formsemestre_id: i64,
    ) -> impl Future<Output = Result<Vec<Etudiant>, ScoDocError>> + Send;
    fn programme(
        &self,
        formsemestre_id: i64,
    ) -> impl Future<Output = Result<Programme, ScoDocError>> + Send;
    fn results(
        &self,
        formsemestre_id: i64,
    ) -> impl Future<Output = Result<Vec<Map<String, Value>>, ScoDocError>> + Send;
    fn decisions(
        &self,
        formsemestre_id: i64,
    ) -> impl Future<Output = Result<Vec<DecisionJury>, ScoDocError>> + Send;
}

/// Reads every semester of `etape` in `year` and builds the grade source.
pub async fn pull_grade_source<A: ScoDocApi + Sync>(
    api: &A,
    year: i32,
    etape: &str,
) -> Result<GradeSource, ScoDocError> {
    let semesters = api.semesters(year, etape).await?;
    // ScoDoc may ignore a filter it does not know: check the étape and year ourselves.
    let semesters: Vec<FormSemestre> = semesters
        .into_iter()
        .filter(|s| s.etapes().iter().any(|e| e == etape))
        .filter(|s| s.annee_scolaire.is_none_or(|y| y == year))
        .collect();
    if semesters.is_empty() {
        return Err(ScoDocError::NoSemester {
            etape: etape.to_owned(),
            year,
            formsemestre: None,
        });
    }
    let mut data = Vec::with_capacity(semesters.len());
    for formsemestre in semesters {
        let id = formsemestre
            .key()
            .ok_or_else(|| ScoDocError::BadResponse("a semester has no id".into()))?;
        let decisions = api.decisions(id).await?;
        decisions_kind(&decisions).map_err(|e| {
            ScoDocError::BadResponse(format!("formsemestre {id} decisions_jury: {e}"))
        })?;
        data.push(SemesterData {
            students: api.students(id).await?,
            programme: api.programme(id).await?,
            results: api.results(id).await?,
            decisions,
            formsemestre,
        });
    }
    Ok(grade_source(etape, year, &data))
}

/// Reads the semesters of `etape` in `year` — or only semester `formsemestre_id` when given
/// (it must still be of that étape and year) — and builds the grade source.
pub async fn pull_grade_source_from<A: ScoDocApi + Sync>(
    api: &A,
    year: i32,
    etape: &str,
    formsemestre_id: Option<i64>,
) -> Result<GradeSource, ScoDocError> {
    let Some(wanted) = formsemestre_id else {
        return pull_grade_source(api, year, etape).await;
    };
    let filtered = OneSemester { api, wanted };
    pull_grade_source(&filtered, year, etape)
        .await
        .map_err(|e| match e {
            ScoDocError::NotFound(_) | ScoDocError::NoSemester { .. } => ScoDocError::NoSemester {
                etape: etape.to_owned(),
                year,
                formsemestre: Some(wanted),
            },
            other => other,
        })
}

/// An API view that lists only one semester.
struct OneSemester<'a, A> {
    api: &'a A,
    wanted: i64,
}

impl<A: ScoDocApi + Sync> ScoDocApi for OneSemester<'_, A> {
    async fn semesters(&self, year: i32, etape: &str) -> Result<Vec<FormSemestre>, ScoDocError> {
        let mut all = self.api.semesters(year, etape).await?;
        all.retain(|s| s.key() == Some(self.wanted));
        Ok(all)
    }
    async fn students(&self, id: i64) -> Result<Vec<Etudiant>, ScoDocError> {
        self.api.students(id).await
    }
    async fn programme(&self, id: i64) -> Result<Programme, ScoDocError> {
        self.api.programme(id).await
    }
    async fn results(&self, id: i64) -> Result<Vec<Map<String, Value>>, ScoDocError> {
        self.api.results(id).await
    }
    async fn decisions(&self, id: i64) -> Result<Vec<DecisionJury>, ScoDocError> {
        self.api.decisions(id).await
    }
}

/// One client per configured department, built on first use and kept, so its bearer token
/// is reused across requests (and refreshed when ScoDoc refuses it).
#[derive(Default)]
pub struct ScoDocClients {
    clients: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<ScoDocClient>>>,
}

impl ScoDocClients {
    /// The client for department `key`; a changed configuration replaces the old client.
    pub fn get(
        &self,
        key: &str,
        config: ScoDocConfig,
    ) -> Result<std::sync::Arc<ScoDocClient>, ScoDocError> {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = clients.get(key)
            && client.config == config
        {
            return Ok(client.clone());
        }
        let client = std::sync::Arc::new(ScoDocClient::new(config)?);
        clients.insert(key.to_owned(), client.clone());
        Ok(client)
    }
}

/// The real client.
pub struct ScoDocClient {
    http: reqwest::Client,
    /// `https://host/ScoDoc`.
    root: String,
    config: ScoDocConfig,
    token: Mutex<Option<String>>,
    tokens_issued: AtomicUsize,
}

#[derive(Deserialize)]
struct TokenAnswer {
    token: String,
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn transport_error(route: &str, e: &reqwest::Error) -> ScoDocError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    ScoDocError::Unavailable(format!("{route}: {what}"))
}

impl ScoDocClient {
    pub fn new(config: ScoDocConfig) -> Result<ScoDocClient, ScoDocError> {
        let http = crate::http_client::client_builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| ScoDocError::Unavailable(format!("HTTP client: {e}")))?;
        let base = config.base_url.trim_end_matches('/');
        let root = if base.ends_with("/ScoDoc") {
            base.to_string()
        } else {
            format!("{base}/ScoDoc")
        };
        Ok(ScoDocClient {
            http,
            root,
            config,
            token: Mutex::new(None),
            tokens_issued: AtomicUsize::new(0),
        })
    }

    /// How many tokens this client obtained (1 + refreshes).
    pub fn tokens_issued(&self) -> usize {
        self.tokens_issued.load(Ordering::Relaxed)
    }

    async fn fetch_token(&self) -> Result<String, ScoDocError> {
        let route = "POST /ScoDoc/api/tokens";
        let answer = self
            .http
            .post(format!("{}/api/tokens", self.root))
            .basic_auth(&self.config.username, Some(&self.config.password))
            .send()
            .await
            .map_err(|e| transport_error(route, &e))?;
        match answer.status() {
            s if s.is_success() => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(ScoDocError::AuthFailed(format!(
                    "{route}: {} for user {}",
                    answer.status().as_u16(),
                    self.config.username
                )));
            }
            s if s.is_server_error() => {
                return Err(ScoDocError::Unavailable(format!("{route}: {}", s.as_u16())));
            }
            s => {
                return Err(ScoDocError::BadResponse(format!("{route}: {}", s.as_u16())));
            }
        }
        let token: TokenAnswer = answer
            .json()
            .await
            .map_err(|e| ScoDocError::BadResponse(format!("{route}: {e}")))?;
        if token.token.is_empty() {
            return Err(ScoDocError::BadResponse(format!("{route}: empty token")));
        }
        self.tokens_issued.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(dept = %self.config.dept, "obtained a ScoDoc token");
        Ok(token.token)
    }

    /// The current token, fetching one if needed; when `stale` is the token that was just
    /// refused, a new one is fetched (once, whoever gets the lock first).
    async fn token(&self, stale: Option<&str>) -> Result<String, ScoDocError> {
        let mut guard = self.token.lock().await;
        match guard.as_deref() {
            Some(t) if Some(t) != stale => return Ok(t.to_string()),
            _ => {}
        }
        let fresh = self.fetch_token().await?;
        *guard = Some(fresh.clone());
        Ok(fresh)
    }

    /// GET a department route (`/ScoDoc/<DEPT>/api/<path>`), refreshing the token once on 401.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ScoDocError> {
        let mut url = format!("{}/{}/api/{}", self.root, self.config.dept, path);
        // reqwest's `query` needs a feature the main crate does not enable: encode by hand.
        for (i, (key, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&percent_encode(key));
            url.push('=');
            url.push_str(&percent_encode(value));
        }
        let route = format!("GET /ScoDoc/{}/api/{}", self.config.dept, path);
        let mut token = self.token(None).await?;
        let mut refreshed = false;
        loop {
            let answer = self
                .http
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .map_err(|e| transport_error(&route, &e))?;
            let status = answer.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                tracing::debug!(%route, "ScoDoc token refused, refreshing");
                token = self.token(Some(&token)).await?;
                refreshed = true;
                continue;
            }
            return match status {
                s if s.is_success() => answer
                    .json::<T>()
                    .await
                    .map_err(|e| ScoDocError::BadResponse(format!("{route}: {e}"))),
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(ScoDocError::AuthFailed(
                    format!("{route}: {}", status.as_u16()),
                )),
                StatusCode::NOT_FOUND => Err(ScoDocError::NotFound(route)),
                s if s.is_server_error() => {
                    Err(ScoDocError::Unavailable(format!("{route}: {}", s.as_u16())))
                }
                s => Err(ScoDocError::BadResponse(format!("{route}: {}", s.as_u16()))),
            };
        }
    }
}

impl ScoDocApi for ScoDocClient {
    async fn semesters(&self, year: i32, etape: &str) -> Result<Vec<FormSemestre>, ScoDocError> {
        self.get(
            "formsemestres/query",
            &[
                ("annee_scolaire", year.to_string()),
                ("etape_apo", etape.to_string()),
            ],
        )
        .await
    }

    async fn students(&self, formsemestre_id: i64) -> Result<Vec<Etudiant>, ScoDocError> {
        self.get(
            &format!("formsemestre/{formsemestre_id}/etudiants/long"),
            &[],
        )
        .await
    }

    async fn programme(&self, formsemestre_id: i64) -> Result<Programme, ScoDocError> {
        self.get(&format!("formsemestre/{formsemestre_id}/programme"), &[])
            .await
    }

    async fn results(&self, formsemestre_id: i64) -> Result<Vec<Map<String, Value>>, ScoDocError> {
        self.get(&format!("formsemestre/{formsemestre_id}/resultats"), &[])
            .await
    }

    async fn decisions(&self, formsemestre_id: i64) -> Result<Vec<DecisionJury>, ScoDocError> {
        self.get(
            &format!("formsemestre/{formsemestre_id}/decisions_jury"),
            &[],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base_url: &str) -> ScoDocConfig {
        ScoDocConfig {
            base_url: base_url.into(),
            dept: "RT".into(),
            username: "u".into(),
            password: "p".into(),
            timeout: default_timeout(),
        }
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(percent_encode("V1RT"), "V1RT");
        assert_eq!(percent_encode("a b/é&"), "a%20b%2F%C3%A9%26");
    }

    #[test]
    fn the_root_accepts_a_server_or_its_scodoc_path() {
        for base in [
            "https://scodoc.example.fr",
            "https://scodoc.example.fr/",
            "https://scodoc.example.fr/ScoDoc/",
        ] {
            assert_eq!(
                ScoDocClient::new(config(base)).unwrap().root,
                "https://scodoc.example.fr/ScoDoc"
            );
        }
    }

    #[test]
    fn config_reads_a_timeout_in_seconds() {
        let c: ScoDocConfig = serde_json::from_str(
            r#"{"base_url": "https://s", "dept": "RT", "username": "u", "password": "p", "timeout": 2.5}"#,
        )
        .unwrap();
        assert_eq!(c.timeout, Duration::from_millis(2500));
        let c: ScoDocConfig = serde_json::from_str(
            r#"{"base_url": "https://s", "dept": "RT", "username": "u", "password": "p"}"#,
        )
        .unwrap();
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert!(!format!("{c:?}").contains("\"p\""), "password hidden");
    }
}
