//! Token introspection (RFC 7662): the form, the client's authentication, and the JSON answer
//! of the use case (`latchkey_application::actions::introspect`).

use super::{realm, RealmName};
use crate::error::{no_store, ApiResult};
use crate::state::AppState;
use crate::{client_auth, form};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
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
    let params = form::read_form(headers, body, state.body).await?;
    let ctx = realm(state, realm_name).await?;
    let client = client_auth::authenticate(&ctx, headers, &params)?;
    let token = params.require("token", "send the token to introspect")?;
    Ok(latchkey_application::actions::introspect::introspect(state, &ctx, &client, token).await?)
}
