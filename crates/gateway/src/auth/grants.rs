//! `refresh_token`, `password` and `client_credentials`: the gateway obtains tokens at the
//! token endpoint with what the client presented. Every such call goes through a flight (see
//! `flights`): one call per credential however many requests carry it, the result remembered
//! for stragglers. A remembered refresh result whose access token has expired is continued
//! with its own successor, never by presenting the rotated-out token again.

use super::request::Req;
use super::{body_failure, find_param, Ctx, Outcome};
use crate::config::oidc::{ClientAuth, Method, OidcConfig, Place};
use crate::flights::{ClusterFlight, How, Outcome as Flight, Remember};
use crate::idp::http::IdpHttp;
use crate::idp::issuer::Issuer;
use crate::idp::token::{self, Call, ClientCreds};
use crate::metrics::Metrics;
use crate::plugin::Plugin;
use crate::sessions::RedisPool;
use crate::tokens::{self as toks, Failure, Tokens};
use base64::Engine;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a result is kept for stragglers when `cache_tokens` is off, and how long a refusal
/// is remembered (so that a burst of requests with a dead token makes one call).
pub const STRAGGLER_WINDOW: Duration = Duration::from_secs(10);

/// How long a credential whose tokens did not verify is kept from the issuer, at least.
pub const UNVERIFIED_KEPT: Duration = Duration::from_secs(3600);

type Found = Option<Result<(Method, Arc<Tokens>), Failure>>;

/// Tries the refresh token, then password and client credentials, where the plugin allows.
pub async fn authenticate(p: &Plugin, req: &mut Req, ctx: &Ctx) -> Result<Found, Outcome> {
    let cfg = &p.cfg;
    if let (true, Some(name)) = (
        cfg.allows(Method::RefreshToken),
        &cfg.refresh_token_param_name,
    ) {
        match find_param(req, name, &cfg.refresh_token_places, true).await {
            Err(f) => return Err(body_failure(f)),
            Ok(Some((rt, at))) => {
                req.used.push(at);
                return Ok(Some(
                    refresh(p, &rt, ctx.now)
                        .await
                        .map(|t| (Method::RefreshToken, t)),
                ));
            }
            Ok(None) => {}
        }
    }
    let (password, cc) = (
        cfg.allows(Method::Password),
        cfg.allows(Method::ClientCredentials),
    );
    if !password && !cc {
        return Ok(None);
    }
    let basic = basic(req);
    if password {
        let creds = match &basic {
            Some((u, pw, _)) if grant_type_allows(req, "password") => Some((u.clone(), pw.clone())),
            _ => pair(req, "username", "password", &cfg.password_places)
                .await
                .map_err(body_failure)?,
        };
        if let Some((user, pw)) = creds {
            let r = password_grant(p, &user, &pw, ctx.now).await;
            // A Basic header fills both grants: client credentials are tried when the password
            // grant is refused.
            let retry = cc && basic.is_some() && matches!(r, Err(Failure::Refused(_)));
            if !retry {
                return Ok(Some(r.map(|t| (Method::Password, t))));
            }
        }
    }
    if cc {
        let creds = match &basic {
            Some((id, secret, _)) if grant_type_allows(req, "client_credentials") => {
                Some((id.clone(), secret.clone()))
            }
            _ => pair(
                req,
                "client_id",
                "client_secret",
                &cfg.client_credentials_places,
            )
            .await
            .map_err(body_failure)?,
        };
        if let Some((id, secret)) = creds {
            let r = client_credentials(p, &id, &secret, ctx.now).await;
            return Ok(Some(r.map(|t| (Method::ClientCredentials, t))));
        }
    }
    Ok(None)
}

