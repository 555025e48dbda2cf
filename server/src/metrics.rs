//! Prometheus metrics, served at `/metrics` in the text exposition format.
//!
//! Everything is an in-memory counter or histogram (the hot polling path must not
//! touch the disk). One process-wide registry, so any module (the database writer's
//! batch callback, the throttles, the sweeper) can count without carrying state.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of the per-request metrics. `route` is a known path or `other`, so a
/// scanner can't blow up the number of series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method (a standard one, or `other`).
    pub method: &'static str,
    /// Route pattern.
    pub route: &'static str,
    /// Status code.
    pub status: u16,
}

/// Labels naming a kind (of record, of event).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The kind.
    pub kind: String,
}

/// Latency labels: route only (status would multiply the histogram series).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    /// Route pattern.
    pub route: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

/// Every metric AuthGate exports.
pub struct Metrics {
    registry: Registry,
    /// `authgate_http_requests_total{method,route,status}`.
    pub requests: Family<RouteLabels, Counter>,
    /// `authgate_http_request_duration_seconds{route}`.
    pub latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    /// `authgate_device_codes_total{kind=issued|approved|denied|expired}`.
    pub device_codes: Family<KindLabels, Counter>,
    /// `authgate_tokens_total{kind=issued|refreshed|retried|revoked}`.
    pub tokens: Family<KindLabels, Counter>,
    /// `authgate_login_failures_total`.
    pub login_failures: Counter,
    /// `authgate_throttled_total`: attempts refused by a guess limit.
    pub throttled: Counter,
    /// `authgate_refresh_reuse_total`: reuse of a rotated refresh token (or replay
    /// of a redeemed device code) detected.
    pub refresh_reuse: Counter,
    /// `authgate_db_commit_duration_seconds`: one group commit, begin to durable.
    pub commit_latency: Histogram,
    /// `authgate_db_commit_batch_size`: operations per group commit.
    pub batch_size: Histogram,
    /// `authgate_swept_total{kind}`: records removed by the sweeper.
    pub swept: Family<KindLabels, Counter>,
    /// `authgate_sweeps_total`: sweeper runs.
    pub sweeps: Counter,
    /// `authgate_audit_events_total{kind}`: security events recorded.
    pub audit_events: Family<KindLabels, Counter>,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("authgate");
        let m = Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            device_codes: Family::default(),
            tokens: Family::default(),
            login_failures: Counter::default(),
            throttled: Counter::default(),
            refresh_reuse: Counter::default(),
            commit_latency: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            swept: Family::default(),
            sweeps: Counter::default(),
            audit_events: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            m.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            m.latency.clone(),
        );
        registry.register(
            "device_codes",
            "Device codes issued, approved, denied and expired unused",
            m.device_codes.clone(),
        );
        registry.register(
            "tokens",
            "Access tokens issued (device grant), refreshed, and tokens revoked",
            m.tokens.clone(),
        );
        registry.register(
            "login_failures",
            "Failed sign-ins (wrong user or password)",
            m.login_failures.clone(),
        );
        registry.register(
            "throttled",
            "Attempts refused by a guess limit (user codes, sign-ins, device requests)",
            m.throttled.clone(),
        );
        registry.register(
            "refresh_reuse",
            "Reuse of a rotated refresh token (the grant was revoked)",
            m.refresh_reuse.clone(),
        );
        registry.register(
            "db_commit_duration_seconds",
            "Duration of one group commit, from begin to durable",
            m.commit_latency.clone(),
        );
        registry.register(
            "db_commit_batch_size",
            "Operations in one group commit",
            m.batch_size.clone(),
        );
        registry.register(
            "swept",
            "Expired records removed by the sweeper",
            m.swept.clone(),
        );
        registry.register("sweeps", "Sweeper runs", m.sweeps.clone());
        registry.register(
            "audit_events",
            "Security events written to the audit log",
            m.audit_events.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Counts one finished request. `route` is the route table's label (a known
    /// path or `other`; see `router::label`), so this module knows no routes.
    pub fn request(&self, method: &str, route: &'static str, status: u16, elapsed: Duration) {
        // Static labels: counting a request allocates nothing.
        let method = match method {
            "GET" => "GET",
            "POST" => "POST",
            "HEAD" => "HEAD",
            "PUT" => "PUT",
            "DELETE" => "DELETE",
            "OPTIONS" => "OPTIONS",
            "PATCH" => "PATCH",
            _ => "other",
        };
        self.requests
            .get_or_create(&RouteLabels {
                method,
                route,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    /// Adds one to a `{kind}` family.
    pub fn kind(family: &Family<KindLabels, Counter>, kind: &str) {
        family
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Adds `n` to a `{kind}` family.
    pub fn kind_by(family: &Family<KindLabels, Counter>, kind: &str, n: u64) {
        family
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .inc_by(n);
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!("cannot encode metrics: {e}");
        }
        out
    }
}

/// Whether `/metrics` is served (config key `metrics`).
pub static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Whether `/metrics` is served; the router answers 404 when not.
pub fn enabled() -> bool {
    ENABLED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The process-wide metrics.
pub fn get() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_in_text_format() {
        let m = Metrics::new();
        m.request("POST", "/oauth/token", 200, Duration::from_millis(3));
        m.request("GET", "other", 404, Duration::from_millis(1));
        Metrics::kind(&m.device_codes, "issued");
        m.batch_size.observe(3.0);
        let text = m.render();
        assert!(text.contains(
            r#"authgate_http_requests_total{method="POST",route="/oauth/token",status="200"} 1"#
        ));
        assert!(text.contains(r#"route="other""#));
        assert!(text.contains(r#"authgate_device_codes_total{kind="issued"} 1"#));
        assert!(text.contains("authgate_db_commit_batch_size_count 1"));
        assert!(text.contains("authgate_http_request_duration_seconds_bucket"));
    }
}
