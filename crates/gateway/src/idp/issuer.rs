//! An issuer found through discovery: its endpoints and its signing keys, fetched once and
//! kept. An unknown `kid` fetches the JWKS again, at most once per `rediscovery_lifetime`, so
//! tokens signed with made-up keys cannot make the gateway call the issuer at will. A failed
//! discovery is tried again at most once a second while requests keep asking.

use super::http::IdpHttp;
use crate::errors::Unavailable;
use latchkey_crypto::jwk::{parse_jwks, JwsAlg, PublicJwk};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What discovery and the JWKS said.
#[derive(Debug)]
pub struct Discovered {
    /// The `issuer` of the discovery document: what tokens' `iss` must be.
    pub issuer: String,
    pub token_endpoint: Option<String>,
    pub introspection_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub pkce_methods: Vec<String>,
    pub keys: Vec<Arc<PublicJwk>>,
}

impl Discovered {
    fn key(&self, kid: Option<&str>, alg: JwsAlg) -> Option<Arc<PublicJwk>> {
        self.keys
            .iter()
            .find(|k| k.supports(alg) && (kid.is_none() || k.kid.as_deref() == kid))
            .cloned()
    }
}

/// The settings an issuer is fetched with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IssuerKey {
    pub discovery_url: String,
    pub verify_tls: bool,
}

pub struct Issuer {
    pub key: IssuerKey,
    http: IdpHttp,
    timeout: Duration,
    rediscovery: Duration,
    state: Mutex<State>,
    /// One fetch at a time; others wait for its result.
    fetching: tokio::sync::Mutex<()>,
    /// JWKS fetches made, for the metrics.
    fetches: prometheus_client::metrics::counter::Counter,
}

#[derive(Default)]
struct State {
    current: Option<Arc<Discovered>>,
    fetched_at: Option<Instant>,
    failed: Option<(Instant, Unavailable)>,
}

/// How often a failing discovery is tried again.
const RETRY_FAILED: Duration = Duration::from_secs(1);

impl Issuer {
    pub fn new(
        key: IssuerKey,
        http: IdpHttp,
        timeout: Duration,
        rediscovery: Duration,
        fetches: prometheus_client::metrics::counter::Counter,
    ) -> Issuer {
        Issuer {
            key,
            http,
            timeout,
            rediscovery,
            state: Mutex::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
            fetches,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The discovered endpoints and keys; fetched on first use.
    pub async fn discovered(&self) -> Result<Arc<Discovered>, Unavailable> {
        if let Some(d) = self.state().current.clone() {
            return Ok(d);
        }
        self.fetch(None).await
    }

    /// The key for a token's `kid` and `alg`. An unknown key fetches the JWKS again unless it
    /// was fetched within `rediscovery_lifetime`.
    pub async fn key(
        &self,
        kid: Option<&str>,
        alg: JwsAlg,
    ) -> Result<Option<Arc<PublicJwk>>, Unavailable> {
        let d = self.discovered().await?;
        if let Some(k) = d.key(kid, alg) {
            return Ok(Some(k));
        }
        let recent = self
            .state()
            .fetched_at
            .is_some_and(|t| t.elapsed() < self.rediscovery);
        if recent {
            return Ok(None);
        }
        let d = self.fetch(Some(&d)).await?;
        Ok(d.key(kid, alg))
    }

    /// Fetches discovery and the JWKS, unless another caller did while this one waited.
    async fn fetch(&self, stale: Option<&Arc<Discovered>>) -> Result<Arc<Discovered>, Unavailable> {
        let _one = self.fetching.lock().await;
        {
            let st = self.state();
            if let Some(cur) = &st.current {
                if stale.is_none_or(|s| !Arc::ptr_eq(s, cur)) {
                    return Ok(cur.clone());
                }
            }
            if let Some((at, e)) = &st.failed {
                if at.elapsed() < RETRY_FAILED {
                    return Err(e.clone());
                }
            }
        }
        match self.load().await {
            Ok(d) => {
                let d = Arc::new(d);
                let mut st = self.state();
                st.current = Some(d.clone());
                st.fetched_at = Some(Instant::now());
                st.failed = None;
                Ok(d)
            }
            Err(e) => {
                tracing::warn!(discovery = %self.key.discovery_url, error = %e, "issuer discovery failed");
                let mut st = self.state();
                st.failed = Some((Instant::now(), e.clone()));
                st.fetched_at = Some(Instant::now());
                // Keys already known stay in use while the issuer cannot be reached.
                match &st.current {
                    Some(d) if stale.is_some() => Ok(d.clone()),
                    _ => Err(e),
                }
            }
        }
    }

    async fn load(&self) -> Result<Discovered, Unavailable> {
        let verify = self.key.verify_tls;
        let url = &self.key.discovery_url;
        let answer = self.http.get(url, self.timeout, verify).await?;
        if !answer.status.is_success() {
            return Err(Unavailable::IdpFailed(format!(
                "{url}: HTTP {}",
                answer.status
            )));
        }
        let doc = answer.json().filter(Value::is_object).ok_or_else(|| {
            Unavailable::IdpFailed(format!("{url}: not a JSON discovery document"))
        })?;
        let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
        let issuer = text("issuer").ok_or_else(|| {
            Unavailable::IdpFailed(format!("{url}: the document has no 'issuer'"))
        })?;
        let jwks_uri = text("jwks_uri");
        let mut keys = Vec::new();
        if let Some(jwks) = &jwks_uri {
            self.fetches.inc();
            let answer = self.http.get(jwks, self.timeout, verify).await?;
            if !answer.status.is_success() {
                return Err(Unavailable::IdpFailed(format!(
                    "{jwks}: HTTP {}",
                    answer.status
                )));
            }
            let doc = answer
                .json()
                .ok_or_else(|| Unavailable::IdpFailed(format!("{jwks}: not a JSON Web Key Set")))?;
            let (parsed, skipped) = parse_jwks(&doc);
            for s in skipped {
                tracing::debug!(jwks = %jwks, "skipped a key: {s}");
            }
            keys = parsed.into_iter().map(Arc::new).collect();
        }
        Ok(Discovered {
            issuer,
            token_endpoint: text("token_endpoint"),
            introspection_endpoint: text("introspection_endpoint"),
            revocation_endpoint: text("revocation_endpoint"),
            end_session_endpoint: text("end_session_endpoint"),
            authorization_endpoint: text("authorization_endpoint"),
            jwks_uri,
            pkce_methods: doc
                .get("code_challenge_methods_supported")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            keys,
        })
    }
}

/// Issuers by their settings, shared by every plugin instance and kept across reloads, so a
/// reload does not refetch keys.
#[derive(Default)]
pub struct Issuers {
    map: Mutex<std::collections::HashMap<IssuerKey, Arc<Issuer>>>,
}

impl Issuers {
    pub fn get(
        &self,
        key: IssuerKey,
        http: &IdpHttp,
        timeout: Duration,
        rediscovery: Duration,
        fetches: &prometheus_client::metrics::counter::Counter,
    ) -> Arc<Issuer> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Issuer::new(
                    key,
                    http.clone(),
                    timeout,
                    rediscovery,
                    fetches.clone(),
                ))
            })
            .clone()
    }

    pub fn all(&self) -> Vec<Arc<Issuer>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}
