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

/// The client's address (for per-address throttling and rate limits): the connection's peer,
/// or the address a trusted proxy forwarded (`crate::limits::ProxyTrust`), when the server
/// records peers.
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl axum::extract::FromRequestParts<std::sync::Arc<AppState>> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &std::sync::Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| state.proxy.client(c.0.ip(), &parts.headers));
        Ok(ClientAddr(ip))
    }
}
