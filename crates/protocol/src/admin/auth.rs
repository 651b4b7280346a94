//! Who may call the admin API: a bearer access token from realm `master`, whose user holds the
//! realm role `admin`. No token → 401; any other token → 403.

use super::AdminError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use latchkey_application::access::{self, Invalid};
use serde_json::Value;
use std::sync::Arc;

/// The authenticated administrator.
pub struct Admin {
    pub username: String,
    pub user_id: String,
}

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized = |m: &str| AdminError::new(StatusCode::UNAUTHORIZED, m.to_string());
        let forbidden = |m: String| AdminError::new(StatusCode::FORBIDDEN, m);
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(
                "no bearer token: get one from realm 'master' with client 'admin-cli' and send 'Authorization: Bearer <token>'",
            ));
        };
        let v = value.to_str().unwrap_or("");
        if v.len() <= 7 || !v[..7].eq_ignore_ascii_case("bearer ") {
            return Err(unauthorized(
                "Authorization header must be 'Bearer <access token>'",
            ));
        }
        let token = v[7..].trim();
        let Ok(Some(master)) = state.realms.get("master", || state.issuer("master")).await else {
            return Err(forbidden("this server has no 'master' realm: set LATCHKEY_ADMIN_USERNAME and LATCHKEY_ADMIN_PASSWORD to create one".into()));
        };
        // A token of another realm (genuine or not) is not an admin token: 403, as Keycloak answers.
        if let Ok(parsed) = latchkey_crypto::jws::parse(token) {
            let iss = parsed
                .claims
                .get("iss")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !iss.is_empty() && iss != master.issuer {
                return Err(forbidden(format!(
                    "this token was issued by '{iss}': the admin API needs a token from realm 'master' ({})",
                    master.issuer
                )));
            }
        }
        let claims = match access::validate(&master, state.store.as_ref(), token, state.now()).await
        {
            Ok(c) => c,
            Err(Invalid::Reason(r)) => {
                return Err(unauthorized(&format!("bearer token rejected: {r}")))
            }
            Err(Invalid::Store(e)) => return Err(e.into()),
        };
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let user = state.store.user_by_id(&master.realm.id, &sub).await?;
        let Some(user) = user.filter(|u| u.enabled) else {
            return Err(forbidden(
                "the user of this token no longer exists or is disabled".into(),
            ));
        };
        if !user.realm_roles.iter().any(|r| r == "admin") {
            return Err(forbidden(format!(
                "user '{}' does not have the 'admin' role in realm 'master'",
                user.username
            )));
        }
        Ok(Admin {
            username: user.username,
            user_id: user.id,
        })
    }
}
