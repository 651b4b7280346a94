//! Client scopes (`/client-scopes`), the realm's default ones, a client's default and optional
//! ones, and the protocol mappers of client scopes and of clients.

use super::auth::Admin;
use super::model::{change, realm, role_id, Container, Segs};
use super::shared::{body, client_of};
use super::{created, no_content, AdminError, AdminResult};
use crate::state::AppState;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_application::realm_model::ChangeError;
use latchkey_application::realms::RealmContext;
use latchkey_domain::admin_access::Permission;
use latchkey_domain::keycloak::{ClientScopeRepresentation, ProtocolMapperRepresentation};
use latchkey_domain::model::mappers::Mapper;
use latchkey_domain::model::RealmAccess;
use latchkey_domain::Client;
use serde_json::{json, Value};

fn derived(kind: &str, name: &str) -> String {
    role_id(&Container::Realm, &format!("{kind}:{name}"))
}

/// A client scope's id: its own, or (stored without one) derived from its name.
pub fn scope_id(s: &ClientScopeRepresentation) -> String {
    s.id.clone().unwrap_or_else(|| derived("scope", &s.name))
}

fn mapper_id(owner: &str, m: &ProtocolMapperRepresentation) -> String {
    m.id.clone()
        .unwrap_or_else(|| derived(&format!("mapper:{owner}"), &m.name))
}

fn mapper_json(owner: &str, m: &ProtocolMapperRepresentation) -> Value {
    let mut v = serde_json::to_value(m).expect("serialize");
    v["id"] = json!(mapper_id(owner, m));
    v["protocol"] = json!(m.protocol.as_deref().unwrap_or("openid-connect"));
    v["consentRequired"] = json!(m.consent_required.unwrap_or(false));
    v
}

fn scope_json(s: &ClientScopeRepresentation) -> Value {
    let mut v = serde_json::to_value(s).expect("serialize");
    v["id"] = json!(scope_id(s));
    v["protocol"] = json!(s.protocol.as_deref().unwrap_or("openid-connect"));
    let mappers: Vec<Value> = s
        .protocol_mappers
        .iter()
        .flatten()
        .map(|m| mapper_json(&s.name, m))
        .collect();
    v["protocolMappers"] = json!(mappers);
    v
}

fn scope_by_id<'a>(a: &'a RealmAccess, id: &str) -> AdminResult<&'a ClientScopeRepresentation> {
    a.client_scopes
        .iter()
        .find(|s| scope_id(s) == id)
        .ok_or_else(|| AdminError::not_found("Could not find client scope"))
}

fn scope_mut<'a>(
    a: &'a mut RealmAccess,
    id: &str,
) -> Result<&'a mut ClientScopeRepresentation, ChangeError> {
    a.client_scopes
        .iter_mut()
        .find(|s| scope_id(s) == id)
        .ok_or_else(|| ChangeError::NotFound("Could not find client scope".into()))
}

pub async fn list(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewClients).await?;
    let out: Vec<Value> = ctx
        .realm
        .access
        .client_scopes
        .iter()
        .map(scope_json)
        .collect();
    Ok(axum::Json(out).into_response())
}

pub async fn get(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewClients).await?;
    Ok(axum::Json(scope_json(scope_by_id(&ctx.realm.access, segs.get(1))?)).into_response())
}

/// A mapper latchkey cannot apply is refused as Keycloak refuses an unknown mapper type: 404.
fn compiled(m: &ProtocolMapperRepresentation) -> AdminResult<()> {
    Mapper::compile(m)
        .map(|_| ())
        .map_err(AdminError::not_found)
}

fn checked_mappers(list: &mut [ProtocolMapperRepresentation]) -> AdminResult<()> {
    for m in list {
        compiled(m)?;
        m.id.get_or_insert_with(latchkey_application::provision::new_id);
    }
    Ok(())
}

pub async fn create(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ManageClients).await?;
    let bytes = body(state, &headers, b).await?;
    let mut rep: ClientScopeRepresentation = super::parse_json(&bytes)?;
    if rep.name.trim().is_empty() || rep.name.contains(' ') {
        return Err(AdminError::bad_request(
            "name: a client scope needs a name without spaces",
        ));
    }
    checked_mappers(rep.protocol_mappers.get_or_insert_with(Vec::new))?;
    let id = latchkey_application::provision::new_id();
    rep.id = Some(id.clone());
    change(state, &ctx, |a, _| {
        if a.client_scopes.iter().any(|s| s.name == rep.name) {
            return Err(ChangeError::Conflict(format!(
                "Client Scope {} already exists",
                rep.name
            )));
        }
        a.client_scopes.push(rep.clone());
        Ok(())
    })
    .await?;
    Ok(created(format!(
        "{}/admin/realms/{}/client-scopes/{id}",
        state.public_url, ctx.realm.name
    )))
}

