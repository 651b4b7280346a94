//! The token endpoint (RFC 6749 §3.2): form-encoded POST, client authentication, then the
//! grant the request names.

use super::{realm, ClientAddr, RealmName};
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::form;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use latchkey_application::grants;
use latchkey_domain::{ErrorCode, OAuthError};
use std::sync::Arc;

pub const GRANT_TYPES: [&str; 4] = [
    "authorization_code",
    "password",
    "client_credentials",
    "refresh_token",
];

/// The grants this endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GrantType {
    AuthorizationCode,
    Password,
    ClientCredentials,
    RefreshToken,
}

impl GrantType {
    /// Keycloak's event type for a request of this grant.
    fn event_kind(self) -> &'static str {
        use latchkey_domain::event::types::kind;
        match self {
            GrantType::AuthorizationCode => kind::CODE_TO_TOKEN,
            GrantType::Password => kind::LOGIN,
            GrantType::ClientCredentials => kind::CLIENT_LOGIN,
            GrantType::RefreshToken => kind::REFRESH_TOKEN,
        }
    }

    fn parse(name: &str) -> Option<GrantType> {
        Some(match name {
            "authorization_code" => GrantType::AuthorizationCode,
            "password" => GrantType::Password,
            "client_credentials" => GrantType::ClientCredentials,
            "refresh_token" => GrantType::RefreshToken,
            _ => return None,
        })
    }
}

pub async fn token(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
    ClientAddr(addr): ClientAddr,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&state, &realm_name, addr, &uri, &headers, body).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: &AppState,
    realm_name: &str,
    addr: Option<std::net::IpAddr>,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let params = form::read_form(headers, body, state.body).await?;
    let claimed = crate::client_auth::presented(headers, &params, realm_name)
        .ok()
        .flatten()
        .map(|p| format!("{realm_name}/{}", p.client_id));
    if let Some(refused) = state.rates.check(addr, claimed.as_deref()) {
        return Ok(refused);
    }
    let ctx = realm(state, realm_name).await?;
    // §2.3.1: credentials never travel in the query string.
    if let Some(q) = uri.query() {
        if form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "client_secret") {
            return Err(OAuthError::invalid_request(
                "client_secret must not be sent in the URL query: send it in the form body or with HTTP Basic",
            )
            .into());
        }
    }
    let grant_type = params
        .require(
            "grant_type",
            "use one of authorization_code, password, client_credentials, refresh_token",
        )?
        .to_string();
    let Some(grant) = GrantType::parse(&grant_type) else {
        return Err(ApiError::from(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!(
                "grant_type '{}' is not supported here; supported: {}",
                crate::error::sanitize(&grant_type),
                GRANT_TYPES.join(", ")
            ),
        )));
    };
    // Keycloak's event for this request: the grant's type, the client as presented.
    let mut draft = events::draft(state, &ctx, grant.event_kind(), headers, &params, addr);
    draft.detail("grant_type", grant_type.as_str());
    let client = events::authenticate(state, &ctx, &mut draft, headers, &params).await?;
    let d = &mut draft;
    let resp = match grant {
        GrantType::AuthorizationCode => {
            grants::authorization_code::grant(state, &ctx, &client, &params, d).await
        }
        GrantType::Password => {
            grants::password::grant(state, &ctx, &client, &params, addr, d).await
        }
        GrantType::ClientCredentials => {
            grants::client_credentials::grant(state, &ctx, &client, &params, addr, d).await
        }
        GrantType::RefreshToken => {
            grants::refresh_token::grant(state, &ctx, &client, &params, d).await
        }
    };
    let resp = events::settle_app(state, &ctx, &mut draft, resp).await?;
    Ok(token_response(&resp))
}

/// A token response as Keycloak sends it: JSON, never cached (RFC 6749 §5.1).
pub fn token_response(t: &latchkey_application::tokens::TokenResponse) -> Response {
    let mut r = (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        t.to_json(),
    )
        .into_response();
    crate::error::no_store(&mut r);
    r
}
