//! Groups and sub-groups (`/groups`, `/group-by-path`), and users' memberships
//! (`/users/{id}/groups`). Users hold memberships by path; renaming or deleting a group
//! rewrites its members.

use super::auth::Admin;
use super::model::{all_users, change, realm, Segs};
use super::shared::{body, representation, user_of};
use super::{created, no_content, AdminError, AdminResult};
use crate::state::AppState;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_application::realm_model::ChangeError;
use latchkey_application::realms::RealmContext;
use latchkey_domain::admin_access::Permission;
use latchkey_domain::keycloak::GroupRepresentation;
use serde_json::{json, Value};

/// A group's id: its own, or (stored without one) derived from its path.
pub fn group_id(g: &GroupRepresentation, path: &str) -> String {
    g.id.clone().unwrap_or_else(|| {
        super::model::role_id(&super::model::Container::Realm, &format!("group:{path}"))
    })
}

/// The group with `id` under `list` (whose parent's path is `parent`), and its path.
pub fn find_group<'a>(
    list: &'a [GroupRepresentation],
    id: &str,
    parent: &str,
) -> Option<(&'a GroupRepresentation, String)> {
    for g in list {
        let path = format!("{parent}/{}", g.name);
        if group_id(g, &path) == id {
            return Some((g, path));
        }
        if let Some(found) = find_group(&g.sub_groups, id, &path) {
            return Some(found);
        }
    }
    None
}

pub fn find_group_mut<'a>(
    list: &'a mut [GroupRepresentation],
    id: &str,
    parent: &str,
) -> Option<&'a mut GroupRepresentation> {
    for g in list {
        let path = format!("{parent}/{}", g.name);
        if group_id(g, &path) == id {
            return Some(g);
        }
        if let Some(found) = find_group_mut(&mut g.sub_groups, id, &path) {
            return Some(found);
        }
    }
    None
}

fn group_json(g: &GroupRepresentation, path: &str, deep: bool) -> Value {
    let subs: Vec<Value> = g
        .sub_groups
        .iter()
        .map(|s| group_json(s, &format!("{path}/{}", s.name), deep))
        .collect();
    json!({
        "id": group_id(g, path),
        "name": g.name,
        "path": path,
        "subGroupCount": g.sub_groups.len(),
        "subGroups": if deep { subs } else { Vec::new() },
        "attributes": g.attributes,
        "realmRoles": g.realm_roles,
        "clientRoles": g.client_roles,
        "access": {"view": true, "manage": true, "manageMembership": true},
    })
}

fn parse_group(bytes: &[u8]) -> AdminResult<GroupRepresentation> {
    let g: GroupRepresentation = super::parse_json(bytes)?;
    if g.name.trim().is_empty() || g.name.contains('/') {
        return Err(AdminError::bad_request(
            "name: a group needs a name without '/'",
        ));
    }
    Ok(g)
}

fn lookup(ctx: &RealmContext, id: &str) -> AdminResult<(GroupRepresentation, String)> {
    find_group(&ctx.realm.access.groups, id, "")
        .map(|(g, p)| (g.clone(), p))
        .ok_or_else(|| AdminError::not_found("Could not find group by id"))
}

pub async fn list(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewUsers).await?;
    let top = segs.page(ctx.realm.access.groups.iter().collect(), |g| &g.name)?;
    let out: Vec<Value> = top
        .into_iter()
        .map(|g| group_json(g, &format!("/{}", g.name), true))
        .collect();
    Ok(axum::Json(out).into_response())
}

/// `GET /groups/count`: `{"count": n}` of the top-level groups (matching `search`).
pub async fn count(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewUsers).await?;
    let top = segs.page(ctx.realm.access.groups.iter().collect(), |g| &g.name)?;
    Ok(axum::Json(json!({"count": top.len()})).into_response())
}

pub async fn get(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewUsers).await?;
    let (g, path) = lookup(&ctx, segs.get(1))?;
    Ok(axum::Json(group_json(&g, &path, true)).into_response())
}

pub async fn by_path(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewUsers).await?;
    let want = format!("/{}", segs.get(1).trim_matches('/'));
    fn walk(list: &[GroupRepresentation], parent: &str, want: &str) -> Option<Value> {
        list.iter().find_map(|g| {
            let path = format!("{parent}/{}", g.name);
            if path == want {
                Some(group_json(g, &path, true))
            } else {
                walk(&g.sub_groups, &path, want)
            }
        })
    }
    walk(&ctx.realm.access.groups, "", &want)
        .map(|v| axum::Json(v).into_response())
        .ok_or_else(|| AdminError::not_found(format!("Group path does not exist: {want}")))
}

pub async fn children(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewUsers).await?;
    let (g, path) = lookup(&ctx, segs.get(1))?;
    let out: Vec<Value> = segs
        .page(g.sub_groups.iter().collect(), |s| &s.name)?
        .into_iter()
        .map(|s| group_json(s, &format!("{path}/{}", s.name), true))
        .collect();
    Ok(axum::Json(out).into_response())
}