pub async fn update(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ManageClients).await?;
    let current = scope_by_id(&ctx.realm.access, segs.get(1))?.clone();
    let bytes = body(state, &headers, b).await?;
    let rep: ClientScopeRepresentation = super::parse_json(&bytes)?;
    if rep.name != current.name {
        return Err(AdminError::bad_request(
            "name: latchkey does not rename client scopes (clients name their scopes); create a new one",
        ));
    }
    let id = segs.get(1).to_string();
    change(state, &ctx, |a, _| {
        let s = scope_mut(a, &id)?;
        s.id = Some(id.clone());
        s.description = rep.description.clone();
        s.attributes = rep.attributes.clone();
        s.protocol = rep.protocol.clone().or(s.protocol.take());
        Ok(())
    })
    .await?;
    Ok(no_content())
}

pub async fn delete(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ManageClients).await?;
    let name = scope_by_id(&ctx.realm.access, segs.get(1))?.name.clone();
    // As current Keycloak does, the scope is taken off every client that has it.
    for c in ctx.clients.values().filter(|c| {
        c.default_client_scopes.contains(&name) || c.optional_client_scopes.contains(&name)
    }) {
        let mut rep = c.to_representation();
        for list in [
            &mut rep.default_client_scopes,
            &mut rep.optional_client_scopes,
        ]
        .into_iter()
        .flatten()
        {
            list.retain(|s| *s != name);
        }
        save_client(state, &ctx, c, &rep).await?;
    }
    let id = segs.get(1).to_string();
    change(state, &ctx, |a, _| {
        a.client_scopes.retain(|s| scope_id(s) != id);
        a.default_default_client_scopes.retain(|s| *s != name);
        a.default_optional_client_scopes.retain(|s| *s != name);
        a.scope_mappings
            .retain(|m| m.client_scope.as_deref() != Some(name.as_str()));
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET /default-default-client-scopes` or `/default-optional-client-scopes`.
pub async fn realm_defaults(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    optional: bool,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewRealm).await?;
    let a = &ctx.realm.access;
    let names = if optional {
        &a.default_optional_client_scopes
    } else {
        &a.default_default_client_scopes
    };
    Ok(axum::Json(brief(a, names)).into_response())
}

fn brief(a: &RealmAccess, names: &[String]) -> Vec<Value> {
    names
        .iter()
        .filter_map(|n| a.client_scopes.iter().find(|s| &s.name == n))
        .map(|s| json!({"id": scope_id(s), "name": s.name}))
        .collect()
}

/// `PUT` or `DELETE /default-(default|optional)-client-scopes/{id}`.
pub async fn set_realm_default(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    optional: bool,
    add: bool,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ManageRealm).await?;
    let name = scope_by_id(&ctx.realm.access, segs.get(1))?.name.clone();
    change(state, &ctx, |a, _| {
        // A scope is a default or an optional one of the realm, not both.
        a.default_default_client_scopes.retain(|s| *s != name);
        a.default_optional_client_scopes.retain(|s| *s != name);
        if add {
            let list = if optional {
                &mut a.default_optional_client_scopes
            } else {
                &mut a.default_default_client_scopes
            };
            list.push(name.clone());
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET /clients/{id}/(default|optional)-client-scopes`.
pub async fn client_scopes(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    optional: bool,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewClients).await?;
    let c = client_of(&ctx, segs.get(1))?;
    let names = if optional {
        &c.optional_client_scopes
    } else {
        &c.default_client_scopes
    };
    Ok(axum::Json(brief(&ctx.realm.access, names)).into_response())
}

/// `PUT` or `DELETE /clients/{id}/(default|optional)-client-scopes/{scope}`.
pub async fn set_client_scope(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    optional: bool,
    add: bool,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ManageClients).await?;
    let c = client_of(&ctx, segs.get(1))?;
    let name = scope_by_id(&ctx.realm.access, segs.get(2))?.name.clone();
    let mut rep = c.to_representation();
    let (list, other) = if optional {
        (
            &mut rep.optional_client_scopes,
            &mut rep.default_client_scopes,
        )
    } else {
        (
            &mut rep.default_client_scopes,
            &mut rep.optional_client_scopes,
        )
    };
    let list = list.get_or_insert_with(Vec::new);
    list.retain(|s| *s != name);
    if add {
        other.get_or_insert_with(Vec::new).retain(|s| *s != name);
        list.push(name);
    }
    save_client(state, &ctx, &c, &rep).await
}

