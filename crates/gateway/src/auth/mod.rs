//! Authenticating a request as Kong's `openid-connect` plugin does: a session, else a bearer
//! token (verified locally, or introspected), else a refresh token, else password or client
//! credentials, else the authorization-code sign-in — each only where `auth_methods` allows
//! it — then the scope, audience, role and group requirements.

mod bearer;
mod checks;
mod code;
mod grants;
pub mod request;
mod session;

use crate::body::ProxyBody;
use crate::config::oidc::{Method, Place};
use crate::errors::{self, Denial, DenialStyle, Unavailable};
use crate::plugin::Plugin;
use crate::tokens::{Failure, Tokens};
use http::{HeaderValue, Response};
use request::{BodyFailure, Found, Req};
use std::sync::Arc;

/// The request as the gateway received it.
pub struct Ctx {
    pub now: i64,
    /// `http` or `https`, as the client sees the gateway.
    pub scheme: &'static str,
    /// The Host the client used (with its port, if any).
    pub host: String,
}

/// A request the plugin lets through.
pub struct Authenticated {
    /// How it was authenticated; `None` for a preflight the plugin does not run on.
    pub method: Option<Method>,
    pub tokens: Option<Arc<Tokens>>,
    /// Cookies to set on the response (a new session, a cleared one).
    pub set_cookies: Vec<HeaderValue>,
}

pub enum Outcome {
    Proceed(Authenticated),
    Respond(Response<ProxyBody>),
}

fn style(p: &Plugin) -> DenialStyle<'_> {
    DenialStyle {
        realm: &p.realm,
        unauthorized_message: &p.cfg.unauthorized_error_message,
        forbidden_message: &p.cfg.forbidden_error_message,
        display_errors: p.cfg.display_errors,
        expose_error_code: p.cfg.expose_error_code,
    }
}

/// The answer for a denial, with its reason logged (never the credential).
pub(crate) fn deny(p: &Plugin, d: Denial) -> Outcome {
    tracing::debug!(plugin = %p.cfg.entity, denial = ?d, "request denied");
    Outcome::Respond(errors::denied(&d, &style(p)))
}

pub(crate) fn unauthorized(p: &Plugin, reason: impl Into<String>, presented: bool) -> Outcome {
    deny(
        p,
        Denial::Unauthorized {
            reason: reason.into(),
            presented,
        },
    )
}

pub(crate) fn unavailable(p: &Plugin, u: Unavailable) -> Outcome {
    tracing::warn!(plugin = %p.cfg.entity, error = %u, "identity provider unavailable");
    Outcome::Respond(u.response())
}

/// A failure to obtain tokens from a credential the client presented.
pub(crate) fn failed(p: &Plugin, f: Failure) -> Outcome {
    match f {
        Failure::Refused(reason) | Failure::Unverified(reason) => unauthorized(p, reason, true),
        Failure::Unavailable(u) => unavailable(p, u),
    }
}

pub(crate) fn body_failure(f: BodyFailure) -> Outcome {
    Outcome::Respond(match f {
        BodyFailure::TooLarge => errors::payload_too_large(),
        BodyFailure::Broken => errors::bad_request(),
    })
}

/// A named parameter in the given places: a header (its name with `_` or `-`), the query, a
/// form or JSON body. `bearer`: a header value may start with `Bearer `, which is removed.
pub(crate) async fn find_param(
    req: &mut Req,
    name: &str,
    places: &[Place],
    bearer: bool,
) -> Result<Option<(String, Found)>, BodyFailure> {
    for place in places {
        match place {
            Place::Header => {
                for h in [name.to_string(), name.replace('_', "-")] {
                    if let Some(v) = req.header(&h) {
                        let v = v.trim();
                        let v = if bearer && v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
                            v[7..].trim()
                        } else {
                            v
                        };
                        if !v.is_empty() {
                            return Ok(Some((v.to_string(), Found::Header(h))));
                        }
                    }
                }
            }
            Place::Query => {
                if let Some(v) = req.query(name).filter(|v| !v.is_empty()) {
                    return Ok(Some((v, Found::Query(name.to_string()))));
                }
            }
            Place::Body => {
                if let Some(found) = req.body_param(name).await? {
                    if !found.0.is_empty() {
                        return Ok(Some(found));
                    }
                }
            }
            Place::Cookie => {}
        }
    }
    Ok(None)
}

