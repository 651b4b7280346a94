//! Role mappings of users (`/users/{id}/role-mappings…`) and groups
//! (`/groups/{id}/role-mappings…`): the realm's roles and each client's, direct or effective.

use super::auth::Admin;
use super::groups::{find_group, find_group_mut};
use super::model::{
    all_users, change, effective, grants, realm, refs_of, role_json, Container, Segs,
};
use super::shared::{body, client_of, user_of};
use super::{no_content, AdminError, AdminResult};
use crate::state::AppState;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_application::realm_model::ChangeError;
use latchkey_application::realms::RealmContext;
use latchkey_domain::admin_access::Permission;
use latchkey_domain::keycloak::ScopeMappingRepresentation;
use latchkey_domain::model::apply::user_roles;
use latchkey_domain::User;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Whose mappings a request reads or changes.
#[derive(Clone, Copy, PartialEq)]
pub enum Holder {
    User,
    Group,
}

/// Realm roles (`None`) or a client's (by its UUID in the path at `client`).
fn container(ctx: &RealmContext, segs: &Segs, client: Option<usize>) -> AdminResult<Container> {
    Ok(match client {
        None => Container::Realm,
        Some(i) => Container::Client(client_of(ctx, segs.get(i))?.client_id.clone()),
    })
}

fn names_in<'a>(
    realm: &'a [String],
    clients: &'a BTreeMap<String, Vec<String>>,
    c: &Container,
) -> &'a [String] {
    match c {
        Container::Realm => realm,
        Container::Client(id) => clients.get(id).map(Vec::as_slice).unwrap_or(&[]),
    }
}

fn reps(ctx: &RealmContext, c: &Container, names: &[String]) -> Vec<Value> {
    c.roles(&ctx.realm.access)
        .iter()
        .filter(|r| names.contains(&r.name))
        .map(|r| role_json(ctx, c, r))
        .collect()
}

/// The mappings (direct, of one container) of the user or group at `segs[1]`.
async fn direct(
    state: &AppState,
    ctx: &RealmContext,
    holder: Holder,
    segs: &Segs,
) -> AdminResult<(Vec<String>, BTreeMap<String, Vec<String>>)> {
    match holder {
        Holder::User => {
            let u = user_of(state, ctx, segs.get(1)).await?;
            Ok((u.realm_roles, u.client_roles))
        }
        Holder::Group => {
            let g = find_group(&ctx.realm.access.groups, segs.get(1), "")
                .ok_or_else(|| AdminError::not_found("Could not find group by id"))?;
            Ok((g.0.realm_roles.clone(), g.0.client_roles.clone()))
        }
    }
}

fn need(holder: Holder, write: bool) -> Permission {
    match (holder, write) {
        (_, false) => Permission::ViewUsers,
        (_, true) => Permission::ManageUsers,
    }
}

/// `GET …/role-mappings`: every direct mapping, realm and clients.
pub async fn all(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    holder: Holder,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, need(holder, false)).await?;
    let (realm_names, client_names) = direct(state, &ctx, holder, &segs).await?;
    let mut clients = serde_json::Map::new();
    for (cid, names) in &client_names {
        let mappings = reps(&ctx, &Container::Client(cid.clone()), names);
        if mappings.is_empty() {
            continue;
        }
        let id = ctx.client(cid).map(|c| c.id.clone()).unwrap_or_default();
        clients.insert(
            cid.clone(),
            json!({"id": id, "client": cid, "mappings": mappings}),
        );
    }
    let mut out = json!({"realmMappings": reps(&ctx, &Container::Realm, &realm_names)});
    if !clients.is_empty() {
        out["clientMappings"] = Value::Object(clients);
    }
    Ok(axum::Json(out).into_response())
}

/// `GET …/realm`, `…/clients/{client}` (direct), `…/composite` (effective) or `…/available`.
pub async fn list(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    holder: Holder,
    client: Option<usize>,
    view: &'static str,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, need(holder, false)).await?;
    let c = container(&ctx, &segs, client)?;
    let (realm_names, client_names) = direct(state, &ctx, holder, &segs).await?;
    let held = names_in(&realm_names, &client_names, &c).to_vec();
    let names: Vec<String> = match view {
        "composite" => {
            let u = match holder {
                Holder::User => user_of(state, &ctx, segs.get(1)).await?,
                Holder::Group => {
                    let (_, path) = find_group(&ctx.realm.access.groups, segs.get(1), "")
                        .ok_or_else(|| AdminError::not_found("Could not find group by id"))?;
                    User {
                        realm_roles: vec![],
                        client_roles: Default::default(),
                        groups: vec![path],
                        ..admin.user.clone()
                    }
                }
            };
            user_roles(&ctx.model, &u)
                .into_iter()
                .map(|id| ctx.model.roles.role(id))
                .filter(|r| match &c {
                    Container::Realm => r.client.is_none(),
                    Container::Client(cid) => r.client.as_deref() == Some(cid),
                })
                .map(|r| r.name.clone())
                .collect()
        }
        "available" => c
            .roles(&ctx.realm.access)
            .iter()
            .map(|r| r.name.clone())
            .filter(|n| !held.contains(n))
            .collect(),
        _ => held,
    };
    Ok(axum::Json(reps(&ctx, &c, &names)).into_response())
}