async fn save_client(
    state: &AppState,
    ctx: &RealmContext,
    c: &Client,
    rep: &latchkey_domain::keycloak::ClientRepresentation,
) -> AdminResult<Response> {
    let mut new = Client::from_representation(
        c.id.clone(),
        c.realm_id.clone(),
        rep,
        c.client_roles.clone(),
    )
    .map_err(AdminError::bad_request)?;
    new.secret = c.secret.clone();
    state.store.update_client(new).await?;
    state.realms.invalidate(&ctx.realm.name);
    Ok(no_content())
}

/// Whose protocol mappers a request reads or changes: a client scope's or a client's.
#[derive(Clone, Copy)]
pub enum Owner {
    Scope,
    Client,
}

fn mappers_of(
    ctx: &RealmContext,
    owner: Owner,
    id: &str,
) -> AdminResult<(String, Vec<ProtocolMapperRepresentation>)> {
    Ok(match owner {
        Owner::Scope => {
            let s = scope_by_id(&ctx.realm.access, id)?;
            (
                s.name.clone(),
                s.protocol_mappers.clone().unwrap_or_default(),
            )
        }
        Owner::Client => {
            let c = client_of(ctx, id)?;
            (c.client_id.clone(), c.protocol_mappers.clone())
        }
    })
}

fn need(owner: Owner, write: bool) -> Permission {
    let _ = owner;
    if write {
        Permission::ManageClients
    } else {
        Permission::ViewClients
    }
}

/// `GET …/protocol-mappers/models` or `…/models/{mapper}` (`one`).
pub async fn mappers(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    owner: Owner,
    one: bool,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, need(owner, false)).await?;
    let (name, list) = mappers_of(&ctx, owner, segs.get(1))?;
    let all: Vec<Value> = list.iter().map(|m| mapper_json(&name, m)).collect();
    if !one {
        return Ok(axum::Json(all).into_response());
    }
    all.into_iter()
        .find(|m| m["id"] == segs.get(2))
        .map(|m| axum::Json(m).into_response())
        .ok_or_else(|| AdminError::not_found("Model not found"))
}

/// `POST …/models` (`None`), `PUT …/models/{id}` (`Some(true)`), `DELETE …/models/{id}`
/// (`Some(false)`).
pub async fn set_mapper(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    owner: Owner,
    put: Option<bool>,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, need(owner, true)).await?;
    let (name, mut list) = mappers_of(&ctx, owner, segs.get(1))?;
    let target = segs.get(2).to_string();
    let mut new_id = None;
    match put {
        None | Some(true) => {
            let bytes = body(state, &headers, b).await?;
            let mut rep: ProtocolMapperRepresentation = super::parse_json(&bytes)?;
            compiled(&rep)?;
            if put.is_none() {
                if list.iter().any(|m| m.name == rep.name) {
                    return Err(AdminError::conflict(format!(
                        "Protocol mapper exists with same name: {}",
                        rep.name
                    )));
                }
                let id = latchkey_application::provision::new_id();
                rep.id = Some(id.clone());
                new_id = Some(id);
                list.push(rep);
            } else {
                let slot = list
                    .iter_mut()
                    .find(|m| mapper_id(&name, m) == target)
                    .ok_or_else(|| AdminError::not_found("Model not found"))?;
                rep.id = Some(target.clone());
                *slot = rep;
            }
        }
        Some(false) => {
            let before = list.len();
            list.retain(|m| mapper_id(&name, m) != target);
            if list.len() == before {
                return Err(AdminError::not_found("Model not found"));
            }
        }
    }
    match owner {
        Owner::Scope => {
            let id = segs.get(1).to_string();
            change(state, &ctx, |a, _| {
                scope_mut(a, &id)?.protocol_mappers = Some(list.clone());
                Ok(())
            })
            .await?;
        }
        Owner::Client => {
            let c = client_of(&ctx, segs.get(1))?;
            let mut rep = c.to_representation();
            rep.protocol_mappers = Some(list);
            save_client(state, &ctx, &c, &rep).await?;
        }
    }
    Ok(match new_id {
        Some(id) => created(format!(
            "{}/admin/realms/{}/{}/{}/protocol-mappers/models/{id}",
            state.public_url,
            ctx.realm.name,
            match owner {
                Owner::Scope => "client-scopes",
                Owner::Client => "clients",
            },
            segs.get(1)
        )),
        None => no_content(),
    })
}
