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

/// Where the key file of a SQLite store is (or would be made); `None` for other stores.
pub fn key_file_path(db_url: &str) -> Option<PathBuf> {
    let store = Path::new(db_url.strip_prefix("sqlite://")?);
    let dir = match store.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let stem = store
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("latchkey");
    Some(dir.join(format!("{stem}.master.key")))
}

/// The key file of a SQLite store: `<store name>.master.key` in the store's folder
/// (`latchkey.master.key` for the default `latchkey.db`), so that stores side by side in one
/// folder each have their own. A store that already exists without a key file of its name, made
/// when every store's key was `latchkey.master.key`, keeps using that one. Called before the
/// store is opened (opening creates it).
fn key_file(db_url: &str) -> Result<MasterKey> {
    let (Some(store), Some(path)) = (db_url.strip_prefix("sqlite://"), key_file_path(db_url))
    else {
        anyhow::bail!("set LATCHKEY_MASTER_KEY: a store other than SQLite has no folder to keep a key file in")
    };
    let store = Path::new(store);
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let shared = dir.join("latchkey.master.key");
    if path != shared && !path.exists() && shared.exists() && store.exists() {
        tracing::warn!(
            path = %shared.display(),
            "this store's master key is the folder's shared key file; rename it to {} so that another store in this folder cannot take it",
            path.display()
        );
        return read_key(&shared);
    }
    if path.exists() {
        return read_key(&path);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    create_key(&path)
}

fn read_key(path: &Path) -> Result<MasterKey> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    MasterKey::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Writes a new key to a file of its own, then links it into place: two servers that start on
/// one new store at once end with the same key, the one that linked first.
fn create_key(path: &Path) -> Result<MasterKey> {
    use std::io::Write;
    let bytes = latchkey_crypto::random_bytes(32);
    let tag: String = latchkey_crypto::random_bytes(8)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let tmp = path.with_extension(format!("key.{tag}.tmp"));
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("creating master key file {}", tmp.display()))?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created master key file; back it up with the database");
            MasterKey::from_bytes(&bytes).map_err(|e| anyhow::anyhow!(e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(path),
        Err(e) => Err(e).with_context(|| format!("creating master key file {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(dir: &Path, name: &str) -> String {
        format!("sqlite://{}", dir.join(name).display())
    }

    fn same(a: &MasterKey, b: &MasterKey) -> bool {
        b.decrypt(&a.encrypt(b"x")).is_some()
    }

    #[test]
    fn stores_side_by_side_have_keys_of_their_own() {
        let dir = tempfile_dir();
        let a = key_file(&url(&dir, "latchkey.db")).unwrap();
        let b = key_file(&url(&dir, "other.db")).unwrap();
        assert!(dir.join("latchkey.master.key").exists() && dir.join("other.master.key").exists());
        assert!(!same(&a, &b), "each store its own key");
        let again = key_file(&url(&dir, "other.db")).unwrap();
        assert!(same(&b, &again), "the key file is read back");
    }

    #[test]
    fn an_existing_store_keeps_the_shared_key_file_it_was_made_with() {
        let dir = tempfile_dir();
        let shared = key_file(&url(&dir, "latchkey.db")).unwrap();
        std::fs::write(dir.join("old.db"), b"").unwrap();
        let old = key_file(&url(&dir, "old.db")).unwrap();
        assert!(same(&shared, &old) && !dir.join("old.master.key").exists());
        let new = key_file(&url(&dir, "new.db")).unwrap();
        assert!(!same(&shared, &new), "a new store gets its own");
    }

    #[test]
    fn servers_starting_together_on_a_new_store_agree_on_its_key() {
        let dir = tempfile_dir();
        let u = url(&dir, "latchkey.db");
        let keys: Vec<MasterKey> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8).map(|_| s.spawn(|| key_file(&u).unwrap())).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| same(&keys[0], k)));
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("latchkey.master.key")],
            "no temporary file left"
        );
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "latchkey-key-{}",
            latchkey_crypto::random_bytes(6)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
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
    /// or any passphrase. Default: the file `<store>.master.key` beside the SQLite store
    /// (`latchkey.master.key` for `latchkey.db`), created on first start. Required with PostgreSQL, and the same on every node; back it up
    /// apart from the database.
    #[arg(
        long,
        env = "LATCHKEY_MASTER_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub master_key: Option<String>,
}
