//! `latchkey serve`: open the store, import realms, bootstrap the admin, listen, and stop
//! gracefully on SIGTERM or Ctrl-C.

use crate::cli::ServeArgs;
use anyhow::{Context, Result};
use latchkey_crypto::password::HashParams;
use latchkey_crypto::secrets::MasterKey;
use latchkey_protocol::hashing::PasswordPool;
use latchkey_protocol::{AppState, Config};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// The master key: `LATCHKEY_MASTER_KEY`, else a key file beside the SQLite store (created
/// on first start, readable by its owner only).
pub fn master_key(db_url: &str) -> Result<MasterKey> {
    if let Ok(v) = std::env::var("LATCHKEY_MASTER_KEY") {
        if !v.trim().is_empty() {
            return Ok(MasterKey::from_setting(&v));
        }
    }
    let dir = match db_url.strip_prefix("sqlite://") {
        Some(p) => Path::new(p).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".")),
        None => anyhow::bail!("set LATCHKEY_MASTER_KEY: a store other than SQLite has no folder to keep a key file in"),
    };
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("latchkey.master.key");
    if let Ok(bytes) = std::fs::read(&path) {
        return MasterKey::from_bytes(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let bytes = latchkey_crypto::random_bytes(32);
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&path)
            .with_context(|| format!("creating master key file {}", path.display()))?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    tracing::info!(path = %path.display(), "created master key file; back it up with the database");
    MasterKey::from_bytes(&bytes).map_err(|e| anyhow::anyhow!(e))
}

pub async fn serve(args: ServeArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"))
        .trim_end_matches('/')
        .to_string();
    let store = latchkey_storage::open(&args.db.db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let master = Arc::new(master_key(&args.db.db)?);
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
            body_limit: args.body_limit,
        },
    );

    state.watch_changes();
    if let Some(path) = &args.import_realm {
        crate::import::import(&state, path).await?;
    }
    crate::bootstrap::admin(&state).await?;
    crate::purge::spawn(
        state.store.clone(),
        std::time::Duration::from_secs(args.purge_interval),
    );
    state.set_ready();

    let app = latchkey_protocol::router(state.clone());
    tracing::info!(listen = %local, public_url = %public_url, ready_ms = started.elapsed().as_millis() as u64, "latchkey is ready");
    // Responses go out as soon as they are written (TCP_NODELAY): a token response is one
    // write, but a response hyper writes in two would otherwise wait for the client's
    // delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
