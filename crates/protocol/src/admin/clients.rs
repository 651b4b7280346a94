//! `/admin/realms/{realm}/clients…`.

use super::auth::Admin;
use super::paths::{RealmIdPath, RealmPath};
use super::shared::{body, client_of, find, representation, session_rep};
use super::{created, merge, no_content, parse_json, AdminError, AdminResult};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_application::realms::RealmContext;
use latchkey_domain::admin_access::Permission;
use latchkey_domain::client::StoredSecret;
use latchkey_domain::keycloak::ClientRepresentation;
use latchkey_domain::Client;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

pub async fn list(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ViewClients).await?;
    let search = q.get("search").map(|v| v == "true").unwrap_or(false);
    let mut out: Vec<ClientRepresentation> = ctx
        .clients
        .values()
        .filter(|c| match q.get("clientId") {
            Some(id) if search => c.client_id.to_lowercase().contains(&id.to_lowercase()),
            Some(id) => &c.client_id == id,
            None => true,
        })
        .map(|c| c.to_representation())
        .collect();
    out.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    let first = q
        .get("first")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let max = q
        .get("max")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let page: Vec<_> = out.into_iter().skip(first).take(max).collect();
    Ok(axum::Json(page).into_response())
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmPath(realm): RealmPath,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageClients).await?;
    let bytes = body(&state, &headers, b).await?;
    let rep: ClientRepresentation = parse_json(&bytes)?;
    if ctx.client(&rep.client_id).is_some() {
        return Err(AdminError::conflict(format!(
            "Client {} already exists",
            rep.client_id
        )));
    }
    let client =
        latchkey_application::provision::client(&ctx.realm, &rep, vec![], &state.master_key)
            .map_err(AdminError::bad_request)?;
    service_account_within_reach(&state, &admin, &ctx, &client).await?;
    let id = client.id.clone();
    state.store.create_client(client.clone()).await?;
    if client.service_accounts_enabled {
        ensure_service_account(&state, &ctx, &client).await?;
    }
    state.realms.invalidate(&realm);
    Ok(created(format!(
        "{}/admin/realms/{realm}/clients/{id}",
        state.public_url
    )))
}

async fn ensure_service_account(
    state: &AppState,
    ctx: &RealmContext,
    client: &Client,
) -> AdminResult<()> {
    latchkey_application::provision::ensure_service_account(
        state.store.as_ref(),
        &ctx.realm,
        client,
        state.now(),
        |_| {},
    )
    .await?;
    Ok(())
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ViewClients).await?;
    Ok(axum::Json(client_of(&ctx, &id)?.to_representation()).into_response())
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageClients).await?;
    let existing = client_of(&ctx, &id)?;
    service_account_within_reach(&state, &admin, &ctx, &existing).await?;
    let bytes = body(&state, &headers, b).await?;
    let patch: serde_json::Value = parse_json(&bytes)?;
    if !patch.is_object() {
        return Err(AdminError::bad_request(
            "body: expected a client representation (a JSON object)",
        ));
    }
    let merged = merge(
        serde_json::to_value(existing.to_representation()).expect("serialize"),
        patch,
    );
    let rep: ClientRepresentation = parse_json(merged.to_string().as_bytes())?;
    if rep.id.as_deref().is_some_and(|i| i != id) {
        return Err(AdminError::bad_request(
            "field 'id': the id of a client cannot change",
        ));
    }
    if rep.client_id != existing.client_id && ctx.client(&rep.client_id).is_some() {
        return Err(AdminError::conflict(format!(
            "Client {} already exists",
            rep.client_id
        )));
    }
    let mut client = Client::from_representation(
        id.clone(),
        ctx.realm.id.clone(),
        &rep,
        existing.client_roles.clone(),
    )
    .map_err(AdminError::bad_request)?;
    client.secret = match (
        client.is_confidential(),
        rep.secret.as_deref().filter(|s| !s.is_empty()),
        &existing.secret,
    ) {
        (false, _, _) => None,
        (true, Some(s), _) => Some(seal(&state, s)),
        (true, None, Some(old)) => Some(old.clone()),
        (true, None, None) => Some(seal(&state, &latchkey_crypto::secrets::generate())),
    };
    service_account_within_reach(&state, &admin, &ctx, &client).await?;
    state.store.update_client(client.clone()).await?;
    if client.client_id != existing.client_id {
        super::role_mappings::retarget_client(
            &state,
            &ctx,
            &existing.client_id,
            Some(&client.client_id),
        )
        .await?;
    }
    if client.service_accounts_enabled {
        ensure_service_account(&state, &ctx, &client).await?;
    }
    state.realms.invalidate(&realm);
    Ok(no_content())
}

