//! UserInfo (OIDC Core §5.3): GET or POST with a Bearer access token (RFC 6750 §2.1, or the
//! `access_token` form parameter of §2.2). A bad token gets 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"`.

use super::{realm, RealmName};
use crate::error::{sanitize, ApiError, ApiResult};
use crate::form;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use latchkey_application::actions::userinfo::{self, Failure, UserInfo};
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
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&state, &realm_name, method, &headers, body).await {
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
) -> ApiResult<Response> {
    let ctx = realm(state, realm_name).await?;
    let token = bearer(state, &method, headers, body, &ctx.realm.name).await?;
    let mut r = match userinfo::userinfo(state, &ctx, &token).await {
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
