//! `latchkey backup --to FILE` and `latchkey restore --from FILE`: a consistent copy of the
//! store while servers run on it, and that copy written back into a store. The master key is
//! not in the backup (what it seals is): it travels apart, as the messages say.

use crate::store::{key_file_path, DbArgs};
use anyhow::{anyhow, bail, Result};
use std::path::Path;
use std::process::ExitCode;

fn print_counts(counts: &[(&str, usize)]) {
    for (table, n) in counts {
        println!("{table:16} {n} rows");
    }
}

fn key_hint(db: &DbArgs) -> String {
    if db
        .master_key
        .as_deref()
        .is_some_and(|k| !k.trim().is_empty())
    {
        return "LATCHKEY_MASTER_KEY (or --master-key) as set here".into();
    }
    match key_file_path(&db.db) {
        Some(p) => format!("the key file {}", p.display()),
        None => "LATCHKEY_MASTER_KEY".into(),
    }
}

pub async fn backup(db: &DbArgs, to: &Path) -> Result<ExitCode> {
    let counts = latchkey_storage::backup::backup(&db.db, to)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    print_counts(&counts);
    println!(
        "backed up {} into {}; its client secrets and signing keys are sealed with the master key: keep {} with the backup, stored apart from it",
        db.db,
        to.display(),
        key_hint(db)
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(db: &DbArgs, from: &Path, replace: bool) -> Result<ExitCode> {
    if !from.is_file() {
        bail!("backup {} not found", from.display());
    }
    // Without the key the backup was sealed with, a restored store cannot serve: say so first.
    let has_setting = db
        .master_key
        .as_deref()
        .is_some_and(|k| !k.trim().is_empty());
    if !has_setting {
        match key_file_path(&db.db) {
            Some(p) => {
                // The folder's shared key serves a store that exists already (as at start).
                let shared = p.with_file_name("latchkey.master.key");
                let store_exists = db
                    .db
                    .strip_prefix("sqlite://")
                    .is_some_and(|s| Path::new(s).exists());
                let usable = p.exists() || (shared.exists() && store_exists);
                if !usable {
                    bail!(
                        "no master key for {}: copy the key file of the store the backup was taken from to {} (or set LATCHKEY_MASTER_KEY), then restore",
                        db.db,
                        p.display()
                    );
                }
            }
            None => {
                bail!("set LATCHKEY_MASTER_KEY to the key of the store the backup was taken from")
            }
        }
    }
    let counts = latchkey_storage::backup::restore(from, &db.db, replace)
        .await
        .map_err(|e| match e {
            latchkey_storage::StoreError::Conflict(m) => {
                anyhow!("{m} (restore --replace puts the backup in place of everything in it)")
            }
            e => anyhow!("{e}"),
        })?;
    print_counts(&counts);
    println!("restored {} into {}", from.display(), db.db);
    Ok(ExitCode::SUCCESS)
}
