//! `latchkey backup` and `latchkey restore`. A backup is a SQLite file of the whole store, taken
//! while servers run on it: from SQLite with `VACUUM INTO` (a snapshot of one moment, readers
//! and the writer carry on), from PostgreSQL by reading every table in one repeatable-read
//! transaction (no `pg_dump` needed). A restore writes a backup into a store in one
//! transaction — an empty one, or with `replace` in place of what it holds — after bringing
//! the backup's schema up to this version. Neither touches the master key: the backup holds
//! client secrets and signing keys sealed under it, so restore with the same key.

use crate::migrate::{self, Dump};
use crate::{Result, StoreError};
use std::path::{Path, PathBuf};

/// Rows per table, as written.
pub type Counts = Vec<(&'static str, usize)>;

fn counts(data: &Dump) -> Counts {
    data.iter().map(|(t, rows)| (*t, rows.len())).collect()
}

/// Writes a backup of the store at `from` to the new file `to`.
pub async fn backup(from: &str, to: &Path) -> Result<Counts> {
    if to.exists() {
        return Err(StoreError::Conflict(format!(
            "{} already exists: back up into a new file",
            to.display()
        )));
    }
    let target = to.to_string_lossy().into_owned();
    if let Some(path) = from.strip_prefix("sqlite://") {
        let (path, into) = (path.to_string(), target.clone());
        tokio::task::spawn_blocking(move || vacuum_into(&path, &into))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))??;
        let t = target.clone();
        let data = tokio::task::spawn_blocking(move || migrate::read_sqlite(&t))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))??;
        return Ok(counts(&data));
    }
    if from.starts_with("postgres") {
        let data = migrate::read_postgres(from).await?;
        migrate::write_sqlite(&target, &data, false).await?;
        return Ok(counts(&data));
    }
    Err(StoreError::Backend(format!(
        "unsupported store URL '{from}'"
    )))
}

/// A snapshot of the SQLite store at `path` in the new file `into`.
fn vacuum_into(path: &str, into: &str) -> Result<()> {
    if !Path::new(path).exists() {
        return Err(StoreError::NotFound(format!("store {path}")));
    }
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::Backend(format!("cannot open {path}: {e}")))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(crate::sqlite::backend)?;
    conn.execute("VACUUM INTO ?1", [into])
        .map_err(|e| StoreError::Backend(format!("backing up into {into}: {e}")))?;
    Ok(())
}

/// Writes the backup `from` into the store at `to`: into an empty store, or with `replace` in
/// place of everything in it.
pub async fn restore(from: &Path, to: &str, replace: bool) -> Result<Counts> {
    if !from.is_file() {
        return Err(StoreError::NotFound(format!("backup {}", from.display())));
    }
    // The backup is read from a copy brought up to this version's schema; the file itself is
    // left as it was.
    let work = working_copy(from)?;
    let result = async {
        drop(crate::sqlite::SqliteStore::open(&work.to_string_lossy()).await?);
        let w = work.to_string_lossy().into_owned();
        let data = tokio::task::spawn_blocking(move || migrate::read_sqlite(&w))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))??;
        migrate::write(to, &data, replace).await?;
        Ok(counts(&data))
    }
    .await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", work.display()));
    }
    result
}

fn working_copy(from: &Path) -> Result<PathBuf> {
    let dir = std::env::temp_dir();
    let work = dir.join(format!(
        "latchkey-restore-{}-{}.db",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::copy(from, &work)
        .map_err(|e| StoreError::Backend(format!("reading {}: {e}", from.display())))?;
    Ok(work)
}
