//! `/admin/realms/{realm}/users…`.

use super::auth::Admin;
use super::paths::{RealmIdClientPath, RealmIdPath, RealmPath};
use super::shared::{body, client_of, find, representation, session_rep, user_of};
use super::{created, merge, no_content, parse_json, AdminError, AdminResult};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_application::realms::RealmContext;
use latchkey_domain::admin_access::Permission;
use latchkey_domain::keycloak::{CredentialRepresentation, UserRepresentation};
use latchkey_domain::User;
use latchkey_storage::UserQuery;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

fn query(q: &HashMap<String, String>) -> UserQuery {
    let int = |k: &str, d: i64| q.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(d);
    UserQuery {
        search: q.get("search").cloned().filter(|s| !s.is_empty()),
        username: q.get("username").cloned().filter(|s| !s.is_empty()),
        email: q.get("email").cloned().filter(|s| !s.is_empty()),
        exact: q.get("exact").is_some_and(|v| v == "true"),
        first: int("first", 0).max(0),
        max: int("max", 100).clamp(1, 10_000),
        service_accounts: false,
    }
}

/// Keycloak refuses a second user with the same email unless the realm allows duplicates.
async fn email_free(
    state: &AppState,
    ctx: &RealmContext,
    email: Option<&str>,
    except: Option<&str>,
) -> AdminResult<()> {
    let Some(email) = email.filter(|e| !e.is_empty()) else {
        return Ok(());
    };
    if ctx.realm.attribute("duplicateEmailsAllowed") == Some("true") {
        return Ok(());
    }
    let q = UserQuery {
        email: Some(email.to_string()),
        exact: true,
        max: 2,
        service_accounts: true,
        ..Default::default()
    };
    if state
        .store
        .users(&ctx.realm.id, q)
        .await?
        .iter()
        .any(|u| Some(u.id.as_str()) != except)
    {
        return Err(AdminError::conflict("User exists with same email"));
    }
    Ok(())
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ViewUsers).await?;
    let users = state.store.users(&ctx.realm.id, query(&q)).await?;
    Ok(axum::Json(users.iter().map(representation).collect::<Vec<_>>()).into_response())
}

pub async fn count(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ViewUsers).await?;
    Ok(axum::Json(state.store.count_users(&ctx.realm.id, query(&q)).await?).into_response())
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageUsers).await?;
    let bytes = body(&state, &headers, b).await?;
    let rep: UserRepresentation = parse_json(&bytes)?;
    if state
        .store
        .user_by_username(&ctx.realm.id, &rep.username)
        .await?
        .is_some()
    {
        return Err(AdminError::conflict("User exists with same username"));
    }
    email_free(&state, &ctx, rep.email.as_deref(), None).await?;
    let mut user =
        latchkey_application::provision::user(&ctx.realm, &rep, &state.passwords, state.now())
            .await
            .map_err(AdminError::bad_request)?;
    // As Keycloak does for every user it creates (not for those it imports).
    latchkey_application::provision::grant_default_role(&ctx.realm, &mut user.user);
    admin.require_may_hold(&realm, &super::model::effective(&ctx, &user.user))?;
    let id = user.user.id.clone();
    state.store.create_user(user).await?;
    Ok(created(format!(
        "{}/admin/realms/{realm}/users/{id}",
        state.public_url
    )))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ViewUsers).await?;
    Ok(axum::Json(representation(&user_of(&state, &ctx, &id).await?)).into_response())
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageUsers).await?;
    let existing = user_of(&state, &ctx, &id).await?;
    let bytes = body(&state, &headers, b).await?;
    let patch: Value = parse_json(&bytes)?;
    if !patch.is_object() {
        return Err(AdminError::bad_request(
            "body: expected a user representation (a JSON object)",
        ));
    }
    let merged = merge(
        serde_json::to_value(existing.to_representation()).expect("serialize"),
        patch,
    );
    let rep: UserRepresentation = parse_json(merged.to_string().as_bytes())?;
    if rep.id.as_deref().is_some_and(|i| i != id) {
        return Err(AdminError::bad_request(
            "field 'id': the id of a user cannot change",
        ));
    }
    let mut user =
        User::from_representation(id.clone(), ctx.realm.id.clone(), &rep, existing.created_at)
            .map_err(AdminError::bad_request)?;
    user.created_at = existing.created_at;
    latchkey_application::provision::roles_defined(&ctx.realm, &user)
        .map_err(AdminError::bad_request)?;
    admin.require_grantable(
        &realm,
        &super::model::effective(&ctx, &existing),
        &super::model::effective(&ctx, &user),
    )?;
    if user.username != existing.username
        && state
            .store
            .user_by_username(&ctx.realm.id, &user.username)
            .await?
            .is_some()
    {
        return Err(AdminError::conflict("User exists with same username"));
    }
    email_free(&state, &ctx, user.email.as_deref(), Some(&id)).await?;
    if rep.credentials.as_ref().is_some_and(|c| !c.is_empty()) {
        let with =
            latchkey_application::provision::user(&ctx.realm, &rep, &state.passwords, state.now())
                .await
                .map_err(AdminError::bad_request)?;
        if let Some(h) = with.password_hash {
            state.store.set_password_hash(&id, &h).await?;
        }
    }
    let disabled_now = existing.enabled && !user.enabled;
    state.store.update_user(user.clone()).await?;
    if disabled_now {
        end_sessions(&state, &ctx, &id, None, "user disabled by an administrator").await?;
    }
    Ok(no_content())
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageUsers).await?;
    user_of(&state, &ctx, &id).await?;
    state.store.delete_user(&ctx.realm.id, &id).await?;
    Ok(no_content())
}

