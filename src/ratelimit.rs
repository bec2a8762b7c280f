//! Per-client rate limiting with actix-governor: one bucket per credential when the request
//! carries one, per IP address otherwise. Health probes are never limited.

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::{
    GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::http::header;
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use sha2::{Digest, Sha256};

use crate::config::RateLimitConfig;
use crate::error::{ApiError, ErrorCode};

const EXEMPT: &str = "exempt";

#[derive(Clone, Copy, Debug)]
pub struct ClientKey;

impl KeyExtractor for ClientKey {
    type Key = String;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        if req.path().starts_with("/health/") {
            return Ok(EXEMPT.to_owned());
        }
        if let Some(credential) = req.headers().get(header::AUTHORIZATION) {
            // A digest, so the bucket map never holds credentials.
            let digest = Sha256::digest(credential.as_bytes());
            return Ok(format!("cred:{}", hex::encode(&digest[..16])));
        }
        let ip = req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        Ok(format!("ip:{ip}"))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &actix_governor::governor::NotUntil<QuantaInstant>,
        _response: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative.wait_time_from(DefaultClock::default().now());
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::new(
            ErrorCode::RateLimited,
            format!("too many requests from this client; retry in {seconds} s"),
        )
        .with("retry_after", seconds)
        .with_header(header::RETRY_AFTER, &seconds.to_string())
        .error_response()
    }

    fn whitelisted_keys(&self) -> Vec<Self::Key> {
        vec![EXEMPT.to_owned()]
    }
}

pub fn governor_config(
    config: &RateLimitConfig,
) -> GovernorConfig<ClientKey, NoOpMiddleware<QuantaInstant>> {
    GovernorConfigBuilder::default()
        .requests_per_second(config.per_second.max(1))
        .burst_size(config.burst.max(1))
        .key_extractor(ClientKey)
        .finish()
        .expect("rate limit values are checked at configuration load")
}
