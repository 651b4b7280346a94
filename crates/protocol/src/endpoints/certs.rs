//! The realm's JWKS (`/protocol/openid-connect/certs`): public signing keys only, never the
//! HMAC key of refresh tokens.

use super::{realm, RealmName};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub async fn certs(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
) -> Response {
    let ctx = match realm(&state, &realm_name).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let keys: Vec<_> = ctx
        .keys
        .all
        .iter()
        .chain(&ctx.keys.encryption)
        .map(|k| k.public_jwk().clone())
        .collect();
    let mut r = axum::Json(serde_json::json!({ "keys": keys })).into_response();
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}
