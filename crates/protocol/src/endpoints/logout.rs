//! The non-browser logout that python-keycloak and keycloak-connect use: POST `client_id`
//! (+ secret) and `refresh_token` → 204. It ends that token's session and revokes its refresh
//! tokens; offline sessions are separate and survive the logout of the browser session.

use super::{realm, RealmName};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::{client_auth, form};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use latchkey_application::grants::refresh_token;
use latchkey_application::grants::refresh_token::PresentedClaims;
use latchkey_domain::OAuthError;
use latchkey_domain::{Event, EventKind};
use serde_json::json;
use std::sync::Arc;

/// `…/logout`: POST with a `refresh_token` is the non-browser logout; anything else is the
/// browser's RP-initiated logout (see `rp_logout`).
pub async fn logout(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let parsed = if method == Method::POST {
        form::read_form(&headers, body, state.body_limit).await
    } else {
        form::parse(uri.query().unwrap_or("").as_bytes()).map_err(ApiError::from)
    };
    let params = match parsed {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if method != Method::POST || !params.contains("refresh_token") {
        return super::rp_logout::logout(&state, &realm_name, &headers, &params).await;
    }
    match handle(&state, &realm_name, &headers, &params).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    params: &form::Params,
) -> ApiResult<()> {
    let ctx = realm(state, realm_name).await?;
    let client = client_auth::authenticate(&ctx, headers, params)?;
    let token = params.require(
        "refresh_token",
        "send the refresh_token of the session to end",
    )?;
    let claims: refresh_token::RefreshClaims =
        refresh_token::verify(&ctx, &client.client_id, token)?;
    let jti = claims.claim("jti");
    let Some(st) = state.store.refresh_state(jti).await? else {
        return Err(OAuthError::invalid_grant("refresh token is not known to this server").into());
    };
    let now = state.now();
    if let Some(at) = st.session.ended_at {
        return Err(OAuthError::invalid_grant(format!(
            "session {} already ended at {}",
            st.session.id,
            latchkey_domain::claims::format_timestamp(at)
        ))
        .into());
    }
    let reason = format!("logged out by client '{}'", client.client_id);
    let event = Event::new(
        EventKind::Logout,
        &ctx.realm.id,
        now,
        json!({"sid": st.session.id, "client_id": client.client_id, "offline": st.session.offline, "user_id": st.session.user_id}),
    );
    state
        .store
        .end_session(&st.session.id, now, &reason, Some(event))
        .await?;
    Ok(())
}
