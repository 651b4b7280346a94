//! The routes of the realm model's admin resources: roles, role mappings, groups, client
//! scopes, protocol mappers and keys. One line per operation, as Keycloak names it.

use super::auth::Admin;
use super::model::Segs;
use super::role_mappings::Holder;
use super::routes::{op, Builder};
use super::scopes::Owner;
use super::{groups, keys, role_mappings as rm, roles, scope_mappings as sm, scopes};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use std::sync::Arc;

/// A handler from a call of one of the resources' functions: `(state, admin, segments)` or
/// `(state, admin, segments, headers, body)` in scope.
macro_rules! h {
    (|$s:ident, $a:ident, $p:ident| $call:expr) => {
        |State($s): State<Arc<AppState>>, $a: Admin, $p: Segs| async move { $call.await }
    };
    (|$s:ident, $a:ident, $p:ident, $hd:ident, $b:ident| $call:expr) => {
        |State($s): State<Arc<AppState>>, $a: Admin, $p: Segs, $hd: HeaderMap, $b: Body| async move {
            $call.await
        }
    };
}

const R: &str = "/admin/realms/{realm}";

fn p(tail: &str) -> &'static str {
    Box::leak(format!("{R}{tail}").into_boxed_str())
}

#[rustfmt::skip]
pub fn add(b: Builder) -> Builder {
    let none: &'static [&'static str] = &[];
    b
    // Realm roles.
    .add(op("GET", p("/roles"), "List realm roles", None, (200, Some("RoleList")), none), h!(|s, a, p| roles::list(&s, a, p, false)))
    .add(op("POST", p("/roles"), "Create a realm role", Some("Role"), (201, None), none), h!(|s, a, p, hd, b| roles::create(&s, a, p, false, hd, b)))
    .add(op("GET", p("/roles/{role}"), "Get a realm role", None, (200, Some("Role")), none), h!(|s, a, p| roles::get(&s, a, p, false)))
    .add(op("PUT", p("/roles/{role}"), "Update a realm role (description, attributes)", Some("Role"), (204, None), none), h!(|s, a, p, hd, b| roles::update(&s, a, p, false, hd, b)))
    .add(op("DELETE", p("/roles/{role}"), "Delete a realm role", None, (204, None), none), h!(|s, a, p| roles::delete(&s, a, p, false)))
    .add(op("GET", p("/roles/{role}/composites"), "A realm role's composites", None, (200, Some("RoleList")), none), h!(|s, a, p| roles::composites(&s, a, p, false, None)))
    .add(op("POST", p("/roles/{role}/composites"), "Add composites to a realm role", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| roles::set_composites(&s, a, p, false, true, hd, b)))
    .add(op("DELETE", p("/roles/{role}/composites"), "Remove composites of a realm role", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| roles::set_composites(&s, a, p, false, false, hd, b)))
    .add(op("GET", p("/roles/{role}/composites/realm"), "A realm role's realm composites", None, (200, Some("RoleList")), none), h!(|s, a, p| roles::composites(&s, a, p, false, Some(true))))
    .add(op("GET", p("/roles/{role}/composites/clients/{client}"), "A realm role's composites of a client", None, (200, Some("RoleList")), none), h!(|s, a, p| roles::composites(&s, a, p, false, Some(false))))
    .add(op("GET", p("/roles/{role}/users"), "Users holding a realm role", None, (200, Some("UserList")), none), h!(|s, a, p| roles::users(&s, a, p, false)))
    // Roles by id.
    .add(op("GET", p("/roles-by-id/{id}"), "Get a role by id", None, (200, Some("Role")), none), h!(|s, a, p| async { let (q, c) = roles::by_id(&s, &a, &p).await?; roles::get(&s, a, q, c).await }))
    .add(op("PUT", p("/roles-by-id/{id}"), "Update a role by id", Some("Role"), (204, None), none), h!(|s, a, p, hd, b| async { let (q, c) = roles::by_id(&s, &a, &p).await?; roles::update(&s, a, q, c, hd, b).await }))
    .add(op("DELETE", p("/roles-by-id/{id}"), "Delete a role by id", None, (204, None), none), h!(|s, a, p| async { let (q, c) = roles::by_id(&s, &a, &p).await?; roles::delete(&s, a, q, c).await }))
    .add(op("GET", p("/roles-by-id/{id}/composites"), "A role's composites, by id", None, (200, Some("RoleList")), none), h!(|s, a, p| async { let (q, c) = roles::by_id(&s, &a, &p).await?; roles::composites(&s, a, q, c, None).await }))
    .add(op("POST", p("/roles-by-id/{id}/composites"), "Add composites to a role, by id", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| async { let (q, c) = roles::by_id(&s, &a, &p).await?; roles::set_composites(&s, a, q, c, true, hd, b).await }))
    .add(op("DELETE", p("/roles-by-id/{id}/composites"), "Remove composites of a role, by id", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| async { let (q, c) = roles::by_id(&s, &a, &p).await?; roles::set_composites(&s, a, q, c, false, hd, b).await }))
    // Client roles.
    .add(op("GET", p("/clients/{id}/roles"), "List a client's roles", None, (200, Some("RoleList")), none), h!(|s, a, p| roles::list(&s, a, p, true)))
    .add(op("POST", p("/clients/{id}/roles"), "Create a client role", Some("Role"), (201, None), none), h!(|s, a, p, hd, b| roles::create(&s, a, p, true, hd, b)))
    .add(op("GET", p("/clients/{id}/roles/{role}"), "Get a client role", None, (200, Some("Role")), none), h!(|s, a, p| roles::get(&s, a, p, true)))
    .add(op("PUT", p("/clients/{id}/roles/{role}"), "Update a client role", Some("Role"), (204, None), none), h!(|s, a, p, hd, b| roles::update(&s, a, p, true, hd, b)))
    .add(op("DELETE", p("/clients/{id}/roles/{role}"), "Delete a client role", None, (204, None), none), h!(|s, a, p| roles::delete(&s, a, p, true)))
    .add(op("GET", p("/clients/{id}/roles/{role}/composites"), "A client role's composites", None, (200, Some("RoleList")), none), h!(|s, a, p| roles::composites(&s, a, p, true, None)))
    .add(op("POST", p("/clients/{id}/roles/{role}/composites"), "Add composites to a client role", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| roles::set_composites(&s, a, p, true, true, hd, b)))
    .add(op("DELETE", p("/clients/{id}/roles/{role}/composites"), "Remove composites of a client role", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| roles::set_composites(&s, a, p, true, false, hd, b)))
    .add(op("GET", p("/clients/{id}/roles/{role}/composites/realm"), "A client role's realm composites", None, (200, Some("RoleList")), none), h!(|s, a, p| roles::composites(&s, a, p, true, Some(true))))
    .add(op("GET", p("/clients/{id}/roles/{role}/composites/clients/{client}"), "A client role's composites of a client", None, (200, Some("RoleList")), none), h!(|s, a, p| roles::composites(&s, a, p, true, Some(false))))
    .add(op("GET", p("/clients/{id}/roles/{role}/users"), "Users holding a client role", None, (200, Some("UserList")), none), h!(|s, a, p| roles::users(&s, a, p, true)))
    // Scope mappings of clients and client scopes.
    .add(op("GET", p("/clients/{id}/scope-mappings"), "A client's scope mappings", None, (200, Some("RoleMappings")), none), h!(|s, a, p| sm::all(&s, a, p, false)))
    .add(op("GET", p("/clients/{id}/scope-mappings/realm"), "A client's realm scope mappings", None, (200, Some("RoleList")), none), h!(|s, a, p| sm::list(&s, a, p, false, false)))
    .add(op("POST", p("/clients/{id}/scope-mappings/realm"), "Add realm roles to a client's scope", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| sm::set(&s, a, p, false, false, true, hd, b)))
    .add(op("DELETE", p("/clients/{id}/scope-mappings/realm"), "Remove realm roles from a client's scope", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| sm::set(&s, a, p, false, false, false, hd, b)))
    .add(op("GET", p("/clients/{id}/scope-mappings/clients/{client}"), "A client's scope mappings of a client's roles", None, (200, Some("RoleList")), none), h!(|s, a, p| sm::list(&s, a, p, false, true)))
    .add(op("POST", p("/clients/{id}/scope-mappings/clients/{client}"), "Add client roles to a client's scope", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| sm::set(&s, a, p, false, true, true, hd, b)))
    .add(op("DELETE", p("/clients/{id}/scope-mappings/clients/{client}"), "Remove client roles from a client's scope", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| sm::set(&s, a, p, false, true, false, hd, b)))
    .add(op("GET", p("/client-scopes/{id}/scope-mappings"), "A client scope's scope mappings", None, (200, Some("RoleMappings")), none), h!(|s, a, p| sm::all(&s, a, p, true)))
    .add(op("GET", p("/client-scopes/{id}/scope-mappings/realm"), "A client scope's realm scope mappings", None, (200, Some("RoleList")), none), h!(|s, a, p| sm::list(&s, a, p, true, false)))
    .add(op("POST", p("/client-scopes/{id}/scope-mappings/realm"), "Add realm roles to a client scope", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| sm::set(&s, a, p, true, false, true, hd, b)))
    .add(op("DELETE", p("/client-scopes/{id}/scope-mappings/realm"), "Remove realm roles from a client scope", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| sm::set(&s, a, p, true, false, false, hd, b)))
    .add(op("GET", p("/client-scopes/{id}/scope-mappings/clients/{client}"), "A client scope's mappings of a client's roles", None, (200, Some("RoleList")), none), h!(|s, a, p| sm::list(&s, a, p, true, true)))
    .add(op("POST", p("/client-scopes/{id}/scope-mappings/clients/{client}"), "Add client roles to a client scope", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| sm::set(&s, a, p, true, true, true, hd, b)))
    .add(op("DELETE", p("/client-scopes/{id}/scope-mappings/clients/{client}"), "Remove client roles from a client scope", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| sm::set(&s, a, p, true, true, false, hd, b)))
    // Users' role mappings.
    .add(op("GET", p("/users/{id}/role-mappings"), "A user's role mappings", None, (200, Some("RoleMappings")), none), h!(|s, a, p| rm::all(&s, a, p, Holder::User)))
    .add(op("GET", p("/users/{id}/role-mappings/realm"), "A user's realm roles", None, (200, Some("RoleList")), none), h!(|s, a, p| rm::list(&s, a, p, Holder::User, None, "direct")))
    .add(op("POST", p("/users/{id}/role-mappings/realm"), "Give a user realm roles", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| rm::set(&s, a, p, Holder::User, None, true, hd, b)))
    .add(op("DELETE", p("/users/{id}/role-mappings/realm"), "Take realm roles from a user", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| rm::set(&s, a, p, Holder::User, None, false, hd, b)))
    .add(op("GET", p("/users/{id}/role-mappings/realm/composite"), "A user's effective realm roles", None, (200, Some("RoleList")), none), h!(|s, a, p| rm::list(&s, a, p, Holder::User, None, "composite")))
    .add(op("GET", p("/users/{id}/role-mappings/realm/available"), "Realm roles a user does not hold", None, (200, Some("RoleList")), none), h!(|s, a, p| rm::list(&s, a, p, Holder::User, None, "available")))
    .add(op("GET", p("/users/{id}/role-mappings/clients/{client}"), "A user's roles of a client", None, (200, Some("RoleList")), none), h!(|s, a, p| rm::list(&s, a, p, Holder::User, Some(2), "direct")))
    .add(op("POST", p("/users/{id}/role-mappings/clients/{client}"), "Give a user client roles", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| rm::set(&s, a, p, Holder::User, Some(2), true, hd, b)))
    .add(op("DELETE", p("/users/{id}/role-mappings/clients/{client}"), "Take client roles from a user", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| rm::set(&s, a, p, Holder::User, Some(2), false, hd, b)))
    .add(op("GET", p("/users/{id}/role-mappings/clients/{client}/composite"), "A user's effective roles of a client", None, (200, Some("RoleList")), none), h!(|s, a, p| rm::list(&s, a, p, Holder::User, Some(2), "composite")))
    .add(op("GET", p("/users/{id}/role-mappings/clients/{client}/available"), "Client roles a user does not hold", None, (200, Some("RoleList")), none), h!(|s, a, p| rm::list(&s, a, p, Holder::User, Some(2), "available")))
    // Groups.
    .add(op("GET", p("/groups"), "List groups", None, (200, Some("GroupList")), none), h!(|s, a, p| groups::list(&s, a, p)))
    .add(op("POST", p("/groups"), "Create a top-level group", Some("Group"), (201, None), none), h!(|s, a, p, hd, b| groups::create(&s, a, p, false, hd, b)))
    .add(op("GET", p("/groups/count"), "Count top-level groups", None, (200, Some("GroupCount")), none), h!(|s, a, p| groups::count(&s, a, p)))
    .add(op("GET", p("/groups/{id}"), "Get a group", None, (200, Some("Group")), none), h!(|s, a, p| groups::get(&s, a, p)))
    .add(op("PUT", p("/groups/{id}"), "Update a group (name, attributes)", Some("Group"), (204, None), none), h!(|s, a, p, hd, b| groups::update(&s, a, p, hd, b)))
    .add(op("DELETE", p("/groups/{id}"), "Delete a group and its sub-groups", None, (204, None), none), h!(|s, a, p| groups::delete(&s, a, p)))
    .add(op("GET", p("/groups/{id}/children"), "A group's sub-groups", None, (200, Some("GroupList")), none), h!(|s, a, p| groups::children(&s, a, p)))
    .add(op("POST", p("/groups/{id}/children"), "Create a sub-group", Some("Group"), (201, None), none), h!(|s, a, p, hd, b| groups::create(&s, a, p, true, hd, b)))
    .add(op("GET", p("/groups/{id}/members"), "A group's members", None, (200, Some("UserList")), none), h!(|s, a, p| groups::members(&s, a, p)))
    .add(op("GET", p("/group-by-path/{*path}"), "Get a group by its path", None, (200, Some("Group")), none), h!(|s, a, p| groups::by_path(&s, a, p)))
    .add(op("GET", p("/groups/{id}/role-mappings"), "A group's role mappings", None, (200, Some("RoleMappings")), none), h!(|s, a, p| rm::all(&s, a, p, Holder::Group)))
    .add(op("GET", p("/groups/{id}/role-mappings/realm"), "A group's realm roles", None, (200, Some("RoleList")), none), h!(|s, a, p| rm::list(&s, a, p, Holder::Group, None, "direct")))
    .add(op("POST", p("/groups/{id}/role-mappings/realm"), "Give a group realm roles", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| rm::set(&s, a, p, Holder::Group, None, true, hd, b)))
    .add(op("DELETE", p("/groups/{id}/role-mappings/realm"), "Take realm roles from a group", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| rm::set(&s, a, p, Holder::Group, None, false, hd, b)))
    .add(op("GET", p("/groups/{id}/role-mappings/clients/{client}"), "A group's roles of a client", None, (200, Some("RoleList")), none), h!(|s, a, p| rm::list(&s, a, p, Holder::Group, Some(2), "direct")))
    .add(op("POST", p("/groups/{id}/role-mappings/clients/{client}"), "Give a group client roles", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| rm::set(&s, a, p, Holder::Group, Some(2), true, hd, b)))
    .add(op("DELETE", p("/groups/{id}/role-mappings/clients/{client}"), "Take client roles from a group", Some("RoleList"), (204, None), none), h!(|s, a, p, hd, b| rm::set(&s, a, p, Holder::Group, Some(2), false, hd, b)))
    .add(op("GET", p("/groups/{id}/role-mappings/clients/{client}/composite"), "A group's effective roles of a client", None, (200, Some("RoleList")), none), h!(|s, a, p| rm::list(&s, a, p, Holder::Group, Some(2), "composite")))
    .add(op("GET", p("/groups/{id}/role-mappings/realm/composite"), "A group's effective realm roles", None, (200, Some("RoleList")), none), h!(|s, a, p| rm::list(&s, a, p, Holder::Group, None, "composite")))
    .add(op("GET", p("/users/{id}/groups"), "A user's groups", None, (200, Some("GroupList")), none), h!(|s, a, p| groups::of_user(&s, a, p)))
    .add(op("PUT", p("/users/{id}/groups/{group}"), "Add a user to a group", None, (204, None), none), h!(|s, a, p| groups::membership(&s, a, p, true)))
    .add(op("DELETE", p("/users/{id}/groups/{group}"), "Remove a user from a group", None, (204, None), none), h!(|s, a, p| groups::membership(&s, a, p, false)))
    // Client scopes and protocol mappers.
    .add(op("GET", p("/client-scopes"), "List client scopes", None, (200, Some("ClientScopeList")), none), h!(|s, a, p| scopes::list(&s, a, p)))
    .add(op("POST", p("/client-scopes"), "Create a client scope", Some("ClientScope"), (201, None), none), h!(|s, a, p, hd, b| scopes::create(&s, a, p, hd, b)))
    .add(op("GET", p("/client-scopes/{id}"), "Get a client scope", None, (200, Some("ClientScope")), none), h!(|s, a, p| scopes::get(&s, a, p)))
    .add(op("PUT", p("/client-scopes/{id}"), "Update a client scope", Some("ClientScope"), (204, None), none), h!(|s, a, p, hd, b| scopes::update(&s, a, p, hd, b)))
    .add(op("DELETE", p("/client-scopes/{id}"), "Delete a client scope (it is taken off every client)", None, (204, None), none), h!(|s, a, p| scopes::delete(&s, a, p)))
    .add(op("GET", p("/client-scopes/{id}/protocol-mappers/models"), "A client scope's mappers", None, (200, Some("ProtocolMapperList")), none), h!(|s, a, p| scopes::mappers(&s, a, p, Owner::Scope, false)))
    .add(op("POST", p("/client-scopes/{id}/protocol-mappers/models"), "Add a mapper to a client scope", Some("ProtocolMapper"), (201, None), none), h!(|s, a, p, hd, b| scopes::set_mapper(&s, a, p, Owner::Scope, None, hd, b)))
    .add(op("GET", p("/client-scopes/{id}/protocol-mappers/models/{mapper}"), "Get a client scope's mapper", None, (200, Some("ProtocolMapper")), none), h!(|s, a, p| scopes::mappers(&s, a, p, Owner::Scope, true)))
    .add(op("PUT", p("/client-scopes/{id}/protocol-mappers/models/{mapper}"), "Update a client scope's mapper", Some("ProtocolMapper"), (204, None), none), h!(|s, a, p, hd, b| scopes::set_mapper(&s, a, p, Owner::Scope, Some(true), hd, b)))
    .add(op("DELETE", p("/client-scopes/{id}/protocol-mappers/models/{mapper}"), "Delete a client scope's mapper", None, (204, None), none), h!(|s, a, p, hd, b| scopes::set_mapper(&s, a, p, Owner::Scope, Some(false), hd, b)))
    .add(op("GET", p("/clients/{id}/protocol-mappers/models"), "A client's mappers", None, (200, Some("ProtocolMapperList")), none), h!(|s, a, p| scopes::mappers(&s, a, p, Owner::Client, false)))
    .add(op("POST", p("/clients/{id}/protocol-mappers/models"), "Add a mapper to a client", Some("ProtocolMapper"), (201, None), none), h!(|s, a, p, hd, b| scopes::set_mapper(&s, a, p, Owner::Client, None, hd, b)))
    .add(op("GET", p("/clients/{id}/protocol-mappers/models/{mapper}"), "Get a client's mapper", None, (200, Some("ProtocolMapper")), none), h!(|s, a, p| scopes::mappers(&s, a, p, Owner::Client, true)))
    .add(op("PUT", p("/clients/{id}/protocol-mappers/models/{mapper}"), "Update a client's mapper", Some("ProtocolMapper"), (204, None), none), h!(|s, a, p, hd, b| scopes::set_mapper(&s, a, p, Owner::Client, Some(true), hd, b)))
    .add(op("DELETE", p("/clients/{id}/protocol-mappers/models/{mapper}"), "Delete a client's mapper", None, (204, None), none), h!(|s, a, p, hd, b| scopes::set_mapper(&s, a, p, Owner::Client, Some(false), hd, b)))
    .add(op("GET", p("/default-default-client-scopes"), "The realm's default client scopes", None, (200, Some("ClientScopeList")), none), h!(|s, a, p| scopes::realm_defaults(&s, a, p, false)))
    .add(op("PUT", p("/default-default-client-scopes/{id}"), "Make a client scope a realm default", None, (204, None), none), h!(|s, a, p| scopes::set_realm_default(&s, a, p, false, true)))
    .add(op("DELETE", p("/default-default-client-scopes/{id}"), "Remove a realm default client scope", None, (204, None), none), h!(|s, a, p| scopes::set_realm_default(&s, a, p, false, false)))
    .add(op("GET", p("/default-optional-client-scopes"), "The realm's optional client scopes", None, (200, Some("ClientScopeList")), none), h!(|s, a, p| scopes::realm_defaults(&s, a, p, true)))
    .add(op("PUT", p("/default-optional-client-scopes/{id}"), "Make a client scope a realm optional scope", None, (204, None), none), h!(|s, a, p| scopes::set_realm_default(&s, a, p, true, true)))
    .add(op("DELETE", p("/default-optional-client-scopes/{id}"), "Remove a realm optional client scope", None, (204, None), none), h!(|s, a, p| scopes::set_realm_default(&s, a, p, true, false)))
    .add(op("GET", p("/clients/{id}/default-client-scopes"), "A client's default scopes", None, (200, Some("ClientScopeList")), none), h!(|s, a, p| scopes::client_scopes(&s, a, p, false)))
    .add(op("PUT", p("/clients/{id}/default-client-scopes/{scope}"), "Add a default scope to a client", None, (204, None), none), h!(|s, a, p| scopes::set_client_scope(&s, a, p, false, true)))
    .add(op("DELETE", p("/clients/{id}/default-client-scopes/{scope}"), "Remove a client's default scope", None, (204, None), none), h!(|s, a, p| scopes::set_client_scope(&s, a, p, false, false)))
    .add(op("GET", p("/clients/{id}/optional-client-scopes"), "A client's optional scopes", None, (200, Some("ClientScopeList")), none), h!(|s, a, p| scopes::client_scopes(&s, a, p, true)))
    .add(op("PUT", p("/clients/{id}/optional-client-scopes/{scope}"), "Add an optional scope to a client", None, (204, None), none), h!(|s, a, p| scopes::set_client_scope(&s, a, p, true, true)))
    .add(op("DELETE", p("/clients/{id}/optional-client-scopes/{scope}"), "Remove a client's optional scope", None, (204, None), none), h!(|s, a, p| scopes::set_client_scope(&s, a, p, true, false)))
    // Keys.
    .add(op("GET", p("/keys"), "The realm's keys (metadata, public keys)", None, (200, Some("Keys")), none), h!(|s, a, p| keys::list(&s, a, p)))
    .add(op("GET", p("/components"), "The realm's key providers (?type=org.keycloak.keys.KeyProvider), without private material", None, (200, Some("ComponentList")), &["type"]), h!(|s, a, p| keys::components(&s, a, p)))
}
