//! `latchkey gateway`: load the configuration (refusing a bad one), listen on the proxy and
//! status addresses, reload on SIGHUP (keeping the old configuration when the new one is
//! bad), and on SIGTERM stop accepting, finish the requests in flight and exit.

use crate::body::ProxyBody;
use crate::config::{self, Config, ConfigError};
use crate::errors;
use crate::metrics::{Metrics, OutcomeLabels};
use crate::plugin::Shared;
use crate::server::{Gateway, Runtime};
use arc_swap::ArcSwap;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub struct Options {
    pub config: PathBuf,
    pub listen: String,
    pub status_listen: String,
}

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long in-flight requests get to finish after SIGTERM.
const DRAIN: Duration = Duration::from_secs(30);

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads and checks a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    config::load(path, &env)
}

/// `--check`: a line saying what the file holds.
pub fn summary(c: &Config) -> String {
    format!(
        "{}: OK ({} service(s), {} route(s), {} openid-connect instance(s))",
        c.file.display(),
        c.services.len(),
        c.routes.len(),
        c.plugins.len()
    )
}

pub async fn run(opts: Options) -> Result<(), String> {
    let config = load(&opts.config).map_err(|e| e.to_string())?;
    // Both registered before the gateway answers: a signal sent once it is ready is never lost.
    let stop = latchkey_listener::shutdown_signal();
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    let listener = TcpListener::bind(&opts.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
    let status = TcpListener::bind(&opts.status_listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.status_listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let metrics = Arc::new(Metrics::new());
    let shared = Arc::new(Shared::new(metrics.clone()));
    let ready = Arc::new(AtomicBool::new(false));
    tracing::info!("{}", summary(&config));
    let gw = Arc::new(Gateway {
        runtime: ArcSwap::from_pointee(Runtime::new(config, &shared)),
        shared: shared.clone(),
        listen_port: http::HeaderValue::from(local.port()),
    });
    warm_up(&gw).await;
    ready.store(true, Ordering::SeqCst);
    tokio::spawn(serve_status(status, ready.clone(), metrics.clone()));
    tokio::spawn(reload_on_hangup(gw.clone(), opts.config.clone(), hangup));
    tracing::info!(listen = %local, status = %opts.status_listen, "latchkey gateway is ready");
    // The accept loop runs on the runtime's workers like everything else (not on the thread
    // that waits for it), so that on one core nothing hops between threads.
    let _ = tokio::spawn(serve(listener, gw, stop)).await;
    tracing::info!("stopped");
    Ok(())
}

/// Discovers every issuer once before serving, so the first requests do not wait for it; an
/// issuer that cannot be reached now is tried again on use.
async fn warm_up(gw: &Gateway) {
    for issuer in gw.shared.issuers.all() {
        if let Err(e) = issuer.discovered().await {
            tracing::warn!(issuer = %issuer.key.discovery_url, error = %e, "issuer not reachable at start; it will be tried again on use");
        }
    }
}

async fn serve(
    listener: TcpListener,
    gw: Arc<Gateway>,
    stop: impl std::future::Future<Output = ()>,
) {
    let limits = latchkey_listener::Limits {
        header_read_timeout: HEADER_READ_TIMEOUT,
        drain: DRAIN,
        ..Default::default()
    };
    let service = |remote| {
        let gw = gw.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let gw = gw.clone();
            async move { Ok::<_, std::convert::Infallible>(gw.handle(req, remote).await) }
        })
    };
    latchkey_listener::serve(listener, limits, service, stop, None).await;
}

/// SIGHUP: the file is read and checked again; a good one replaces the configuration in force
/// in one step, a bad one is refused with its reason and the old one stays.
async fn reload_on_hangup(
    gw: Arc<Gateway>,
    path: PathBuf,
    hangup: std::io::Result<tokio::signal::unix::Signal>,
) {
    let Ok(mut hup) = hangup else {
        tracing::warn!("cannot listen for SIGHUP: reloads are off");
        return;
    };
    while hup.recv().await.is_some() {
        let m = &gw.shared.metrics;
        match load(&path) {
            Ok(c) => {
                let line = summary(&c);
                gw.runtime.store(Arc::new(Runtime::new(c, &gw.shared)));
                warm_up(&gw).await;
                m.reloads
                    .get_or_create(&OutcomeLabels {
                        outcome: "applied".into(),
                    })
                    .inc();
                tracing::info!("reloaded: {line}");
            }
            Err(e) => {
                m.reloads
                    .get_or_create(&OutcomeLabels {
                        outcome: "refused".into(),
                    })
                    .inc();
                tracing::error!("reload refused, the previous configuration stays in force: {e}");
            }
        }
    }
}

/// The status listener: `/health/live`, `/health/ready`, `/metrics`.
async fn serve_status(listener: TcpListener, ready: Arc<AtomicBool>, metrics: Arc<Metrics>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (ready, metrics) = (ready.clone(), metrics.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let r = status_answer(req.uri().path(), &ready, &metrics);
                async move { Ok::<_, std::convert::Infallible>(r) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn status_answer(path: &str, ready: &AtomicBool, metrics: &Metrics) -> Response<ProxyBody> {
    let up = |ok: bool| {
        let mut r = Response::new(ProxyBody::from_bytes(if ok {
            r#"{"status":"UP"}"#
        } else {
            r#"{"status":"DOWN"}"#
        }));
        *r.status_mut() = if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r
    };
    match path {
        "/health/live" => up(true),
        "/health/ready" | "/health" => up(ready.load(Ordering::SeqCst)),
        "/metrics" => {
            let mut r = Response::new(ProxyBody::from_bytes(metrics.render()));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            r
        }
        _ => errors::message(StatusCode::NOT_FOUND, "Not found"),
    }
}
