//! One `openid-connect` instance at run time: its configuration, its issuer, and the state it
//! shares with the others (caches, flights, sessions, metrics), which outlives reloads.

use crate::cache::TtlCache;
use crate::config::oidc::{OidcConfig, SessionStorage};

use crate::flights::Flights;
use crate::idp::http::IdpHttp;
use crate::idp::issuer::{Issuer, IssuerKey, Issuers};
use crate::idp::token::{Call, ClientCreds};
use crate::metrics::Metrics;
use crate::sessions::{RedisPool, SessionStore};
use crate::tokens::Tokens;
use latchkey_crypto::HmacKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What every plugin instance shares, across reloads.
pub struct Shared {
    pub http: IdpHttp,
    pub issuers: Issuers,
    /// Verified bearer tokens and introspection answers, by hash of issuer and token.
    pub verified: TtlCache<[u8; 32], Arc<Tokens>>,
    pub flights: Arc<Flights>,
    pub metrics: Arc<Metrics>,
    pub memory_sessions: SessionStore,
    redis: Mutex<HashMap<String, RedisPool>>,
    /// Keys session cookies when a plugin has no `session_secret`.
    pub process_secret: Vec<u8>,
}

impl Shared {
    pub fn new(metrics: Arc<Metrics>) -> Shared {
        Shared {
            http: IdpHttp::new(),
            issuers: Issuers::default(),
            verified: TtlCache::new(200_000),
            flights: Arc::new(Flights::new(200_000)),
            metrics,
            memory_sessions: SessionStore::memory(),
            redis: Mutex::new(HashMap::new()),
            process_secret: latchkey_crypto::random_bytes(32),
        }
    }

    fn redis(&self, cfg: &crate::config::oidc::RedisConfig) -> RedisPool {
        let key = format!("{:?}", cfg);
        self.redis
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_insert_with(|| RedisPool::new(cfg))
            .clone()
    }
}

pub struct Plugin {
    pub cfg: Arc<OidcConfig>,
    pub issuer: Arc<Issuer>,
    pub shared: Arc<Shared>,
    pub sessions: SessionStore,
    /// MACs the session and sign-in cookies.
    pub cookie_key: HmacKey,
    /// The `realm` of `WWW-Authenticate`: the issuer's host.
    pub realm: String,
}

impl Plugin {
    pub fn new(cfg: Arc<OidcConfig>, shared: Arc<Shared>) -> Plugin {
        let issuer = shared.issuers.get(
            IssuerKey {
                discovery_url: cfg.discovery_url.clone(),
                verify_tls: cfg.ssl_verify,
            },
            &shared.http,
            cfg.timeout,
            cfg.rediscovery_lifetime,
            &shared.metrics.jwks_fetches,
        );
        let sessions = match &cfg.session.storage {
            SessionStorage::Memory => shared.memory_sessions.clone(),
            SessionStorage::Redis(r) => SessionStore::Redis {
                pool: shared.redis(r),
                prefix: r.prefix.clone(),
            },
        };
        let secret = match &cfg.session.secret {
            Some(s) => latchkey_crypto::sha256(s.as_bytes()),
            None => shared.process_secret.clone(),
        };
        let realm = cfg
            .issuer
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_string))
            .unwrap_or_else(|| "kong".into());
        Plugin {
            cookie_key: HmacKey::from_secret("session".into(), &secret),
            issuer,
            shared,
            sessions,
            realm,
            cfg,
        }
    }

    pub fn call(&self) -> Call<'_> {
        Call {
            http: &self.shared.http,
            timeout: self.cfg.timeout,
            verify_tls: self.cfg.ssl_verify,
        }
    }

    /// The plugin's own client at the identity provider.
    pub fn client(&self) -> ClientCreds<'_> {
        ClientCreds {
            id: self.cfg.client_id.as_deref().unwrap_or(""),
            secret: self.cfg.client_secret.as_deref(),
            auth: self.cfg.client_auth,
        }
    }

    /// A cache key bound to this issuer and client: SHA-256 of them, `kind` and `parts`.
    pub fn key(&self, kind: &str, parts: &[&str]) -> [u8; 32] {
        let mut all: Vec<&[u8]> = Vec::with_capacity(3 + parts.len());
        all.push(self.cfg.discovery_url.as_bytes());
        all.push(self.cfg.client_id.as_deref().unwrap_or("").as_bytes());
        all.push(kind.as_bytes());
        all.extend(parts.iter().map(|p| p.as_bytes()));
        latchkey_crypto::sha256_parts(&all)
    }
}
