//! Realm roles (`/roles`) and client roles (`/clients/{id}/roles`), with their composites.

use super::auth::Admin;
use super::model::{self, change, realm, role_json, role_list, Container, Segs};
use super::shared::{body, client_of};
use super::{created, no_content, AdminError, AdminResult};
use crate::state::AppState;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_application::realm_model::ChangeError;
use latchkey_application::realms::RealmContext;
use latchkey_domain::admin_access::Permission;
use latchkey_domain::keycloak::{CompositesRepresentation, RoleRepresentation};
use latchkey_domain::model::RealmAccess;
use serde_json::Value;
use std::sync::Arc;

/// Where the roles of a request live: segment 1 is a client's UUID on `/clients/{id}/roles`.
struct At {
    ctx: Arc<RealmContext>,
    container: Container,
    /// The index of the role name among the path's segments.
    name: usize,
}

async fn at(
    state: &AppState,
    admin: &Admin,
    segs: &Segs,
    client: bool,
    write: bool,
) -> AdminResult<At> {
    let need = match (client, write) {
        (false, false) => Permission::ViewRealm,
        (false, true) => Permission::ManageRealm,
        (true, false) => Permission::ViewClients,
        (true, true) => Permission::ManageClients,
    };
    let ctx = realm(state, admin, segs, need).await?;
    let (container, name) = if client {
        let c = client_of(&ctx, segs.get(1))?;
        (Container::Client(c.client_id.clone()), 2)
    } else {
        (Container::Realm, 1)
    };
    Ok(At {
        ctx,
        container,
        name,
    })
}

fn role<'a>(a: &'a RealmAccess, c: &Container, name: &str) -> AdminResult<&'a RoleRepresentation> {
    c.roles(a)
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| AdminError::not_found(format!("Could not find {}", c.describe(name))))
}

fn json_body(bytes: &[u8]) -> AdminResult<Value> {
    serde_json::from_slice(bytes).map_err(|e| AdminError::bad_request(format!("body: {e}")))
}

pub async fn list(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    client: bool,
) -> AdminResult<Response> {
    let a = at(state, &admin, &segs, client, false).await?;
    let roles = segs.page(
        a.container.roles(&a.ctx.realm.access).iter().collect(),
        |r| &r.name,
    )?;
    let out: Vec<Value> = roles
        .into_iter()
        .map(|r| role_json(&a.ctx, &a.container, r))
        .collect();
    Ok(axum::Json(out).into_response())
}

pub async fn get(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    client: bool,
) -> AdminResult<Response> {
    let a = at(state, &admin, &segs, client, false).await?;
    let r = role(&a.ctx.realm.access, &a.container, segs.get(a.name))?;
    Ok(axum::Json(role_json(&a.ctx, &a.container, r)).into_response())
}

pub async fn create(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    client: bool,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let a = at(state, &admin, &segs, client, true).await?;
    let bytes = body(state, &headers, b).await?;
    let mut rep: RoleRepresentation = super::parse_json(&bytes)?;
    let name = rep.name.trim().to_string();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(AdminError::bad_request(
            "name: a role needs a name without control characters",
        ));
    }
    rep.name = name.clone();
    rep.id = Some(latchkey_application::provision::new_id());
    rep.client_role = None;
    rep.container_id = None;
    let container = a.container.clone();
    change(state, &a.ctx, |access, _| {
        let list = container.roles_mut(access);
        if list.iter().any(|r| r.name == rep.name) {
            return Err(ChangeError::Conflict(format!(
                "Role with name {} already exists",
                rep.name
            )));
        }
        list.push(rep.clone());
        Ok(())
    })
    .await?;
    let base = format!("{}/admin/realms/{}", state.public_url, a.ctx.realm.name);
    Ok(created(match &a.container {
        Container::Realm => format!("{base}/roles/{name}"),
        Container::Client(_) => format!("{base}/clients/{}/roles/{name}", segs.get(1)),
    }))
}

