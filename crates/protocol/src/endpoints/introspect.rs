//! Token introspection (RFC 7662), for confidential clients. Anything expired, revoked,
//! rotated out (past the grace period), malformed or foreign is `{"active":false}`.

use super::{realm, RealmName};
use crate::error::{no_store, ApiResult};
use crate::state::AppState;
use crate::{client_auth, form};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_application::access::{self, Invalid};
use latchkey_application::grants::refresh_token;
use latchkey_application::realms::RealmContext;
use latchkey_domain::policy::{self, RefreshDecision, RefreshRequest};
use latchkey_domain::{Client, OAuthError};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub async fn introspect(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&state, &realm_name, &headers, body).await {
        Ok(v) => {
            let mut r = axum::Json(v).into_response();
            no_store(&mut r);
            r
        }
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Value> {
    let params = form::read_form(headers, body, state.body_limit).await?;
    let ctx = realm(state, realm_name).await?;
    let client = client_auth::authenticate(&ctx, headers, &params)?;
    if client.public_client {
        return Err(OAuthError::invalid_client(format!(
            "client '{}' is public: token introspection is for confidential clients (resource servers)",
            client.client_id
        ))
        .into());
    }
    let token = params.require("token", "send the token to introspect")?;
    let now = state.now();
    let inactive = json!({"active": false});
    let is_refresh = latchkey_crypto::jws::parse(token)
        .map(|p| p.alg() == "HS512")
        .unwrap_or(false);
    if is_refresh {
        return Ok(introspect_refresh(state, &ctx, &client, token, now)
            .await?
            .unwrap_or(inactive));
    }
    match access::validate(&ctx, state.store.as_ref(), token, now).await {
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
    state: &AppState,
    ctx: &RealmContext,
    client: &Arc<Client>,
    token: &str,
    now: i64,
) -> ApiResult<Option<Value>> {
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
    let Some(st) = state.store.refresh_state(&jti).await? else {
        return Ok(None);
    };
    let req = RefreshRequest {
        realm: &ctx.realm,
        client,
        now,
        new_jti: String::new(),
        scope: st.record.scope.clone(),
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
