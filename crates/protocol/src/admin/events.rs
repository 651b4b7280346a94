//! Keycloak's event endpoints — `GET/DELETE …/events`, `GET/DELETE …/admin-events`,
//! `GET/PUT …/events/config` — and the layer that records an admin event for every change an
//! administrator makes through the admin API.

use super::auth::Admin;
use super::paths::RealmPath;
use super::shared::find;
use super::{no_content, AdminResult};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use latchkey_domain::admin_access::Permission;
use latchkey_domain::event::query;
use latchkey_domain::event::EventsConfigUpdate;
use latchkey_domain::{AdminEvent, AuthDetails, Event};
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};

/// Keycloak's answer to a bad query parameter: 400 `{"error": message}`.
fn bad_query(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": message })),
    )
        .into_response()
}

/// The query string as pairs, repeated keys kept (`type=LOGIN&type=LOGOUT`).
fn pairs(req_query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(req_query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// User events or admin events.
#[derive(Clone, Copy)]
enum Kind {
    User,
    Admin,
}

async fn list(
    state: &AppState,
    admin: &Admin,
    realm: &str,
    query: Option<&str>,
    kind: Kind,
) -> AdminResult<Response> {
    let ctx = find(state, admin, realm, Permission::ViewEvents).await?;
    let (pairs, id) = (pairs(query), &ctx.realm.id);
    // What this server recorded before the request is listed.
    state.events_flushed().await;
    let found = match kind {
        Kind::User => match query::user_query(id, &pairs) {
            Ok(q) => serde_json::to_value(state.store.user_events(&q).await?),
            Err(m) => return Ok(bad_query(m)),
        },
        Kind::Admin => match query::admin_query(id, &pairs) {
            Ok(q) => serde_json::to_value(state.store.admin_events(&q).await?),
            Err(m) => return Ok(bad_query(m)),
        },
    };
    Ok(axum::Json(found.unwrap_or_default()).into_response())
}

async fn clear(state: &AppState, admin: &Admin, realm: &str, kind: Kind) -> AdminResult<Response> {
    let ctx = find(state, admin, realm, Permission::ManageEvents).await?;
    state.events_flushed().await;
    state
        .store
        .clear_events(&ctx.realm.id, matches!(kind, Kind::Admin))
        .await?;
    Ok(no_content())
}

pub async fn list_user_events(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
    uri: axum::http::Uri,
) -> AdminResult<Response> {
    list(&state, &admin, &realm, uri.query(), Kind::User).await
}

pub async fn list_admin_events(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
    uri: axum::http::Uri,
) -> AdminResult<Response> {
    list(&state, &admin, &realm, uri.query(), Kind::Admin).await
}

pub async fn clear_user_events(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
) -> AdminResult<Response> {
    clear(&state, &admin, &realm, Kind::User).await
}

pub async fn clear_admin_events(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
) -> AdminResult<Response> {
    clear(&state, &admin, &realm, Kind::Admin).await
}

pub async fn get_config(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ViewEvents).await?;
    Ok(axum::Json(ctx.realm.events.to_representation()).into_response())
}

pub async fn put_config(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
    headers: axum::http::HeaderMap,
    body: Body,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageEvents).await?;
    let bytes = super::shared::body(&state, &headers, body).await?;
    let update: EventsConfigUpdate = super::parse_json(&bytes)?;
    let config = match update.apply(&ctx.realm.events) {
        Ok(c) => c,
        Err(m) => return Ok(bad_query(m)),
    };
    let mut realm = ctx.realm.clone();
    realm.events = config;
    state.store.update_realm(realm).await?;
    state.realms.invalidate(&ctx.realm.name);
    Ok(no_content())
}

/// Who made a change, as the admin extractor found it: set by [`Admin`]'s extraction into the
/// slot this layer puts in the request.
#[derive(Clone, Default)]
pub struct Caller(pub Arc<OnceLock<AuthDetails>>);

