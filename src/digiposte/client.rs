//! The real Digiposte client: OAuth2 client-credentials token cached and refreshed before it
//! expires, a pacer under the partner quota, retries with exponential backoff and full jitter
//! (timeouts, 5xx, 429 with `Retry-After`; never another 4xx), and a circuit breaker that stops
//! calling a failing Digiposte and lets a probe through after a while.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex as SyncMutex;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::error::parse_error_body;
use super::{
    ApiFuture, CertifiedDeposit, Deposited, DigiposteApi, DigiposteConfig, DigiposteError,
    DocumentStatus, Membership, PartialAccount, PartialUser, StatusRead,
};

/// The La Poste gateway's application-key header, on every call.
pub const OKAPI_KEY_HEADER: &str = "X-Okapi-Key";
/// Selects one partner user (`GET /memberships`, `POST /user/customizationurl`).
pub const PARTNER_USER_ID_HEADER: &str = "X-PartnerUserId";
/// The certified deposit's minor version, as the published example sends it.
pub const API_VERSION_MINOR: &str = "2";
/// The hash algorithm passerelle declares (one of the published MD5, SHA1, SHA256, SHA512).
pub const HASH_ALGORITHM: &str = "SHA256";

pub struct DigiposteClient {
    http: reqwest::Client,
    config: DigiposteConfig,
    base: String,
    token: Mutex<Option<CachedToken>>,
    pacer: Pacer,
    breaker: Breaker,
    /// Where calls, retries, 429s and the breaker's state are counted (`GET /metrics`).
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

struct CachedToken {
    value: String,
    refresh_at: Instant,
}

/// Whether a call may be repeated after an uncertain failure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Safe,
    /// A deposit: repeated only when the request surely never reached Digiposte.
    OnlyIfNotSent,
}

impl DigiposteClient {
    pub fn new(config: &DigiposteConfig) -> Result<DigiposteClient, DigiposteError> {
        let http = crate::http_client::client_builder()
            .connect_timeout(Duration::from_millis(config.timeout_ms.clamp(100, 10_000)))
            .build()
            .map_err(|e| DigiposteError::BadResponse(format!("HTTP client: {e}")))?;
        Ok(DigiposteClient {
            http,
            base: config.base_url.trim_end_matches('/').to_owned(),
            pacer: Pacer::new(config.quota_per_minute),
            breaker: Breaker::new(
                config.breaker_failures.max(1),
                Duration::from_millis(config.breaker_open_ms),
            ),
            token: Mutex::new(None),
            config: config.clone(),
            metrics: None,
        })
    }

