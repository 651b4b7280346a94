//! latchkey's storage: one interface, [`Store`], with SQLite behind it (PostgreSQL later).
//!
//! The interface speaks in domain types. Where a rule must run inside a transaction (the
//! refresh decision), the store calls the domain's pure function there, so that check and
//! rotation are one atomic step on every backend.

pub mod backup;
#[cfg(test)]
mod conformance;
pub mod migrate;
pub mod postgres;
mod purge;
mod sql;
pub mod sqlite;

pub use purge::{DeadSessions, SessionCursor};

use async_trait::async_trait;
use latchkey_domain::policy::{Outage, RefreshDecision, RefreshState};
use latchkey_domain::{
    AuthCode, Client, ClientSession, OAuthError, Realm, RefreshRecord, Session, Timestamp, User,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("store failure: {0}")]
    Backend(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store cannot hold this value (e.g. a NUL character for PostgreSQL).
    #[error("invalid value: {0}")]
    InvalidInput(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A key as stored: algorithm name and its material (PKCS#8, or the HMAC secret), sealed
/// under the master key when `sealed` (stores written before keys were sealed hold them in the
/// clear until the server's first start seals them).
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub material: Vec<u8>,
    pub created_at: Timestamp,
    pub active: bool,
    pub sealed: bool,
}

/// A user with their stored password hash.
#[derive(Debug, Clone)]
pub struct UserWithCredential {
    pub user: User,
    pub password_hash: Option<String>,
}

/// A realm created in one transaction with everything it starts with.
#[derive(Debug, Clone)]
pub struct NewRealm {
    pub realm: Realm,
    pub keys: Vec<StoredKey>,
    pub clients: Vec<Client>,
    pub users: Vec<UserWithCredential>,
}

/// The first tokens of a login: a session (new, or an existing SSO session), its client
/// session and the first refresh token (absent when the client gets none).
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub session: Session,
    pub session_is_new: bool,
    pub client_session: ClientSession,
    pub refresh: Option<RefreshRecord>,
    /// The login's event, recorded in the same transaction.
    pub event: Option<Event>,
}

/// What a refresh did.
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    /// No record of that refresh token.
    Unknown,
    Decided {
        state: Box<RefreshState>,
        decision: RefreshDecision,
    },
}

/// A write whose outcome is known while its commit may still be on its way to the disk.
///
/// The caller may prepare its answer from [`Pending::value`] — sign the tokens a rotation
/// issues, say — while the store flushes, and must not let anything out before
/// [`Pending::durable`] says the write is on disk: a commit that fails there leaves nothing
/// behind, and whatever was prepared from it is thrown away.
#[derive(Debug)]
pub struct Pending<T> {
    value: T,
    commit: tokio::sync::oneshot::Receiver<Result<()>>,
}

impl<T> Pending<T> {
    /// A write whose commit is told on `commit`.
    pub(crate) fn committing(
        value: T,
        commit: tokio::sync::oneshot::Receiver<Result<()>>,
    ) -> Pending<T> {
        Pending { value, commit }
    }

    /// The outcome, not yet durable: prepare from it, send nothing.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Waits until the write is on disk; an error when its commit failed.
    pub async fn durable(self) -> Result<T> {
        self.commit.await.unwrap_or_else(|_| Err(lost_write()))?;
        Ok(self.value)
    }
}

/// What a caller hears when its write's answer was dropped unsent (the job panicked, or the
/// writer stopped).
pub(crate) fn lost_write() -> StoreError {
    StoreError::Backend("the write failed inside the store (see the server log)".into())
}

/// The decision the store runs inside its transaction, with the event that records it (written
/// in the same transaction).
pub type Decide = Box<dyn FnOnce(&RefreshState) -> (RefreshDecision, Option<Event>) + Send>;

/// What redeeming an authorization code reads, in the transaction that redeems it: the code
/// as it was before this presentation (`used_at` set means a replay), its session and its user.
#[derive(Debug, Clone)]
pub struct CodeState {
    pub code: AuthCode,
    pub session: Option<Session>,
    pub user: Option<User>,
}