/// `Authorization: Basic` credentials, recorded as used.
fn basic(req: &mut Req) -> Option<(String, String, ())> {
    let v = req.authorization()?.trim();
    if v.len() < 6 || !v[..6].eq_ignore_ascii_case("basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(v[6..].trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, pw) = text.split_once(':')?;
    req.used
        .push(super::request::Found::Header("authorization".into()));
    Some((u.to_string(), pw.to_string(), ()))
}

/// Kong's `Grant-Type` / `X-Grant-Type` header, when present, picks the grant.
fn grant_type_allows(req: &Req, grant: &str) -> bool {
    ["grant-type", "x-grant-type"]
        .iter()
        .filter_map(|h| req.header(h))
        .all(|v| v.trim() == grant)
}

async fn pair(
    req: &mut Req,
    a: &str,
    b: &str,
    places: &[Place],
) -> Result<Option<(String, String)>, super::request::BodyFailure> {
    let places: Vec<Place> = places
        .iter()
        .copied()
        .filter(|p| *p != Place::Header)
        .collect();
    let Some((va, fa)) = find_param(req, a, &places, false).await? else {
        return Ok(None);
    };
    let Some((vb, fb)) = find_param(req, b, &places, false).await? else {
        return Ok(None);
    };
    req.used.push(fa);
    req.used.push(fb);
    Ok(Some((va, vb)))
}

/// What a flight's call needs, owned: it runs on a task of its own.
#[derive(Clone)]
pub struct Caller {
    pub cfg: Arc<OidcConfig>,
    pub issuer: Arc<Issuer>,
    pub http: IdpHttp,
    pub metrics: Arc<Metrics>,
    pub redis: Option<(RedisPool, String)>,
}

impl Caller {
    pub fn of(p: &Plugin) -> Caller {
        Caller {
            cfg: p.cfg.clone(),
            issuer: p.issuer.clone(),
            http: p.shared.http.clone(),
            metrics: p.shared.metrics.clone(),
            redis: p
                .sessions
                .redis()
                .map(|(pool, prefix)| (pool.clone(), prefix.to_string())),
        }
    }

    /// A grant at the token endpoint. `client`: the request's own client (client
    /// credentials), else the plugin's.
    pub async fn grant(
        self,
        kind: &'static str,
        form: Vec<(String, String)>,
        client: Option<(String, String)>,
        nonce: Option<String>,
        previous_refresh: Option<String>,
        now: i64,
    ) -> Flight {
        let cfg = &self.cfg;
        let discovered = self
            .issuer
            .discovered()
            .await
            .map_err(Failure::Unavailable)?;
        let url = cfg
            .endpoints
            .token
            .clone()
            .or_else(|| discovered.token_endpoint.clone())
            .ok_or_else(|| {
                Failure::Refused("the issuer has no token endpoint (set token_endpoint)".into())
            })?;
        let creds = match &client {
            Some((id, secret)) => ClientCreds {
                id,
                secret: Some(secret),
                auth: if cfg.client_auth == ClientAuth::Post {
                    ClientAuth::Post
                } else {
                    ClientAuth::Basic
                },
            },
            None => ClientCreds {
                id: cfg.client_id.as_deref().unwrap_or(""),
                secret: cfg.client_secret.as_deref(),
                auth: cfg.client_auth,
            },
        };
        let call = Call {
            http: &self.http,
            timeout: cfg.timeout,
            verify_tls: cfg.ssl_verify,
        };
        let started = Instant::now();
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let answer = Box::pin(token::grant(&call, &url, pairs, &creds)).await;
        self.metrics.idp(
            kind,
            match &answer {
                Ok(_) => "ok",
                Err(token::Refused::Rejected(_)) => "refused",
                Err(token::Refused::Unavailable(_)) => "unavailable",
            },
            started.elapsed().as_secs_f64(),
        );
        let answer = answer.map_err(Failure::from)?;
        let tokens = Box::pin(toks::from_answer(
            &self.issuer,
            answer,
            creds.id,
            nonce.as_deref(),
            previous_refresh.as_deref(),
            now,
            cfg.leeway,
        ))
        .await?;
        Ok(Arc::new(tokens))
    }

    /// How long a flight's outcome is kept.
    pub fn remember(&self, now: i64) -> Remember {
        let cfg = self.cfg.clone();
        Box::new(move |o: &Flight| {
            let secs = match o {
                Ok(t) if cfg.cache_tokens => {
                    let life = t.expires_at.map(|e| e - now).unwrap_or(0).max(0) as u64;
                    let mut ttl = life.max(cfg.cache_ttl);
                    if let Some(max) = cfg.cache_ttl_max {
                        ttl = ttl.min(max.max(life));
                    }
                    ttl.max(cfg.cache_ttl_min.unwrap_or(0))
                }
                Ok(_) | Err(Failure::Refused(_)) => STRAGGLER_WINDOW.as_secs(),
                // Never presented again: the issuer may have rotated it already.
                Err(Failure::Unverified(_)) => cfg.cache_ttl.max(UNVERIFIED_KEPT.as_secs()),
                Err(Failure::Unavailable(_)) => return None,
            };
            Some(Instant::now() + Duration::from_secs(secs))
        })
    }

    /// Runs a flight for `key`: across gateway nodes too when sessions live in Redis.
    pub async fn flight<F>(&self, p: &Plugin, key: [u8; 32], now: i64, call: F) -> (Flight, How)
    where
        F: std::future::Future<Output = Flight> + Send + 'static,
    {
        let remember = self.remember(now);
        let keep = Duration::from_secs(self.cfg.cache_ttl.max(STRAGGLER_WINDOW.as_secs()));
        let call = Box::pin(call);
        match self.redis.clone() {
            None => p.shared.flights.run(key, remember, call).await,
            Some((pool, prefix)) => {
                let cluster = Box::pin(async move {
                    ClusterFlight {
                        redis: &pool,
                        prefix: &prefix,
                    }
                    .run(&key, keep, call)
                    .await
                });
                p.shared.flights.run(key, remember, cluster).await
            }
        }
    }
}

fn how(h: How) -> &'static str {
    match h {
        How::Called => "called",
        How::Joined => "joined",
        How::Remembered => "remembered",
    }
}

