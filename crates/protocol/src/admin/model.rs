//! What the admin resources of the realm model (roles, groups, client scopes, mappers) share:
//! path segments, one change of the realm's model, and role references.

use super::auth::Admin;
use super::shared::find;
use super::{AdminError, AdminResult};
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use latchkey_application::realm_model::{self, ChangeError};
use latchkey_application::realms::RealmContext;
use latchkey_domain::admin_access::Permission;
use latchkey_domain::keycloak::RoleRepresentation;
use latchkey_domain::model::apply::user_roles;
use latchkey_domain::model::RealmAccess;
use latchkey_domain::{Client, User};
use serde_json::{json, Value};
use std::sync::Arc;

/// The path's parameters, in order (`{realm}` first), and the query's.
pub struct Segs(pub Vec<String>, pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Segs {
    type Rejection = AdminError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(pairs) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| AdminError::not_found("the path contains a segment that is not valid"))?;
        let query = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|q| q.0)
            .unwrap_or_default();
        Ok(Segs(pairs.into_iter().map(|(_, v)| v).collect(), query))
    }
}

impl Segs {
    pub fn get(&self, i: usize) -> &str {
        self.0.get(i).map(String::as_str).unwrap_or_default()
    }

    pub fn query(&self, key: &str) -> Option<&str> {
        self.1
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `first`/`max` page of `items` (Keycloak's paging; `max` -1 or absent: all), after
    /// keeping those whose name contains `search` (case-insensitive) when given.
    pub fn page<T>(&self, items: Vec<T>, name: impl Fn(&T) -> &str) -> AdminResult<Vec<T>> {
        let number = |k: &str| -> AdminResult<Option<i64>> {
            self.query(k)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse::<i64>().map_err(|_| {
                        AdminError::bad_request(format!("query '{k}': '{v}' is not a number"))
                    })
                })
                .transpose()
        };
        let first = number("first")?.unwrap_or(0).max(0) as usize;
        let max = number("max")?.filter(|m| *m >= 0).map(|m| m as usize);
        let search = self
            .query("search")
            .filter(|s| !s.is_empty())
            .map(|s| s.trim_matches('*').to_lowercase());
        Ok(items
            .into_iter()
            .filter(|i| {
                search
                    .as_ref()
                    .is_none_or(|s| name(i).to_lowercase().contains(s))
            })
            .skip(first)
            .take(max.unwrap_or(usize::MAX))
            .collect())
    }
}

impl From<ChangeError> for AdminError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::NotFound(m) => AdminError::not_found(m),
            ChangeError::Invalid(m) => AdminError::bad_request(m),
            ChangeError::Conflict(m) => AdminError::conflict(m),
            ChangeError::Store(e) => e.into(),
        }
    }
}

/// The realm of a request, for a caller allowed `need`.
pub async fn realm(
    state: &AppState,
    admin: &Admin,
    segs: &Segs,
    need: Permission,
) -> AdminResult<Arc<RealmContext>> {
    find(state, admin, segs.get(0), need).await
}

/// Changes the realm's model in one compare-and-swap and drops the cached realm.
pub async fn change<T>(
    state: &AppState,
    ctx: &RealmContext,
    f: impl FnMut(&mut RealmAccess, &[Client]) -> Result<T, ChangeError>,
) -> AdminResult<T> {
    let out = realm_model::change(state.store.as_ref(), &ctx.realm.id, f).await?;
    state.realms.invalidate(&ctx.realm.name);
    Ok(out)
}

/// Whose roles a resource lists: the realm's, or a client's (by clientId).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Container {
    Realm,
    Client(String),
}

impl Container {
    pub fn roles<'a>(&self, a: &'a RealmAccess) -> &'a [RoleRepresentation] {
        match self {
            Container::Realm => &a.roles.realm,
            Container::Client(c) => a.roles.client.get(c).map(Vec::as_slice).unwrap_or(&[]),
        }
    }

    pub fn roles_mut<'a>(&self, a: &'a mut RealmAccess) -> &'a mut Vec<RoleRepresentation> {
        match self {
            Container::Realm => &mut a.roles.realm,
            Container::Client(c) => a.roles.client.entry(c.clone()).or_default(),
        }
    }

    pub fn describe(&self, role: &str) -> String {
        match self {
            Container::Realm => format!("realm role '{role}'"),
            Container::Client(c) => format!("role '{role}' of client '{c}'"),
        }
    }
}

/// A role as Keycloak's admin API shows it.
pub fn role_json(ctx: &RealmContext, container: &Container, r: &RoleRepresentation) -> Value {
    let (container_id, client_role) = match container {
        Container::Realm => (ctx.realm.id.clone(), false),
        Container::Client(c) => (
            ctx.client(c)
                .map(|c| c.id.clone())
                .unwrap_or_else(|| c.clone()),
            true,
        ),
    };
    json!({
        "id": r.id.clone().unwrap_or_else(|| role_id(container, &r.name)),
        "name": r.name,
        "description": r.description,
        "composite": r.composites.as_ref().is_some_and(|c| !c.is_empty()),
        "clientRole": client_role,
        "containerId": container_id,
        "attributes": r.attributes,
    })
}

