//! Prometheus metrics: HTTP traffic by route template, job queue depth and age, deliveries by
//! state, Digiposte client calls, split durations. Counters live in memory; queue and delivery
//! figures are read from the database at scrape time, so every instance reports the truth.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::db::Db;
use crate::error::ApiError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
}

/// Every metric passerelle exports.
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram>,
    pub jobs_pending: Family<KindLabels, Gauge>,
    pub jobs_oldest_age: Family<KindLabels, Gauge<f64, AtomicU64>>,
    pub documents_by_state: Family<StateLabels, Gauge>,
    pub split_duration: Histogram,
    pub split_pages: Counter,
    pub split_pages_per_second: Gauge<f64, AtomicU64>,
    pub digiposte_calls: Family<OperationLabels, Counter>,
    pub digiposte_retries: Family<OperationLabels, Counter>,
    pub digiposte_rate_limited: Counter,
    /// 0 closed, 1 half-open, 2 open.
    pub digiposte_circuit_state: Gauge,
    /// Deposits whose answer was lost (now `uncertain`, awaiting a manager).
    pub digiposte_uncertain_deposits: Counter,
    /// Overdue receipts reconciled, by outcome (the state reached, `processing`, `ignored`).
    pub digiposte_reconciled: Family<OutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("passerelle");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served, by route template, method and status",
            http_requests.clone(),
        );
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by route template and method",
            http_duration.clone(),
        );
        let jobs_pending = Family::<KindLabels, Gauge>::default();
        registry.register(
            "jobs_open",
            "Jobs pending or running, by kind",
            jobs_pending.clone(),
        );
        let jobs_oldest_age = Family::<KindLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "jobs_oldest_age_seconds",
            "Age of the oldest open job, by kind",
            jobs_oldest_age.clone(),
        );
        let documents_by_state = Family::<StateLabels, Gauge>::default();
        registry.register(
            "documents",
            "Split documents by delivery state (unsent: not sent yet)",
            documents_by_state.clone(),
        );
        let split_duration =
            Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]);
        registry.register(
            "split_duration_seconds",
            "Time to validate and split one batch",
            split_duration.clone(),
        );
        let split_pages = Counter::default();
        registry.register("split_pages", "Pages split", split_pages.clone());
        let split_pages_per_second = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "split_pages_per_second",
            "Pages per second of the last split",
            split_pages_per_second.clone(),
        );
        let digiposte_calls = Family::<OperationLabels, Counter>::default();
        registry.register(
            "digiposte_calls",
            "HTTP requests sent to Digiposte (each attempt), by operation",
            digiposte_calls.clone(),
        );
        let digiposte_retries = Family::<OperationLabels, Counter>::default();
        registry.register(
            "digiposte_retries",
            "Digiposte requests repeated after a timeout, a 5xx or a 429, by operation",
            digiposte_retries.clone(),
        );
        let digiposte_rate_limited = Counter::default();
        registry.register(
            "digiposte_rate_limited",
            "HTTP 429 answers received from Digiposte",
            digiposte_rate_limited.clone(),
        );
        let digiposte_circuit_state = Gauge::default();
        registry.register(
            "digiposte_circuit_state",
            "Digiposte circuit breaker: 0 closed, 1 half-open, 2 open",
            digiposte_circuit_state.clone(),
        );
        let digiposte_uncertain_deposits = Counter::default();
        registry.register(
            "digiposte_uncertain_deposits",
            "Deposits whose answer was lost: put in the uncertain state for a manager to check",
            digiposte_uncertain_deposits.clone(),
        );
        let digiposte_reconciled = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "digiposte_reconciled",
            "Documents whose receipt was overdue, reconciled by a status read (or left uncertain), by outcome",
            digiposte_reconciled.clone(),
        );
        Metrics {
            registry,
            digiposte_reconciled,
            http_requests,
            http_duration,
            jobs_pending,
            jobs_oldest_age,
            documents_by_state,
            split_duration,
            split_pages,
            split_pages_per_second,
            digiposte_calls,
            digiposte_retries,
            digiposte_rate_limited,
            digiposte_circuit_state,
            digiposte_uncertain_deposits,
        }
    }

    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
                method: method.to_owned(),
            })
            .observe(seconds);
    }

    pub fn observe_split(&self, pages: usize, seconds: f64) {
        self.split_duration.observe(seconds);
        self.split_pages.inc_by(pages as u64);
        if seconds > 0.0 {
            self.split_pages_per_second.set(pages as f64 / seconds);
        }
    }

    /// One request sent to Digiposte (`operation`: method and path template).
    pub fn digiposte_call(&self, operation: &str) {
        self.digiposte_calls
            .get_or_create(&OperationLabels {
                operation: operation.to_owned(),
            })
            .inc();
    }

    /// One overdue receipt reconciled (`outcome`: the state reached, `processing`, `ignored`).
    pub fn digiposte_reconciled(&self, outcome: &str) {
        self.digiposte_reconciled
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// One Digiposte request about to be repeated.
    pub fn digiposte_retry(&self, operation: &str) {
        self.digiposte_retries
            .get_or_create(&OperationLabels {
                operation: operation.to_owned(),
            })
            .inc();
    }

    /// Reads the database figures, then renders everything in the Prometheus text format.
    pub async fn render(self: &Arc<Self>, db: &Db) -> Result<String, ApiError> {
        let (depth, documents) = db
            .run(|conn| {
                Ok((
                    crate::db::jobs::depth(conn)?,
                    crate::db::deliveries::count_by_state(conn)?,
                ))
            })
            .await?;
        let now = crate::db::now();
        self.jobs_pending.clear();
        self.jobs_oldest_age.clear();
        for (kind, count, oldest) in depth {
            let labels = KindLabels { kind };
            self.jobs_pending.get_or_create(&labels).set(count);
            if let Some(oldest) = oldest {
                let age = (now - oldest).num_milliseconds().max(0) as f64 / 1000.0;
                self.jobs_oldest_age.get_or_create(&labels).set(age);
            }
        }
        self.documents_by_state.clear();
        // Every state is exported, at 0 when no document is in it, so a rate or an alert on
        // a final state has a series from the start.
        for state in crate::domain::delivery::DeliveryStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .chain(["unsent"])
        {
            self.documents_by_state
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .set(0);
        }
        for (state, count) in documents {
            self.documents_by_state
                .get_or_create(&StateLabels {
                    state: state.unwrap_or_else(|| "unsent".into()),
                })
                .set(count);
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).map_err(ApiError::internal)?;
        Ok(out)
    }
}
