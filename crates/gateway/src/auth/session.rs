//! Browser sessions (the BFF): an opaque, MAC'd identifier in an HttpOnly cookie, the tokens in
//! the gateway's store. A session's access token is refreshed before it expires (its real
//! `exp` minus `leeway`), once however many requests arrive together; the session ends with
//! its refresh token. Logout ends it here and, where the issuer has an end-session endpoint,
//! there too.

use super::request::Req;
use super::{Ctx, Outcome};
use crate::auth::grants::Caller;
use crate::body::ProxyBody;
use crate::config::oidc::{OidcConfig, Place};
use crate::errors::{self, Unavailable};
use crate::flights::How;
use crate::idp::token;
use crate::plugin::Plugin;
use crate::sessions::{Session, SessionStore};
use crate::tokens::{Failure, Tokens};
use http::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use http::{HeaderValue, Response, StatusCode};
use std::sync::Arc;
use std::time::Duration;

/// The session a request carries.
pub struct Current {
    pub id: String,
    pub session: Session,
}

/// The cookies the gateway owns: removed from every request before it goes upstream.
pub fn cookie_names(cfg: &OidcConfig) -> [&str; 2] {
    [&cfg.session.cookie_name, &cfg.authorization_cookie_name]
}

/// `id.mac`: the MAC binds the identifier to this gateway's secret, so a made-up cookie is
/// refused without a store lookup.
pub fn seal(p: &Plugin, purpose: &str, id: &str) -> String {
    format!("{id}.{}", mac(p, purpose, id))
}

fn mac(p: &Plugin, purpose: &str, id: &str) -> String {
    let tag = p.cookie_key.sign(format!("{purpose}:{id}").as_bytes());
    latchkey_crypto::b64url(&tag[..32])
}

pub fn unseal(p: &Plugin, purpose: &str, value: &str) -> Option<String> {
    let (id, tag) = value.rsplit_once('.')?;
    if id.is_empty() || id.len() > 128 {
        return None;
    }
    latchkey_crypto::ct_eq(mac(p, purpose, id).as_bytes(), tag.as_bytes()).then(|| id.to_string())
}

