//! [`crate::Store`] for [`PgStore`]: reads on a pooled connection, writes in a transaction;
//! configuration writes notify every node.

use super::{backend, config, exec, sessions, PgStore};
use crate::sql::config as sqlc;
use crate::sql::sessions as sql;
use crate::{
    CodeDecision, CodeState, Decide, DecideCode, Event, NewGrant, NewRealm, Pending,
    RefreshOutcome, Result, SessionInfo, StoredKey, UserQuery, UserWithCredential,
};
use latchkey_domain::policy::RefreshState;
use latchkey_domain::{AuthCode, Client, ClientSession, Realm, Session, Timestamp, User};

macro_rules! tx {
    ($self:ident, |$t:ident| $body:expr) => {{
        let mut conn = $self.client().await?;
        let $t = conn.transaction().await.map_err(backend)?;
        let out = $body;
        $t.commit().await.map_err(backend)?;
        out
    }};
}

#[async_trait::async_trait]
impl crate::RealmRepository for PgStore {
    async fn create_realm(&self, new: NewRealm) -> Result<()> {
        let plan = sqlc::insert_realm(&new, super::now());
        exec::transact(&self.client().await?, &plan).await?;
        self.notify(&new.realm.name).await;
        Ok(())
    }
    async fn realm_by_name(&self, name: &str) -> Result<Option<Realm>> {
        config::realm_by_name(&self.client().await?, name).await
    }
    async fn realm_by_id(&self, id: &str) -> Result<Option<Realm>> {
        config::realm_by_id(&self.client().await?, id).await
    }
    async fn realm_names(&self) -> Result<Vec<String>> {
        config::realm_names(&self.client().await?).await
    }
    async fn realm_keys(&self, realm_id: &str) -> Result<Vec<StoredKey>> {
        config::realm_keys(&self.client().await?, realm_id).await
    }
    async fn clients(&self, realm_id: &str) -> Result<Vec<Client>> {
        config::clients(&self.client().await?, realm_id).await
    }
    async fn client_by_client_id(&self, realm_id: &str, client_id: &str) -> Result<Option<Client>> {
        config::client_by_client_id(&self.client().await?, realm_id, client_id).await
    }
    async fn update_realm(&self, realm: Realm) -> Result<()> {
        config::update_realm(&self.client().await?, &realm).await?;
        self.notify("*").await;
        Ok(())
    }
    async fn replace_realm(&self, before: &Realm, after: Realm) -> Result<bool> {
        let stmt = sqlc::replace_realm(before, &after);
        let n = exec::execute(&self.client().await?, &stmt).await?;
        if n == 1 {
            self.notify("*").await;
        }
        Ok(n == 1)
    }
    async fn delete_realm(&self, realm_id: &str) -> Result<bool> {
        let counts = exec::transact(&self.client().await?, &sqlc::delete_realm(realm_id)).await?;
        self.notify("*").await;
        Ok(counts.last() > Some(&0))
    }
    async fn client_by_id(&self, realm_id: &str, id: &str) -> Result<Option<Client>> {
        config::client_by_id(&self.client().await?, realm_id, id).await
    }
    async fn create_client(&self, client: Client) -> Result<()> {
        exec::execute(&self.client().await?, &sqlc::insert_client(&client)).await?;
        self.notify("*").await;
        Ok(())
    }
    async fn update_client(&self, client: Client) -> Result<()> {
        config::update_client(&self.client().await?, &client).await?;
        self.notify("*").await;
        Ok(())
    }
    async fn delete_client(&self, realm_id: &str, id: &str) -> Result<bool> {
        let n = exec::execute(&self.client().await?, &sqlc::delete_client(realm_id, id)).await?;
        self.notify("*").await;
        Ok(n > 0)
    }
    async fn add_key(&self, realm_id: &str, key: StoredKey) -> Result<()> {
        exec::execute(&self.client().await?, &sqlc::insert_key(realm_id, &key)).await?;
        self.notify("*").await;
        Ok(())
    }
    async fn seal_key(&self, realm_id: &str, kid: &str, sealed: Vec<u8>) -> Result<bool> {
        let plan = sqlc::seal_key(realm_id, kid, &sealed);
        Ok(exec::execute(&self.client().await?, &plan).await? == 1)
    }
}