    /// Counts this client's calls in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> DigiposteClient {
        self.metrics = Some(metrics);
        self
    }

    fn observe_call(&self, operation: &str) {
        if let Some(m) = &self.metrics {
            m.digiposte_call(operation);
        }
    }

    fn observe_retry(&self, operation: &str) {
        if let Some(m) = &self.metrics {
            m.digiposte_retry(operation);
        }
    }

    fn observe_rate_limited(&self) {
        if let Some(m) = &self.metrics {
            m.digiposte_rate_limited.inc();
        }
    }

    fn observe_breaker(&self) {
        if let Some(m) = &self.metrics {
            m.digiposte_circuit_state.set(self.breaker.state_code());
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn retry_delay(&self, retry: u32) -> Duration {
        let exp = self
            .config
            .retry_base_ms
            .saturating_mul(1u64 << retry.min(20))
            .min(self.config.retry_max_ms)
            .max(1);
        Duration::from_millis(rand::random_range(exp / 2..=exp))
    }

    async fn token(&self) -> Result<String, DigiposteError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let mut retry = 0;
        let answer = loop {
            self.observe_call("POST /oauth/token");
            let sent = self
                .http
                .post(self.url("/oauth/token"))
                .header(OKAPI_KEY_HEADER, self.config.okapi_key.expose())
                .basic_auth(
                    &self.config.client_id,
                    Some(self.config.client_secret.expose()),
                )
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .timeout(Duration::from_millis(self.config.timeout_ms))
                .send()
                .await;
            let failure = match sent {
                Ok(r) if r.status().is_success() => {
                    let bytes = r
                        .bytes()
                        .await
                        .map_err(|e| DigiposteError::Unavailable(e.to_string()))?;
                    break serde_json::from_slice::<TokenAnswer>(&bytes)
                        .map_err(|e| DigiposteError::BadResponse(format!("token: {e}")))?;
                }
                Ok(r) if matches!(r.status().as_u16(), 400 | 401 | 403) => {
                    return Err(DigiposteError::AuthFailed(format!("token: {}", r.status())));
                }
                Ok(r) => {
                    if r.status() == StatusCode::TOO_MANY_REQUESTS {
                        self.observe_rate_limited();
                    }
                    format!("token: {}", r.status())
                }
                Err(e) => format!("token: {e}"),
            };
            if retry >= self.config.max_retries {
                return Err(DigiposteError::Unavailable(failure));
            }
            self.observe_retry("POST /oauth/token");
            tokio::time::sleep(self.retry_delay(retry)).await;
            retry += 1;
        };
        let ttl = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        let margin = Duration::from_secs(self.config.token_refresh_margin_secs).min(ttl / 2);
        *cached = Some(CachedToken {
            value: answer.access_token.clone(),
            refresh_at: Instant::now() + ttl - margin,
        });
        Ok(answer.access_token)
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// One logical call, with pacing, retries and the breaker. `build` makes a fresh request
    /// for each attempt (a multipart body cannot be replayed).
    async fn call(
        &self,
        method: Method,
        path: &str,
        repeat: Repeat,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Vec<u8>, DigiposteError> {
        let result = self.attempts(method, path, repeat, build).await;
        self.observe_breaker();
        result
    }

    async fn attempts(
        &self,
        method: Method,
        path: &str,
        repeat: Repeat,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Vec<u8>, DigiposteError> {
        let checked = self.breaker.check();
        self.observe_breaker();
        checked?;
        let operation = operation(&method, path, &self.config.document_status_path);
        let mut retry = 0;
        let mut refreshed = false;
        loop {
            let token = match self.token().await {
                Ok(t) => t,
                Err(e) => {
                    if e.is_transient() {
                        self.breaker.failure();
                    }
                    return Err(e);
                }
            };
            self.pacer.acquire().await;
            self.observe_call(&operation);
            let request = build(
                self.http
                    .request(method.clone(), self.url(path))
                    .header(OKAPI_KEY_HEADER, self.config.okapi_key.expose())
                    .bearer_auth(&token)
                    .timeout(Duration::from_millis(self.config.timeout_ms)),
            );
            let (failure, wait) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(&response);
                    let body = response.bytes().await;
                    match (status, body) {
                        (s, Ok(body)) if s.is_success() => {
                            self.breaker.success();
                            return Ok(body.to_vec());
                        }
                        (StatusCode::UNAUTHORIZED, _) if !refreshed => {
                            // The token expired early or was revoked: one fresh token, once.
                            refreshed = true;
                            self.forget_token().await;
                            continue;
                        }
                        (StatusCode::UNAUTHORIZED, _) => {
                            return Err(DigiposteError::AuthFailed(format!("{method} {path}")));
                        }
                        (StatusCode::TOO_MANY_REQUESTS, _) => {
                            // Refused before any processing: always safe to repeat.
                            self.observe_rate_limited();
                            (format!("{method} {path}: 429"), retry_after)
                        }
                        (s, Ok(body)) if s.is_client_error() => {
                            self.breaker.success();
                            return Err(parse_error_body(s.as_u16(), &body));
                        }
                        (s, _) => {
                            let failure = format!("{method} {path}: {s}");
                            // 503 says the service could not take the request (RFC 9110
                            // §15.6.4), like a 429: nothing was done. Any other 5xx may come
                            // after the deposit was stored.
                            if repeat == Repeat::OnlyIfNotSent
                                && s != StatusCode::SERVICE_UNAVAILABLE
                            {
                                self.breaker.failure();
                                return Err(DigiposteError::Uncertain(failure));
                            }
                            (failure, retry_after)
                        }
                    }
                }
                Err(e) => {
                    let failure = format!("{method} {path}: {}", describe(&e));
                    // A refused connection never reached Digiposte; anything later may have.
                    if repeat == Repeat::OnlyIfNotSent && !e.is_connect() {
                        self.breaker.failure();
                        return Err(DigiposteError::Uncertain(failure));
                    }
                    (failure, None)
                }
            };
            if retry >= self.config.max_retries {
                self.breaker.failure();
                return Err(DigiposteError::Unavailable(failure));
            }
            let delay = wait
                .map(|w| w.min(Duration::from_millis(self.config.retry_max_ms.max(1000))))
                .unwrap_or_else(|| self.retry_delay(retry));
            tracing::debug!(%failure, ?delay, "Digiposte call failed; retrying");
            self.observe_retry(&operation);
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<T, DigiposteError> {
        let body = self.call(method, path, Repeat::Safe, build).await?;
        serde_json::from_slice(&body)
            .map_err(|e| DigiposteError::BadResponse(format!("{path}: {e}")))
    }
}

/// Reads the published answer of `POST /document/certified`: `{"document": {…}}`.
pub fn parse_deposit_answer(body: &[u8]) -> Result<Deposited, serde_json::Error> {
    #[derive(Deserialize)]
    struct Answer {
        document: Deposited,
    }
    serde_json::from_slice::<Answer>(body).map(|a| a.document)
}

/// Reads the published answer of `GET /memberships`: `{"memberships": [{id, status, …}]}`.
pub fn parse_memberships(body: &[u8]) -> Result<Vec<Membership>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Answer {
        memberships: Vec<Membership>,
    }
    serde_json::from_slice::<Answer>(body).map(|a| a.memberships)
}

/// The metrics label of a call: its method and path template (ids replaced by `{id}`, the
/// status read by its configured template).
fn operation(method: &Method, path: &str, status_template: &str) -> String {
    if let Some((before, after)) = status_template
        .trim()
        .split_once(super::STATUS_PATH_PLACEHOLDER)
        && path.len() > before.len() + after.len()
        && path.starts_with(before)
        && path.ends_with(after)
    {
        return format!("{method} {}", status_template.trim());
    }
    match path.strip_prefix("/membership/") {
        Some(_) => format!("{method} /membership/{{id}}"),
        None => format!("{method} {path}"),
    }
}

/// Reads the answer of the status read: `{id_routage, status, reason}`.
pub fn parse_status_answer(body: &[u8]) -> Result<DocumentStatus, String> {
    #[derive(Deserialize)]
    struct Answer {
        status: String,
        #[serde(default)]
        reason: Option<String>,
    }
    let a: Answer = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    DocumentStatus::from_answer(&a.status, a.reason)
        .ok_or_else(|| format!("unknown document status {:?}", a.status))
}

fn describe(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value
        .trim()
        .parse::<f64>()
        .ok()
        .map(Duration::from_secs_f64)
}

impl DigiposteApi for DigiposteClient {
    fn create_partial_user<'a>(&'a self, user: &'a PartialUser) -> ApiFuture<'a, PartialAccount> {
        Box::pin(self.json(Method::POST, "/user/partial", move |r| r.json(user)))
    }

    fn customization_url<'a>(&'a self, partner_user_id: &'a str) -> ApiFuture<'a, String> {
        Box::pin(async move {
            #[derive(Deserialize)]
            struct Answer {
                customization_url: String,
            }
            // The user is named both ways the description and its clients use: the body's
            // `partner_user_id` and the `X-PartnerUserId` header.
            let body = serde_json::json!({ "partner_user_id": partner_user_id });
            let a: Answer = self
                .json(Method::POST, "/user/customizationurl", move |r| {
                    r.header(PARTNER_USER_ID_HEADER, partner_user_id)
                        .json(&body)
                })
                .await?;
            Ok(a.customization_url)
        })
    }

    fn memberships(&self) -> ApiFuture<'_, Vec<Membership>> {
        Box::pin(async move {
            let body = self
                .call(Method::GET, "/memberships", Repeat::Safe, |r| r)
                .await?;
            parse_memberships(&body)
                .map_err(|e| DigiposteError::BadResponse(format!("/memberships: {e}")))
        })
    }

    fn memberships_of<'a>(&'a self, partner_user_id: &'a str) -> ApiFuture<'a, Vec<Membership>> {
        Box::pin(async move {
            let body = self
                .call(Method::GET, "/memberships", Repeat::Safe, move |r| {
                    r.header(PARTNER_USER_ID_HEADER, partner_user_id)
                })
                .await?;
            parse_memberships(&body)
                .map_err(|e| DigiposteError::BadResponse(format!("/memberships: {e}")))
        })
    }

    fn cancel_membership<'a>(&'a self, membership_id: &'a str) -> ApiFuture<'a, String> {
        Box::pin(async move {
            #[derive(Deserialize)]
            struct Answer {
                status: String,
            }
            let path = format!("/membership/{membership_id}");
            let a: Answer = self.json(Method::DELETE, &path, |r| r).await?;
            Ok(a.status)
        })
    }

    fn deposit_certified<'a>(&'a self, deposit: &'a CertifiedDeposit) -> ApiFuture<'a, Deposited> {
        Box::pin(async move {
            let build = |r: RequestBuilder| {
                let archive = reqwest::multipart::Part::bytes(deposit.bytes.clone())
                    .file_name(deposit.file_name.clone())
                    .mime_str("application/pdf")
                    .expect("a valid media type");
                let form = reqwest::multipart::Form::new()
                    .text("title", deposit.title.clone())
                    .text("type", deposit.doc_type.clone())
                    .text("algo", HASH_ALGORITHM)
                    .text("hash", deposit.sha256.to_ascii_lowercase())
                    .text("file_name", deposit.file_name.clone())
                    .text("file_size", deposit.bytes.len().to_string())
                    .part("archive", archive);
                r.header("X-RouteCode", &deposit.route_code)
                    .header("X-Api-Version-Minor", API_VERSION_MINOR)
                    .multipart(form)
            };
            let body = self
                .call(
                    Method::POST,
                    "/document/certified",
                    Repeat::OnlyIfNotSent,
                    build,
                )
                .await?;
            // A 2xx whose body cannot be read may still be a stored deposit: uncertain.
            parse_deposit_answer(&body)
                .map_err(|e| DigiposteError::Uncertain(format!("deposit answer unreadable: {e}")))
        })
    }

    fn document_types(&self) -> ApiFuture<'_, serde_json::Value> {
        Box::pin(self.json(Method::GET, "/profile/documents", |r| r))
    }

    fn document_status<'a>(&'a self, id_routage: &'a str) -> ApiFuture<'a, StatusRead> {
        Box::pin(async move {
            let Some(path) = super::status_path(&self.config.document_status_path, id_routage)
            else {
                return Ok(StatusRead::NotAvailable);
            };
            match self.call(Method::GET, &path, Repeat::Safe, |r| r).await {
                Ok(body) => parse_status_answer(&body)
                    .map(StatusRead::Known)
                    .map_err(|e| DigiposteError::BadResponse(format!("status read: {e}"))),
                Err(DigiposteError::Refused { status: 404, .. }) => {
                    Ok(StatusRead::UnknownReference)
                }
                Err(e) => Err(e),
            }
        })
    }
}

