//! Validating access tokens latchkey issued (userinfo, introspection, the admin API): the
//! signature, type, issuer, expiry, and that neither the token, its session nor its login
//! has been revoked.

use crate::realms::RealmContext;
use latchkey_storage::SessionRepository;
use serde_json::{Map, Value};

/// Why an access token is not valid, in words for the developer.
#[derive(Debug)]
pub enum Invalid {
    Reason(String),
    Store(latchkey_storage::StoreError),
}

impl From<latchkey_storage::StoreError> for Invalid {
    fn from(e: latchkey_storage::StoreError) -> Self {
        Invalid::Store(e)
    }
}

fn reason(s: impl Into<String>) -> Invalid {
    Invalid::Reason(s.into())
}

/// Full validation of a Bearer access token at `now`.
pub async fn validate(
    ctx: &RealmContext,
    store: &dyn SessionRepository,
    token: &str,
    now: i64,
) -> Result<Map<String, Value>, Invalid> {
    let claims = crate::issued::signed(ctx, token, "Bearer").map_err(Invalid::Reason)?;
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp <= now {
        return Err(reason(format!(
            "access token expired at {}",
            latchkey_domain::claims::format_timestamp(exp)
        )));
    }
    let jti = claims.get("jti").and_then(Value::as_str).unwrap_or("");
    if store.is_access_token_revoked(jti).await? {
        return Err(reason("access token was revoked"));
    }
    if let Some(sid) = claims.get("sid").and_then(Value::as_str) {
        let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
        let azp = claims.get("azp").and_then(Value::as_str).unwrap_or("");
        match store.session(sid).await? {
            None => return Err(reason(format!("session {sid} does not exist"))),
            Some(s) if s.ended_at.is_some() => {
                return Err(reason(format!(
                    "session {sid} ended ({})",
                    s.end_reason.unwrap_or_default()
                )))
            }
            Some(_) => {}
        }
        for cs in store.client_sessions(sid).await? {
            if cs.client_id == azp && cs.started_at <= iat {
                if let Some(at) = cs.revoked_at {
                    if iat <= at {
                        return Err(reason(format!(
                            "the login this token belongs to was revoked ({})",
                            cs.revoke_reason.unwrap_or_default()
                        )));
                    }
                }
            }
        }
    }
    Ok(claims)
}
