//! What every request leaves behind: Keycloak's HTTP metrics (`http_server_requests_seconds`
//! by method, route template, status and outcome; `http_server_active_requests`) and one log
//! line (target `latchkey::access`) with the route, status, latency, realm, client and, on an
//! error, the error and the name of the check that failed. Never a token, a secret, a query
//! string or a value the client chose but a registered client's id.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: &'static str,
    /// The route template (`/realms/{realm}/protocol/openid-connect/token`), `NOT_FOUND` when no
    /// route matched.
    pub uri: String,
    pub status: u16,
    /// Micrometer's outcome: `SUCCESS`, `CLIENT_ERROR`, …
    pub outcome: &'static str,
}

pub struct HttpMetrics {
    pub requests: Family<HttpLabels, Histogram>,
    pub active: Gauge,
}

impl HttpMetrics {
    pub fn registered(registry: &mut Registry) -> HttpMetrics {
        let requests = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "http_server_requests_seconds",
            "HTTP requests served, by method, route, status and outcome",
            requests.clone(),
        );
        let active = Gauge::default();
        registry.register(
            "http_server_active_requests",
            "HTTP requests being served",
            active.clone(),
        );
        HttpMetrics { requests, active }
    }
}

/// What the handlers of a request note for its log line.
#[derive(Debug, Default)]
pub struct Notes {
    pub client: Option<String>,
    pub error: Option<&'static str>,
    pub check: Option<&'static str>,
}

tokio::task_local! {
    static NOTES: RefCell<Notes>;
}

/// Notes the request's client (a client the realm knows: never an unchecked value).
pub fn note_client(client_id: &str) {
    let _ = NOTES.try_with(|n| n.borrow_mut().client = Some(client_id.to_string()));
}

/// Notes the error a request is answered with and the check that failed.
pub fn note_error(error: &'static str, check: Option<&'static str>) {
    let _ = NOTES.try_with(|n| {
        let mut n = n.borrow_mut();
        n.error = Some(error);
        n.check = check.or(n.check);
    });
}

/// The route a request matched, handed from the route layer to [`observe`].
#[derive(Clone)]
struct Route(Arc<str>);

/// Inside the router, per matched route: puts the route template on the response.
pub async fn route(req: Request, next: Next) -> Response {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| Arc::<str>::from(m.as_str()));
    let mut resp = next.run(req).await;
    if let Some(t) = template {
        resp.extensions_mut().insert(Route(t));
    }
    resp
}

/// Counts a request in flight until dropped (a client gone mid-request included).
struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Around every request: the metrics and the log line.
pub async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let http = &state.telemetry.http;
    http.active.inc();
    let _in_flight = InFlight(http.active.clone());
    let method = method_label(req.method());
    let realm = realm_of(req.uri().path()).map(str::to_string);
    let (notes, resp) = NOTES
        .scope(RefCell::new(Notes::default()), async move {
            let resp = next.run(req).await;
            (NOTES.with(|n| std::mem::take(&mut *n.borrow_mut())), resp)
        })
        .await;
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    let uri = resp
        .extensions()
        .get::<Route>()
        .map(|r| r.0.to_string())
        .unwrap_or_else(|| {
            if status == 404 {
                "NOT_FOUND"
            } else {
                "UNKNOWN"
            }
            .to_string()
        });
    http.requests
        .get_or_create(&HttpLabels {
            method,
            uri: uri.clone(),
            status,
            outcome: outcome(status),
        })
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        target: "latchkey::access",
        method,
        route = %uri,
        status,
        ms = (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        realm = realm.as_deref().unwrap_or(""),
        client = notes.client.as_deref().unwrap_or(""),
        error = notes.error.unwrap_or(""),
        check = notes.check.unwrap_or(""),
        "request"
    );
    resp
}

/// The realm a path names (`/realms/{realm}/…`, `/admin/realms/{realm}/…`), when it is a valid
/// realm name (anything else is not logged).
fn realm_of(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/realms/")
        .or_else(|| path.strip_prefix("/admin/realms/"))?;
    let name = rest.split('/').next()?;
    latchkey_domain::realm::valid_name(name).then_some(name)
}

fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

fn outcome(status: u16) -> &'static str {
    match status {
        100..=199 => "INFORMATIONAL",
        200..=299 => "SUCCESS",
        300..=399 => "REDIRECTION",
        400..=499 => "CLIENT_ERROR",
        500..=599 => "SERVER_ERROR",
        _ => "UNKNOWN",
    }
}