pub async fn update(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    client: bool,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let a = at(state, &admin, &segs, client, true).await?;
    let name = segs.get(a.name).to_string();
    role(&a.ctx.realm.access, &a.container, &name)?;
    let bytes = body(state, &headers, b).await?;
    let rep: RoleRepresentation = super::parse_json(&bytes)?;
    if !rep.name.is_empty() && rep.name != name {
        return Err(AdminError::bad_request(
            "name: latchkey does not rename roles (users and groups hold roles by name); create the new role, move the mappings, delete the old one",
        ));
    }
    let container = a.container.clone();
    change(state, &a.ctx, |access, _| {
        let r = container
            .roles_mut(access)
            .iter_mut()
            .find(|r| r.name == name)
            .ok_or_else(|| ChangeError::NotFound(container.describe(&name)))?;
        r.description = rep.description.clone();
        r.attributes = rep.attributes.clone();
        Ok(())
    })
    .await?;
    Ok(no_content())
}

pub async fn delete(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    client: bool,
) -> AdminResult<Response> {
    let a = at(state, &admin, &segs, client, true).await?;
    let name = segs.get(a.name).to_string();
    role(&a.ctx.realm.access, &a.container, &name)?;
    if a.container == Container::Realm && name == a.ctx.realm.default_role() {
        return Err(AdminError::bad_request(
            "the realm's default role cannot be deleted",
        ));
    }
    let container = a.container.clone();
    change(state, &a.ctx, |access, _| {
        forget_role(access, &container, &name);
        Ok(())
    })
    .await?;
    super::role_mappings::forget_in_users(state, &a.ctx, &a.container, &name).await?;
    Ok(no_content())
}

/// Removes a role and every reference the realm's model holds to it.
fn forget_role(access: &mut RealmAccess, c: &Container, name: &str) {
    c.roles_mut(access).retain(|r| r.name != name);
    let drop = |comps: &mut CompositesRepresentation| match c {
        Container::Realm => comps.realm.retain(|r| r != name),
        Container::Client(id) => {
            if let Some(l) = comps.client.get_mut(id) {
                l.retain(|r| r != name);
            }
        }
    };
    let all = access
        .roles
        .realm
        .iter_mut()
        .chain(access.roles.client.values_mut().flatten());
    for r in all {
        if let Some(comps) = r.composites.as_mut() {
            drop(comps);
        }
    }
    fn groups(
        list: &mut [latchkey_domain::keycloak::GroupRepresentation],
        c: &Container,
        name: &str,
    ) {
        for g in list {
            match c {
                Container::Realm => g.realm_roles.retain(|r| r != name),
                Container::Client(id) => {
                    if let Some(l) = g.client_roles.get_mut(id) {
                        l.retain(|r| r != name);
                    }
                }
            }
            groups(&mut g.sub_groups, c, name);
        }
    }
    groups(&mut access.groups, c, name);
    match c {
        Container::Realm => access
            .scope_mappings
            .iter_mut()
            .for_each(|m| m.roles.retain(|r| r != name)),
        Container::Client(id) => {
            if let Some(list) = access.client_scope_mappings.get_mut(id) {
                list.iter_mut().for_each(|m| m.roles.retain(|r| r != name));
            }
        }
    }
}

/// `GET …/composites` (all), `…/composites/realm`, `…/composites/clients/{client}`.
pub async fn composites(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    client: bool,
    only: Option<bool>,
) -> AdminResult<Response> {
    let a = at(state, &admin, &segs, client, false).await?;
    let r = role(&a.ctx.realm.access, &a.container, segs.get(a.name))?;
    let comps = r.composites.clone().unwrap_or_default();
    let mut out = Vec::new();
    if only != Some(false) {
        for n in &comps.realm {
            if let Ok(r) = role(&a.ctx.realm.access, &Container::Realm, n) {
                out.push(role_json(&a.ctx, &Container::Realm, r));
            }
        }
    }
    if only != Some(true) {
        let wanted = match only {
            Some(false) => Some(client_of(&a.ctx, segs.get(a.name + 1))?.client_id.clone()),
            _ => None,
        };
        for (cid, names) in &comps.client {
            if wanted.as_ref().is_some_and(|w| w != cid) {
                continue;
            }
            let c = Container::Client(cid.clone());
            for n in names {
                if let Ok(r) = role(&a.ctx.realm.access, &c, n) {
                    out.push(role_json(&a.ctx, &c, r));
                }
            }
        }
    }
    Ok(axum::Json(out).into_response())
}