/// A client's credentials give its service account's roles: whoever sets or reads them must be
/// able to give those roles (Keycloak's rule for administrative roles), else managing clients
/// would borrow realm-admin from a client that holds it. Checked against the user that is, or
/// would become, the client's service account.
async fn service_account_within_reach(
    state: &AppState,
    admin: &Admin,
    ctx: &RealmContext,
    client: &latchkey_domain::Client,
) -> AdminResult<()> {
    let name = client.service_account_username();
    match state.store.user_by_username(&ctx.realm.id, &name).await? {
        Some(account) => admin.require_may_hold(
            &ctx.realm.name,
            &super::model::effective(ctx, &account.user),
        ),
        None => Ok(()),
    }
}

fn seal(state: &AppState, secret: &str) -> StoredSecret {
    StoredSecret {
        digest: latchkey_crypto::secrets::digest(secret),
        encrypted: state.master_key.encrypt(secret.as_bytes()),
    }
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageClients).await?;
    let client = client_of(&ctx, &id)?;
    state.store.delete_client(&ctx.realm.id, &id).await?;
    super::role_mappings::retarget_client(&state, &ctx, &client.client_id, None).await?;
    state.realms.invalidate(&realm);
    Ok(no_content())
}

fn secret_response(value: &str) -> Response {
    let mut r = axum::Json(json!({"type": "secret", "value": value})).into_response();
    crate::error::no_store(&mut r);
    r
}

pub async fn get_secret(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageClients).await?;
    let client = client_of(&ctx, &id)?;
    service_account_within_reach(&state, &admin, &ctx, &client).await?;
    let Some(secret) = &client.secret else {
        return Err(AdminError::bad_request(format!(
            "client '{}' is public: it has no secret",
            client.client_id
        )));
    };
    let plain = state
        .master_key
        .decrypt(&secret.encrypted)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            AdminError::new(
                axum::http::StatusCode::CONFLICT,
                "the stored secret cannot be decrypted with this master key",
            )
        })?;
    Ok(secret_response(&plain))
}

pub async fn regenerate_secret(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ManageClients).await?;
    let client = client_of(&ctx, &id)?;
    service_account_within_reach(&state, &admin, &ctx, &client).await?;
    if !client.is_confidential() {
        return Err(AdminError::bad_request(format!(
            "client '{}' is public: it has no secret",
            client.client_id
        )));
    }
    let secret = latchkey_crypto::secrets::generate();
    let mut updated = (*client).clone();
    updated.secret = Some(seal(&state, &secret));
    state.store.update_client(updated).await?;
    state.realms.invalidate(&realm);
    Ok(secret_response(&secret))
}

pub async fn service_account_user(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ViewClients).await?;
    let client = client_of(&ctx, &id)?;
    if !client.service_accounts_enabled {
        return Err(AdminError::bad_request(format!(
            "client '{}' has no service account (serviceAccountsEnabled is off)",
            client.client_id
        )));
    }
    let user = state
        .store
        .user_by_username(&ctx.realm.id, &client.service_account_username())
        .await?
        .ok_or_else(|| AdminError::not_found("service-account user not found"))?;
    Ok(axum::Json(representation(&user.user)).into_response())
}

/// `GET …/clients/{id}/user-sessions`: the active sessions this client holds tokens in.
pub async fn user_sessions(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    RealmIdPath(realm, id): RealmIdPath,
) -> AdminResult<Response> {
    let ctx = find(&state, &admin, &realm, Permission::ViewUsers).await?;
    let client = client_of(&ctx, &id)?;
    let list: Vec<serde_json::Value> = state
        .store
        .sessions(&ctx.realm.id, Some(false))
        .await?
        .iter()
        .filter(|s| {
            s.clients
                .iter()
                .any(|c| c.client_id == client.client_id && c.revoked_at.is_none())
        })
        .map(|s| session_rep(s, &ctx))
        .collect();
    Ok(axum::Json(list).into_response())
}
