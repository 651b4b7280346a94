//! The embedded default: SQLite in WAL mode. One writer connection (SQLite allows one writer
//! at a time; queuing in-process beats its busy-wait), a small pool of readers, all driven
//! from tokio's blocking pool.

mod config;
pub(crate) mod exec;
mod purge;
mod sessions;
mod user_cache;
mod writer;

use crate::sql::sessions as sql;
use crate::{Result, StoreError};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Reader connections: one per core plus one (point lookups run on the request's own thread),
/// between 2 and 8.
fn reader_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() + 1)
        .unwrap_or(2)
        .clamp(2, 8)
}

pub struct SqliteStore {
    path: PathBuf,
    writer: writer::Writer,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: std::sync::atomic::AtomicUsize,
    users: user_cache::UserCache,
}

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        if f.code == rusqlite::ErrorCode::ConstraintViolation {
            return StoreError::Conflict(msg.clone().unwrap_or_else(|| "row".into()));
        }
    }
    StoreError::Backend(e.to_string())
}

/// Prepared statements kept per connection: more than latchkey has.
const STATEMENT_CACHE: usize = 256;

fn open_conn(path: &Path, write: bool) -> Result<Connection> {
    let flags = if write {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        StoreError::Backend(format!(
            "cannot open SQLite database {}: {e}",
            path.display()
        ))
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(backend)?;
    // Room for every statement latchkey prepares (rusqlite keeps 16 by default; a statement
    // pushed out of the cache is parsed again at its next use).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Query-planner stability: a statement's plan never depends on the values bound to it.
    // Without it SQLite marked the refresh read's join "re-prepare whenever ?1 changes", and
    // every rotation parsed and planned it again, several times the writer's work.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(backend)?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
        .map_err(backend)?;
    if write {
        conn.execute_batch("PRAGMA journal_mode = WAL;")
            .map_err(backend)?;
    }
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub async fn open(path: &str) -> Result<SqliteStore> {
        let path = PathBuf::from(path);
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    fn open_blocking(path: PathBuf) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut writer = open_conn(&path, true)?;
        migrate(&mut writer)?;
        // Every commit reaches the disk before its caller hears of it; group commit keeps
        // that to one fsync per batch.
        writer
            .execute_batch("PRAGMA synchronous = FULL;")
            .map_err(backend)?;
        let readers = (0..reader_count())
            .map(|_| open_conn(&path, false).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(SqliteStore {
            path,
            writer: writer::Writer::start(writer),
            readers: Arc::new(readers),
            next_reader: Default::default(),
            users: Default::default(),
        })
    }

    /// The database file, for things kept beside it (the master key file).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writer inside an IMMEDIATE transaction (group-committed with other
    /// writes waiting); resolves once the commit is on disk. On `Err` nothing of `f` is kept.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.writer.write(f).await
    }

    /// A point lookup (one indexed row, microseconds): run here on the caller's thread when a
    /// reader connection is free, which saves two thread hand-offs per request; otherwise on
    /// the blocking pool like any other read.
    pub(crate) async fn read_row<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let start = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for i in 0..self.readers.len() {
            if let Ok(conn) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return f(&conn);
            }
        }
        self.read(f).await
    }

    /// Runs `f` on a reader connection.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let start = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            for i in 0..readers.len() {
                if let Ok(conn) = readers[(start + i) % readers.len()].try_lock() {
                    return f(&conn);
                }
            }
            let conn = readers[start % readers.len()]
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    for (i, m) in crate::sql::schema::MIGRATIONS
        .iter()
        .enumerate()
        .skip(version as usize)
    {
        tx.execute_batch(m.sqlite).map_err(backend)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[async_trait::async_trait]
impl crate::RealmRepository for SqliteStore {
    async fn create_realm(&self, new: crate::NewRealm) -> Result<()> {
        self.write(move |tx| config::insert_realm(tx, &new, now()))
            .await
    }
    async fn realm_by_name(&self, name: &str) -> Result<Option<latchkey_domain::Realm>> {
        let name = name.to_string();
        self.read_row(move |c| config::realm_by_name(c, &name))
            .await
    }
    async fn realm_by_id(&self, id: &str) -> Result<Option<latchkey_domain::Realm>> {
        let id = id.to_string();
        self.read_row(move |c| config::realm_by_id(c, &id)).await
    }
    async fn realm_names(&self) -> Result<Vec<String>> {
        self.read(config::realm_names).await
    }
    async fn realm_keys(&self, realm_id: &str) -> Result<Vec<crate::StoredKey>> {
        let id = realm_id.to_string();
        self.read(move |c| config::realm_keys(c, &id)).await
    }
    async fn clients(&self, realm_id: &str) -> Result<Vec<latchkey_domain::Client>> {
        let id = realm_id.to_string();
        self.read(move |c| config::clients(c, &id)).await
    }
    async fn client_by_client_id(
        &self,
        realm_id: &str,
        client_id: &str,
    ) -> Result<Option<latchkey_domain::Client>> {
        let (r, c) = (realm_id.to_string(), client_id.to_string());
        self.read_row(move |conn| config::client_by_client_id(conn, &r, &c))
            .await
    }
    async fn add_key(&self, realm_id: &str, key: crate::StoredKey) -> Result<()> {
        let r = realm_id.to_string();
        let plan = crate::sql::config::insert_key(&r, &key);
        self.write(move |tx| exec::execute(tx, &plan).map(drop))
            .await
    }
    async fn seal_key(&self, realm_id: &str, kid: &str, sealed: Vec<u8>) -> Result<bool> {
        let plan = crate::sql::config::seal_key(realm_id, kid, &sealed);
        self.write(move |tx| exec::execute(tx, &plan).map(|n| n == 1))
            .await
    }
    async fn update_realm(&self, realm: latchkey_domain::Realm) -> Result<()> {
        self.write(move |tx| config::update_realm(tx, &realm)).await
    }
    async fn replace_realm(
        &self,
        before: &latchkey_domain::Realm,
        after: latchkey_domain::Realm,
    ) -> Result<bool> {
        let stmt = crate::sql::config::replace_realm(before, &after);
        self.write(move |tx| Ok(exec::execute(tx, &stmt)? == 1))
            .await
    }
    async fn delete_realm(&self, realm_id: &str) -> Result<bool> {
        let id = realm_id.to_string();
        let r = self
            .write(move |tx| {
                let counts = exec::run(tx, &crate::sql::config::delete_realm(&id))?;
                Ok(counts.last() > Some(&0))
            })
            .await;
        self.users.clear();
        r
    }
    async fn client_by_id(
        &self,
        realm_id: &str,
        id: &str,
    ) -> Result<Option<latchkey_domain::Client>> {
        let (r, i) = (realm_id.to_string(), id.to_string());
        self.read_row(move |c| config::client_by_id(c, &r, &i))
            .await
    }
    async fn create_client(&self, client: latchkey_domain::Client) -> Result<()> {
        self.write(move |tx| {
            exec::execute(tx, &crate::sql::config::insert_client(&client)).map(drop)
        })
        .await
    }
    async fn update_client(&self, client: latchkey_domain::Client) -> Result<()> {
        self.write(move |tx| config::update_client(tx, &client))
            .await
    }
    async fn delete_client(&self, realm_id: &str, id: &str) -> Result<bool> {
        let (r, i) = (realm_id.to_string(), id.to_string());
        let out = self
            .write(move |tx| Ok(exec::execute(tx, &crate::sql::config::delete_client(&r, &i))? > 0))
            .await;
        self.users.clear();
        out
    }
}

#[async_trait::async_trait]
impl crate::UserRepository for SqliteStore {
    async fn create_user(&self, user: crate::UserWithCredential) -> Result<()> {
        let r = self
            .write(move |tx| exec::execute(tx, &crate::sql::config::insert_user(&user)).map(drop))
            .await;
        self.users.clear();
        r
    }
    async fn user_by_username(
        &self,
        realm_id: &str,
        username: &str,
    ) -> Result<Option<crate::UserWithCredential>> {
        if let Some(hit) = self.users.by_name(realm_id, username) {
            return Ok(Some(hit));
        }
        let generation = self.users.generation();
        let (r, u) = (realm_id.to_string(), username.to_string());
        let found = self
            .read_row(move |c| config::user_by_username(c, &r, &u))
            .await?;
        if let Some(u) = &found {
            self.users.put_by_name(generation, realm_id, u);
        }
        Ok(found)
    }
    async fn users_by_email(
        &self,
        realm_id: &str,
        email: &str,
    ) -> Result<Vec<crate::UserWithCredential>> {
        let (r, e) = (realm_id.to_string(), email.to_string());
        self.read_row(move |c| config::users_by_email(c, &r, &e))
            .await
    }
    async fn user_by_id(&self, realm_id: &str, id: &str) -> Result<Option<latchkey_domain::User>> {
        if let Some(hit) = self.users.by_id(realm_id, id) {
            return Ok(Some(hit));
        }
        let generation = self.users.generation();
        let (r, i) = (realm_id.to_string(), id.to_string());
        let found = self
            .read_row(move |c| config::user_by_id(c, &r, &i))
            .await?;
        if let Some(u) = &found {
            self.users.put_by_id(generation, realm_id, u);
        }
        Ok(found)
    }
    async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<()> {
        let (u, h) = (user_id.to_string(), hash.to_string());
        let plan = crate::sql::config::set_password_hash(&u, &h);
        let r = self
            .write(move |tx| exec::execute(tx, &plan).map(drop))
            .await;
        self.users.clear();
        r
    }
    async fn update_user(&self, user: latchkey_domain::User) -> Result<()> {
        let r = self.write(move |tx| config::update_user(tx, &user)).await;
        self.users.clear();
        r
    }
    async fn delete_user(&self, realm_id: &str, id: &str) -> Result<bool> {
        let (r, i) = (realm_id.to_string(), id.to_string());
        let out = self
            .write(move |tx| Ok(exec::run(tx, &crate::sql::config::delete_user(&r, &i))?[1] > 0))
            .await;
        self.users.clear();
        out
    }
    async fn users(
        &self,
        realm_id: &str,
        query: crate::UserQuery,
    ) -> Result<Vec<latchkey_domain::User>> {
        let r = realm_id.to_string();
        self.read(move |c| config::users(c, &r, &query)).await
    }
    async fn count_users(&self, realm_id: &str, query: crate::UserQuery) -> Result<i64> {
        let r = realm_id.to_string();
        self.read(move |c| config::count_users(c, &r, &query)).await
    }
}

#[async_trait::async_trait]
impl crate::SessionRepository for SqliteStore {
    async fn start_grant(&self, grant: crate::NewGrant) -> Result<()> {
        self.write(move |tx| sessions::start_grant(tx, &grant))
            .await
    }
    async fn create_session(&self, session: latchkey_domain::Session) -> Result<()> {
        self.write(move |tx| exec::execute(tx, &sql::insert_session(&session)).map(drop))
            .await
    }
    async fn touch_session(&self, id: &str, now: i64) -> Result<()> {
        let plan = sql::touch_session(id, now);
        self.write(move |tx| exec::execute(tx, &plan).map(drop))
            .await
    }
    async fn refresh(
        &self,
        jti: &str,
        now: i64,
        decide: crate::Decide,
    ) -> Result<crate::Pending<crate::RefreshOutcome>> {
        let jti = jti.to_string();
        // The outcome comes back before the batch's flush, so that the tokens it issues are
        // signed while the disk works; the caller answers only once the flush is done.
        self.writer
            .write_early(move |tx| sessions::refresh(tx, &jti, now, decide))
            .await
    }
    async fn refresh_state(
        &self,
        jti: &str,
    ) -> Result<Option<latchkey_domain::policy::RefreshState>> {
        let jti = jti.to_string();
        self.read_row(move |c| sessions::refresh_state(c, &jti))
            .await
    }
    async fn session(&self, id: &str) -> Result<Option<latchkey_domain::Session>> {
        let id = id.to_string();
        self.read_row(move |c| sessions::session(c, &id)).await
    }
    async fn client_sessions(
        &self,
        session_id: &str,
    ) -> Result<Vec<latchkey_domain::ClientSession>> {
        let id = session_id.to_string();
        self.read(move |c| sessions::client_sessions(c, &id)).await
    }
    async fn end_session(
        &self,
        id: &str,
        now: i64,
        reason: &str,
        event: Option<crate::Event>,
    ) -> Result<bool> {
        let (id, reason) = (id.to_string(), reason.to_string());
        self.write(move |tx| sessions::end_session(tx, &id, now, &reason, event.as_ref()))
            .await
    }
    async fn revoke_family(
        &self,
        id: &str,
        now: i64,
        reason: &str,
        event: Option<crate::Event>,
    ) -> Result<bool> {
        let (id, reason) = (id.to_string(), reason.to_string());
        self.write(move |tx| sessions::revoke_family(tx, &id, now, &reason, event.as_ref()))
            .await
    }
    async fn live_counts(&self) -> Result<Vec<crate::LiveCount>> {
        self.read(|c| {
            exec::query(c, crate::sql::sessions::LIVE_COUNTS, &[], |r| {
                crate::sql::sessions::live_count(r)
            })
        })
        .await
    }
    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<()> {
        let plan = sql::revoke_access_token(jti, expires_at);
        self.write(move |tx| exec::execute(tx, &plan).map(drop))
            .await
    }
    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool> {
        let jti = jti.to_string();
        self.read_row(move |c| sessions::is_access_token_revoked(c, &jti))
            .await
    }
    async fn sessions(
        &self,
        realm_id: &str,
        offline: Option<bool>,
    ) -> Result<Vec<crate::SessionInfo>> {
        let id = realm_id.to_string();
        self.read(move |c| sessions::sessions(c, &id, offline))
            .await
    }
}

#[async_trait::async_trait]
impl crate::CodeRepository for SqliteStore {
    async fn insert_code(&self, code: latchkey_domain::AuthCode) -> Result<()> {
        self.write(move |tx| sessions::insert_code(tx, &code)).await
    }
    async fn redeem_code(
        &self,
        code_hash: &str,
        now: i64,
        decide: crate::DecideCode,
    ) -> Result<Option<(crate::CodeState, crate::CodeDecision)>> {
        let h = code_hash.to_string();
        self.write(move |tx| sessions::redeem_code(tx, &h, now, decide))
            .await
    }
}

#[async_trait::async_trait]
impl crate::UptimeRepository for SqliteStore {
    async fn record_start(&self, now: i64) -> Result<Vec<latchkey_domain::policy::Outage>> {
        let plan = crate::sql::uptime::record_start(now);
        self.write(move |tx| exec::run(tx, &plan).map(drop)).await?;
        self.outages().await
    }
    async fn heartbeat(&self, now: i64) -> Result<()> {
        let plan = crate::sql::uptime::heartbeat(now);
        self.write(move |tx| exec::execute(tx, &plan).map(drop))
            .await
    }
    async fn outages(&self) -> Result<Vec<latchkey_domain::policy::Outage>> {
        use crate::sql::uptime;
        let rows = self
            .read(|c| exec::query(c, uptime::OUTAGES, &[], |r| uptime::outage(r)))
            .await?;
        Ok(uptime::merged(rows))
    }
}

#[async_trait::async_trait]
impl crate::EventRepository for SqliteStore {
    async fn record_events(&self, events: Vec<crate::Event>) -> Result<()> {
        let plan: Vec<_> = events.iter().map(crate::sql::events::insert).collect();
        self.write(move |tx| exec::run(tx, &plan).map(drop)).await
    }
    async fn user_events(&self, q: &crate::UserEventQuery) -> Result<Vec<crate::UserEvent>> {
        let (sql, params) = crate::sql::events::user_query(q);
        self.read(move |c| exec::query(c, &sql, &params, |r| crate::sql::events::user_row(r)))
            .await
    }
    async fn admin_events(&self, q: &crate::AdminEventQuery) -> Result<Vec<crate::AdminEvent>> {
        let (sql, params) = crate::sql::events::admin_query(q);
        self.read(move |c| exec::query(c, &sql, &params, |r| crate::sql::events::admin_row(r)))
            .await
    }
    async fn clear_events(&self, realm_id: &str, admin: bool) -> Result<u64> {
        let plan = crate::sql::events::clear(realm_id, admin);
        self.write(move |tx| exec::execute(tx, &plan)).await
    }
    async fn expire_events(
        &self,
        realm_id: &str,
        admin: bool,
        before: i64,
        limit: usize,
    ) -> Result<u64> {
        let plan = crate::sql::events::expire(realm_id, admin, before, limit as i64);
        self.write(move |tx| exec::execute(tx, &plan)).await
    }
}

#[async_trait::async_trait]
impl crate::PurgeRepository for SqliteStore {
    async fn purge_expired(&self, now: i64, limit: usize) -> Result<u64> {
        self.write(move |tx| purge::purge_expired(tx, now, limit))
            .await
    }
    async fn purge_dead_sessions(
        &self,
        which: &crate::DeadSessions,
        after: Option<crate::SessionCursor>,
        scan: usize,
    ) -> Result<(u64, Option<crate::SessionCursor>)> {
        let which = which.clone();
        self.write(move |tx| purge::purge_dead_sessions(tx, &which, after.as_ref(), scan))
            .await
    }
}

#[async_trait::async_trait]
impl crate::Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(backend))
            .await
    }
    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        let stats = &self.writer.stats;
        registry.register(
            "latchkey_store_commit_batch_size",
            "Writes committed together by one SQLite group commit",
            stats.batch_size.clone(),
        );
        registry.register(
            "latchkey_store_commit_seconds",
            "Time of one SQLite group commit, from its first write to durable on disk",
            stats.commit_seconds.clone(),
        );
    }
}

#[cfg(test)]
mod tests;