#[async_trait::async_trait]
impl crate::UserRepository for PgStore {
    async fn create_user(&self, user: UserWithCredential) -> Result<()> {
        exec::execute(&self.client().await?, &sqlc::insert_user(&user))
            .await
            .map(drop)
    }
    async fn user_by_username(
        &self,
        realm_id: &str,
        username: &str,
    ) -> Result<Option<UserWithCredential>> {
        config::user_by_username(&self.client().await?, realm_id, username).await
    }
    async fn users_by_email(&self, realm_id: &str, email: &str) -> Result<Vec<UserWithCredential>> {
        config::users_by_email(&self.client().await?, realm_id, email).await
    }
    async fn user_by_id(&self, realm_id: &str, id: &str) -> Result<Option<User>> {
        config::user_by_id(&self.client().await?, realm_id, id).await
    }
    async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<()> {
        exec::execute(
            &self.client().await?,
            &sqlc::set_password_hash(user_id, hash),
        )
        .await
        .map(drop)
    }
    async fn update_user(&self, user: User) -> Result<()> {
        config::update_user(&self.client().await?, &user).await
    }
    async fn delete_user(&self, realm_id: &str, id: &str) -> Result<bool> {
        let counts =
            exec::transact(&self.client().await?, &sqlc::delete_user(realm_id, id)).await?;
        Ok(counts[1] > 0)
    }
    async fn users(&self, realm_id: &str, query: UserQuery) -> Result<Vec<User>> {
        config::users(&self.client().await?, realm_id, &query).await
    }
    async fn count_users(&self, realm_id: &str, query: UserQuery) -> Result<i64> {
        config::count_users(&self.client().await?, realm_id, &query).await
    }
}

#[async_trait::async_trait]
impl crate::SessionRepository for PgStore {
    async fn start_grant(&self, grant: NewGrant) -> Result<()> {
        exec::transact(&self.client().await?, &sql::start_grant(&grant))
            .await
            .map(drop)
    }
    async fn create_session(&self, session: Session) -> Result<()> {
        exec::execute(&self.client().await?, &sql::insert_session(&session))
            .await
            .map(drop)
    }
    async fn touch_session(&self, id: &str, now: Timestamp) -> Result<()> {
        exec::execute(&self.client().await?, &sql::touch_session(id, now))
            .await
            .map(drop)
    }
    async fn refresh(
        &self,
        jti: &str,
        now: Timestamp,
        decide: Decide,
    ) -> Result<Pending<RefreshOutcome>> {
        // The transaction runs on a task of its own, which hands the outcome over before its
        // writes and COMMIT go out: the caller signs the new tokens during that round trip and
        // the server's flush, and answers once the commit is told. The task finishes the
        // transaction even when the caller is gone.
        let conn = self.client().await?;
        let jti = jti.to_string();
        let (tell, hear) = tokio::sync::oneshot::channel::<Result<RefreshOutcome>>();
        let (tell_commit, hear_commit) = tokio::sync::oneshot::channel::<Result<()>>();
        tokio::spawn(async move {
            match sessions::refresh(&conn, &jti, now, decide).await {
                Ok(sessions::Decided { outcome, commit }) => {
                    let _ = tell.send(Ok(outcome));
                    let _ = tell_commit.send(commit.apply().await);
                }
                Err(e) => {
                    let _ = tell.send(Err(e));
                }
            }
        });
        let outcome = hear.await.unwrap_or_else(|_| Err(crate::lost_write()))?;
        Ok(Pending::committing(outcome, hear_commit))
    }
    async fn refresh_state(&self, jti: &str) -> Result<Option<RefreshState>> {
        sessions::refresh_state(&self.client().await?, jti).await
    }
    async fn session(&self, id: &str) -> Result<Option<Session>> {
        sessions::session(&self.client().await?, id).await
    }
    async fn client_sessions(&self, session_id: &str) -> Result<Vec<ClientSession>> {
        sessions::client_sessions(&self.client().await?, session_id).await
    }
    async fn end_session(
        &self,
        id: &str,
        now: Timestamp,
        reason: &str,
        event: Option<Event>,
    ) -> Result<bool> {
        let plan = sql::end_session(id, now, reason, event.as_ref());
        let counts = exec::transact(&self.client().await?, &plan).await?;
        Ok(counts[counts.len() - 2] > 0)
    }
    async fn revoke_family(
        &self,
        id: &str,
        now: Timestamp,
        reason: &str,
        event: Option<Event>,
    ) -> Result<bool> {
        let plan = sql::revoke_family_recording(id, now, reason, event.as_ref());
        Ok(exec::transact(&self.client().await?, &plan).await?.last() > Some(&0))
    }
    async fn live_counts(&self) -> Result<Vec<crate::LiveCount>> {
        exec::query(
            &self.client().await?,
            crate::sql::sessions::LIVE_COUNTS,
            &[],
            crate::sql::sessions::live_count,
        )
        .await
    }
    async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> Result<()> {
        exec::execute(
            &self.client().await?,
            &sql::revoke_access_token(jti, expires_at),
        )
        .await
        .map(drop)
    }
    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool> {
        sessions::is_access_token_revoked(&self.client().await?, jti).await
    }
    async fn sessions(&self, realm_id: &str, offline: Option<bool>) -> Result<Vec<SessionInfo>> {
        sessions::sessions(&self.client().await?, realm_id, offline).await
    }
}