/// Keeps the calls of any sliding minute under the quota (with a 5 % margin for the clocks
/// of both sides), by waiting rather than provoking 429s.
struct Pacer {
    limit: usize,
    sent: Mutex<VecDeque<Instant>>,
}

impl Pacer {
    fn new(per_minute: u32) -> Pacer {
        let limit = if per_minute == 0 {
            0
        } else {
            (per_minute - (per_minute / 20).max(1).min(per_minute - 1)) as usize
        };
        Pacer {
            limit,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    async fn acquire(&self) {
        if self.limit == 0 {
            return;
        }
        let window = Duration::from_secs(60);
        loop {
            let wait = {
                let mut sent = self.sent.lock().await;
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    sent.pop_front();
                }
                if sent.len() < self.limit {
                    sent.push_back(now);
                    return;
                }
                window - now.duration_since(*sent.front().expect("full window"))
            };
            tokio::time::sleep(wait + Duration::from_millis(5)).await;
        }
    }
}

/// Closed → open after `threshold` consecutive failed calls → after `open_for`, one probe
/// call goes through (half-open): its success closes the breaker, its failure reopens it.
struct Breaker {
    threshold: u32,
    open_for: Duration,
    state: SyncMutex<BreakerState>,
}

#[derive(Default)]
struct BreakerState {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

impl Breaker {
    fn new(threshold: u32, open_for: Duration) -> Breaker {
        Breaker {
            threshold,
            open_for,
            state: SyncMutex::new(BreakerState::default()),
        }
    }

