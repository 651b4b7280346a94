//! The store and master key every command that works on the store opens the same way.

use anyhow::{Context, Result};
use clap::Args;
use latchkey_crypto::secrets::MasterKey;
use latchkey_storage::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl DbArgs {
    /// Opens (creating and migrating as needed) the store `--db` names.
    pub async fn open(&self) -> Result<Arc<dyn Store>> {
        latchkey_storage::open_with_pool(&self.db, self.db_pool)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The master key: `--master-key` / `LATCHKEY_MASTER_KEY`, else a key file beside the
    /// SQLite store (created on first start, readable by its owner only).
    pub fn master_key(&self) -> Result<MasterKey> {
        if let Some(v) = self.master_key.as_deref().filter(|v| !v.trim().is_empty()) {
            return Ok(MasterKey::from_setting(v));
        }
        key_file(&self.db)
    }
}

/// The key file beside a SQLite store.
fn key_file(db_url: &str) -> Result<MasterKey> {
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

#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// Store: sqlite://PATH (relative sqlite://./x.db or absolute sqlite:///var/x.db, created on
    /// first start) or postgres://...
    #[arg(
        long = "db",
        env = "LATCHKEY_DB",
        value_name = "URL",
        default_value = "sqlite://./data/latchkey.db"
    )]
    pub db: String,
    /// Connections to PostgreSQL per process.
    #[arg(long, env = "LATCHKEY_DB_POOL", value_name = "N", default_value_t = latchkey_storage::DEFAULT_POOL_SIZE)]
    pub db_pool: usize,
    /// Key that seals client secrets and the realms' signing keys at rest: 32 bytes in base64,
    /// or any passphrase. Default: the file `latchkey.master.key` in the SQLite store's folder,
    /// created on first start. Required with PostgreSQL, and the same on every node; back it up
    /// apart from the database.
    #[arg(
        long,
        env = "LATCHKEY_MASTER_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub master_key: Option<String>,
}
