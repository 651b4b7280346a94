//! What the admin resources share: looking up a realm, user or client of a request, the
//! representations they answer with, the request body, and the audit record of a change.

use super::auth::Admin;
use super::{AdminError, AdminResult};
use crate::state::AppState;
use axum::body::Body;
use axum::http::HeaderMap;
use latchkey_application::realms::RealmContext;
use latchkey_domain::admin_access::Permission;
use latchkey_domain::{Client, User};
use latchkey_storage::SessionInfo;
use serde_json::{json, Value};
use std::sync::Arc;

/// A JSON request body. Like Keycloak, a body declared as anything but JSON (or not declared)
/// is 415: the admin API reads representations only.
pub async fn body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> AdminResult<axum::body::Bytes> {
    let declared = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !is_json(declared) {
        return Err(AdminError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the body must be declared 'Content-Type: application/json' (it was {})",
                if declared.is_empty() {
                    "not declared".to_string()
                } else {
                    format!("'{declared}'")
                }
            ),
        ));
    }
    crate::form::read_body(headers, body, state.body)
        .await
        .map_err(|e| {
            AdminError::new(
                axum::http::StatusCode::from_u16(e.error.status())
                    .unwrap_or(axum::http::StatusCode::BAD_REQUEST),
                e.error.description,
            )
        })
}

/// `application/json` or a `+json` type, with any parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The realm a path names, once the caller is known to be allowed `need` in it: 403 before 404,
/// so that a caller without the right learns nothing of which realms exist.
pub async fn find(
    state: &AppState,
    admin: &Admin,
    name: &str,
    need: Permission,
) -> AdminResult<Arc<RealmContext>> {
    admin.require(name, need)?;
    if !latchkey_domain::realm::valid_name(name) {
        return Err(AdminError::not_found(format!(
            "realm '{}' not found",
            crate::error::sanitize(name)
        )));
    }
    state
        .realms
        .get(name, || state.issuer(name))
        .await?
        .ok_or_else(|| {
            AdminError::not_found(format!(
                "realm '{}' not found",
                crate::error::sanitize(name)
            ))
        })
}

/// Keycloak's user representation, with the fields its admin clients expect.
pub fn representation(u: &User) -> Value {
    let mut v = serde_json::to_value(u.to_representation()).expect("serialize");
    let o = v.as_object_mut().expect("object");
    o.remove("realmRoles");
    o.insert("totp".into(), json!(false));
    o.insert("disableableCredentialTypes".into(), json!([]));
    o.insert("requiredActions".into(), json!([]));
    o.insert("notBefore".into(), json!(0));
    o.insert("access".into(), json!({"manage": true, "impersonate": false, "manageGroupMembership": true, "view": true, "mapRoles": true}));
    v
}

pub async fn user_of(state: &AppState, ctx: &RealmContext, id: &str) -> AdminResult<User> {
    state
        .store
        .user_by_id(&ctx.realm.id, id)
        .await?
        .ok_or_else(|| {
            AdminError::not_found(format!(
                "user with id '{}' not found",
                crate::error::sanitize(id)
            ))
        })
}

/// Keycloak's UserSessionRepresentation.
pub fn session_rep(s: &SessionInfo, ctx: &RealmContext) -> Value {
    let clients: serde_json::Map<String, Value> = s
        .clients
        .iter()
        .filter(|c| c.revoked_at.is_none())
        .map(|c| {
            let uuid = ctx
                .client(&c.client_id)
                .map(|x| x.id.clone())
                .unwrap_or_else(|| c.client_id.clone());
            (uuid, json!(c.client_id))
        })
        .collect();
    json!({
        "id": s.session.id,
        "username": s.username,
        "userId": s.session.user_id,
        "ipAddress": "",
        "start": s.session.started_at * 1000,
        "lastAccess": s.session.last_refresh * 1000,
        "rememberMe": false,
        "offline": s.session.offline,
        "clients": clients,
    })
}

pub fn client_of(ctx: &RealmContext, id: &str) -> AdminResult<Arc<Client>> {
    ctx.clients
        .values()
        .find(|c| c.id == id)
        .cloned()
        .ok_or_else(|| {
            AdminError::not_found(format!(
                "client with id '{}' not found",
                crate::error::sanitize(id)
            ))
        })
}
