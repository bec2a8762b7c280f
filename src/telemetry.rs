//! Logging and the per-request context: every request gets an id (`X-Request-Id`, accepted
//! from the caller when sane, generated otherwise), echoed on the response and present in every
//! log line of the request through the `request` span. Paths are logged as route templates
//! (`/students/{cod_etu}`), never raw, so student numbers stay out of logs above debug.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use crate::config::LogFormat;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Installs the global subscriber (text or JSON lines). Safe to call once per process.
pub fn init(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Accepts a caller's id only if it is short and plain, so it cannot forge log lines.
fn sane_request_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| s.to_owned())
}

/// Middleware: request id, span, access log, and the guarantee that every error response is a
/// problem document (see [`crate::error::ensure_problem`]).
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(sane_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        route = tracing::field::Empty,
    );
    tracing::debug!(parent: &span, path = %req.path(), "request received");
    // The one place the language of people's texts is chosen (problem documents, labels).
    let lang = crate::i18n::Lang::from_accept_language(
        req.headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let started = Instant::now();
    // Do not keep a clone of the HttpRequest here: actix needs sole ownership to route it.
    let served = async move {
        next.call(req)
            .await
            .map(|r| crate::error::ensure_problem(r.map_into_boxed_body()))
    };
    let result = REQUEST_ID
        .scope(
            request_id.clone(),
            crate::i18n::scope(lang, served.instrument(span.clone())),
        )
        .await;
    let mut response = match result {
        Ok(r) => r,
        Err(e) => {
            // Only a middleware can fail this way (handlers' errors are responses already).
            let status = e.as_response_error().status_code();
            tracing::warn!(parent: &span, %status, "request failed in a middleware");
            let code = crate::error::code_for_status(status);
            let title = code.title_fr();
            let error = crate::error::ApiError::new(code, crate::text!("{title} ({e})", "{e}"));
            let response =
                crate::i18n::with(lang, || actix_web::ResponseError::error_response(&error));
            return Err(actix_web::error::InternalError::from_response(e, response).into());
        }
    };
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned());
    span.record("route", route.as_str());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(state) = response
        .request()
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
    {
        state.metrics.observe_request(
            &route,
            response.request().method().as_str(),
            status,
            elapsed,
        );
    }
    let latency_ms = elapsed * 1000.0;
    if status >= 500 {
        tracing::error!(parent: &span, status, latency_ms, "request served");
    } else if status == 401 || status == 429 {
        // A flood of refusals must not flood the log: each at debug, a summary a minute.
        tracing::debug!(parent: &span, status, latency_ms, "request served");
        if let Some(state) = response
            .request()
            .app_data::<actix_web::web::Data<crate::state::AppState>>()
        {
            state.refusals.record(status, std::time::Instant::now());
        }
    } else {
        tracing::info!(parent: &span, status, latency_ms, "request served");
    }
    Ok(response)
}

/// Counts of refused requests (401, 429) in the current minute, logged at info once the
/// minute is over (on the next refusal, or by the server's minute tick).
#[derive(Default)]
pub struct RefusalSummary {
    window: std::sync::Mutex<RefusalWindow>,
}

#[derive(Default)]
struct RefusalWindow {
    started: Option<Instant>,
    unauthenticated: u64,
    rate_limited: u64,
}

impl RefusalSummary {
    const WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

    pub fn record(&self, status: u16, now: Instant) {
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        Self::roll(&mut window, now);
        window.started.get_or_insert(now);
        match status {
            401 => window.unauthenticated += 1,
            _ => window.rate_limited += 1,
        }
    }

    /// Logs and resets the counts of a minute that is over.
    pub fn flush(&self, now: Instant) {
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        Self::roll(&mut window, now);
    }

    fn roll(window: &mut RefusalWindow, now: Instant) {
        if let Some(started) = window.started
            && now.duration_since(started) >= Self::WINDOW
        {
            tracing::info!(
                unauthenticated = window.unauthenticated,
                rate_limited = window.rate_limited,
                seconds = now.duration_since(started).as_secs(),
                "requests refused (401, 429) in the last minute"
            );
            *window = RefusalWindow::default();
        }
    }

    /// The counts of the current window (401, 429).
    pub fn counts(&self) -> (u64, u64) {
        let window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        (window.unauthenticated, window.rate_limited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_counted_and_reset_each_minute() {
        let summary = RefusalSummary::default();
        let t0 = Instant::now();
        summary.record(401, t0);
        summary.record(401, t0);
        summary.record(429, t0 + std::time::Duration::from_secs(30));
        assert_eq!(summary.counts(), (2, 1));
        summary.flush(t0 + std::time::Duration::from_secs(59));
        assert_eq!(summary.counts(), (2, 1));
        summary.flush(t0 + std::time::Duration::from_secs(61));
        assert_eq!(summary.counts(), (0, 0));
    }

    #[test]
    fn request_ids_from_callers_are_checked() {
        assert_eq!(
            sane_request_id(&HeaderValue::from_static("abc-123_x.y:z")).as_deref(),
            Some("abc-123_x.y:z")
        );
        assert!(sane_request_id(&HeaderValue::from_static("a b")).is_none());
        assert!(sane_request_id(&HeaderValue::from_str(&"a".repeat(200)).unwrap()).is_none());
    }
}