/// The server's metrics: the application's counters, HTTP's, the store's and the password
/// pool's, in one registry served on the management listener.
pub struct Telemetry {
    pub registry: Registry,
    pub http: HttpMetrics,
    pub gauges: Gauges,
    /// When the store's gauges were last read (seconds).
    store_read_at: std::sync::atomic::AtomicI64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SessionLabels {
    pub realm: String,
    pub offline: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PurgeLabels {
    /// `expired` (records, codes, revocations), `sessions` or `events`.
    pub what: &'static str,
}

/// Gauges read off the running server when scraped or refreshed.
#[derive(Default, Clone)]
pub struct Gauges {
    pub hash_queue: Gauge,
    pub hash_busy: Gauge,
    pub sessions: Family<SessionLabels, Gauge>,
    pub families: Family<SessionLabels, Gauge>,
    pub purged: Family<PurgeLabels, prometheus_client::metrics::counter::Counter>,
    pub purge_sweeps: prometheus_client::metrics::counter::Counter,
}

impl Telemetry {
    pub fn new(app: &latchkey_application::App) -> Telemetry {
        let mut registry = Registry::default();
        app.metrics.register(&mut registry);
        app.store.register_metrics(&mut registry);
        let http = HttpMetrics::registered(&mut registry);
        let gauges = Gauges::default();
        registry.register(
            "latchkey_password_hashing_queued",
            "Password hashes (sign-ins, password changes) waiting for the hashing pool",
            gauges.hash_queue.clone(),
        );
        registry.register(
            "latchkey_password_hashing_busy",
            "Password hashes being computed",
            gauges.hash_busy.clone(),
        );
        registry.register(
            "latchkey_sessions",
            "Sessions not ended, by realm and kind (read at most every 10 s)",
            gauges.sessions.clone(),
        );
        registry.register(
            "latchkey_refresh_families",
            "Refresh-token families (logins of a client) not revoked in sessions not ended",
            gauges.families.clone(),
        );
        registry.register(
            "latchkey_purged_rows",
            "Rows the purge deleted: expired records, dead sessions, expired events",
            gauges.purged.clone(),
        );
        registry.register(
            "latchkey_purge_sweeps",
            "Purge sweeps completed",
            gauges.purge_sweeps.clone(),
        );
        Telemetry {
            registry,
            http,
            gauges,
            store_read_at: std::sync::atomic::AtomicI64::new(i64::MIN / 2),
        }
    }

    /// Reads the live sessions and families from the store into their gauges, at most every
    /// ten seconds (a scrape reads them; one scan of the sessions).
    pub async fn refresh_store_gauges(&self, app: &latchkey_application::App) {
        let now = app.now();
        let last = self.store_read_at.load(std::sync::atomic::Ordering::SeqCst);
        if now < last + 10
            || self
                .store_read_at
                .compare_exchange(
                    last,
                    now,
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                )
                .is_err()
        {
            return;
        }
        let counts = match app.store.live_counts().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "reading the live sessions for the metrics failed");
                return;
            }
        };
        let mut names = std::collections::HashMap::new();
        for c in &counts {
            if !names.contains_key(&c.realm_id) {
                if let Ok(Some(r)) = app.store.realm_by_id(&c.realm_id).await {
                    names.insert(c.realm_id.clone(), r.name);
                }
            }
        }
        self.gauges.sessions.clear();
        self.gauges.families.clear();
        for c in counts {
            let Some(realm) = names.get(&c.realm_id) else {
                continue;
            };
            let labels = SessionLabels {
                realm: realm.clone(),
                offline: if c.offline { "true" } else { "false" },
            };
            self.gauges.sessions.get_or_create(&labels).set(c.sessions);
            self.gauges.families.get_or_create(&labels).set(c.families);
        }
    }

    /// The registry in Prometheus's text format, gauges read now.
    pub fn encode(&self, app: &latchkey_application::App) -> String {
        self.gauges.hash_queue.set(app.passwords.queued() as i64);
        self.gauges.hash_busy.set(app.passwords.busy() as i64);
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "encoding the metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realms_are_read_from_paths_only_when_valid() {
        assert_eq!(
            realm_of("/realms/demo/protocol/openid-connect/token"),
            Some("demo")
        );
        assert_eq!(realm_of("/admin/realms/shop/users"), Some("shop"));
        assert_eq!(realm_of("/realms/a%20b/x"), None);
        assert_eq!(realm_of("/health/ready"), None);
    }

    #[test]
    fn outcomes_are_micrometers() {
        assert_eq!(outcome(204), "SUCCESS");
        assert_eq!(outcome(401), "CLIENT_ERROR");
        assert_eq!(outcome(503), "SERVER_ERROR");
    }
}