/// Authenticates `req` for plugin `p`.
pub async fn authenticate(p: &Plugin, req: &mut Req, ctx: &Ctx) -> Outcome {
    let cfg = &p.cfg;
    if req.parts.method == http::Method::OPTIONS && !cfg.run_on_preflight {
        return Outcome::Proceed(Authenticated {
            method: None,
            tokens: None,
            set_cookies: Vec::new(),
        });
    }
    let mut set_cookies = Vec::new();
    let mut current = None;
    if cfg.allows(Method::Session) || cfg.allows(Method::AuthorizationCode) {
        // Each step's future is boxed: the request's future stays small however many steps it
        // has (a debug build overflowed its stack before).
        match Box::pin(session::load(p, req, ctx)).await {
            Ok(s) => current = s,
            Err(o) => return o,
        }
    }
    match Box::pin(session::logout(p, req, ctx, current.as_ref())).await {
        Ok(Some(response)) => return Outcome::Respond(response),
        Ok(None) => {}
        Err(o) => return o,
    }
    if let Some(s) = current.filter(|_| cfg.allows(Method::Session)) {
        match Box::pin(session::authenticated(p, s, ctx)).await {
            session::Used::Yes(tokens, cookies) => {
                set_cookies.extend(cookies);
                return finish(p, Method::Session, tokens, set_cookies);
            }
            session::Used::Ended(cookie) => set_cookies.push(cookie),
            session::Used::Unavailable(u) => return unavailable(p, u),
        }
    }
    let outcome = if cfg.allows(Method::Bearer) || cfg.allows(Method::Introspection) {
        match Box::pin(bearer::find(p, req)).await {
            Err(f) => return body_failure(f),
            Ok(Some(token)) => Some(
                Box::pin(bearer::authenticate(p, &token, ctx.now))
                    .await
                    .map(|t| (Method::Bearer, t)),
            ),
            Ok(None) => None,
        }
    } else {
        None
    };
    let outcome = match outcome {
        Some(o) => Some(o),
        None => match Box::pin(grants::authenticate(p, req, ctx)).await {
            Ok(found) => found,
            Err(o) => return o,
        },
    };
    match outcome {
        Some(Ok((method, tokens))) => finish(p, method, tokens, set_cookies),
        Some(Err(f)) => with_cookies(failed(p, f), &set_cookies),
        None if cfg.allows(Method::AuthorizationCode) => {
            with_cookies(Box::pin(code::sign_in(p, req, ctx)).await, &set_cookies)
        }
        None => with_cookies(
            unauthorized(
                p,
                "no suitable authorization credentials were provided",
                false,
            ),
            &set_cookies,
        ),
    }
}

/// Adds cookies (a session that ended) to a response the plugin gives.
fn with_cookies(o: Outcome, cookies: &[HeaderValue]) -> Outcome {
    match o {
        Outcome::Respond(mut r) => {
            for c in cookies {
                r.headers_mut().append(http::header::SET_COOKIE, c.clone());
            }
            Outcome::Respond(r)
        }
        Outcome::Proceed(mut a) => {
            a.set_cookies.extend(cookies.iter().cloned());
            Outcome::Proceed(a)
        }
    }
}

/// Authenticated: the requirements decide.
pub(crate) fn finish(
    p: &Plugin,
    method: Method,
    tokens: Arc<Tokens>,
    set_cookies: Vec<HeaderValue>,
) -> Outcome {
    if let Err(d) = checks::check(&p.cfg, &tokens) {
        return with_cookies(deny(p, d), &set_cookies);
    }
    Outcome::Proceed(Authenticated {
        method: Some(method),
        tokens: Some(tokens),
        set_cookies,
    })
}

pub use session::cookie_names;