/// Records an admin event for every change the admin API makes (a successful POST, PUT or
/// DELETE under `/admin/realms/{realm}`) when the realm stores admin events: Keycloak's
/// operation and resource type, the path below the realm (the created resource's, from
/// `Location`), the caller, and with `adminEventsDetailsEnabled` the JSON sent, secrets
/// masked. Written just after the change, in a write of its own.
pub async fn record(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if !matches!(method, Method::POST | Method::PUT | Method::DELETE) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let Some((realm_name, rest)) = realm_of(&path) else {
        return next.run(req).await;
    };
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    // The settings as they are before the change: whether to keep what was sent (the change
    // of the settings themselves is kept whatever they were, as it may turn them on).
    let before = match state
        .realms
        .get(realm_name, || state.issuer(realm_name))
        .await
    {
        Ok(Some(ctx)) => ctx.realm.events.clone(),
        _ => return next.run(req).await,
    };
    let settings_change = template.ends_with("/events/config");
    if !before.admin_events_enabled && !settings_change {
        return next.run(req).await;
    }
    let caller = Caller::default();
    req.extensions_mut().insert(caller.clone());
    let mut sent = None;
    if before.admin_events_details_enabled || settings_change {
        let (parts, body) = req.into_parts();
        match axum::body::to_bytes(body, state.body.bytes).await {
            Ok(bytes) => {
                sent = Some(bytes.clone());
                req = Request::from_parts(parts, Body::from(bytes));
            }
            Err(_) => return crate::form::too_large(state.body.bytes).into_response(),
        }
    }
    let resp = next.run(req).await;
    let Some(auth) = caller.0.get().cloned() else {
        return resp;
    };
    // Deleting the realm, or its stored events, leaves nothing to record in.
    let clears = method == Method::DELETE && matches!(rest, "" | "events" | "admin-events");
    if !resp.status().is_success() || clears {
        return resp;
    }
    // Recorded by the settings after the change, as Keycloak's event is sent after it.
    let ctx = match state
        .realms
        .get(realm_name, || state.issuer(realm_name))
        .await
    {
        Ok(Some(ctx)) if ctx.realm.events.admin_events_enabled => ctx,
        _ => return resp,
    };
    if !ctx.realm.events.admin_events_details_enabled {
        sent = None;
    }
    let location = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| l.split_once(&format!("/admin/realms/{realm_name}/")))
        .map(|(_, p)| p.to_string());
    let (resource_type, operation_type) = kind_of(&template, &method);
    let event = AdminEvent {
        id: state.ids.new_id(),
        time: state.clock.now_ms(),
        realm_id: ctx.realm.id.clone(),
        auth_details: auth,
        operation_type: operation_type.into(),
        resource_type: resource_type.into(),
        resource_path: location.unwrap_or_else(|| rest.to_string()),
        representation: sent.as_deref().and_then(masked),
        error: None,
    };
    state.record_later(Event::Admin(event));
    resp
}

/// The realm and the path below it of `/admin/realms/{realm}[/…]`.
fn realm_of(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/admin/realms/")?;
    Some(match rest.split_once('/') {
        Some((realm, below)) => (realm, below),
        None => (rest, ""),
    })
}

/// Keycloak's resource type and operation of a change, from its route and method.
fn kind_of(template: &str, method: &Method) -> (&'static str, &'static str) {
    let rest = template
        .strip_prefix("/admin/realms/{realm}")
        .unwrap_or(template);
    let has = |s: &str| rest.contains(s);
    let resource = if rest.is_empty() {
        "REALM"
    } else if has("/role-mappings/clients") {
        "CLIENT_ROLE_MAPPING"
    } else if has("/role-mappings") {
        "REALM_ROLE_MAPPING"
    } else if has("/scope-mappings/clients") {
        "CLIENT_SCOPE_MAPPING"
    } else if has("/scope-mappings") {
        "REALM_SCOPE_MAPPING"
    } else if has("/protocol-mappers") {
        "PROTOCOL_MAPPER"
    } else if rest.starts_with("/users/{id}/groups") {
        "GROUP_MEMBERSHIP"
    } else if rest.starts_with("/users") {
        "USER"
    } else if rest.starts_with("/clients/{id}/roles") {
        "CLIENT_ROLE"
    } else if rest.starts_with("/clients") {
        "CLIENT"
    } else if rest.starts_with("/client-scopes") {
        "CLIENT_SCOPE"
    } else if rest.starts_with("/roles") {
        "REALM_ROLE"
    } else if rest.starts_with("/groups") {
        "GROUP"
    } else if rest.starts_with("/sessions") {
        "USER_SESSION"
    } else if rest.starts_with("/attack-detection") {
        "USER_LOGIN_FAILURE"
    } else if rest.starts_with("/components") || rest.starts_with("/keys") {
        "COMPONENT"
    } else if rest.starts_with("/default-") || rest.starts_with("/events") || has("logout") {
        "REALM"
    } else {
        "CUSTOM"
    };
    const ACTIONS: [&str; 6] = [
        "/logout",
        "/logout-all",
        "/push-revocation",
        "/client-secret",
        "/reset-password",
        "/execute-actions-email",
    ];
    let operation = if ACTIONS.iter().any(|a| rest.ends_with(a)) {
        "ACTION"
    } else if *method == Method::DELETE {
        "DELETE"
    } else if *method == Method::POST || resource == "GROUP_MEMBERSHIP" {
        "CREATE"
    } else {
        "UPDATE"
    };
    (resource, operation)
}

