//! `/admin/realms` and `/admin/realms/{realm}`.

use super::auth::Admin;
use super::shared::{body, find};
use super::{created, merge, no_content, parse_json, AdminError, AdminResult};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_application::provision::report;
use latchkey_domain::admin_access::Permission;
use latchkey_domain::keycloak::RealmRepresentation;
use latchkey_domain::Realm;
use serde_json::json;
use std::sync::Arc;

/// The realms the caller administers anything in, as Keycloak lists them.
pub async fn list(State(state): State<Arc<AppState>>, admin: Admin) -> AdminResult<Response> {
    let mut out = Vec::new();
    for name in state.store.realm_names().await? {
        if !admin.sees(&name) {
            continue;
        }
        if let Some(r) = state.store.realm_by_name(&name).await? {
            out.push(r.to_representation());
        }
    }
    if out.is_empty() {
        // Keycloak answers a caller who administers nothing with 403, not an empty list.
        return Err(AdminError::new(
            axum::http::StatusCode::FORBIDDEN,
            format!(
                "user '{}' of realm '{}' administers no realm: that needs the realm role 'admin' of realm 'master', or roles of a realm's 'realm-management' client",
                admin.username(),
                admin.realm
            ),
        ));
    }
    Ok(axum::Json(out).into_response())
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    admin.require_create_realm()?;
    let bytes = body(&state, &headers, b).await?;
    let rep: RealmRepresentation = parse_json(&bytes)?;
    if query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|p| p == "dryRun=true"))
    {
        return dry_run(&state, &bytes).await;
    }
    if state.store.realm_by_name(&rep.realm).await?.is_some() {
        // Keycloak's exact body: python-keycloak's create_realm(skip_exists=True) matches on it.
        tracing::info!(realm = %rep.realm, "realm create refused: it already exists");
        let body = json!({"errorMessage": "Conflict detected. See logs for details"});
        let mut r = (axum::http::StatusCode::CONFLICT, axum::Json(body)).into_response();
        crate::error::no_store(&mut r);
        return Ok(r);
    }
    let new = latchkey_application::provision::realm(
        &rep,
        &state.master_key,
        &state.passwords,
        state.now(),
    )
    .await
    .map_err(AdminError::bad_request)?;
    for line in new.migrated.iter().chain(&new.skipped) {
        tracing::info!(realm = %rep.realm, "{line}");
    }
    let new = new.new;
    state.store.create_realm(new).await?;
    state.realms.invalidate(&rep.realm);
    Ok(created(format!(
        "{}/admin/realms/{}",
        state.public_url, rep.realm
    )))
}

/// `POST /admin/realms?dryRun=true` (latchkey's): what importing this representation would do,
/// and sample tokens, without creating anything.
async fn dry_run(state: &AppState, bytes: &[u8]) -> AdminResult<Response> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| AdminError::bad_request("body: not UTF-8"))?;
    let (rep, ignored) = report::parse_export(text).map_err(AdminError::bad_request)?;
    let r = report::dry_run(&rep, &ignored, &state.passwords, state.now(), None, None)
        .await
        .map_err(AdminError::bad_request)?;
    Ok(axum::Json(r).into_response())
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    super::paths::RealmPath(name): super::paths::RealmPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &name, Permission::ViewRealm).await?;
    Ok(axum::Json(ctx.realm.to_representation()).into_response())
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    super::paths::RealmPath(name): super::paths::RealmPath,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &name, Permission::ManageRealm).await?;
    let bytes = body(&state, &headers, b).await?;
    let patch: serde_json::Value = parse_json(&bytes)?;
    if !patch.is_object() {
        return Err(AdminError::bad_request(
            "body: expected a realm representation (a JSON object)",
        ));
    }
    let current = serde_json::to_value(ctx.realm.to_representation()).expect("serialize");
    let merged = merge(current, patch);
    let rep: RealmRepresentation = parse_json(merged.to_string().as_bytes())?;
    if rep.clients.is_some() || rep.users.is_some() {
        tracing::info!("PUT realm ignores 'clients' and 'users': use their own endpoints");
    }
    let realm =
        Realm::from_representation(ctx.realm.id.clone(), &rep).map_err(AdminError::bad_request)?;
    if realm.name != ctx.realm.name && ctx.realm.name == "master" {
        return Err(AdminError::bad_request("realm 'master' cannot be renamed"));
    }
    state.store.update_realm(realm.clone()).await?;
    state.realms.invalidate(&name);
    state.realms.invalidate(&realm.name);
    Ok(no_content())
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    super::paths::RealmPath(name): super::paths::RealmPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &name, Permission::ManageRealm).await?;
    if name == "master" {
        return Err(AdminError::bad_request("realm 'master' cannot be deleted"));
    }
    // Its events go with it, those still on their way included.
    state.events_flushed().await;
    state.store.delete_realm(&ctx.realm.id).await?;
    state.realms.invalidate(&name);
    Ok(no_content())
}