    fn check(&self) -> Result<(), DigiposteError> {
        let mut s = self.state.lock().expect("breaker lock");
        let Some(until) = s.open_until else {
            return Ok(());
        };
        let now = Instant::now();
        if now < until {
            return Err(DigiposteError::CircuitOpen(until - now));
        }
        if s.probing {
            return Err(DigiposteError::CircuitOpen(Duration::from_millis(
                (self.open_for.as_millis() as u64 / 4).max(50),
            )));
        }
        s.probing = true;
        Ok(())
    }

    /// For the metrics: 0 closed, 1 half-open (the open delay is over: a probe may go or is
    /// under way), 2 open.
    fn state_code(&self) -> i64 {
        let s = self.state.lock().expect("breaker lock");
        match s.open_until {
            None => 0,
            Some(until) if Instant::now() < until => 2,
            Some(_) => 1,
        }
    }

    fn success(&self) {
        let mut s = self.state.lock().expect("breaker lock");
        if s.open_until.is_some() {
            tracing::info!("Digiposte answers again: circuit closed");
        }
        *s = BreakerState::default();
    }

    fn failure(&self) {
        let mut s = self.state.lock().expect("breaker lock");
        s.failures += 1;
        if s.probing || s.failures >= self.threshold {
            if s.open_until.is_none() || s.probing {
                tracing::warn!(
                    failures = s.failures,
                    "Digiposte keeps failing: circuit open"
                );
            }
            s.open_until = Some(Instant::now() + self.open_for);
            s.probing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_read_is_labelled_by_its_template_and_read_in_its_shape() {
        let template = "/document/{id_routage}/status";
        assert_eq!(
            operation(&Method::GET, "/document/abc/status", template),
            "GET /document/{id_routage}/status"
        );
        // Not configured: the path is its own label; other calls keep theirs.
        assert_eq!(
            operation(&Method::GET, "/document/abc/status", ""),
            "GET /document/abc/status"
        );
        assert_eq!(
            operation(&Method::DELETE, "/membership/42", template),
            "DELETE /membership/{id}"
        );
        assert_eq!(
            operation(&Method::POST, "/document/certified", template),
            "POST /document/certified"
        );
        assert_eq!(
            parse_status_answer(br#"{"id_routage":"a","status":"FAILED","reason":"virus"}"#),
            Ok(DocumentStatus::Failed {
                reason: Some("virus".into())
            })
        );
        assert_eq!(
            parse_status_answer(br#"{"id_routage":"a","status":"PROCESSING"}"#),
            Ok(DocumentStatus::Processing)
        );
        assert!(parse_status_answer(br#"{"status":"LOST"}"#).is_err());
        assert!(parse_status_answer(b"not json").is_err());
    }

    #[test]
    fn breaker_opens_and_reopens_by_itself() {
        let b = Breaker::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            b.failure();
            assert!(b.check().is_ok());
        }
        assert_eq!(b.state_code(), 0);
        b.failure();
        assert!(matches!(b.check(), Err(DigiposteError::CircuitOpen(_))));
        assert_eq!(b.state_code(), 2);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.state_code(), 1);
        // Half-open: one probe goes through, a second waits.
        assert!(b.check().is_ok());
        assert!(b.check().is_err());
        // The probe fails: open again.
        b.failure();
        assert!(b.check().is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.check().is_ok());
        b.success();
        assert_eq!(b.state_code(), 0);
        assert!(b.check().is_ok());
        assert!(b.check().is_ok());
    }

    #[actix_web::test]
    async fn pacer_stays_under_the_quota() {
        let p = Pacer::new(100);
        assert_eq!(p.limit, 95);
        let start = Instant::now();
        for _ in 0..95 {
            p.acquire().await;
        }
        assert!(start.elapsed() < Duration::from_secs(1));
        // The 96th call of the minute would wait (not awaited here: a minute is long).
        let blocked = tokio::time::timeout(Duration::from_millis(50), p.acquire())
            .await
            .is_err();
        assert!(blocked);
        let unpaced = Pacer::new(0);
        for _ in 0..10_000 {
            unpaced.acquire().await;
        }
    }
}
