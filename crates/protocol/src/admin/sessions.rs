//! Realm sessions and brute-force attack detection.

use super::auth::Admin;
use super::paths::{RealmIdPath, RealmPath};
use super::shared::{find, session_rep, user_of};
use super::{no_content, AdminError, AdminResult};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_domain::admin_access::Permission;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub async fn list(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ViewUsers).await?;
    let offline = q.get("offline").map(|v| v == "true");
    let list: Vec<Value> = state
        .store
        .sessions(&ctx.realm.id, offline)
        .await?
        .iter()
        .map(|s| session_rep(s, &ctx))
        .collect();
    Ok(axum::Json(list).into_response())
}

pub async fn logout_all(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageUsers).await?;
    let now = state.now();
    for s in state.store.sessions(&ctx.realm.id, Some(false)).await? {
        state
            .store
            .end_session(
                &s.session.id,
                now,
                "all sessions ended by an administrator",
                None,
            )
            .await?;
    }
    Ok(axum::Json(json!({"successRequests": [], "failedRequests": []})).into_response())
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageUsers).await?;
    match state.store.session(&id).await? {
        Some(s) if s.realm_id == ctx.realm.id => {
            state
                .store
                .end_session(&id, state.now(), "ended by an administrator", None)
                .await?;
            Ok(no_content())
        }
        _ => Err(AdminError::not_found(format!(
            "session '{}' not found",
            crate::error::sanitize(&id)
        ))),
    }
}

pub async fn brute_force_status(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ViewUsers).await?;
    let user = user_of(&state, &ctx, &id).await?;
    let (failures, locked) = state.throttle.status(&ctx.realm.name, &user.username);
    Ok(axum::Json(json!({"numFailures": failures, "disabled": locked, "lastIPFailure": "n/a", "lastFailure": 0})).into_response())
}

pub async fn brute_force_reset(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageUsers).await?;
    let user = user_of(&state, &ctx, &id).await?;
    state.throttle.success(&ctx.realm.name, &user.username);
    Ok(no_content())
}

pub async fn brute_force_reset_all(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageUsers).await?;
    state.throttle.reset_realm(&ctx.realm.name);
    Ok(no_content())
}
