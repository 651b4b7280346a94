//! OpenID Provider metadata (OIDC Discovery §3) and RFC 8414 authorization-server metadata.

use super::token::GRANT_TYPES;
use super::{realm, RealmName};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use latchkey_domain::client::{DEFAULT_CLIENT_SCOPES, OPTIONAL_CLIENT_SCOPES};
use latchkey_domain::scope::HIDDEN_SCOPES;
use serde_json::json;
use std::sync::Arc;

pub fn metadata(issuer: &str) -> serde_json::Value {
    let oidc = format!("{issuer}/protocol/openid-connect");
    let mut scopes = vec!["openid"];
    scopes.extend(
        DEFAULT_CLIENT_SCOPES
            .iter()
            .chain(OPTIONAL_CLIENT_SCOPES.iter())
            .filter(|s| !HIDDEN_SCOPES.contains(s)),
    );
    let algs = ["RS256", "ES256", "EdDSA"];
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{oidc}/auth"),
        "token_endpoint": format!("{oidc}/token"),
        "introspection_endpoint": format!("{oidc}/token/introspect"),
        "userinfo_endpoint": format!("{oidc}/userinfo"),
        "end_session_endpoint": format!("{oidc}/logout"),
        "jwks_uri": format!("{oidc}/certs"),
        "revocation_endpoint": format!("{oidc}/revoke"),
        "check_session_iframe": format!("{oidc}/login-status-iframe.html"),
        "grant_types_supported": GRANT_TYPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": scopes,
        "claims_supported": ["aud", "sub", "iss", "auth_time", "name", "given_name", "family_name", "preferred_username", "email", "email_verified", "acr", "azp", "sid"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "code_challenge_methods_supported": ["S256"],
        "tls_client_certificate_bound_access_tokens": false,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    })
}

pub async fn openid_configuration(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
) -> Response {
    match realm(&state, &realm_name).await {
        Ok(ctx) => {
            let mut r = axum::Json(metadata(&ctx.issuer)).into_response();
            r.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            r
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /realms/{realm}`: Keycloak's public realm description, which python-keycloak's
/// `public_key()` reads (the RS256 key as base64 SubjectPublicKeyInfo DER).
pub async fn realm_info(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
) -> Response {
    use base64::Engine;
    match realm(&state, &realm_name).await {
        Ok(ctx) => {
            let public_key = ctx
                .keys
                .signing(latchkey_domain::realm::SigningAlg::RS256)
                .and_then(|k| k.public_key_spki_der())
                .map(|der| base64::engine::general_purpose::STANDARD.encode(der));
            axum::Json(json!({
                "realm": ctx.realm.name,
                "public_key": public_key,
                "token-service": format!("{}/protocol/openid-connect", ctx.issuer),
                "account-service": format!("{}/account", ctx.issuer),
                "tokens-not-before": ctx.realm.not_before,
            }))
            .into_response()
        }
        Err(e) => e.into_response(),
    }
}
