//! HTTP endpoints under `/realms/{realm}` and `/health`.

pub mod authorize;
pub mod certs;
pub mod discovery;
pub mod health;
pub mod introspect;
pub mod logout;
pub mod revoke;
pub mod rp_logout;
pub mod session_iframe;
pub mod token;
pub mod userinfo;

use crate::error::ApiResult;
use crate::state::AppState;
use latchkey_application::realms::RealmContext;
use latchkey_domain::{ErrorCode, OAuthError};
use std::sync::Arc;

/// The realm a path names; 404 when it does not exist or is disabled.
pub async fn realm(state: &AppState, name: &str) -> ApiResult<Arc<RealmContext>> {
    if !latchkey_domain::realm::valid_name(name) {
        return Err(OAuthError::new(
            ErrorCode::NotFound,
            format!("realm '{}' does not exist", crate::error::sanitize(name)),
        )
        .into());
    }
    let ctx = state.realms.get(name, || state.issuer(name)).await?;
    match ctx {
        Some(ctx) if ctx.realm.enabled => Ok(ctx),
        Some(_) => {
            Err(OAuthError::new(ErrorCode::NotFound, format!("realm '{name}' is disabled")).into())
        }
        None => Err(OAuthError::new(
            ErrorCode::NotFound,
            format!("realm '{}' does not exist", crate::error::sanitize(name)),
        )
        .into()),
    }
}

/// The `{realm}` path segment; a segment that is not UTF-8 gets a JSON 404, not axum's text.
pub struct RealmName(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RealmName {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(name)) => Ok(RealmName(name)),
            Err(_) => Err(OAuthError::new(
                ErrorCode::NotFound,
                "the realm name in the URL is not valid UTF-8",
            )
            .into()),
        }
    }
}

/// The peer address of the connection (for per-address throttling), when the server records it.
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(ip))
    }
}