/// The JSON sent, as a string with its secrets masked as Keycloak masks them; `None` when the
/// body was empty or not JSON.
fn masked(body: &[u8]) -> Option<String> {
    fn mask(v: &mut Value, in_credential: bool) {
        match v {
            Value::Object(o) => {
                for (k, item) in o.iter_mut() {
                    let secret = matches!(k.as_str(), "secret" | "password" | "clientSecret")
                        || (in_credential && k == "value");
                    if secret && item.is_string() {
                        *item = Value::String("**********".into());
                    } else {
                        mask(item, in_credential || k == "credentials")
                    }
                }
                if o.get("type").and_then(Value::as_str) == Some("password") {
                    if let Some(value) = o.get_mut("value") {
                        *value = Value::String("**********".into());
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|i| mask(i, in_credential)),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_slice(body).ok()?;
    mask(&mut v, false);
    Some(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_named_as_keycloak_names_them() {
        let k = |t: &str, m: Method| kind_of(t, &m);
        assert_eq!(
            k("/admin/realms/{realm}/users", Method::POST),
            ("USER", "CREATE")
        );
        assert_eq!(
            k("/admin/realms/{realm}/users/{id}", Method::PUT),
            ("USER", "UPDATE")
        );
        assert_eq!(
            k(
                "/admin/realms/{realm}/users/{id}/reset-password",
                Method::PUT
            ),
            ("USER", "ACTION")
        );
        assert_eq!(
            k(
                "/admin/realms/{realm}/users/{id}/groups/{group}",
                Method::PUT
            ),
            ("GROUP_MEMBERSHIP", "CREATE")
        );
        assert_eq!(
            k(
                "/admin/realms/{realm}/users/{id}/role-mappings/realm",
                Method::POST
            ),
            ("REALM_ROLE_MAPPING", "CREATE")
        );
        assert_eq!(
            k(
                "/admin/realms/{realm}/clients/{id}/roles/{role}",
                Method::DELETE
            ),
            ("CLIENT_ROLE", "DELETE")
        );
        assert_eq!(
            k(
                "/admin/realms/{realm}/clients/{id}/client-secret",
                Method::POST
            ),
            ("CLIENT", "ACTION")
        );
        assert_eq!(
            k("/admin/realms/{realm}/events/config", Method::PUT),
            ("REALM", "UPDATE")
        );
        assert_eq!(k("/admin/realms/{realm}", Method::PUT), ("REALM", "UPDATE"));
    }

    #[test]
    fn secrets_are_masked_in_representations() {
        let body = br#"{"username":"bob","credentials":[{"type":"password","value":"s3cret"}],"secret":"x"}"#;
        let out = masked(body).unwrap();
        assert!(!out.contains("s3cret") && !out.contains("\"x\""), "{out}");
        assert!(out.contains("bob"));
        assert_eq!(masked(b"not json"), None);
    }

    #[test]
    fn paths_below_the_realm() {
        assert_eq!(
            realm_of("/admin/realms/demo/users/1"),
            Some(("demo", "users/1"))
        );
        assert_eq!(realm_of("/admin/realms/demo"), Some(("demo", "")));
        assert_eq!(realm_of("/admin/openapi.json"), None);
    }
}
