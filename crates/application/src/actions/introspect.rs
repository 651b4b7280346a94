//! Token introspection (RFC 7662), for confidential clients. Anything expired, revoked,
//! rotated out (past the grace period), malformed or foreign is `{"active":false}`; a refresh
//! token is active exactly when a refresh with it would succeed.

use crate::access::{self, Invalid};
use crate::app::App;
use crate::error::Result;
use crate::grants::refresh_token;
use crate::realms::RealmContext;
use latchkey_domain::policy::{self, RefreshDecision, RefreshRequest};
use latchkey_domain::{Client, OAuthError};
use serde_json::{json, Map, Value};

pub async fn introspect(
    app: &App,
    ctx: &RealmContext,
    client: &Client,
    token: &str,
) -> Result<Value> {
    if client.public_client {
        return Err(OAuthError::invalid_client(format!(
            "client '{}' is public: token introspection is for confidential clients (resource servers)",
            client.client_id
        ))
        .into());
    }
    let now = app.now();
    let inactive = json!({"active": false});
    let is_refresh = latchkey_crypto::jws::parse(token)
        .map(|p| p.alg() == "HS512")
        .unwrap_or(false);
    if is_refresh {
        return Ok(introspect_refresh(app, ctx, client, token, now)
            .await?
            .unwrap_or(inactive));
    }
    match access::validate(ctx, app.store.as_ref(), token, now).await {
        Ok(claims) => Ok(active(claims, "Bearer")),
        Err(Invalid::Reason(_)) => Ok(inactive),
        Err(Invalid::Store(e)) => Err(e.into()),
    }
}

fn active(mut claims: Map<String, Value>, token_type: &str) -> Value {
    let azp = claims.get("azp").cloned().unwrap_or(Value::Null);
    let username = claims.get("preferred_username").cloned();
    claims.insert("client_id".into(), azp);
    if let Some(u) = username {
        claims.insert("username".into(), u);
    }
    claims.insert("token_type".into(), json!(token_type));
    claims.insert("active".into(), json!(true));
    Value::Object(claims)
}

/// Only the client a refresh token was issued to may introspect it (our profile, IN5).
async fn introspect_refresh(
    app: &App,
    ctx: &RealmContext,
    client: &Client,
    token: &str,
    now: i64,
) -> Result<Option<Value>> {
    let Ok(mut claims) =
        refresh_token::verify::<serde_json::Map<String, Value>>(ctx, &client.client_id, token)
    else {
        return Ok(None);
    };
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(st) = app.store.refresh_state(&jti).await? else {
        return Ok(None);
    };
    let outages = app.outages();
    let req = RefreshRequest {
        realm: &ctx.realm,
        client,
        now,
        new_jti: String::new(),
        scope: st.record.scope.clone(),
        outages: &outages,
    };
    // The refresh decision judges the user and the client too: active exactly when a refresh
    // would succeed.
    match policy::decide_refresh(&req, &st) {
        RefreshDecision::Issue { .. } | RefreshDecision::Replay { .. } => {}
        RefreshDecision::Reject(_) => return Ok(None),
    }
    if let Some(u) = &st.user {
        claims.insert("preferred_username".into(), json!(u.username));
    }
    let typ = if st.record.offline {
        "Offline"
    } else {
        "Refresh"
    };
    Ok(Some(active(claims, typ)))
}
