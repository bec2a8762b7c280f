//! Request guards around every operation: deadlines on reading a request body (a client that
//! sends headers and then trickles or stops holds no connection for good), and the security
//! headers of every answer.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::HttpResponse;
use actix_web::ResponseError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use crate::error::{ApiError, ErrorCode};

/// A request body that must keep coming: each chunk within `idle`, the whole before `deadline`.
struct DeadlinedBody {
    inner: Payload,
    idle: Duration,
    deadline: Instant,
    timer: Pin<Box<Sleep>>,
    timed_out: Rc<Cell<bool>>,
}

impl DeadlinedBody {
    fn next_wake(&self) -> Instant {
        (Instant::now() + self.idle).min(self.deadline)
    }
}

impl Stream for DeadlinedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.timed_out.get() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(item) => {
                let wake = self.next_wake();
                self.timer.as_mut().reset(wake);
                Poll::Ready(item)
            }
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.timed_out.set(true);
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body did not arrive in time",
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// Middleware: bounds the reading of the request body (`limits.body_idle_timeout_secs`,
/// `limits.body_total_timeout_secs`). Whatever the handler made of the failed read, the answer
/// is then a 408 and the connection is closed.
pub async fn body_deadlines(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limits = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|s| s.config.limits.clone())
        .unwrap_or_default();
    let idle = Duration::from_secs(limits.body_idle_timeout_secs);
    let deadline = Instant::now() + Duration::from_secs(limits.body_total_timeout_secs);
    let timed_out = Rc::new(Cell::new(false));
    let body = DeadlinedBody {
        inner: req.take_payload(),
        idle,
        deadline,
        timer: Box::pin(tokio::time::sleep_until(
            (Instant::now() + idle).min(deadline),
        )),
        timed_out: timed_out.clone(),
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(body),
    });
    let response = next.call(req).await?.map_into_boxed_body();
    if !timed_out.get() {
        return Ok(response);
    }
    let mut answer: HttpResponse = ApiError::new(
        ErrorCode::RequestTimeout,
        {
            let (idle, total) = (limits.body_idle_timeout_secs, limits.body_total_timeout_secs);
            crate::text!(
                "le corps de la requête n'est pas arrivé à temps (au plus {idle} s sans données, {total} s en tout)",
                "the request body did not arrive in time (at most {idle} s without data, {total} s in all)"
            )
        },
    )
    .error_response();
    answer
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    Ok(response.into_response(answer))
}

/// Content-Security-Policy of the Swagger UI: its own scripts, styles and images only, never
/// in a frame.
const SWAGGER_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Methods and request headers a cross-origin front-end may use.
const CORS_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
const CORS_HEADERS: &str = "Authorization, Content-Type, X-Request-Id";
/// Response headers a cross-origin front-end may read.
const CORS_EXPOSED: &str = "Content-Disposition, Retry-After, X-Request-Id";

/// Middleware: CORS for the configured origins (`cors.allowed_origins`), preflights answered
/// here; and on every answer `X-Content-Type-Options: nosniff`, `Cache-Control: no-store`
/// unless the handler chose otherwise (answers carry personal data), the Swagger UI's
/// Content-Security-Policy and `X-Frame-Options: DENY`.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let cors = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|s| s.config.cors.clone())
        .unwrap_or_default();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let allowed = origin
        .as_deref()
        .filter(|o| cors.allowed_origins.iter().any(|a| a == o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let preflight = req.method() == actix_web::http::Method::OPTIONS
        && origin.is_some()
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let swagger = req.path().starts_with("/swagger-ui");
    let mut response = if preflight {
        let answer = match &allowed {
            Some(_) => {
                let mut answer = HttpResponse::NoContent().finish();
                let h = answer.headers_mut();
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(CORS_METHODS),
                );
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(CORS_HEADERS),
                );
                h.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from(cors.max_age_secs.max(1)),
                );
                answer
            }
            None => ApiError::forbidden(crate::i18n::Text::fixed(
                "cette origine n'est pas autorisée à appeler l'API (cors.allowed_origins)",
                "this origin is not allowed to call the API (cors.allowed_origins)",
            ))
            .error_response(),
        };
        req.into_response(answer)
    } else {
        next.call(req).await?.map_into_boxed_body()
    };
    let h = response.headers_mut();
    if let Some(origin) = allowed {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(CORS_EXPOSED),
        );
    }
    if !cors.allowed_origins.is_empty() {
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if swagger {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(SWAGGER_CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    } else if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}
