//! Per-client rate limiting, keyed on who the caller *is*, not on what they send: a valid
//! credential is limited per principal (however many tokens it holds), invalid or missing
//! credentials per IP address in a tighter bucket, and once that bucket is empty further
//! credentials from the address are refused before any look-up. Signed webhooks (Digiposte's
//! receipts, authenticated by their HMAC) have buckets of their own per IP, generous
//! (`rate_limit.webhook_*`): a 3,000-document send brings 3,000 receipts within seconds. Health probes are never limited. A bucket that has filled
//! up again is the same as no bucket: such buckets are dropped, so the map holds only the
//! clients of the last seconds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

use crate::config::RateLimitConfig;
use crate::error::{ApiError, ErrorCode};

/// Token buckets by key: `rate` tokens a second, at most `burst`.
pub struct Buckets {
    rate: f64,
    burst: f64,
    map: Mutex<BucketMap>,
}

struct BucketMap {
    buckets: HashMap<String, Bucket>,
    last_sweep: Instant,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Buckets {
    pub fn new(per_second: u64, burst: u32) -> Buckets {
        Buckets {
            rate: per_second.max(1) as f64,
            burst: f64::from(burst.max(1)),
            map: Mutex::new(BucketMap {
                buckets: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * self.rate).min(self.burst)
    }

    /// Takes one token from `key`'s bucket, or says how long until one is there.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        self.sweep(&mut map, now);
        let tokens = map
            .buckets
            .get(key)
            .map_or(self.burst, |b| self.refilled(*b, now));
        if tokens < 1.0 {
            return Err(Duration::from_secs_f64((1.0 - tokens) / self.rate));
        }
        map.buckets.insert(
            key.to_owned(),
            Bucket {
                tokens: tokens - 1.0,
                at: now,
            },
        );
        Ok(())
    }

    /// Whether `key`'s bucket is empty now (nothing taken).
    pub fn exhausted(&self, key: &str, now: Instant) -> Option<Duration> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let tokens = map.buckets.get(key).map(|b| self.refilled(*b, now))?;
        (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / self.rate))
    }

    /// Buckets kept (for tests and metrics).
    pub fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .buckets
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the buckets that are full again, at most once a second.
    fn sweep(&self, map: &mut BucketMap, now: Instant) {
        if now.duration_since(map.last_sweep) < Duration::from_secs(1) {
            return;
        }
        map.last_sweep = now;
        let full_after = self.burst / self.rate;
        map.buckets
            .retain(|_, b| now.duration_since(b.at).as_secs_f64() < full_after);
    }
}

/// The two families of buckets of one server.
pub struct RateLimiter {
    pub enabled: bool,
    /// Valid principals.
    pub clients: Buckets,
    /// Signed webhooks, per IP.
    pub webhooks: Buckets,
    /// Missing or invalid credentials, per IP.
    pub anonymous: Buckets,
}

impl RateLimiter {
    pub fn from_config(config: &RateLimitConfig) -> RateLimiter {
        RateLimiter {
            enabled: config.enabled,
            clients: Buckets::new(config.per_second, config.burst),
            webhooks: Buckets::new(config.webhook_per_second, config.webhook_burst),
            anonymous: Buckets::new(config.anonymous_per_second, config.anonymous_burst),
        }
    }
}

fn limited(wait: Duration) -> ApiError {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    ApiError::new(
        ErrorCode::RateLimited,
        crate::text!(
            "trop de requêtes de ce client ; réessayez dans {seconds} s",
            "too many requests from this client; retry in {seconds} s"
        ),
    )
    .with("retry_after", seconds)
    .with_header(header::RETRY_AFTER, &seconds.to_string())
}

/// Middleware: the rate limit (see the module's comment).
pub async fn throttle(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<crate::state::AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let limiter = &state.rate_limiter;
    if !limiter.enabled || req.path().starts_with("/health/") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let ip = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let anonymous_key = format!("ip:{ip}");
    let now = Instant::now();
    let verdict = if req.headers().contains_key(header::AUTHORIZATION) {
        // An address that spent its tighter bucket on bad credentials gets no more database
        // look-ups of API keys (a token's signature costs no look-up: it is still checked, so a
        // valid token behind the same address keeps working).
        let api_key = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(_, token)| crate::auth::apikey::looks_like_api_key(token.trim()));
        if let Some(wait) = api_key
            .then(|| limiter.anonymous.exhausted(&anonymous_key, now))
            .flatten()
        {
            Err(wait)
        } else {
            match crate::auth::authenticate(req.request()).await {
                Ok(principal) => limiter
                    .clients
                    .take(&format!("{:?}:{}", principal.role, principal.subject), now),
                Err(_) => limiter.anonymous.take(&anonymous_key, now),
            }
        }
    } else if req.path().starts_with("/webhooks/") {
        // Receipts carry a signature, checked by their handler, not a credential.
        limiter.webhooks.take(&format!("hook:{ip}"), now)
    } else {
        limiter.anonymous.take(&anonymous_key, now)
    };
    match verdict {
        Ok(()) => Ok(next.call(req).await?.map_into_boxed_body()),
        Err(wait) => {
            let response = limited(wait).error_response();
            Ok(req.into_response(response))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_and_expire() {
        let buckets = Buckets::new(2, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            buckets.take("a", t0).unwrap();
        }
        let wait = buckets.take("a", t0).unwrap_err();
        assert!(wait <= Duration::from_millis(500) && wait > Duration::ZERO);
        assert!(buckets.exhausted("a", t0).is_some());
        assert!(buckets.exhausted("b", t0).is_none());
        buckets.take("a", t0 + Duration::from_millis(600)).unwrap();
        // Full again after burst / rate = 1.5 s: swept on the next call.
        for i in 0..100 {
            buckets.take(&format!("k{i}"), t0).unwrap();
        }
        assert_eq!(buckets.len(), 101);
        buckets.take("late", t0 + Duration::from_secs(5)).unwrap();
        assert_eq!(buckets.len(), 1);
    }
}