/// `POST` (add) or `DELETE` (remove) mappings: a list of role representations.
#[allow(clippy::too_many_arguments)]
pub async fn set(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    holder: Holder,
    client: Option<usize>,
    add: bool,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, need(holder, true)).await?;
    let c = container(&ctx, &segs, client)?;
    let bytes = body(state, &headers, b).await?;
    let refs = refs_of(&ctx, &bytes, &c)?;
    let apply = |realm_roles: &mut Vec<String>, clients: &mut BTreeMap<String, Vec<String>>| {
        let list = match &c {
            Container::Realm => realm_roles,
            Container::Client(id) => clients.entry(id.clone()).or_default(),
        };
        for (_, n) in &refs {
            if add && !list.contains(n) {
                list.push(n.clone());
            } else if !add {
                list.retain(|x| x != n);
            }
        }
        clients.retain(|_, l| !l.is_empty());
    };
    match holder {
        Holder::User => {
            let before = user_of(state, &ctx, segs.get(1)).await?;
            let mut after = before.clone();
            apply(&mut after.realm_roles, &mut after.client_roles);
            admin.require_grantable(
                &ctx.realm.name,
                &effective(&ctx, &before),
                &effective(&ctx, &after),
            )?;
            state.store.update_user(after).await?;
        }
        Holder::Group => {
            if add {
                // Every member gets these roles: only a caller who could give them may.
                admin.require_may_hold(&ctx.realm.name, &grants(&ctx, &admin.user, &refs))?;
            }
            let id = segs.get(1).to_string();
            change(state, &ctx, |access, _| {
                let g = find_group_mut(&mut access.groups, &id, "")
                    .ok_or_else(|| ChangeError::NotFound("Could not find group by id".into()))?;
                apply(&mut g.realm_roles, &mut g.client_roles);
                Ok(())
            })
            .await?;
        }
    }
    Ok(no_content())
}

/// Removes a deleted role from every user holding it directly.
pub async fn forget_in_users(
    state: &AppState,
    ctx: &RealmContext,
    c: &Container,
    name: &str,
) -> AdminResult<()> {
    for mut u in all_users(state, ctx).await? {
        let before = (
            u.realm_roles.len(),
            u.client_roles.values().map(Vec::len).sum::<usize>(),
        );
        match c {
            Container::Realm => u.realm_roles.retain(|r| r != name),
            Container::Client(id) => {
                if let Some(l) = u.client_roles.get_mut(id) {
                    l.retain(|r| r != name);
                }
                u.client_roles.retain(|_, l| !l.is_empty());
            }
        }
        let after = (
            u.realm_roles.len(),
            u.client_roles.values().map(Vec::len).sum::<usize>(),
        );
        if before != after {
            state.store.update_user(u).await?;
        }
    }
    Ok(())
}

/// A client's roles follow the client: renamed with its clientId (`Some(new)`) or gone with
/// it (`None`) — from the realm's roles, composites, groups, scope mappings and every user.
pub async fn retarget_client(
    state: &AppState,
    ctx: &RealmContext,
    old: &str,
    new: Option<&str>,
) -> AdminResult<()> {
    fn rekey<V>(map: &mut BTreeMap<String, V>, old: &str, new: Option<&str>) {
        if let Some(v) = map.remove(old) {
            if let Some(n) = new {
                map.insert(n.to_string(), v);
            }
        }
    }
    fn groups(
        list: &mut [latchkey_domain::keycloak::GroupRepresentation],
        old: &str,
        new: Option<&str>,
    ) {
        for g in list {
            rekey(&mut g.client_roles, old, new);
            groups(&mut g.sub_groups, old, new);
        }
    }
    // Part of the client's own change (audited there), not a change of its own.
    latchkey_application::realm_model::change(state.store.as_ref(), &ctx.realm.id, |a, _| {
        rekey(&mut a.roles.client, old, new);
        let all = a
            .roles
            .realm
            .iter_mut()
            .chain(a.roles.client.values_mut().flatten());
        for r in all {
            if let Some(c) = r.composites.as_mut() {
                rekey(&mut c.client, old, new);
            }
        }
        groups(&mut a.groups, old, new);
        rekey(&mut a.client_scope_mappings, old, new);
        let follow = |list: &mut Vec<ScopeMappingRepresentation>| {
            list.retain_mut(|m| match (m.client.as_deref(), new) {
                (Some(c), Some(n)) if c == old => {
                    m.client = Some(n.to_string());
                    true
                }
                (Some(c), None) => c != old,
                _ => true,
            })
        };
        follow(&mut a.scope_mappings);
        a.client_scope_mappings.values_mut().for_each(follow);
        Ok(())
    })
    .await?;
    for mut u in all_users(state, ctx).await? {
        if u.client_roles.contains_key(old) {
            rekey(&mut u.client_roles, old, new);
            state.store.update_user(u).await?;
        }
    }
    Ok(())
}
