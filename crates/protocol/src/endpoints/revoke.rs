//! Token revocation (RFC 7009): the form, the client's authentication, and 200 for whatever
//! the use case (`latchkey_application::actions::revoke`) does not refuse (§2.2).

use super::{realm, ClientAddr, RealmName};
use crate::error::{no_store, ApiError, ApiResult};
use crate::state::AppState;
use crate::{events, form};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&state, &realm_name, &headers, body, addr).await {
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
    addr: Option<std::net::IpAddr>,
) -> ApiResult<()> {
    let params = form::read_form(headers, body, state.body).await?;
    let ctx = realm(state, realm_name).await?;
    let kind = latchkey_domain::event::types::kind::REVOKE_GRANT;
    let mut draft = events::draft(state, &ctx, kind, headers, &params, addr);
    let client = events::authenticate(state, &ctx, &mut draft, headers, &params).await?;
    let done = match params.require("token", "send the token to revoke") {
        Ok(token) => {
            latchkey_application::actions::revoke::revoke(state, &ctx, &client, token, &mut draft)
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(ApiError::from(e)),
    };
    events::settle(state, &ctx, &mut draft, done).await
}
