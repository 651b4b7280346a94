//! `…/logout`: the non-browser logout that python-keycloak and keycloak-connect use — POST
//! `client_id` (+ secret) and `refresh_token` → 204 (`latchkey_application::actions::logout`)
//! — or the browser's RP-initiated logout.

use super::{realm, ClientAddr, RealmName};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::{events, form};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `…/logout`: POST with a `refresh_token` is the non-browser logout; anything else is the
/// browser's RP-initiated logout (see `rp_logout`).
pub async fn logout(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
    ClientAddr(addr): ClientAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let parsed = if method == Method::POST {
        form::read_form(&headers, body, state.body).await
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
    match handle(&state, &realm_name, &headers, &params, addr).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    params: &form::Params,
    addr: Option<std::net::IpAddr>,
) -> ApiResult<()> {
    let ctx = realm(state, realm_name).await?;
    let kind = latchkey_domain::event::types::kind::LOGOUT;
    let mut draft = events::draft(state, &ctx, kind, headers, params, addr);
    let client = events::authenticate(state, &ctx, &mut draft, headers, params).await?;
    let token = params.require(
        "refresh_token",
        "send the refresh_token of the session to end",
    );
    let done = match token {
        Ok(token) => {
            latchkey_application::actions::logout::logout(state, &ctx, &client, token, &mut draft)
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(ApiError::from(e)),
    };
    events::settle(state, &ctx, &mut draft, done).await
}
