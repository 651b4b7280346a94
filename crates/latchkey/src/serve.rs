//! `latchkey serve`: open the store, import realms, bootstrap the admin, listen, and stop
//! gracefully on SIGTERM or Ctrl-C.

use crate::store::DbArgs;
use anyhow::{Context, Result};
use clap::Args;
use latchkey_application::hashing::PasswordPool;
use latchkey_crypto::password::HashParams;
use latchkey_protocol::{AppState, Config};

use std::process::ExitCode;
use std::sync::Arc;

pub async fn serve(args: ServeArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let admin = crate::bootstrap::credentials(
        args.bootstrap_admin_username
            .clone()
            .filter(|s| !s.is_empty()),
        args.bootstrap_admin_password
            .clone()
            .filter(|s| !s.is_empty()),
    )?;
    let stop = latchkey_listener::shutdown_signal();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let management = tokio::net::TcpListener::bind(&args.management_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for /metrics and /health (--management-listen)",
                args.management_listen
            )
        })?;
    let management_addr = management.local_addr()?;
    let tls = match (
        &args.https_certificate_file,
        &args.https_certificate_key_file,
    ) {
        (Some(cert), Some(key)) => {
            let tls = latchkey_listener::tls::Tls::load(cert, key).map_err(|e| {
                anyhow::anyhow!("--https-certificate-file/--https-certificate-key-file: {e}")
            })?;
            Some(Arc::new(tls))
        }
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{local}"))
        .trim_end_matches('/')
        .to_string();
    let master = Arc::new(args.db.master_key()?);
    let store = args.db.open().await?;
    let sealed = latchkey_application::keys::seal_at_rest(store.as_ref(), &master)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if sealed.sealed > 0 {
        tracing::info!(
            keys = sealed.sealed,
            "sealed signing keys that were stored in the clear under the master key"
        );
    }
    let workers = args.hash_workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let passwords = PasswordPool::new(workers, HashParams::default());
    let state = AppState::new(
        store,
        master,
        passwords,
        Config {
            public_url: public_url.clone(),
            http: args.limits.http()?,
        },
    );

    state.watch_changes();
    if let Some(path) = &args.import_realm {
        crate::import::import(&state, path).await?;
    }
    crate::bootstrap::at_start(
        &crate::bootstrap::Provisioning {
            store: state.store.as_ref(),
            master_key: &state.master_key,
            passwords: &state.passwords,
        },
        admin,
    )
    .await?;
    state
        .record_start()
        .await
        .map_err(|e| anyhow::anyhow!("recording the server's start: {e}"))?;
    if let Some(o) = state.outages().last() {
        tracing::info!(
            down_from = o.from,
            down_to = o.to,
            "the last outage does not count against refresh-token grace periods"
        );
    }
    crate::uptime::spawn(state.store.clone(), state.clock.clone());
    crate::purge::spawn(
        state.store.clone(),
        std::time::Duration::from_secs(args.purge_interval),
        state.telemetry.gauges.clone(),
    );

    crate::key_rotation::spawn(
        state.clone(),
        std::time::Duration::from_secs(args.purge_interval),
    );
    state.set_ready();

    let app = latchkey_protocol::router(state.clone());
    let mgmt = latchkey_protocol::management::router(state.clone());
    // One stop for both listeners.
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        let _ = stopping.send(true);
    });
    let stop_when = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mgmt_stop = stop_when(stopped.clone());
    tokio::spawn(latchkey_listener::serve(
        management,
        latchkey_listener::Limits {
            max_connections: 64,
            ..Default::default()
        },
        move |peer| connection(mgmt.clone(), peer),
        mgmt_stop,
        None,
    ));
    if let Some(tls) = &tls {
        tls.clone().watch(std::time::Duration::from_secs(5));
    }
    tracing::info!(listen = %local, management = %management_addr, public_url = %public_url, ready_ms = started.elapsed().as_millis() as u64, "latchkey is ready");
    let service = move |peer| connection(app.clone(), peer);
    let rates = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            rates.rates.forget_idle();
        }
    });
    latchkey_listener::serve(
        listener,
        args.limits.listener(),
        service,
        stop_when(stopped),
        tls,
    )
    .await;
    // Events handed in by the last requests are written before the process ends.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), state.events_flushed()).await;
    // The last sign of life: a planned stop's outage starts now, not at the last heartbeat.
    let _ = state.store.heartbeat(state.now()).await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The service of one connection from `peer` to `router`: each request learns its peer's