/// `POST` (add) or `DELETE` (remove) composites: a list of role representations.
pub async fn set_composites(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    client: bool,
    add: bool,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let a = at(state, &admin, &segs, client, true).await?;
    let name = segs.get(a.name).to_string();
    role(&a.ctx.realm.access, &a.container, &name)?;
    let bytes = body(state, &headers, b).await?;
    let refs = role_list(&a.ctx, &a.ctx.realm.access, &json_body(&bytes)?)?;
    if add {
        // Whoever holds the role (or gets it later) gets these: only a caller who could give
        // them may add them.
        admin.require_may_hold(
            &a.ctx.realm.name,
            &model::grants(&a.ctx, &admin.user, &refs),
        )?;
    }
    let container = a.container.clone();
    change(state, &a.ctx, |access, _| {
        let r = container
            .roles_mut(access)
            .iter_mut()
            .find(|r| r.name == name)
            .ok_or_else(|| ChangeError::NotFound(container.describe(&name)))?;
        let comps = r.composites.get_or_insert_with(Default::default);
        for (c, n) in &refs {
            let list = match c {
                Container::Realm => &mut comps.realm,
                Container::Client(id) => comps.client.entry(id.clone()).or_default(),
            };
            if add && !list.contains(n) {
                list.push(n.clone());
            } else if !add {
                list.retain(|x| x != n);
            }
        }
        comps.client.retain(|_, l| !l.is_empty());
        r.composite = Some(!comps.is_empty());
        Ok(())
    })
    .await?;
    Ok(no_content())
}

pub use model::role_id;

/// The path `/roles-by-id/{id}…` names a role by id: the same request on the role's own path
/// (`Segs` as the realm-role or client-role routes have them) and whether it is a client role.
pub async fn by_id(state: &AppState, admin: &Admin, segs: &Segs) -> AdminResult<(Segs, bool)> {
    let ctx = realm(state, admin, segs, Permission::ViewRealm)
        .await
        .or(realm(state, admin, segs, Permission::ViewClients).await)?;
    let (c, name) = model::find_by_id(&ctx.realm.access, segs.get(1))
        .ok_or_else(|| AdminError::not_found("Could not find role with id"))?;
    let realm_name = segs.get(0).to_string();
    Ok(match c {
        Container::Realm => (Segs(vec![realm_name, name], segs.1.clone()), false),
        Container::Client(cid) => {
            let uuid = ctx
                .client(&cid)
                .map(|c| c.id.clone())
                .ok_or_else(|| AdminError::not_found("Could not find role with id"))?;
            (Segs(vec![realm_name, uuid, name], segs.1.clone()), true)
        }
    })
}

/// `GET …/roles/{role}/users`: the users holding the role directly.
pub async fn users(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    client: bool,
) -> AdminResult<Response> {
    let a = at(state, &admin, &segs, client, false).await?;
    admin.require(&a.ctx.realm.name, Permission::ViewUsers)?;
    let name = segs.get(a.name).to_string();
    role(&a.ctx.realm.access, &a.container, &name)?;
    let holders: Vec<latchkey_domain::User> = model::all_users(state, &a.ctx)
        .await?
        .into_iter()
        .filter(|u| match &a.container {
            Container::Realm => u.realm_roles.contains(&name),
            Container::Client(c) => u.client_roles.get(c).is_some_and(|l| l.contains(&name)),
        })
        .collect();
    let out: Vec<Value> = segs
        .page(holders, |u| &u.username)?
        .iter()
        .map(super::shared::representation)
        .collect();
    Ok(axum::Json(out).into_response())
}
