//! Token revocation (RFC 7009): the form, the client's authentication, and 200 for whatever
//! the use case (`latchkey_application::actions::revoke`) does not refuse (§2.2).

use super::{realm, RealmName};
use crate::error::{no_store, ApiResult};
use crate::state::AppState;
use crate::{client_auth, form};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
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
    let params = form::read_form(headers, body, state.body).await?;
    let ctx = realm(state, realm_name).await?;
    let client = client_auth::authenticate(&ctx, headers, &params)?;
    let token = params.require("token", "send the token to revoke")?;
    latchkey_application::actions::revoke::revoke(state, &ctx, &client, token).await?;
    Ok(())
}