#[async_trait::async_trait]
impl crate::CodeRepository for PgStore {
    async fn insert_code(&self, code: AuthCode) -> Result<()> {
        exec::transact(&self.client().await?, &sql::insert_code(&code))
            .await
            .map(drop)
    }
    async fn redeem_code(
        &self,
        code_hash: &str,
        now: Timestamp,
        decide: DecideCode,
    ) -> Result<Option<(CodeState, CodeDecision)>> {
        Ok(tx!(self, |t| sessions::redeem_code(
            &t, code_hash, now, decide
        )
        .await?))
    }
}

#[async_trait::async_trait]
impl crate::EventRepository for PgStore {
    async fn record_events(&self, events: Vec<Event>) -> Result<()> {
        let plan: Vec<_> = events.iter().map(crate::sql::events::insert).collect();
        exec::transact(&self.client().await?, &plan).await.map(drop)
    }
    async fn user_events(&self, q: &crate::UserEventQuery) -> Result<Vec<crate::UserEvent>> {
        let (sql, params) = crate::sql::events::user_query(q);
        exec::query(&self.client().await?, &sql, &params, |r| {
            crate::sql::events::user_row(r)
        })
        .await
    }
    async fn admin_events(&self, q: &crate::AdminEventQuery) -> Result<Vec<crate::AdminEvent>> {
        let (sql, params) = crate::sql::events::admin_query(q);
        exec::query(&self.client().await?, &sql, &params, |r| {
            crate::sql::events::admin_row(r)
        })
        .await
    }
    async fn clear_events(&self, realm_id: &str, admin: bool) -> Result<u64> {
        exec::execute(
            &self.client().await?,
            &crate::sql::events::clear(realm_id, admin),
        )
        .await
    }
    async fn expire_events(
        &self,
        realm_id: &str,
        admin: bool,
        before: i64,
        limit: usize,
    ) -> Result<u64> {
        let plan = crate::sql::events::expire(realm_id, admin, before, limit as i64);
        exec::execute(&self.client().await?, &plan).await
    }
}

#[async_trait::async_trait]
impl crate::UptimeRepository for PgStore {
    async fn record_start(&self, now: Timestamp) -> Result<Vec<latchkey_domain::policy::Outage>> {
        exec::transact(
            &self.client().await?,
            &crate::sql::uptime::record_start(now),
        )
        .await?;
        self.outages().await
    }
    async fn heartbeat(&self, now: Timestamp) -> Result<()> {
        exec::execute(&self.client().await?, &crate::sql::uptime::heartbeat(now))
            .await
            .map(drop)
    }
    async fn outages(&self) -> Result<Vec<latchkey_domain::policy::Outage>> {
        use crate::sql::uptime;
        let rows = exec::query(&self.client().await?, uptime::OUTAGES, &[], uptime::outage).await?;
        Ok(uptime::merged(rows))
    }
}

#[async_trait::async_trait]
impl crate::PurgeRepository for PgStore {
    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64> {
        super::purge::purge_expired(&self.client().await?, now, limit).await
    }
    async fn purge_dead_sessions(
        &self,
        which: &crate::DeadSessions,
        after: Option<crate::SessionCursor>,
        scan: usize,
    ) -> Result<(u64, Option<crate::SessionCursor>)> {
        super::purge::purge_dead_sessions(&self.client().await?, which, after.as_ref(), scan).await
    }
}

#[async_trait::async_trait]
impl crate::Store for PgStore {
    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register_collector(Box::new(PoolGauges(self.pool.clone())));
    }
    async fn ping(&self) -> Result<()> {
        self.client()
            .await?
            .execute("SELECT 1", &[])
            .await
            .map_err(backend)?;
        Ok(())
    }
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<String>> {
        Some(self.subscribe())
    }
}

/// The connection pool as it is when scraped: its connections, the idle ones, and the
/// requests waiting for one.
struct PoolGauges(deadpool_postgres::Pool);

impl std::fmt::Debug for PoolGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolGauges")
    }
}

impl prometheus_client::collector::Collector for PoolGauges {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> std::result::Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::gauge::ConstGauge;
        let s = self.0.status();
        for (name, help, value) in [
            (
                "latchkey_store_pool_connections",
                "PostgreSQL connections open",
                s.size,
            ),
            (
                "latchkey_store_pool_idle",
                "PostgreSQL connections idle",
                s.available,
            ),
            (
                "latchkey_store_pool_waiting",
                "Requests waiting for a PostgreSQL connection",
                s.waiting,
            ),
            (
                "latchkey_store_pool_max",
                "PostgreSQL connections at most",
                s.max_size,
            ),
        ] {
            let g = ConstGauge::new(value as i64);
            let m = encoder.encode_descriptor(name, help, None, g.metric_type())?;
            g.encode(m)?;
        }
        Ok(())
    }
}