/// Tokens for a refresh token. A remembered result whose access token has expired is
/// continued with the successor it holds (up to a few links), and the older token learns the
/// newest result.
pub async fn refresh(p: &Plugin, rt: &str, now: i64) -> Result<Arc<Tokens>, Failure> {
    let caller = Caller::of(p);
    let mut current = rt.to_string();
    let mut older: Vec<[u8; 32]> = Vec::new();
    for _ in 0..4 {
        let key = p.key("refresh_token", &[&current]);
        let form = vec![
            ("grant_type".to_string(), "refresh_token".to_string()),
            ("refresh_token".to_string(), current.clone()),
        ];
        let call = caller.clone().grant(
            "refresh_token",
            form,
            None,
            None,
            Some(current.clone()),
            now,
        );
        let (outcome, h) = caller.flight(p, key, now, call).await;
        p.shared.metrics.refresh(how(h));
        let tokens = outcome?;
        if tokens.fresh(now, p.cfg.leeway) || h != How::Remembered {
            let until = Instant::now()
                + Duration::from_secs(p.cfg.cache_ttl.max(STRAGGLER_WINDOW.as_secs()));
            for k in older {
                p.shared.flights.remember(k, Ok(tokens.clone()), until);
            }
            return Ok(tokens);
        }
        // Remembered, and its access token has expired: go on from its successor.
        match &tokens.refresh_token {
            Some(next) if *next != current => {
                older.push(key);
                current = next.clone();
            }
            _ => {
                // The provider does not rotate: the same token may be presented again.
                p.shared.flights.forget(&key);
            }
        }
    }
    Err(Failure::Refused(
        "the refresh token chain could not be followed".into(),
    ))
}

async fn password_grant(
    p: &Plugin,
    user: &str,
    pw: &str,
    now: i64,
) -> Result<Arc<Tokens>, Failure> {
    let caller = Caller::of(p);
    let key = p.key("password", &[user, pw]);
    if let Some(Ok(t)) = p.shared.flights.remembered(&key) {
        if !t.fresh(now, p.cfg.leeway) {
            p.shared.flights.forget(&key);
        }
    }
    let form = vec![
        ("grant_type".to_string(), "password".to_string()),
        ("username".to_string(), user.to_string()),
        ("password".to_string(), pw.to_string()),
        ("scope".to_string(), p.cfg.scopes.join(" ")),
    ];
    let call = caller
        .clone()
        .grant("password", form, None, None, None, now);
    let (outcome, h) = caller.flight(p, key, now, call).await;
    p.shared.metrics.refresh(how(h));
    outcome
}

async fn client_credentials(
    p: &Plugin,
    id: &str,
    secret: &str,
    now: i64,
) -> Result<Arc<Tokens>, Failure> {
    let caller = Caller::of(p);
    let key = p.key("client_credentials", &[id, secret]);
    if let Some(Ok(t)) = p.shared.flights.remembered(&key) {
        if !t.fresh(now, p.cfg.leeway) {
            p.shared.flights.forget(&key);
        }
    }
    let form = vec![
        ("grant_type".to_string(), "client_credentials".to_string()),
        ("scope".to_string(), p.cfg.scopes.join(" ")),
    ];
    let call = caller.clone().grant(
        "client_credentials",
        form,
        Some((id.to_string(), secret.to_string())),
        None,
        None,
        now,
    );
    let (outcome, h) = caller.flight(p, key, now, call).await;
    p.shared.metrics.refresh(how(h));
    outcome
}