pub async fn reset_password(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageUsers).await?;
    user_of(&state, &ctx, &id).await?;
    let bytes = body(&state, &headers, b).await?;
    let cred: CredentialRepresentation = parse_json(&bytes)?;
    if cred.kind.as_deref().is_some_and(|k| k != "password") {
        return Err(AdminError::bad_request(
            "field 'type': only 'password' credentials can be reset",
        ));
    }
    let Some(value) = cred.value.filter(|v| !v.is_empty()) else {
        return Err(AdminError::bad_request(
            "field 'value': the new password is missing",
        ));
    };
    let hash = state
        .passwords
        .hash(value)
        .await
        .map_err(|e| AdminError::bad_request(e.to_string()))?;
    state.store.set_password_hash(&id, &hash).await?;
    Ok(no_content())
}

/// Ends a user's sessions (`offline`: only those of that kind; `None`: online only).
pub async fn end_sessions(
    state: &AppState,
    ctx: &RealmContext,
    user_id: &str,
    offline: Option<bool>,
    reason: &str,
) -> AdminResult<usize> {
    let now = state.now();
    let mut n = 0;
    for s in state
        .store
        .sessions(&ctx.realm.id, Some(offline.unwrap_or(false)))
        .await?
    {
        if s.session.user_id == user_id
            && state
                .store
                .end_session(&s.session.id, now, reason, None)
                .await?
        {
            n += 1;
        }
    }
    Ok(n)
}

pub async fn logout(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageUsers).await?;
    user_of(&state, &ctx, &id).await?;
    end_sessions(&state, &ctx, &id, None, "logged out by an administrator").await?;
    Ok(no_content())
}

pub async fn sessions(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ViewUsers).await?;
    user_of(&state, &ctx, &id).await?;
    let list: Vec<Value> = state
        .store
        .sessions(&ctx.realm.id, Some(false))
        .await?
        .iter()
        .filter(|s| s.session.user_id == id)
        .map(|s| session_rep(s, &ctx))
        .collect();
    Ok(axum::Json(list).into_response())
}

pub async fn offline_sessions(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdClientPath(realm, id, client): RealmIdClientPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ViewUsers).await?;
    user_of(&state, &ctx, &id).await?;
    let client = client_of(&ctx, &client)?;
    let list: Vec<Value> = state
        .store
        .sessions(&ctx.realm.id, Some(true))
        .await?
        .iter()
        .filter(|s| {
            s.session.user_id == id
                && s.clients
                    .iter()
                    .any(|c| c.client_id == client.client_id && c.revoked_at.is_none())
        })
        .map(|s| session_rep(s, &ctx))
        .collect();
    Ok(axum::Json(list).into_response())
}
