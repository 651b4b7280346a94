//! `bearer` and `introspection`: an access token the client presents, verified locally when it
//! is a JWT of the issuer (and remembered by its hash until it expires, so its signature is
//! checked once), else introspected (RFC 7662) when the plugin allows it.

use super::find_param;
use super::request::{BodyFailure, Found, Req};
use crate::config::oidc::{Method, Place};
use crate::idp::token;
use crate::jwt::{self, Expect, Refusal};
use crate::plugin::Plugin;
use crate::tokens::{Failure, Tokens};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The bearer token, where `bearer_token_param_type` allows looking for it.
pub async fn find(p: &Plugin, req: &mut Req) -> Result<Option<String>, BodyFailure> {
    for place in &p.cfg.bearer_places {
        let found = match place {
            Place::Header => {
                let auth = req
                    .authorization()
                    .map(str::trim)
                    .filter(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "))
                    .map(|v| v[7..].trim().to_string())
                    .filter(|v| !v.is_empty());
                match auth {
                    Some(t) => Some((t, Found::Header("authorization".into()))),
                    None => {
                        let mut f = None;
                        for name in ["access_token", "x_access_token"] {
                            f = find_param(req, name, &[Place::Header], false).await?;
                            if f.is_some() {
                                break;
                            }
                        }
                        f
                    }
                }
            }
            Place::Cookie => p.cfg.bearer_cookie_name.as_deref().and_then(|name| {
                req.cookie(name)
                    .filter(|v| !v.is_empty())
                    .map(|v| (v, Found::Cookie(name.to_string())))
            }),
            other => find_param(req, "access_token", std::slice::from_ref(other), false).await?,
        };
        if let Some((token, at)) = found {
            req.used.push(at);
            return Ok(Some(token));
        }
    }
    Ok(None)
}

/// The tokens a bearer token stands for, or why it is refused.
pub async fn authenticate(p: &Plugin, token: &str, now: i64) -> Result<Arc<Tokens>, Failure> {
    let key = p.key("bearer", &[token]);
    let instant = Instant::now();
    if let Some(t) = p.shared.verified.get(&key, instant) {
        return Ok(t);
    }
    let cfg = &p.cfg;
    let mut refusal = None;
    if cfg.allows(Method::Bearer) && jwt::looks_like_jwt(token) {
        match jwt::verify(&p.issuer, token, Expect::Access, now, cfg.leeway).await {
            Ok(v) => {
                let tokens = Arc::new(Tokens {
                    access_token: token.to_string(),
                    refresh_token: None,
                    id_token: None,
                    expires_at: v.exp,
                    claims: (*v.claims).clone(),
                    id_claims: None,
                    introspection: None,
                });
                remember(p, key, &tokens, now, instant);
                return Ok(tokens);
            }
            Err(Refusal::Unavailable(u)) => return Err(Failure::Unavailable(u)),
            Err(Refusal::Invalid(m)) => refusal = Some(m),
        }
    }
    if !cfg.allows(Method::Introspection) {
        return Err(Failure::Refused(refusal.unwrap_or_else(|| {
            "the bearer token is not a JWT and introspection is not enabled".into()
        })));
    }
    let discovered = p.issuer.discovered().await.map_err(Failure::Unavailable)?;
    let Some(url) = cfg
        .endpoints
        .introspection
        .clone()
        .or_else(|| discovered.introspection_endpoint.clone())
    else {
        return Err(Failure::Refused(
            "the issuer has no introspection endpoint (set introspection_endpoint)".into(),
        ));
    };
    let started = Instant::now();
    let answer = token::introspect(&p.call(), &url, token, &p.client()).await;
    p.shared.metrics.idp(
        "introspection",
        if answer.is_ok() { "ok" } else { "failed" },
        started.elapsed().as_secs_f64(),
    );
    let answer = answer.map_err(Failure::from)?;
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err(Failure::Refused(
            "the token is not active (introspection)".into(),
        ));
    }
    let exp = answer.get("exp").and_then(Value::as_i64);
    if exp.is_some_and(|e| e + cfg.leeway <= now) {
        return Err(Failure::Refused("the token expired (introspection)".into()));
    }
    let tokens = Arc::new(Tokens {
        access_token: token.to_string(),
        refresh_token: None,
        id_token: None,
        expires_at: exp,
        claims: answer.as_object().cloned().unwrap_or_default(),
        id_claims: None,
        introspection: Some(answer),
    });
    if cfg.cache_introspection {
        remember(p, key, &tokens, now, instant);
    }
    Ok(tokens)
}

/// Keeps a verified token until it expires (at most `cache_ttl`).
fn remember(p: &Plugin, key: [u8; 32], tokens: &Arc<Tokens>, now: i64, instant: Instant) {
    let cfg = &p.cfg;
    let mut ttl = cfg.cache_ttl as i64;
    if let Some(exp) = tokens.expires_at {
        ttl = ttl.min(exp + cfg.leeway - now);
    }
    if let Some(max) = cfg.cache_ttl_max {
        ttl = ttl.min(max as i64);
    }
    if ttl > 0 {
        p.shared.verified.insert(
            key,
            tokens.clone(),
            instant + Duration::from_secs(ttl as u64),
            instant,
        );
    }
}