/// What to do with a presented code.
#[derive(Debug, Clone)]
pub enum CodeDecision {
    /// Start this grant (the code's family becomes its client session).
    Redeem(Box<NewGrant>),
    /// Refuse with `error`; a replay revokes what the first redemption issued.
    Refuse {
        error: OAuthError,
        revoke_family: Option<String>,
        /// The refusal's event, recorded in the same transaction.
        event: Option<Box<Event>>,
    },
}

/// The decision the store runs inside a code's redemption.
pub type DecideCode = Box<dyn FnOnce(&CodeState) -> CodeDecision + Send>;

pub use latchkey_domain::event::query::{AdminEventQuery, UserEventQuery};
pub use latchkey_domain::{AdminEvent, Event, UserEvent};

/// A user search, as Keycloak's `GET /users` takes it.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Substring of username, email, first or last name.
    pub search: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    /// `username`/`email` match exactly instead of as substrings.
    pub exact: bool,
    pub first: i64,
    pub max: i64,
    /// Include clients' service-account users (Keycloak's search leaves them out).
    pub service_accounts: bool,
}

/// Sessions not ended, and their families not revoked, of one realm and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCount {
    pub realm_id: String,
    pub offline: bool,
    pub sessions: i64,
    pub families: i64,
}

/// A session with what it holds, for listing.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub session: Session,
    pub username: String,
    pub clients: Vec<ClientSession>,
}

/// Realms, their keys and clients.
#[async_trait]
pub trait RealmRepository: Send + Sync + 'static {
    async fn create_realm(&self, new: NewRealm) -> Result<()>;
    async fn realm_by_name(&self, name: &str) -> Result<Option<Realm>>;
    async fn realm_by_id(&self, id: &str) -> Result<Option<Realm>>;
    async fn realm_names(&self) -> Result<Vec<String>>;
    async fn realm_keys(&self, realm_id: &str) -> Result<Vec<StoredKey>>;
    async fn clients(&self, realm_id: &str) -> Result<Vec<Client>>;
    async fn client_by_client_id(&self, realm_id: &str, client_id: &str) -> Result<Option<Client>>;
    async fn update_realm(&self, realm: Realm) -> Result<()>;
    /// Writes `after` only if the stored realm is still `before`; `false` when it changed.
    async fn replace_realm(&self, before: &Realm, after: Realm) -> Result<bool>;
    /// Deletes a realm and everything in it. Returns false when it did not exist.
    async fn delete_realm(&self, realm_id: &str) -> Result<bool>;
    async fn client_by_id(&self, realm_id: &str, id: &str) -> Result<Option<Client>>;
    async fn create_client(&self, client: Client) -> Result<()>;
    /// Replaces a client (secret included).
    async fn update_client(&self, client: Client) -> Result<()>;
    async fn delete_client(&self, realm_id: &str, id: &str) -> Result<bool>;
    /// Adds a signing key to a realm (key rotation): the newest active key of an algorithm signs.
    async fn add_key(&self, realm_id: &str, key: StoredKey) -> Result<()>;
    /// Replaces a key's clear material by its sealed form. False when the key is not there or
    /// was sealed already (another node got there first).
    async fn seal_key(&self, realm_id: &str, kid: &str, sealed: Vec<u8>) -> Result<bool>;
}

/// Users and their credentials.
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    async fn create_user(&self, user: UserWithCredential) -> Result<()>;
    async fn user_by_username(
        &self,
        realm_id: &str,
        username: &str,
    ) -> Result<Option<UserWithCredential>>;
    /// Users whose email address is `email` (case-insensitive), at most two.
    async fn users_by_email(&self, realm_id: &str, email: &str) -> Result<Vec<UserWithCredential>>;
    async fn user_by_id(&self, realm_id: &str, id: &str) -> Result<Option<User>>;
    async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<()>;
    async fn update_user(&self, user: User) -> Result<()>;
    /// Deletes a user and their sessions.
    async fn delete_user(&self, realm_id: &str, id: &str) -> Result<bool>;
    async fn users(&self, realm_id: &str, query: UserQuery) -> Result<Vec<User>>;
    async fn count_users(&self, realm_id: &str, query: UserQuery) -> Result<i64>;
}

