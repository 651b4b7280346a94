//! PostgreSQL behind the same [`crate::Store`] interface: a deadpool connection pool, own
//! migrations, row locks that make check-and-rotate atomic across nodes, and LISTEN/NOTIFY so
//! that every node drops cached realm configuration within moments of a change.

mod config;
pub(crate) mod exec;
mod purge;
mod sessions;
mod store;

use crate::{Result, StoreError};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::str::FromStr;
use tokio::sync::broadcast;
use tokio_postgres::NoTls;

/// The notification channel for configuration changes; the payload is the realm name.
pub const CHANNEL: &str = "latchkey_config";

pub struct PgStore {
    pool: Pool,
    changes: broadcast::Sender<String>,
}

pub(crate) fn backend(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        if db.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict(db.detail().unwrap_or("row").to_string());
        }
        if db.code() == &tokio_postgres::error::SqlState::CHARACTER_NOT_IN_REPERTOIRE
            || db.code() == &tokio_postgres::error::SqlState::UNTRANSLATABLE_CHARACTER
        {
            return StoreError::InvalidInput(
                "a text value contains a NUL or invalid character".into(),
            );
        }
    }
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!(
            "PostgreSQL: {} ({})",
            db.message(),
            db.code().code()
        )),
        None => StoreError::Backend(e.to_string()),
    }
}

pub(crate) fn pool_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("PostgreSQL pool: {e}"))
}

impl PgStore {
    /// Opens the database with a pool of 16 connections.
    pub async fn open(url: &str) -> Result<PgStore> {
        PgStore::open_with_pool(url, crate::DEFAULT_POOL_SIZE).await
    }

    pub async fn open_with_pool(url: &str, size: usize) -> Result<PgStore> {
        let cfg = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Backend(format!("database URL: {e}")))?;
        let mgr = Manager::from_config(
            cfg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(size)
            .build()
            .map_err(pool_err)?;
        {
            let mut client = pool.get().await.map_err(pool_err)?;
            migrate(&mut client).await?;
        }
        let (tx, _) = broadcast::channel(256);
        spawn_listener(cfg, tx.clone());
        Ok(PgStore { pool, changes: tx })
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_err)
    }

    /// Tells every node (this one included) that a realm's configuration changed.
    pub(crate) async fn notify(&self, realm: &str) {
        if let Ok(c) = self.client().await {
            let _ = c
                .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &realm])
                .await;
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }
}

async fn migrate(client: &mut deadpool_postgres::Object) -> Result<()> {
    let tx = client.transaction().await.map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock(7305671203)", &[])
        .await
        .map_err(backend)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS latchkey_migrations (version INTEGER PRIMARY KEY)",
    )
    .await
    .map_err(backend)?;
    let done: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM latchkey_migrations",
            &[],
        )
        .await
        .map_err(backend)?
        .get(0);
    for (i, m) in crate::sql::schema::MIGRATIONS
        .iter()
        .enumerate()
        .skip(done as usize)
    {
        tx.batch_execute(m.postgres).await.map_err(backend)?;
        tx.execute(
            "INSERT INTO latchkey_migrations (version) VALUES ($1)",
            &[&((i + 1) as i32)],
        )
        .await
        .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)
}

/// A dedicated connection that LISTENs for configuration changes and forwards them; it
/// reconnects after a failure.
fn spawn_listener(cfg: tokio_postgres::Config, tx: broadcast::Sender<String>) {
    tokio::spawn(async move {
        loop {
            match cfg.connect(NoTls).await {
                Ok((client, mut connection)) => {
                    let (msg_tx, mut msg_rx) = tokio::sync::mpsc::unbounded_channel();
                    let driver = tokio::spawn(async move {
                        let mut stream =
                            futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                        use futures_util::StreamExt;
                        while let Some(msg) = stream.next().await {
                            match msg {
                                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                                    let _ = msg_tx.send(n.payload().to_string());
                                }
                                Ok(_) => {}
                                Err(_) => break,
                            }
                        }
                    });
                    if client
                        .batch_execute(&format!("LISTEN {CHANNEL}"))
                        .await
                        .is_ok()
                    {
                        // Anything may have changed while we were not listening.
                        let _ = tx.send(String::from("*"));
                        while let Some(realm) = msg_rx.recv().await {
                            let _ = tx.send(realm);
                        }
                    }
                    driver.abort();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "PostgreSQL LISTEN connection failed; retrying")
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    });
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
