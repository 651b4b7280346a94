//! Scope mappings (`/clients/{id}/scope-mappings…`, `/client-scopes/{id}/scope-mappings…`): the
//! roles a client, or a client scope in effect, lets into tokens when the client's scope is not
//! full.

use super::auth::Admin;
use super::model::{change, realm, refs_of, role_json, Container, Segs};
use super::scopes::scope_id;
use super::shared::{body, client_of};
use super::{no_content, AdminError, AdminResult};
use crate::state::AppState;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_application::realms::RealmContext;
use latchkey_domain::admin_access::Permission;
use latchkey_domain::keycloak::ScopeMappingRepresentation;
use latchkey_domain::model::RealmAccess;
use serde_json::{json, Value};

/// Whose scope mappings: a client (by clientId) or a client scope (by name).
#[derive(Clone, PartialEq)]
pub enum Of {
    Client(String),
    Scope(String),
}

impl Of {
    fn holds(&self, m: &ScopeMappingRepresentation) -> bool {
        match self {
            Of::Client(c) => m.client.as_deref() == Some(c),
            Of::Scope(s) => {
                m.client.is_none()
                    && (m.client_scope.as_deref() == Some(s)
                        || m.client_template.as_deref() == Some(s))
            }
        }
    }

    fn blank(&self) -> ScopeMappingRepresentation {
        match self {
            Of::Client(c) => ScopeMappingRepresentation {
                client: Some(c.clone()),
                ..Default::default()
            },
            Of::Scope(s) => ScopeMappingRepresentation {
                client_scope: Some(s.clone()),
                ..Default::default()
            },
        }
    }
}

/// `scope == true`: segment 1 is a client scope's id, else a client's UUID.
fn of(ctx: &RealmContext, segs: &Segs, scope: bool) -> AdminResult<Of> {
    if scope {
        ctx.realm
            .access
            .client_scopes
            .iter()
            .find(|s| scope_id(s) == segs.get(1))
            .map(|s| Of::Scope(s.name.clone()))
            .ok_or_else(|| AdminError::not_found("Could not find client scope"))
    } else {
        Ok(Of::Client(client_of(ctx, segs.get(1))?.client_id.clone()))
    }
}

fn list_of<'a>(a: &'a RealmAccess, c: &Container) -> &'a [ScopeMappingRepresentation] {
    match c {
        Container::Realm => &a.scope_mappings,
        Container::Client(id) => a
            .client_scope_mappings
            .get(id)
            .map(Vec::as_slice)
            .unwrap_or(&[]),
    }
}

fn names(a: &RealmAccess, c: &Container, who: &Of) -> Vec<String> {
    list_of(a, c)
        .iter()
        .filter(|m| who.holds(m))
        .flat_map(|m| m.roles.iter().cloned())
        .collect()
}

fn reps(ctx: &RealmContext, c: &Container, held: &[String]) -> Vec<Value> {
    c.roles(&ctx.realm.access)
        .iter()
        .filter(|r| held.contains(&r.name))
        .map(|r| role_json(ctx, c, r))
        .collect()
}

/// `GET …/scope-mappings`: realm and client mappings.
pub async fn all(state: &AppState, admin: Admin, segs: Segs, scope: bool) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewClients).await?;
    let who = of(&ctx, &segs, scope)?;
    let a = &ctx.realm.access;
    let mut clients = serde_json::Map::new();
    for cid in a.client_scope_mappings.keys() {
        let c = Container::Client(cid.clone());
        let mappings = reps(&ctx, &c, &names(a, &c, &who));
        if !mappings.is_empty() {
            let id = ctx.client(cid).map(|x| x.id.clone()).unwrap_or_default();
            clients.insert(
                cid.clone(),
                json!({"id": id, "client": cid, "mappings": mappings}),
            );
        }
    }
    let mut out =
        json!({"realmMappings": reps(&ctx, &Container::Realm, &names(a, &Container::Realm, &who))});
    if !clients.is_empty() {
        out["clientMappings"] = Value::Object(clients);
    }
    Ok(axum::Json(out).into_response())
}

fn container(ctx: &RealmContext, segs: &Segs, client: bool) -> AdminResult<Container> {
    Ok(if client {
        Container::Client(client_of(ctx, segs.get(2))?.client_id.clone())
    } else {
        Container::Realm
    })
}

/// `GET …/scope-mappings/realm` or `…/clients/{client}`.
pub async fn list(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    scope: bool,
    client: bool,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewClients).await?;
    let who = of(&ctx, &segs, scope)?;
    let c = container(&ctx, &segs, client)?;
    let held = names(&ctx.realm.access, &c, &who);
    Ok(axum::Json(reps(&ctx, &c, &held)).into_response())
}

/// `POST` (add) or `DELETE` (remove) scope mappings: a list of role representations.
#[allow(clippy::too_many_arguments)]
pub async fn set(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    scope: bool,
    client: bool,
    add: bool,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ManageClients).await?;
    let who = of(&ctx, &segs, scope)?;
    let c = container(&ctx, &segs, client)?;
    let bytes = body(state, &headers, b).await?;
    let refs = refs_of(&ctx, &bytes, &c)?;
    change(state, &ctx, |a, _| {
        let list = match &c {
            Container::Realm => &mut a.scope_mappings,
            Container::Client(id) => a.client_scope_mappings.entry(id.clone()).or_default(),
        };
        if !list.iter().any(|m| who.holds(m)) {
            list.push(who.blank());
        }
        for m in list.iter_mut().filter(|m| who.holds(m)) {
            for (_, n) in &refs {
                if add && !m.roles.contains(n) {
                    m.roles.push(n.clone());
                } else if !add {
                    m.roles.retain(|x| x != n);
                }
            }
        }
        list.retain(|m| !m.roles.is_empty());
        a.client_scope_mappings.retain(|_, l| !l.is_empty());
        Ok(())
    })
    .await?;
    Ok(no_content())
}