/// Sessions, refresh-token families and records, revoked access tokens.
#[async_trait]
pub trait SessionRepository: Send + Sync + 'static {
    async fn start_grant(&self, grant: NewGrant) -> Result<()>;
    /// A browser sign-in's SSO session, before any client holds tokens in it.
    async fn create_session(&self, session: Session) -> Result<()>;
    /// Slides an SSO session's idle window (a browser reusing its session).
    async fn touch_session(&self, id: &str, now: Timestamp) -> Result<()>;
    /// Reads the state of refresh token `jti`, runs `decide` on it and applies the decision,
    /// all in one transaction. `now` is the time of the request. The outcome may come before
    /// its commit is durable: answer the client only after [`Pending::durable`].
    async fn refresh(
        &self,
        jti: &str,
        now: Timestamp,
        decide: Decide,
    ) -> Result<Pending<RefreshOutcome>>;
    /// Re-reads a record and its family without changing anything (`explain`, introspection).
    async fn refresh_state(&self, jti: &str) -> Result<Option<RefreshState>>;
    async fn session(&self, id: &str) -> Result<Option<Session>>;
    async fn client_sessions(&self, session_id: &str) -> Result<Vec<ClientSession>>;
    /// Ends a session and revokes its families, and records `event` in the same
    /// transaction. Returns false when it was not active.
    async fn end_session(
        &self,
        id: &str,
        now: Timestamp,
        reason: &str,
        event: Option<Event>,
    ) -> Result<bool>;
    /// Revokes one family (client session) and records `event` in the same transaction.
    /// Returns false when already revoked or unknown.
    async fn revoke_family(
        &self,
        client_session_id: &str,
        now: Timestamp,
        reason: &str,
        event: Option<Event>,
    ) -> Result<bool>;
    async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> Result<()>;
    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool>;
    async fn sessions(&self, realm_id: &str, offline: Option<bool>) -> Result<Vec<SessionInfo>>;
    /// Per realm and kind (offline or not): the sessions not ended and their families not
    /// revoked, for the metrics. One scan of the sessions.
    async fn live_counts(&self) -> Result<Vec<LiveCount>>;
}

/// Authorization codes.
#[async_trait]
pub trait CodeRepository: Send + Sync + 'static {
    async fn insert_code(&self, code: AuthCode) -> Result<()>;
    /// Redeems a code in one transaction: reads it (with its session and user), runs
    /// `decide`, marks it used and applies the decision — a replay arriving at any moment
    /// finds the code used and the family it started. `None` when no such code exists.
    async fn redeem_code(
        &self,
        code_hash: &str,
        now: Timestamp,
        decide: DecideCode,
    ) -> Result<Option<(CodeState, CodeDecision)>>;
}

/// User and admin events.
#[async_trait]
pub trait EventRepository: Send + Sync + 'static {
    /// Records events whose occasion changed nothing else (a refused sign-in, a userinfo
    /// request), in one transaction of their own.
    async fn record_events(&self, events: Vec<Event>) -> Result<()>;
    async fn user_events(&self, q: &UserEventQuery) -> Result<Vec<UserEvent>>;
    async fn admin_events(&self, q: &AdminEventQuery) -> Result<Vec<AdminEvent>>;
    /// Deletes every user (or admin) event of a realm; how many.
    async fn clear_events(&self, realm_id: &str, admin: bool) -> Result<u64>;
    /// Deletes up to `limit` of a realm's user (or admin) events older than `before` (epoch
    /// ms); how many, so a caller repeats while that is `limit`.
    async fn expire_events(
        &self,
        realm_id: &str,
        admin: bool,
        before: i64,
        limit: usize,
    ) -> Result<u64>;
}