/// A `Set-Cookie` value; `None` clears the cookie.
pub fn cookie(
    p: &Plugin,
    ctx: &Ctx,
    name: &str,
    value: Option<&str>,
    same_site: &str,
) -> HeaderValue {
    let s = &p.cfg.session;
    let mut c = match value {
        Some(v) => format!("{name}={v}; Path={}", s.cookie_path),
        None => format!("{name}=; Path={}; Max-Age=0", s.cookie_path),
    };
    if let Some(d) = &s.cookie_domain {
        c.push_str(&format!("; Domain={d}"));
    }
    if s.cookie_http_only {
        c.push_str("; HttpOnly");
    }
    if s.cookie_secure.unwrap_or(ctx.scheme == "https") {
        c.push_str("; Secure");
    }
    if same_site != "Default" {
        c.push_str(&format!("; SameSite={same_site}"));
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

fn session_cookie(p: &Plugin, ctx: &Ctx, value: Option<&str>) -> HeaderValue {
    cookie(
        p,
        ctx,
        &p.cfg.session.cookie_name,
        value,
        &p.cfg.session.cookie_same_site,
    )
}

fn store_unavailable(p: &Plugin, e: crate::sessions::StoreFailure) -> Outcome {
    tracing::warn!(plugin = %p.cfg.entity, error = %e, "session store unavailable");
    Outcome::Respond(errors::message(
        StatusCode::SERVICE_UNAVAILABLE,
        "The session store is currently unavailable",
    ))
}

/// How long a session record is kept: until it would idle out or reach its absolute limit.
fn ttl(cfg: &OidcConfig, s: &Session, now: i64) -> Duration {
    let s_cfg = &cfg.session;
    let mut left = i64::MAX;
    if s_cfg.idling_timeout > 0 {
        left = left.min(s.last_seen + s_cfg.idling_timeout as i64 - now);
    }
    if s_cfg.absolute_timeout > 0 {
        left = left.min(s.created + s_cfg.absolute_timeout as i64 - now);
    }
    if left == i64::MAX {
        left = 30 * 86_400;
    }
    Duration::from_secs(left.max(1) as u64)
}

/// The request's session, when its cookie is genuine and the session is alive.
pub async fn load(p: &Plugin, req: &Req, ctx: &Ctx) -> Result<Option<Current>, Outcome> {
    let Some(id) = req
        .cookie(&p.cfg.session.cookie_name)
        .and_then(|v| unseal(p, "session", &v))
    else {
        return Ok(None);
    };
    let session = match p.sessions.session(&id).await {
        Ok(s) => s,
        Err(e) => return Err(store_unavailable(p, e)),
    };
    let Some(session) = session else {
        return Ok(None);
    };
    let s = &p.cfg.session;
    let idle = s.idling_timeout > 0 && ctx.now - session.last_seen > s.idling_timeout as i64;
    let old = s.absolute_timeout > 0 && ctx.now - session.created > s.absolute_timeout as i64;
    if idle || old {
        let _ = p.sessions.delete_session(&id).await;
        return Ok(None);
    }
    Ok(Some(Current { id, session }))
}

/// Stores a new session for freshly obtained tokens; the cookie to set.
pub async fn create(p: &Plugin, ctx: &Ctx, tokens: &Tokens) -> Result<HeaderValue, Outcome> {
    let id = latchkey_crypto::random_token(32);
    let session = Session {
        tokens: tokens.clone(),
        created: ctx.now,
        last_seen: ctx.now,
    };
    p.sessions
        .put_session(&id, &session, ttl(&p.cfg, &session, ctx.now))
        .await
        .map_err(|e| store_unavailable(p, e))?;
    Ok(session_cookie(p, ctx, Some(&seal(p, "session", &id))))
}

pub enum Used {
    Yes(Arc<Tokens>, Vec<HeaderValue>),
    /// The session cannot go on (its refresh token was refused): the cookie that clears it.
    Ended(HeaderValue),
    Unavailable(Unavailable),
}

/// A session's tokens, refreshed first when the access token is about to expire.
pub async fn authenticated(p: &Plugin, cur: Current, ctx: &Ctx) -> Used {
    let cfg = &p.cfg;
    let Current { id, mut session } = cur;
    if session.tokens.fresh(ctx.now, cfg.leeway) {
        // Idle time is counted from the last use; the record is rewritten at most once a
        // tenth of the idle timeout.
        let step = (cfg.session.idling_timeout as i64 / 10).max(1);
        if ctx.now - session.last_seen >= step {
            session.last_seen = ctx.now;
            if let Err(e) = p
                .sessions
                .put_session(&id, &session, ttl(cfg, &session, ctx.now))
                .await
            {
                tracing::warn!(error = %e, "session store: updating the last use");
            }
        }
        return Used::Yes(Arc::new(session.tokens), Vec::new());
    }
    let Some(rt) = session
        .tokens
        .refresh_token
        .clone()
        .filter(|_| cfg.refresh_tokens)
    else {
        let _ = p.sessions.delete_session(&id).await;
        return Used::Ended(session_cookie(p, ctx, None));
    };
    match refresh(p, &id, &session, &rt, ctx.now).await {
        Ok(tokens) => Used::Yes(tokens, Vec::new()),
        Err(Failure::Refused(reason) | Failure::Unverified(reason)) => {
            tracing::info!(plugin = %cfg.entity, reason = %reason, "session ended: its refresh was refused");
            let _ = p.sessions.delete_session(&id).await;
            Used::Ended(session_cookie(p, ctx, None))
        }
        Err(Failure::Unavailable(u)) => {
            // Refreshing early (leeway) and the provider is away: the token still works.
            if session.tokens.fresh(ctx.now, 0) {
                Used::Yes(Arc::new(session.tokens), Vec::new())
            } else {
                Used::Unavailable(u)
            }
        }
    }
}

/// Refreshes a session's tokens in one flight per session and refresh token; the flight
/// stores the new tokens before anyone hears of them.
async fn refresh(
    p: &Plugin,
    id: &str,
    session: &Session,
    rt: &str,
    now: i64,
) -> Result<Arc<Tokens>, Failure> {
    let caller = Caller::of(p);
    let key = p.key("session", &[id, rt]);
    let form = vec![
        ("grant_type".to_string(), "refresh_token".to_string()),
        ("refresh_token".to_string(), rt.to_string()),
    ];
    let grant = caller
        .clone()
        .grant("refresh_token", form, None, None, Some(rt.to_string()), now);
    let (store, cfg, id_owned, mut record) = (
        p.sessions.clone(),
        p.cfg.clone(),
        id.to_string(),
        session.clone(),
    );
    let call = async move {
        let tokens = grant.await?;
        record.tokens = (*tokens).clone();
        record.last_seen = now;
        save(&store, &cfg, &id_owned, &record, now).await;
        Ok(tokens)
    };
    let (outcome, how) = caller.flight(p, key, now, call).await;
    p.shared.metrics.refresh(match how {
        How::Called => "called",
        How::Joined => "joined",
        How::Remembered => "remembered",
    });
    outcome
}

async fn save(store: &SessionStore, cfg: &OidcConfig, id: &str, s: &Session, now: i64) {
    if let Err(e) = store.put_session(id, s, ttl(cfg, s, now)).await {
        tracing::warn!(error = %e, "session store: saving refreshed tokens");
    }
}

/// Logout (`logout_methods` with `logout_query_arg`, `logout_uri_suffix` or
/// `logout_post_arg`): the session ends, its tokens are revoked when `logout_revoke` says
/// so, and the browser goes to the issuer's end-session endpoint, `logout_redirect_uri`, or
/// gets 204.
pub async fn logout(
    p: &Plugin,
    req: &mut Req,
    ctx: &Ctx,
    cur: Option<&Current>,
) -> Result<Option<Response<ProxyBody>>, Outcome> {
    let cfg = &p.cfg;
    if !cfg
        .logout_methods
        .iter()
        .any(|m| m.as_str() == req.parts.method.as_str())
    {
        return Ok(None);
    }
    let by_query = match &cfg.logout_query_arg {
        Some(a) => req.query(a).is_some(),
        None => false,
    };
    let by_suffix = cfg
        .logout_uri_suffix
        .as_deref()
        .is_some_and(|s| !s.is_empty() && req.parts.uri.path().ends_with(s));
    let by_post = match (&cfg.logout_post_arg, &cfg.logout_uri_suffix) {
        (Some(a), Some(_)) => super::find_param(req, a, &[Place::Body], false)
            .await
            .map_err(super::body_failure)?
            .is_some(),
        _ => false,
    };
    if !(by_query || by_suffix || by_post) {
        return Ok(None);
    }
    let mut id_token = None;
    if let Some(c) = cur {
        if cfg.logout_revoke {
            revoke(p, &c.session.tokens).await;
        }
        if let Err(e) = p.sessions.delete_session(&c.id).await {
            return Err(store_unavailable(p, e));
        }
        id_token = c.session.tokens.id_token.clone();
    }
    let end_session = match &cfg.endpoints.end_session {
        Some(e) => Some(e.clone()),
        None => p
            .issuer
            .discovered()
            .await
            .ok()
            .and_then(|d| d.end_session_endpoint.clone()),
    };
    let mut r = Response::new(ProxyBody::empty());
    let location = match end_session {
        Some(url) => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if let Some(t) = &id_token {
                q.append_pair("id_token_hint", t);
            }
            if let Some(u) = &cfg.logout_redirect_uri {
                q.append_pair("post_logout_redirect_uri", u);
                if id_token.is_none() {
                    if let Some(c) = &cfg.client_id {
                        q.append_pair("client_id", c);
                    }
                }
            }
            let q = q.finish();
            Some(if q.is_empty() {
                url
            } else if url.contains('?') {
                format!("{url}&{q}")
            } else {
                format!("{url}?{q}")
            })
        }
        None => cfg.logout_redirect_uri.clone(),
    };
    match location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        Some(l) => {
            *r.status_mut() = StatusCode::FOUND;
            r.headers_mut().insert(LOCATION, l);
        }
        None => *r.status_mut() = StatusCode::NO_CONTENT,
    }
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .append(SET_COOKIE, session_cookie(p, ctx, None));
    tracing::info!(plugin = %cfg.entity, had_session = cur.is_some(), "logout");
    Ok(Some(r))
}

/// Revokes a session's tokens at the issuer (`logout_revoke`); failures are logged only.
async fn revoke(p: &Plugin, tokens: &Tokens) {
    let cfg = &p.cfg;
    let url = match &cfg.endpoints.revocation {
        Some(u) => Some(u.clone()),
        None => p
            .issuer
            .discovered()
            .await
            .ok()
            .and_then(|d| d.revocation_endpoint.clone()),
    };
    let Some(url) = url else {
        tracing::warn!(plugin = %cfg.entity, "logout_revoke: the issuer has no revocation endpoint");
        return;
    };
    let mut which = Vec::new();
    if cfg.logout_revoke_refresh_token {
        if let Some(rt) = &tokens.refresh_token {
            which.push((rt.as_str(), "refresh_token"));
        }
    }
    if cfg.logout_revoke_access_token {
        which.push((tokens.access_token.as_str(), "access_token"));
    }
    for (t, hint) in which {
        if let Err(e) = token::revoke(&p.call(), &url, t, hint, &p.client()).await {
            tracing::warn!(plugin = %cfg.entity, hint, error = ?e, "logout_revoke: revocation failed");
        }
    }
}
