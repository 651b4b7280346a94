//! The routes, with Keycloak's paths, and the layers every response passes through.

use crate::endpoints::{
    authorize, certs, discovery, health, introspect, logout, revoke, session_iframe, token,
    userinfo,
};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use latchkey_domain::{ErrorCode, OAuthError};
use std::sync::Arc;

async fn method_not_allowed() -> Response {
    ApiError::from(OAuthError::new(
        ErrorCode::MethodNotAllowed,
        "HTTP method not allowed on this endpoint",
    ))
    .into_response()
}

async fn not_found() -> Response {
    ApiError::from(OAuthError::new(ErrorCode::NotFound, "no such endpoint")).into_response()
}

/// Refuses an oversized head (414, 431) or announced body (413) before any handler reads it,
/// and marks every response `nosniff`.
async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(refused) = state.head.check_head(&req) {
        return refused;
    }
    let limit = state.body.bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return crate::form::too_large(limit).into_response();
    }
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && !resp.headers().contains_key(header::CONTENT_TYPE)
    {
        return method_not_allowed().await;
    }
    resp
}

pub fn router(state: Arc<AppState>) -> Router {
    let admin = crate::admin::routes::build();
    let doc = Arc::new(crate::admin::openapi::document(
        &admin.ops,
        &state.public_url,
    ));
    // Every change through the admin API is recorded by its admin event.
    let admin_router = admin
        .router
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::admin::events::record,
        ))
        .route(
            "/admin/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json((*doc).clone()) }
            }),
        );
    let oidc = "/realms/{realm}/protocol/openid-connect";
    Router::new()
        .route("/health/live", get(health::live))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/health/ready", get(health::ready))
        .route("/realms/{realm}", get(discovery::realm_info))
        .route(
            "/realms/{realm}/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/realms/{realm}/.well-known/oauth-authorization-server",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server/realms/{realm}",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/openid-configuration/realms/{realm}",
            get(discovery::openid_configuration),
        )
        .route(&format!("{oidc}/token"), post(token::token))
        .route(
            &format!("{oidc}/auth"),
            get(authorize::auth).post(authorize::auth),
        )
        .route(
            &format!("{oidc}/3p-cookies/step1.html"),
            get(session_iframe::step1),
        )
        .route(
            &format!("{oidc}/3p-cookies/step2.html"),
            get(session_iframe::step2),
        )
        .route(
            &format!("{oidc}/login-status-iframe.html"),
            get(session_iframe::login_status_iframe),
        )
        .route(
            &format!("{oidc}/login-status-iframe.html/init"),
            get(session_iframe::login_status_init),
        )
        .route(
            "/realms/{realm}/login-actions/authenticate",
            post(authorize::login_action),
        )
        .route(
            "/realms/{realm}/login-actions/consent",
            post(authorize::consent_action),
        )
        .route(&format!("{oidc}/certs"), get(certs::certs))
        .route(&format!("{oidc}/revoke"), post(revoke::revoke))
        .route(
            &format!("{oidc}/token/introspect"),
            post(introspect::introspect),
        )
        .route(
            &format!("{oidc}/logout"),
            get(logout::logout).post(logout::logout),
        )
        .route(
            &format!("{oidc}/userinfo"),
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .merge(admin_router)
        .route_layer(middleware::from_fn(crate::telemetry::route))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::cors::layer,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::telemetry::observe,
        ))
        .with_state(state)
}