/// When the store's servers ran: the grace period of a rotated refresh token does not run while
/// none did (see `latchkey_domain::policy::outage`).
#[async_trait]
pub trait UptimeRepository: Send + Sync + 'static {
    /// A server starts at `now`: records the outage since the last sign of life, if any, and
    /// returns every outage remembered, merged and oldest first.
    async fn record_start(&self, now: Timestamp) -> Result<Vec<Outage>>;
    /// A running server's sign of life, every few seconds.
    async fn heartbeat(&self, now: Timestamp) -> Result<()>;
    /// The outages remembered, merged and oldest first, changing nothing.
    async fn outages(&self) -> Result<Vec<Outage>>;
}

/// Deleting what can no longer serve a request.
#[async_trait]
pub trait PurgeRepository: Send + Sync + 'static {
    /// Deletes at most about `limit` rows that can no longer serve any request: refresh-token
    /// records expired more than [`EXPIRED_RETENTION`] seconds ago, sessions ended more than
    /// [`ENDED_SESSION_RETENTION`] seconds ago (their families with them, and those families'
    /// records that never expire; the others follow at their expiry), revoked
    /// access-token ids past their expiry, authorization codes past theirs. One short transaction; returns the rows
    /// deleted, so a caller repeats while that is `limit` or more.
    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64>;
    /// Looks at up to `scan` of a realm's sessions after `after` (in start order, through an
    /// index) and deletes the ones `which` calls dead, with their families (the families'
    /// records that never expire go with them; the others at their own expiry). One short
    /// transaction. Returns the sessions deleted and where to go on, or `None` once the end
    /// of the realm's candidates is reached.
    async fn purge_dead_sessions(
        &self,
        which: &DeadSessions,
        after: Option<SessionCursor>,
        scan: usize,
    ) -> Result<(u64, Option<SessionCursor>)>;
}

/// Everything latchkey stores, behind the narrow repositories a use case needs; each method
/// is one transaction.
#[async_trait]
pub trait Store:
    RealmRepository
    + UserRepository
    + SessionRepository
    + CodeRepository
    + EventRepository
    + PurgeRepository
    + UptimeRepository
{
    /// True once the store is open and migrated.
    async fn ping(&self) -> Result<()>;
    /// Registers the store's own metrics (the group commit's, the pool's) where they are served.
    fn register_metrics(&self, _registry: &mut prometheus_client::registry::Registry) {}
    /// Configuration changes made by any node sharing this store, as they happen (realm names,
    /// or "*" for "anything may have changed"). `None` when the store has a single node.
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<String>> {
        None
    }
}

/// How long an ended (logged-out) session is kept, so that its tokens are still answered
/// "session ended" rather than "unknown" for a while.
pub const ENDED_SESSION_RETENTION: i64 = 24 * 3600;

/// How long an expired refresh-token record is kept, so that presenting it is answered
/// "expired at …" rather than "not known to this server" for a while.
pub const EXPIRED_RETENTION: i64 = 3600;

/// Connections a PostgreSQL store keeps unless told otherwise.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// Opens the store a `--db` URL names (PostgreSQL with its default pool).
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    open_with_pool(url, DEFAULT_POOL_SIZE).await
}

/// Opens the store a `--db` URL names; `pool` is the PostgreSQL pool's size.
pub async fn open_with_pool(url: &str, pool: usize) -> Result<std::sync::Arc<dyn Store>> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let store = sqlite::SqliteStore::open(path).await?;
        return Ok(std::sync::Arc::new(store));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = postgres::PgStore::open_with_pool(url, pool.max(1)).await?;
        return Ok(std::sync::Arc::new(store));
    }
    Err(StoreError::Backend(format!(
        "unsupported database URL '{url}': use sqlite://PATH (relative sqlite://./x.db or absolute sqlite:///var/x.db)"
    )))
}

/// The repositories' traits, for calling their methods on a `dyn Store`.
pub mod prelude {
    pub use crate::{
        CodeRepository, EventRepository, PurgeRepository, RealmRepository, SessionRepository,
        Store, UserRepository,
    };
}
