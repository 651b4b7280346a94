//! `authorization_code`: a browser without a session is sent to the issuer's authorization
//! endpoint (PKCE S256, `state`, `nonce`), the sign-in in progress kept server-side and bound to
//! the browser by a MAC'd cookie. The callback (any request carrying that cookie and a `state`)
//! exchanges the code, verifies the ID token and its nonce, starts the session, and then does
//! what `login_action` says: proxy the callback upstream (Kong's default), redirect, or answer.

use super::request::{set_query, Req};
use super::session;
use super::{failed, finish, unauthorized, unavailable, Ctx, Outcome};
use crate::auth::grants::Caller;
use crate::body::ProxyBody;
use crate::config::oidc::{LoginAction, Method};
use crate::errors::{self, Unavailable};
use crate::plugin::Plugin;
use crate::sessions::Pending;
use crate::tokens::Tokens;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{HeaderValue, Response, StatusCode};
use std::time::Duration;

pub async fn sign_in(p: &Plugin, req: &mut Req, ctx: &Ctx) -> Outcome {
    let cfg = &p.cfg;
    let pending_id = req
        .cookie(&cfg.authorization_cookie_name)
        .and_then(|v| session::unseal(p, "signin", &v));
    if let (Some(id), Some(state)) = (pending_id.as_deref(), req.query("state")) {
        let pending = match p.sessions.pending(id).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "session store: reading a sign-in");
                return Outcome::Respond(errors::message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The session store is currently unavailable",
                ));
            }
        };
        match pending {
            Some(pending) if latchkey_crypto::ct_eq(pending.state.as_bytes(), state.as_bytes()) => {
                return callback(p, req, ctx, id, pending).await;
            }
            // Another tab's sign-in, or a stale one: start again with the same sign-in.
            Some(pending) => return redirect(p, &pending).await,
            None => {}
        }
    }
    start(p, req, ctx).await
}

/// Starts a sign-in: the redirect to the issuer.
async fn start(p: &Plugin, req: &mut Req, ctx: &Ctx) -> Outcome {
    let cfg = &p.cfg;
    let discovered = match p.issuer.discovered().await {
        Ok(d) => d,
        Err(u) => return unavailable(p, u),
    };
    let pkce = cfg.pkce.unwrap_or(true)
        && (cfg.pkce == Some(true)
            || discovered.pkce_methods.is_empty()
            || discovered.pkce_methods.iter().any(|m| m == "S256"));
    let redirect_uri = cfg
        .redirect_uri
        .clone()
        .unwrap_or_else(|| format!("{}://{}{}", ctx.scheme, ctx.host, req.parts.uri.path()));
    let original = req
        .parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let pending = Pending {
        state: latchkey_crypto::random_token(24),
        nonce: latchkey_crypto::random_token(24),
        verifier: pkce.then(|| latchkey_crypto::random_token(32)),
        redirect_uri,
        original,
    };
    let id = latchkey_crypto::random_token(32);
    let ttl = Duration::from_secs(cfg.authorization_rolling_timeout.max(60));
    if let Err(e) = p.sessions.put_pending(&id, &pending, ttl).await {
        tracing::warn!(error = %e, "session store: saving a sign-in");
        return Outcome::Respond(errors::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The session store is currently unavailable",
        ));
    }
    let mut o = redirect(p, &pending).await;
    if let Outcome::Respond(r) = &mut o {
        r.headers_mut().append(
            SET_COOKIE,
            session::cookie(
                p,
                ctx,
                &cfg.authorization_cookie_name,
                Some(&session::seal(p, "signin", &id)),
                "Lax",
            ),
        );
    }
    o
}

/// The 302 to the authorization endpoint for a sign-in.
async fn redirect(p: &Plugin, pending: &Pending) -> Outcome {
    let cfg = &p.cfg;
    let discovered = match p.issuer.discovered().await {
        Ok(d) => d,
        Err(u) => return unavailable(p, u),
    };
    let Some(endpoint) = cfg
        .endpoints
        .authorization
        .clone()
        .or_else(|| discovered.authorization_endpoint.clone())
    else {
        return unavailable(
            p,
            Unavailable::IdpFailed("the issuer has no authorization endpoint".into()),
        );
    };
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", cfg.client_id.as_deref().unwrap_or(""))
        .append_pair("redirect_uri", &pending.redirect_uri)
        .append_pair("scope", &cfg.scopes.join(" "))
        .append_pair("state", &pending.state)
        .append_pair("nonce", &pending.nonce);
    if let Some(v) = &pending.verifier {
        let challenge = latchkey_crypto::b64url(latchkey_crypto::sha256(v.as_bytes()));
        q.append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
    }
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    let location = format!("{endpoint}{sep}{}", q.finish());
    let mut r = Response::new(ProxyBody::empty());
    *r.status_mut() = StatusCode::FOUND;
    match HeaderValue::from_str(&location) {
        Ok(l) => {
            r.headers_mut().insert(LOCATION, l);
        }
        Err(_) => return Outcome::Respond(errors::bad_request()),
    }
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Outcome::Respond(r)
}

