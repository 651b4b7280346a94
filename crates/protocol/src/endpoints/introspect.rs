//! Token introspection (RFC 7662): the form, the client's authentication, and the JSON answer
//! of the use case (`latchkey_application::actions::introspect`).

use super::{realm, ClientAddr, RealmName};
use crate::error::{no_store, ApiError, ApiResult};
use crate::state::AppState;
use crate::{events, form};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::Arc;

pub async fn introspect(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&state, &realm_name, &headers, body, addr).await {
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
    addr: Option<std::net::IpAddr>,
) -> ApiResult<Value> {
    let params = form::read_form(headers, body, state.body).await?;
    let ctx = realm(state, realm_name).await?;
    let kind = latchkey_domain::event::types::kind::INTROSPECT_TOKEN;
    let mut draft = events::draft(state, &ctx, kind, headers, &params, addr);
    let client = events::authenticate(state, &ctx, &mut draft, headers, &params).await?;
    let answer = match params.require("token", "send the token to introspect") {
        Ok(token) => {
            latchkey_application::actions::introspect::introspect(state, &ctx, &client, token)
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(ApiError::from(e)),
    };
    // An inactive token is answered `{"active": false}` and recorded as Keycloak records it.
    if let Ok(v) = &answer {
        let claim = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        if v.get("active") == Some(&Value::Bool(true)) {
            draft.event.user_id = claim("sub");
            draft.event.session_id = claim("sid");
            draft.detail("token_id", claim("jti").unwrap_or_default());
            draft.detail("token_type", claim("typ").unwrap_or_default());
            draft.detail("token_issued_for", claim("azp").unwrap_or_default());
        } else {
            let mut e = draft.event.clone();
            e.fail(latchkey_domain::event::types::error::INVALID_TOKEN);
            draft.settle();
            state.emit(&ctx, e).await;
        }
    }
    events::settle(state, &ctx, &mut draft, answer).await
}
