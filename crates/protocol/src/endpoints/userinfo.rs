//! UserInfo (OIDC Core §5.3): GET or POST with a Bearer access token (RFC 6750 §2.1, or the
//! `access_token` form parameter of §2.2). A bad token gets 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"`.

use super::{realm, ClientAddr, RealmName};
use crate::error::{sanitize, ApiError, ApiResult};
use crate::form;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use latchkey_application::actions::userinfo::{self, Failure, UserInfo};
use latchkey_application::events::Draft;
use latchkey_application::realms::RealmContext;
use latchkey_domain::event::types::kind;
use latchkey_domain::OAuthError;
use std::sync::Arc;

fn invalid_token(realm: &str, why: &str) -> ApiError {
    let why = sanitize(why);
    ApiError::from(OAuthError::invalid_token(why.clone())).challenge(format!(
        "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{why}\""
    ))
}

pub async fn userinfo(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
    ClientAddr(addr): ClientAddr,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&state, &realm_name, method, &headers, body, addr).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn bearer(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
    realm: &str,
) -> ApiResult<String> {
    let present = crate::authorization::header(headers)
        .map_err(|e| invalid_token(realm, e))?
        .is_some();
    if present {
        return crate::authorization::bearer(headers)
            .map(str::to_string)
            .map_err(|e| invalid_token(realm, e));
    }
    if *method == Method::POST {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if ct.starts_with("application/x-www-form-urlencoded") {
            let p = form::read_form(headers, body, state.body).await?;
            if let Some(t) = p.get("access_token") {
                return Ok(t.to_string());
            }
        }
    }
    Err(ApiError::from(OAuthError::invalid_token(
        "no access token: send 'Authorization: Bearer <access token>'",
    ))
    .challenge(format!("Bearer realm=\"{realm}\"")))
}

async fn handle(
    state: &AppState,
    realm_name: &str,
    method: Method,
    headers: &HeaderMap,
    body: Body,
    addr: Option<std::net::IpAddr>,
) -> ApiResult<Response> {
    let ctx = realm(state, realm_name).await?;
    let mut event = state.user_event(&ctx, kind::USER_INFO_REQUEST);
    event.ip_address = addr.map(|a| a.to_string());
    event.detail("auth_method", "validate_access_token");
    let mut draft = Draft::new(event);
    let answer = answer(state, &ctx, method, headers, body, &mut draft).await;
    crate::events::settle(state, &ctx, &mut draft, answer).await
}

async fn answer(
    state: &AppState,
    ctx: &RealmContext,
    method: Method,
    headers: &HeaderMap,
    body: Body,
    draft: &mut Draft,
) -> ApiResult<Response> {
    let token = bearer(state, &method, headers, body, &ctx.realm.name).await?;
    let result = userinfo::userinfo(state, ctx, &token).await;
    if result.is_ok() {
        // The token passed every check: what it says of its client, user and session.
        if let Ok(parsed) = latchkey_crypto::jws::parse(&token) {
            let claim = |k: &str| {
                parsed
                    .claims
                    .get(k)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string)
            };
            draft.event.client_id = claim("azp");
            draft.event.user_id = claim("sub");
            draft.event.session_id = claim("sid");
        }
    }
    let mut r = match result {
        Ok(UserInfo::Json(json)) => (
            [(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response(),
        Ok(UserInfo::Jwt(jwt)) => (
            [(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/jwt"),
            )],
            jwt,
        )
            .into_response(),
        Err(Failure::InvalidToken(why)) => return Err(invalid_token(&ctx.realm.name, &why)),
        Err(Failure::Error(e)) => return Err(e.into()),
    };
    crate::error::no_store(&mut r);
    Ok(r)
}
