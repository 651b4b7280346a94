//! Where browser sessions and sign-ins in progress live: in the gateway (the default), or in
//! Redis so that several gateway nodes share them. The browser's cookie holds only an opaque
//! identifier with a MAC; the tokens stay here.

use crate::cache::TtlCache;
use crate::config::oidc::RedisConfig;
use crate::tokens::Tokens;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A signed-in browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub tokens: Tokens,
    /// When it began and when it was last used (seconds since the epoch).
    pub created: i64,
    pub last_seen: i64,
}

/// A sign-in under way: what the callback must match and where the user was going.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: Option<String>,
    pub redirect_uri: String,
    /// The path and query the user asked for.
    pub original: String,
}

/// The store failed (Redis down): the request cannot be judged.
#[derive(Debug, Clone, thiserror::Error)]
#[error("session store: {0}")]
pub struct StoreFailure(pub String);

#[derive(Clone)]
pub enum SessionStore {
    Memory(Arc<TtlCache<String, String>>),
    Redis { pool: RedisPool, prefix: String },
}

impl SessionStore {
    pub fn memory() -> SessionStore {
        SessionStore::Memory(Arc::new(TtlCache::new(1_000_000)))
    }

    fn key(prefix: &str, kind: &str, id: &str) -> String {
        format!("{prefix}latchkey:gw:{kind}:{id}")
    }

    async fn get_raw(&self, kind: &str, id: &str) -> Result<Option<String>, StoreFailure> {
        match self {
            SessionStore::Memory(m) => Ok(m.get(&format!("{kind}:{id}"), Instant::now())),
            SessionStore::Redis { pool, prefix } => pool.get(&Self::key(prefix, kind, id)).await,
        }
    }

    async fn put_raw(
        &self,
        kind: &str,
        id: &str,
        value: String,
        ttl: Duration,
    ) -> Result<(), StoreFailure> {
        match self {
            SessionStore::Memory(m) => {
                let now = Instant::now();
                m.insert(format!("{kind}:{id}"), value, now + ttl, now);
                Ok(())
            }
            SessionStore::Redis { pool, prefix } => {
                pool.set_ex(&Self::key(prefix, kind, id), &value, ttl).await
            }
        }
    }

    async fn delete_raw(&self, kind: &str, id: &str) -> Result<(), StoreFailure> {
        match self {
            SessionStore::Memory(m) => {
                m.remove(&format!("{kind}:{id}"));
                Ok(())
            }
            SessionStore::Redis { pool, prefix } => pool.del(&Self::key(prefix, kind, id)).await,
        }
    }

    pub async fn session(&self, id: &str) -> Result<Option<Session>, StoreFailure> {
        Ok(self
            .get_raw("session", id)
            .await?
            .and_then(|s| serde_json::from_str(&s).ok()))
    }

    pub async fn put_session(
        &self,
        id: &str,
        s: &Session,
        ttl: Duration,
    ) -> Result<(), StoreFailure> {
        let text = serde_json::to_string(s).map_err(|e| StoreFailure(e.to_string()))?;
        self.put_raw("session", id, text, ttl).await
    }

    pub async fn delete_session(&self, id: &str) -> Result<(), StoreFailure> {
        self.delete_raw("session", id).await
    }

    pub async fn pending(&self, id: &str) -> Result<Option<Pending>, StoreFailure> {
        Ok(self
            .get_raw("signin", id)
            .await?
            .and_then(|s| serde_json::from_str(&s).ok()))
    }

    pub async fn put_pending(
        &self,
        id: &str,
        p: &Pending,
        ttl: Duration,
    ) -> Result<(), StoreFailure> {
        let text = serde_json::to_string(p).map_err(|e| StoreFailure(e.to_string()))?;
        self.put_raw("signin", id, text, ttl).await
    }

    pub async fn delete_pending(&self, id: &str) -> Result<(), StoreFailure> {
        self.delete_raw("signin", id).await
    }

    pub fn redis(&self) -> Option<(&RedisPool, &str)> {
        match self {
            SessionStore::Redis { pool, prefix } => Some((pool, prefix)),
            SessionStore::Memory(_) => None,
        }
    }
}

/// A connection to Redis, made on first use and re-made when it breaks (redis-rs's
/// connection manager).
#[derive(Clone)]
pub struct RedisPool {
    url: String,
    conn: Arc<tokio::sync::OnceCell<redis::aio::ConnectionManager>>,
}

/// How long a Redis command may take before the request is answered without it.
const REDIS_TIMEOUT: Duration = Duration::from_secs(3);

impl RedisPool {
    pub fn new(cfg: &RedisConfig) -> RedisPool {
        let auth = match (&cfg.username, &cfg.password) {
            (Some(u), Some(p)) => format!("{}:{}@", enc(u), enc(p)),
            (None, Some(p)) => format!(":{}@", enc(p)),
            _ => String::new(),
        };
        RedisPool {
            url: format!("redis://{auth}{}:{}/{}", cfg.host, cfg.port, cfg.database),
            conn: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    async fn conn(&self) -> Result<redis::aio::ConnectionManager, StoreFailure> {
        let c = self
            .conn
            .get_or_try_init(|| async {
                let client = redis::Client::open(self.url.as_str())
                    .map_err(|e| StoreFailure(format!("redis: {e}")))?;
                let connect = redis::aio::ConnectionManager::new(client);
                tokio::time::timeout(REDIS_TIMEOUT, connect)
                    .await
                    .map_err(|_| StoreFailure("redis: connecting timed out".into()))?
                    .map_err(|e| StoreFailure(format!("redis: {e}")))
            })
            .await?;
        Ok(c.clone())
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, StoreFailure> {
        let mut c = self.conn().await?;
        tokio::time::timeout(REDIS_TIMEOUT, Box::pin(cmd.query_async::<T>(&mut c)))
            .await
            .map_err(|_| StoreFailure("redis: the command timed out".into()))?
            .map_err(|e| StoreFailure(format!("redis: {e}")))
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, StoreFailure> {
        self.query(redis::cmd("GET").arg(key).clone()).await
    }

    pub async fn set_ex(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreFailure> {
        let ms = ttl.as_millis().max(1) as u64;
        self.query::<()>(
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ms)
                .clone(),
        )
        .await
    }

    /// SET NX with a lease: true when this call took the key.
    pub async fn set_nx(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, StoreFailure> {
        let ms = ttl.as_millis().max(1) as u64;
        let r: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms)
                    .clone(),
            )
            .await?;
        Ok(r.is_some())
    }

    pub async fn del(&self, key: &str) -> Result<(), StoreFailure> {
        self.query::<i64>(redis::cmd("DEL").arg(key).clone())
            .await
            .map(|_| ())
    }
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn redis_round_trip_when_redis_runs() {
        if std::net::TcpStream::connect("127.0.0.1:6379").is_err() {
            return;
        }
        let pool = RedisPool::new(&RedisConfig {
            host: "127.0.0.1".into(),
            port: 6379,
            username: None,
            password: None,
            database: 0,
            prefix: String::new(),
        });
        pool.set_ex("latchkey:test:k", "v", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(
            pool.get("latchkey:test:k").await.unwrap().as_deref(),
            Some("v")
        );
    }
}
