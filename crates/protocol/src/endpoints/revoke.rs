//! Token revocation (RFC 7009). A refresh token takes its whole family (every refresh token of
//! that login, and the access tokens of that grant) with it; an access token is revoked alone.
//! Invalid, unknown or expired tokens get 200, as §2.2 requires; another client's token is
//! refused and left alone (§2.1).

use super::{realm, RealmName};
use crate::error::{no_store, ApiResult};
use crate::state::AppState;
use crate::{client_auth, form};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_application::issued;
use latchkey_application::realms::RealmContext;
use latchkey_domain::OAuthError;
use latchkey_domain::{Event, EventKind};
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&state, &realm_name, &headers, body).await {
        Ok(()) => {
            let mut r = StatusCode::OK.into_response();
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
) -> ApiResult<()> {
    let params = form::read_form(headers, body, state.body_limit).await?;
    let ctx = realm(state, realm_name).await?;
    let client = client_auth::authenticate(&ctx, headers, &params)?;
    let token = params.require("token", "send the token to revoke")?;
    let Some(target) = identify(&ctx, token) else {
        return Ok(());
    };
    if target.azp != client.client_id {
        return Err(OAuthError::invalid_grant(format!(
            "token was issued to client '{}', not to '{}': it was not revoked",
            target.azp, client.client_id
        ))
        .into());
    }
    let now = state.now();
    match target.kind {
        Kind::Refresh => {
            let Some(st) = state.store.refresh_state(&target.jti).await? else {
                return Ok(());
            };
            let reason = format!(
                "revoked by client '{}' through the revocation endpoint",
                client.client_id
            );
            let event = Event::new(
                EventKind::RevokeGrant,
                &ctx.realm.id,
                now,
                json!({"client_id": client.client_id, "sid": st.session.id, "family": st.client_session.id, "jti": target.jti}),
            );
            state
                .store
                .revoke_family(&st.client_session.id, now, &reason, Some(event))
                .await?;
        }
        Kind::Access => {
            if target.exp > now {
                state
                    .store
                    .revoke_access_token(&target.jti, target.exp)
                    .await?;
            }
        }
    }
    Ok(())
}

enum Kind {
    Refresh,
    Access,
}

struct Target {
    kind: Kind,
    jti: String,
    azp: String,
    exp: i64,
}

/// A token this realm issued, with a valid signature; `None` for anything else.
fn identify(ctx: &RealmContext, token: &str) -> Option<Target> {
    let (kind, claims) = issued::read(ctx, token).ok()?;
    let s = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    Some(Target {
        kind: match kind {
            issued::Kind::Refresh => Kind::Refresh,
            issued::Kind::Access => Kind::Access,
        },
        jti: s("jti"),
        azp: s("azp"),
        exp: claims
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX),
    })
}