/// The id of a role stored without one (before roles had ids): stable, derived from its name.
pub fn role_id(container: &Container, name: &str) -> String {
    let seed = match container {
        Container::Realm => format!("realm/{name}"),
        Container::Client(c) => format!("client/{c}/{name}"),
    };
    let h = latchkey_crypto::sha256(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_sha1_bytes(b).into_uuid().to_string()
}

/// Which role a reference in a request body names: by `id`, or by `name` with `clientRole`
/// and `containerId` (the client's UUID) for a client role.
pub fn resolve_ref(
    ctx: &RealmContext,
    access: &RealmAccess,
    v: &Value,
) -> Result<(Container, String), String> {
    if let Some(id) = v
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        if let Some(found) = find_by_id(access, id) {
            return Ok(found);
        }
    }
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a role is named by 'id' or 'name'")?;
    let container = if v.get("clientRole").and_then(Value::as_bool) == Some(true) {
        let cid = v.get("containerId").and_then(Value::as_str).unwrap_or("");
        let client = ctx
            .clients
            .values()
            .find(|c| c.id == cid || c.client_id == cid)
            .ok_or_else(|| format!("client '{cid}' (the role's containerId) not found"))?;
        Container::Client(client.client_id.clone())
    } else {
        Container::Realm
    };
    if !container.roles(access).iter().any(|r| r.name == name) {
        return Err(format!("{} not found", container.describe(name)));
    }
    Ok((container, name.to_string()))
}

/// A role by its id, among the realm's and every client's.
pub fn find_by_id(access: &RealmAccess, id: &str) -> Option<(Container, String)> {
    let by = |c: Container, list: &[RoleRepresentation]| {
        list.iter()
            .find(|r| r.id.as_deref() == Some(id) || role_id(&c, &r.name) == id)
            .map(|r| (c.clone(), r.name.clone()))
    };
    by(Container::Realm, &access.roles.realm).or_else(|| {
        access
            .roles
            .client
            .iter()
            .find_map(|(c, list)| by(Container::Client(c.clone()), list))
    })
}

/// `u` holding, directly, every role it holds through composites, groups and their parents —
/// what admin rights and the granting rule are judged on.
pub fn effective(ctx: &RealmContext, u: &User) -> User {
    // Direct mappings count whether or not the realm defines the role (roles of master's
    // `<realm>-realm` clients are matched by name); expansion adds what composites and groups
    // give.
    let mut out = User {
        groups: Vec::new(),
        ..u.clone()
    };
    add_expanded(ctx, &mut out, user_roles(&ctx.model, u));
    out
}

/// A user holding exactly what `refs` give, composites expanded: what a caller grants when it
/// maps these roles to a group, adds them to a composite, or adds a member to a group.
pub fn grants(ctx: &RealmContext, caller: &User, refs: &[(Container, String)]) -> User {
    let g = &ctx.model.roles;
    let ids = refs.iter().filter_map(|(c, n)| match c {
        Container::Realm => g.realm_role(n),
        Container::Client(id) => g.client_role(id, n),
    });
    let mut out = User {
        realm_roles: Vec::new(),
        client_roles: Default::default(),
        groups: Vec::new(),
        ..caller.clone()
    };
    add_expanded(ctx, &mut out, g.expand(ids));
    out
}

fn add_expanded(
    ctx: &RealmContext,
    out: &mut User,
    ids: Vec<latchkey_domain::model::roles::RoleId>,
) {
    for id in ids {
        let r = ctx.model.roles.role(id);
        let list = match &r.client {
            None => &mut out.realm_roles,
            Some(c) => out.client_roles.entry(c.clone()).or_default(),
        };
        if !list.contains(&r.name) {
            list.push(r.name.clone());
        }
    }
}

/// The references in a request body: a JSON list of role representations.
pub fn role_list(
    ctx: &RealmContext,
    access: &RealmAccess,
    body: &Value,
) -> AdminResult<Vec<(Container, String)>> {
    let list = body
        .as_array()
        .ok_or_else(|| AdminError::bad_request("body: expected a list of role representations"))?;
    list.iter()
        .map(|v| resolve_ref(ctx, access, v).map_err(AdminError::not_found))
        .collect()
}

/// The roles a mapping request's body names, all of container `c` (the realm's roles, or one
/// client's): a JSON list of role representations.
pub fn refs_of(
    ctx: &RealmContext,
    bytes: &[u8],
    c: &Container,
) -> AdminResult<Vec<(Container, String)>> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| AdminError::bad_request(format!("body: {e}")))?;
    let refs = role_list(ctx, &ctx.realm.access, &v)?;
    if let Some((other, n)) = refs.iter().find(|(rc, _)| rc != c) {
        return Err(AdminError::bad_request(format!(
            "{} is not one of the {} this mapping holds",
            other.describe(n),
            match c {
                Container::Realm => "realm's roles".to_string(),
                Container::Client(id) => format!("roles of client '{id}'"),
            }
        )));
    }
    Ok(refs)
}

/// Every user of the realm, service accounts included.
pub async fn all_users(state: &AppState, ctx: &RealmContext) -> AdminResult<Vec<User>> {
    let q = latchkey_storage::UserQuery {
        max: i64::MAX / 2,
        service_accounts: true,
        ..Default::default()
    };
    Ok(state.store.users(&ctx.realm.id, q).await?)
}
