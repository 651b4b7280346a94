//! The proxy listener: each request is routed, authenticated by its route's plugin, and
//! forwarded. The configuration in force is swapped whole on reload; requests already under
//! way finish with the one they started with.

use crate::auth::{self, request::Req, Authenticated, Ctx, Outcome};
use crate::body::ProxyBody;
use crate::config::Config;
use crate::errors;
use crate::headers;
use crate::metrics::RequestLabels;
use crate::plugin::{Plugin, Shared};
use crate::proxy::{self, Arrival, Upstream};
use crate::router::{self, Router};
use arc_swap::ArcSwap;
use http::header::{HOST, SET_COOKIE};
use http::{Request, Response};
use hyper::body::Incoming;
use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A configuration ready to serve: routes, the services' connection pools, the plugins.
pub struct Runtime {
    pub config: Config,
    router: Router,
    upstreams: Vec<Upstream>,
    plugins: Vec<Plugin>,
    /// Each route's request counters by status and auth method (the last: no route), so a
    /// request counts itself without building its labels.
    counters: Vec<Mutex<HashMap<(u16, &'static str), Counter>>>,
}

impl Runtime {
    pub fn new(config: Config, shared: &Arc<Shared>) -> Runtime {
        let verified = crate::idp::http::tls_verified();
        let unverified = crate::idp::http::tls_unverified();
        let upstreams = config
            .services
            .iter()
            .map(|s| {
                Upstream::new(
                    s,
                    if s.tls_verify {
                        verified.clone()
                    } else {
                        unverified.clone()
                    },
                )
            })
            .collect();
        let plugins = config
            .plugins
            .iter()
            .map(|c| Plugin::new(c.clone(), shared.clone()))
            .collect();
        Runtime {
            counters: (0..=config.routes.len())
                .map(|_| Mutex::default())
                .collect(),
            router: Router::new(&config.routes),
            upstreams,
            plugins,
            config,
        }
    }
}

pub struct Gateway {
    pub runtime: ArcSwap<Runtime>,
    pub shared: Arc<Shared>,
    /// The proxy's port, as `X-Forwarded-Port`.
    pub listen_port: http::HeaderValue,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The Host the client used, without its port, lower-cased: what routes' `hosts` match.
fn host_of(req: &Request<Incoming>) -> String {
    let h = req
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or("");
    let host = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        match h.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                host
            }
            _ => h,
        }
    };
    host.to_ascii_lowercase()
}

impl Gateway {
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        remote: SocketAddr,
    ) -> Response<ProxyBody> {
        let m = &self.shared.metrics;
        m.in_flight.inc();
        let rt = self.runtime.load_full();
        let (route, method, response) = self.serve(&rt, req, remote).await;
        m.in_flight.dec();
        let status = response.status().as_u16();
        let slot = route.unwrap_or(rt.config.routes.len());
        rt.counters[slot]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((status, method))
            .or_insert_with(|| {
                m.requests
                    .get_or_create(&RequestLabels {
                        route: route
                            .map(|r| rt.config.routes[r].name.clone())
                            .unwrap_or_default(),
                        status,
                        auth_method: method.to_string(),
                    })
                    .clone()
            })
            .inc();
        response
    }

    async fn serve(
        &self,
        rt: &Runtime,
        mut req: Request<Incoming>,
        remote: SocketAddr,
    ) -> (Option<usize>, &'static str, Response<ProxyBody>) {
        let host = host_of(&req);
        let path = req.uri().path().to_string();
        let Some(m) = rt.router.find(
            &rt.config.routes,
            req.method().as_str(),
            &host,
            &path,
            req.headers(),
        ) else {
            return (None, "none", errors::no_route());
        };
        let route = &rt.config.routes[m.route];
        let route_name = &route.name;
        let slot = Some(m.route);
        let upstream = &rt.upstreams[route.service];
        let client_upgrade =
            proxy::is_websocket(req.headers()).then(|| hyper::upgrade::on(&mut req));
        // A loopback peer is a local reverse proxy: its X-Forwarded-Proto and -Host say how
        // the client reached the gateway (for redirect URIs and the Secure cookie attribute).
        let trusted = remote.ip().is_loopback();
        let forwarded = |name: &str| {
            trusted
                .then(|| req.headers().get(name).and_then(|v| v.to_str().ok()))
                .flatten()
                .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
        };
        let scheme = match forwarded("x-forwarded-proto").as_deref() {
            Some("https") => "https",
            _ => "http",
        };
        let ctx = Ctx {
            now: now(),
            scheme,
            host: forwarded("x-forwarded-host").unwrap_or_else(|| {
                req.headers()
                    .get(HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(&host)
                    .to_string()
            }),
        };
        let (parts, body) = req.into_parts();
        let mut creq = Req::new(parts, body);
        let plugin = route.plugin.map(|i| &rt.plugins[i]);
        let auth = match plugin {
            Some(p) => match Box::pin(auth::authenticate(p, &mut creq, &ctx)).await {
                Outcome::Respond(r) => return (slot, "denied", r),
                Outcome::Proceed(a) => a,
            },
            None => Authenticated {
                method: None,
                tokens: None,
                set_cookies: Vec::new(),
            },
        };
        let method_name = auth.method.map(|m| m.name()).unwrap_or("none");
        let (hide, cookies) = match plugin {
            Some(p) => (p.cfg.hide_credentials, auth::cookie_names(&p.cfg).to_vec()),
            None => (false, Vec::new()),
        };
        let (mut parts, body) = creq.into_forward(hide, &cookies);
        if let Some(p) = plugin {
            headers::remove_upstream(&p.cfg, &mut parts.headers);
            if let Some(t) = &auth.tokens {
                headers::set_upstream(&p.cfg, t, &mut parts.headers);
            }
        }
        let upstream_path = router::upstream_path(&upstream.service, route, &path, m.matched);
        let stripped = route.strip_path.then(|| &path[..m.matched.min(path.len())]);
        let arrival = Arrival {
            client_ip: remote.ip(),
            listen_port: &self.listen_port,
            scheme,
            route,
            upstream_path,
            original_path: &path,
            stripped_prefix: stripped,
        };
        if let Err(e) = proxy::prepare(upstream, &mut parts, &arrival) {
            tracing::warn!(route = %route_name, error = %e, "cannot forward");
            return (slot, method_name, errors::bad_request());
        }
        let mut upstream_response = match Box::pin(proxy::send(upstream, parts, body)).await {
            Ok(r) => r,
            Err(u) => return (slot, method_name, u.response()),
        };
        if let Some(client) = client_upgrade {
            if upstream_response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
                proxy::join_upgrades(client, hyper::upgrade::on(&mut upstream_response));
            }
        }
        let mut response = proxy::response(upstream_response);
        if let (Some(p), Some(t)) = (plugin, &auth.tokens) {
            headers::set_downstream(&p.cfg, t, response.headers_mut());
        }
        for c in auth.set_cookies {
            response.headers_mut().append(SET_COOKIE, c);
        }
        (slot, method_name, response)
    }
}