/// `POST /groups` (top level) or `POST /groups/{id}/children`.
pub async fn create(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    child: bool,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ManageUsers).await?;
    let bytes = body(state, &headers, b).await?;
    let mut g = parse_group(&bytes)?;
    let id = latchkey_application::provision::new_id();
    g.id = Some(id.clone());
    g.path = None;
    g.sub_groups.clear();
    let parent = child.then(|| segs.get(1).to_string());
    change(state, &ctx, |access, _| {
        let siblings = match &parent {
            None => &mut access.groups,
            Some(pid) => {
                &mut find_group_mut(&mut access.groups, pid, "")
                    .ok_or_else(|| {
                        ChangeError::NotFound("Could not find parent group by id".into())
                    })?
                    .sub_groups
            }
        };
        if siblings.iter().any(|s| s.name == g.name) {
            return Err(ChangeError::Conflict(format!(
                "{} group named '{}' already exists.",
                if parent.is_none() {
                    "Top level"
                } else {
                    "Sibling"
                },
                g.name
            )));
        }
        siblings.push(g.clone());
        Ok(())
    })
    .await?;
    Ok(created(format!(
        "{}/admin/realms/{}/groups/{id}",
        state.public_url, ctx.realm.name
    )))
}

/// `PUT /groups/{id}`: name and attributes. A new name moves the members' paths with it.
pub async fn update(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    headers: HeaderMap,
    b: Body,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ManageUsers).await?;
    let (old, old_path) = lookup(&ctx, segs.get(1))?;
    let bytes = body(state, &headers, b).await?;
    let rep = parse_group(&bytes)?;
    let id = segs.get(1).to_string();
    let new_path = format!(
        "{}/{}",
        old_path.rsplit_once('/').map_or("", |p| p.0),
        rep.name
    );
    change(state, &ctx, |access, _| {
        let g = find_group_mut(&mut access.groups, &id, "")
            .ok_or_else(|| ChangeError::NotFound("Could not find group by id".into()))?;
        g.id = Some(id.clone());
        g.name = rep.name.clone();
        g.attributes = rep.attributes.clone();
        Ok(())
    })
    .await?;
    if old.name != rep.name {
        move_members(state, &ctx, &old_path, Some(&new_path)).await?;
    }
    Ok(no_content())
}

pub async fn delete(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ManageUsers).await?;
    let (_, path) = lookup(&ctx, segs.get(1))?;
    let id = segs.get(1).to_string();
    change(state, &ctx, |access, _| {
        fn remove(list: &mut Vec<GroupRepresentation>, id: &str, parent: &str) -> bool {
            let before = list.len();
            list.retain(|g| group_id(g, &format!("{parent}/{}", g.name)) != id);
            before != list.len()
                || list
                    .iter_mut()
                    .any(|g| remove(&mut g.sub_groups, id, &format!("{parent}/{}", g.name)))
        }
        if remove(&mut access.groups, &id, "") {
            Ok(())
        } else {
            Err(ChangeError::NotFound("Could not find group by id".into()))
        }
    })
    .await?;
    move_members(state, &ctx, &path, None).await?;
    Ok(no_content())
}

/// Rewrites the memberships under `from` (the group and its sub-groups) to `to`, or drops them.
async fn move_members(
    state: &AppState,
    ctx: &RealmContext,
    from: &str,
    to: Option<&str>,
) -> AdminResult<()> {
    for mut u in all_users(state, ctx).await? {
        let before = u.groups.clone();
        u.groups = u
            .groups
            .iter()
            .filter_map(|p| {
                let under = p == from || p.starts_with(&format!("{from}/"));
                match (under, to) {
                    (false, _) => Some(p.clone()),
                    (true, Some(to)) => Some(format!("{to}{}", &p[from.len()..])),
                    (true, None) => None,
                }
            })
            .collect();
        if u.groups != before {
            state.store.update_user(u).await?;
        }
    }
    Ok(())
}

pub async fn members(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewUsers).await?;
    let (_, path) = lookup(&ctx, segs.get(1))?;
    let users: Vec<latchkey_domain::User> = all_users(state, &ctx)
        .await?
        .into_iter()
        .filter(|u| u.groups.contains(&path))
        .collect();
    let out: Vec<Value> = segs
        .page(users, |u| &u.username)?
        .iter()
        .map(representation)
        .collect();
    Ok(axum::Json(out).into_response())
}

/// `GET /users/{id}/groups`.
pub async fn of_user(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewUsers).await?;
    let u = user_of(state, &ctx, segs.get(1)).await?;
    let mut out = Vec::new();
    for path in &u.groups {
        fn walk<'a>(
            list: &'a [GroupRepresentation],
            parent: &str,
            want: &str,
        ) -> Option<&'a GroupRepresentation> {
            list.iter().find_map(|g| {
                let p = format!("{parent}/{}", g.name);
                if p == want {
                    Some(g)
                } else {
                    walk(&g.sub_groups, &p, want)
                }
            })
        }
        if let Some(g) = walk(&ctx.realm.access.groups, "", path) {
            out.push(group_json(g, path, false));
        }
    }
    let out = segs.page(out, |g| g["name"].as_str().unwrap_or_default())?;
    Ok(axum::Json(out).into_response())
}

/// `PUT` (join) or `DELETE` (leave) `/users/{id}/groups/{group}`.
pub async fn membership(
    state: &AppState,
    admin: Admin,
    segs: Segs,
    join: bool,
) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ManageUsers).await?;
    let mut u = user_of(state, &ctx, segs.get(1)).await?;
    let (_, path) = lookup(&ctx, segs.get(2))?;
    let had = u.groups.contains(&path);
    if join && !had {
        // The member gets the group's roles and its parents': only a caller who could give
        // them may add members.
        let mut after = u.clone();
        after.groups.push(path.clone());
        admin.require_grantable(
            &ctx.realm.name,
            &super::model::effective(&ctx, &u),
            &super::model::effective(&ctx, &after),
        )?;
    }
    if join && !had {
        u.groups.push(path);
    } else if !join {
        u.groups.retain(|p| *p != path);
    }
    if join != had {
        state.store.update_user(u).await?;
    }
    Ok(no_content())
}
