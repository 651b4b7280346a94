//! The gateway's Prometheus metrics (prometheus-client: an explicit registry, no global), served
//! on the status listener's `/metrics`. Labels carry route names, methods and outcomes only:
//! never a token, a user or anything a client chose.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
    pub auth_method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IdpLabels {
    pub call: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub call: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub in_flight: Gauge,
    pub idp_calls: Family<IdpLabels, Counter>,
    pub idp_seconds: Family<CallLabels, Histogram>,
    /// Refreshes by how the request got its tokens: called the provider, joined a flight
    /// under way, or got a remembered result.
    pub refreshes: Family<OutcomeLabels, Counter>,
    pub jwks_fetches: Counter,
    pub reloads: Family<OutcomeLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("latchkey_gateway");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route, status and auth method",
            requests.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "requests_in_flight",
            "Requests being handled",
            in_flight.clone(),
        );
        let idp_calls = Family::<IdpLabels, Counter>::default();
        registry.register(
            "idp_calls",
            "Calls to identity providers, by call and outcome",
            idp_calls.clone(),
        );
        let idp_seconds = Family::<CallLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        registry.register(
            "idp_call_duration_seconds",
            "How long identity provider calls took",
            idp_seconds.clone(),
        );
        let refreshes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "refreshes",
            "Token refreshes and grants by how they were served: called, joined (collapsed into a call under way) or remembered",
            refreshes.clone(),
        );
        let jwks_fetches = Counter::default();
        registry.register(
            "jwks_fetches",
            "JWKS documents fetched from identity providers",
            jwks_fetches.clone(),
        );
        let reloads = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration reloads by outcome",
            reloads.clone(),
        );
        Metrics {
            registry,
            requests,
            in_flight,
            idp_calls,
            idp_seconds,
            refreshes,
            jwks_fetches,
            reloads,
        }
    }

    pub fn idp(&self, call: &str, outcome: &str, seconds: f64) {
        self.idp_calls
            .get_or_create(&IdpLabels {
                call: call.into(),
                outcome: outcome.into(),
            })
            .inc();
        self.idp_seconds
            .get_or_create(&CallLabels { call: call.into() })
            .observe(seconds);
    }

    pub fn refresh(&self, outcome: &str) {
        self.refreshes
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
