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
use latchkey_application::access::{self, Invalid};
use latchkey_domain::claims::TokenContext;
use latchkey_domain::scope::Scopes;
use latchkey_domain::OAuthError;
use serde_json::Value;
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
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().unwrap_or("");
        if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
            return Ok(v[7..].trim().to_string());
        }
        return Err(invalid_token(
            realm,
            "Authorization header must be 'Bearer <access token>'",
        ));
    }
    if *method == Method::POST {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if ct.starts_with("application/x-www-form-urlencoded") {
            let p = form::read_form(headers, body, state.body_limit).await?;
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
    let claims = match access::validate(&ctx, state.store.as_ref(), &token, state.now()).await {
        Ok(c) => c,
        Err(Invalid::Reason(r)) => return Err(invalid_token(&ctx.realm.name, &r)),
        Err(Invalid::Store(e)) => return Err(e.into()),
    };
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    let azp = claims.get("azp").and_then(Value::as_str).unwrap_or("");
    let Some(user) = state.store.user_by_id(&ctx.realm.id, sub).await? else {
        return Err(invalid_token(
            &ctx.realm.name,
            "the user of this token no longer exists",
        ));
    };
    if !user.enabled {
        return Err(invalid_token(
            &ctx.realm.name,
            "the user of this token is disabled",
        ));
    }
    let Some(client) = ctx.client(azp) else {
        return Err(invalid_token(
            &ctx.realm.name,
            "the client of this token no longer exists",
        ));
    };
    let scopes = Scopes::from_granted(
        claims.get("scope").and_then(Value::as_str).unwrap_or(""),
        client,
    );
    let tctx = TokenContext {
        issuer: &ctx.issuer,
        realm: &ctx.realm,
        client,
        user: &user,
        sid: None,
        scopes: &scopes,
        now: 0,
        auth_time: None,
        nonce: None,
    };
    // The profile claims of an access token, minus what only tokens carry.
    #[derive(serde::Serialize)]
    struct UserInfo<'a> {
        sub: &'a str,
        #[serde(flatten)]
        profile: latchkey_domain::claims::ProfileClaims<'a>,
    }
    let out = UserInfo {
        sub: &user.id,
        profile: latchkey_domain::claims::profile(&tctx),
    };
    // OIDC Core §5.3.2: a client registered for signed responses
    // (`user.info.response.signature.alg`, as Keycloak stores it) gets a JWT with iss and aud.
    let signed = client
        .attribute("user.info.response.signature.alg")
        .filter(|a| !a.is_empty() && *a != "unsigned")
        .map(|a| {
            a.parse::<latchkey_domain::realm::SigningAlg>()
                .map_err(|e| {
                    OAuthError::server_error(format!(
                        "client '{}' asks for signed userinfo with {e}",
                        client.client_id
                    ))
                })
        })
        .transpose()?;
    let mut r = match signed {
        None => axum::Json(out).into_response(),
        Some(alg) => {
            #[derive(serde::Serialize)]
            struct Signed<'a> {
                iss: &'a str,
                aud: &'a str,
                #[serde(flatten)]
                info: UserInfo<'a>,
            }
            let key = ctx.keys.signing(alg).ok_or_else(|| {
                OAuthError::server_error(format!("realm '{}' has no {alg} key", ctx.realm.name))
            })?;
            let jwt = latchkey_crypto::jws::sign(
                key,
                "JWT",
                &Signed {
                    iss: &ctx.issuer,
                    aud: &client.client_id,
                    info: out,
                },
            )
            .map_err(|e| OAuthError::server_error(format!("signing the userinfo response: {e}")))?;
            let mut r = jwt.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/jwt"),
            );
            r
        }
    };
    crate::error::no_store(&mut r);
    Ok(r)
}