/// address (the brute-force throttle and the rate limits count per address).
fn connection(
    router: axum::Router,
    peer: std::net::SocketAddr,
) -> impl hyper::service::Service<
    axum::extract::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl std::future::Future<
        Output = Result<axum::response::Response, std::convert::Infallible>,
    > + Send,
> {
    hyper::service::service_fn(
        move |mut req: axum::extract::Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let mut router = router.clone();
            async move {
                use tower::Service;
                router.call(req.map(axum::body::Body::new)).await
            }
        },
    )
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to bind (host:port).
    #[arg(
        long,
        env = "LATCHKEY_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: String,
    #[command(flatten)]
    pub db: DbArgs,
    /// Base of every issuer: {public-url}/realms/{realm}. Default: http:// + the listen address.
    #[arg(long, env = "LATCHKEY_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// A realm JSON file, or a folder of them, in Keycloak's export format; realms that do not
    /// exist yet are created at start.
    #[arg(long, env = "LATCHKEY_IMPORT_REALM", value_name = "PATH")]
    pub import_realm: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,
    /// How many password hashes may run at once (default: the number of CPUs).
    #[arg(long, env = "LATCHKEY_HASH_WORKERS", value_name = "N")]
    pub hash_workers: Option<usize>,
    /// PEM file with the server's certificate chain: --listen then serves HTTPS (HTTP/2 and
    /// HTTP/1.1), cookies are `Secure`, and the default public URL is https://. Reloaded on
    /// SIGHUP and when the file changes. Keycloak's name.
    #[arg(
        long,
        env = "LATCHKEY_HTTPS_CERTIFICATE_FILE",
        value_name = "PATH",
        requires = "https_certificate_key_file"
    )]
    pub https_certificate_file: Option<std::path::PathBuf>,
    /// PEM file with the private key of --https-certificate-file (PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        env = "LATCHKEY_HTTPS_CERTIFICATE_KEY_FILE",
        value_name = "PATH",
        requires = "https_certificate_file"
    )]
    pub https_certificate_key_file: Option<std::path::PathBuf>,
    /// Address of the management listener (host:port): `/metrics` (Prometheus) and
    /// `/health/*`, apart from the public port, as Keycloak's management port 9000. Port 0
    /// picks a free port (the log says which).
    #[arg(
        long,
        env = "LATCHKEY_MANAGEMENT_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:9000"
    )]
    pub management_listen: String,
    /// Seconds between sweeps that delete expired refresh-token records, long-ended sessions,
    /// sessions that idled out or reached their maximum lifespan, expired revocations and
    /// codes (in small batches); 0 turns the sweep off.
    #[arg(
        long,
        env = "LATCHKEY_PURGE_INTERVAL",
        value_name = "SECONDS",
        default_value_t = 60
    )]
    pub purge_interval: u64,
    /// With --bootstrap-admin-password: add this admin user to realm 'master' at start when
    /// 'master' has no admin yet, as Keycloak's bootstrap admin.
    #[arg(long, env = "LATCHKEY_ADMIN_USERNAME", value_name = "NAME")]
    pub bootstrap_admin_username: Option<String>,
    /// The bootstrap admin user's password (prefer the environment variable to the flag).
    #[arg(
        long,
        env = "LATCHKEY_ADMIN_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub bootstrap_admin_password: Option<String>,
}