/// The issuer sent the browser back: exchange the code, verify, start the session.
async fn callback(p: &Plugin, req: &mut Req, ctx: &Ctx, id: &str, pending: Pending) -> Outcome {
    let cfg = &p.cfg;
    // The sign-in is used up whatever happens next.
    let _ = p.sessions.delete_pending(id).await;
    let clear = session::cookie(p, ctx, &cfg.authorization_cookie_name, None, "Lax");
    if let Some(error) = req.query("error") {
        let d = req.query("error_description").unwrap_or_default();
        return with_cookie(
            unauthorized(
                p,
                format!("the issuer refused the sign-in: {error} {d}"),
                false,
            ),
            clear,
        );
    }
    let Some(code) = req.query("code") else {
        return with_cookie(
            unauthorized(p, "the callback carries no code", false),
            clear,
        );
    };
    if let Some(iss) = req.query("iss") {
        match p.issuer.discovered().await {
            Ok(d) if d.issuer == iss => {}
            Ok(_) => {
                return with_cookie(
                    unauthorized(
                        p,
                        "the callback's iss is not the issuer's (RFC 9207)",
                        false,
                    ),
                    clear,
                )
            }
            Err(u) => return unavailable(p, u),
        }
    }
    let mut form = vec![
        ("grant_type".to_string(), "authorization_code".to_string()),
        ("code".to_string(), code),
        ("redirect_uri".to_string(), pending.redirect_uri.clone()),
    ];
    if let Some(v) = &pending.verifier {
        form.push(("code_verifier".to_string(), v.clone()));
    }
    let tokens = match Caller::of(p)
        .grant(
            "authorization_code",
            form,
            None,
            Some(pending.nonce.clone()),
            None,
            ctx.now,
        )
        .await
    {
        Ok(t) => t,
        Err(f) => return with_cookie(failed(p, f), clear),
    };
    let mut cookies = vec![clear];
    if cfg.allows(Method::Session) {
        match session::create(p, ctx, &tokens).await {
            Ok(c) => cookies.push(c),
            Err(o) => return o,
        }
    }
    tracing::info!(plugin = %cfg.entity, sub = tokens.id_claims.as_ref().and_then(|c| c.get("sub")).and_then(|s| s.as_str()).unwrap_or(""), "signed in");
    match cfg.login_action {
        LoginAction::Upstream => {
            // The callback itself goes upstream, without the sign-in's parameters (and with the
            // original request's query when `preserve_query_args` says so).
            let mut q: Vec<(String, String)> =
                form_urlencoded::parse(req.parts.uri.query().unwrap_or("").as_bytes())
                    .filter(|(k, _)| {
                        !["code", "state", "session_state", "iss"].contains(&k.as_ref())
                    })
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
            if cfg.preserve_query_args {
                let original = pending.original.split_once('?').map_or("", |(_, q)| q);
                q.extend(
                    form_urlencoded::parse(original.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned())),
                );
            }
            set_query(&mut req.parts, &q);
            finish(p, Method::AuthorizationCode, tokens, cookies)
        }
        LoginAction::Redirect => {
            if let denied @ Outcome::Respond(_) =
                finish(p, Method::AuthorizationCode, tokens.clone(), Vec::new())
            {
                return with_cookies(denied, cookies);
            }
            let target = cfg
                .login_redirect_uri
                .clone()
                .unwrap_or_else(|| pending.original.clone());
            let fragment = login_tokens(&cfg.login_tokens, &tokens);
            let location = if fragment.is_empty() {
                target
            } else {
                format!("{target}#{fragment}")
            };
            let mut r = Response::new(ProxyBody::empty());
            *r.status_mut() = StatusCode::FOUND;
            if let Ok(l) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(LOCATION, l);
            }
            r.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            with_cookies(Outcome::Respond(r), cookies)
        }
        LoginAction::Response => {
            if let denied @ Outcome::Respond(_) =
                finish(p, Method::AuthorizationCode, tokens.clone(), Vec::new())
            {
                return with_cookies(denied, cookies);
            }
            let mut body = serde_json::Map::new();
            for t in &cfg.login_tokens {
                if let Some(v) = token_value(t, &tokens) {
                    body.insert(t.clone(), v);
                }
            }
            let mut r = if body.is_empty() {
                let mut r = Response::new(ProxyBody::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                r
            } else {
                let mut r = Response::new(ProxyBody::from_bytes(
                    serde_json::Value::Object(body).to_string(),
                ));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(errors::JSON));
                r
            };
            r.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            with_cookies(Outcome::Respond(r), cookies)
        }
    }
}

fn token_value(name: &str, t: &Tokens) -> Option<serde_json::Value> {
    use serde_json::Value;
    match name {
        "id_token" => t.id_token.clone().map(Value::String),
        "access_token" => Some(Value::String(t.access_token.clone())),
        "refresh_token" => t.refresh_token.clone().map(Value::String),
        "introspection" => t.introspection.clone(),
        "tokens" => serde_json::to_value(t).ok(),
        _ => None,
    }
}

/// `login_tokens` for a redirect's fragment (only those configured; none by default).
fn login_tokens(names: &[String], t: &Tokens) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for n in names {
        match token_value(n, t) {
            Some(serde_json::Value::String(s)) => {
                q.append_pair(n, &s);
            }
            Some(v) => {
                q.append_pair(n, &latchkey_crypto::b64url(v.to_string()));
            }
            None => {}
        }
    }
    q.finish()
}

fn with_cookie(o: Outcome, c: HeaderValue) -> Outcome {
    match o {
        Outcome::Respond(r) => with_cookies(Outcome::Respond(r), vec![c]),
        other => other,
    }
}

fn with_cookies(o: Outcome, cookies: Vec<HeaderValue>) -> Outcome {
    match o {
        Outcome::Respond(mut r) => {
            for c in cookies {
                r.headers_mut().append(SET_COOKIE, c);
            }
            Outcome::Respond(r)
        }
        Outcome::Proceed(mut a) => {
            a.set_cookies.extend(cookies);
            Outcome::Proceed(a)
        }
    }
}
