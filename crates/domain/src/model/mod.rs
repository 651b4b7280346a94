//! The realm model Keycloak's tokens come from: roles and composites, the default role,
//! groups, client scopes with their protocol mappers, scope mappings. [`RealmAccess`] is its
//! representation, stored with the realm; [`RealmModel`] is it compiled, once per load.

pub mod apply;
pub mod builtin;
pub mod claim;
pub mod groups;
pub mod mappers;
pub mod migrate;
pub mod roles;

use crate::keycloak::{
    ClientScopeRepresentation, ComponentRepresentation, GroupRepresentation, RealmRepresentation,
    RoleRepresentation, RolesRepresentation, ScopeMappingRepresentation,
};
use crate::Client;
use groups::Groups;
use mappers::Mapper;
use roles::{RoleGraph, RoleId};
use std::collections::{BTreeMap, HashMap};

/// The representation of a realm's roles, groups and client scopes, as stored and exported.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RealmAccess {
    pub roles: RolesRepresentation,
    pub default_role: String,
    pub groups: Vec<GroupRepresentation>,
    pub default_groups: Vec<String>,
    pub client_scopes: Vec<ClientScopeRepresentation>,
    pub default_default_client_scopes: Vec<String>,
    pub default_optional_client_scopes: Vec<String>,
    pub scope_mappings: Vec<ScopeMappingRepresentation>,
    pub client_scope_mappings: BTreeMap<String, Vec<ScopeMappingRepresentation>>,
    /// The declarative user profile (Keycloak 24 and later), when the realm has one.
    pub user_profile: Option<ComponentRepresentation>,
}

/// The component type of the declarative user profile.
pub const USER_PROFILE: &str = "org.keycloak.userprofile.UserProfileProvider";
/// Its configuration key (a JSON document).
pub const USER_PROFILE_CONFIG: &str = "kc.user.profile.config";

/// Which user attributes protocol mappers see, from the user profile: since Keycloak 24 an
/// attribute the profile does not declare ("unmanaged") is invisible unless the profile's
/// `unmanagedAttributePolicy` is set.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum AttributeAccess {
    /// No user profile: every attribute (latchkey's default for a realm not from Keycloak 24+).
    #[default]
    All,
    /// Only these (the profile's declared attributes).
    Declared(Vec<String>),
}

impl AttributeAccess {
    pub fn of(profile: Option<&ComponentRepresentation>) -> AttributeAccess {
        let Some(c) = profile else {
            return AttributeAccess::All;
        };
        let config: serde_json::Value = c
            .get(USER_PROFILE_CONFIG)
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        if config
            .get("unmanagedAttributePolicy")
            .and_then(|p| p.as_str())
            .is_some_and(|p| !p.is_empty())
        {
            return AttributeAccess::All;
        }
        let mut names: Vec<String> = ["username", "email", "firstName", "lastName"]
            .into_iter()
            .map(String::from)
            .collect();
        for a in config
            .get("attributes")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(n) = a.get("name").and_then(|n| n.as_str()) {
                names.push(n.to_string());
            }
        }
        AttributeAccess::Declared(names)
    }

    pub fn visible(&self, name: &str) -> bool {
        match self {
            AttributeAccess::All => true,
            AttributeAccess::Declared(names) => names.iter().any(|n| n == name),
        }
    }
}

impl RealmAccess {
    /// From a realm representation, completed with what Keycloak creates with every realm
    /// when the representation does not say: the built-in roles, the default role, the roles
    /// of `account`, `realm-management` and `broker`, the built-in client scopes.
    pub fn from_representation(rep: &RealmRepresentation) -> RealmAccess {
        let mut roles = rep.roles.clone().unwrap_or_default();
        let default_role = rep
            .default_role
            .as_ref()
            .map(|r| r.name.clone())
            .unwrap_or_else(|| builtin::default_role_name(&rep.realm));
        let has = |roles: &RolesRepresentation, n: &str| roles.realm.iter().any(|r| r.name == n);
        for n in [builtin::OFFLINE_ACCESS, builtin::UMA_AUTHORIZATION] {
            if !has(&roles, n) {
                roles.realm.push(RoleRepresentation::named(n));
            }
        }
        if !has(&roles, &default_role) {
            let mut d = builtin::default_role(&rep.realm);
            d.name = default_role.clone();
            roles.realm.push(d);
        }
        for (client, defs) in builtin::client_roles(&rep.realm) {
            roles.client.entry(client).or_insert(defs);
        }
        let builtins = builtin::scopes();
        let (client_scopes, dd, dopt, mut scope_mappings) = match &rep.client_scopes {
            Some(s) => (
                s.clone(),
                rep.default_default_client_scopes
                    .clone()
                    .unwrap_or_default(),
                rep.default_optional_client_scopes
                    .clone()
                    .unwrap_or_default(),
                rep.scope_mappings.clone().unwrap_or_default(),
            ),
            None => (
                builtins.client_scopes.clone(),
                builtins.default_default_client_scopes.clone(),
                builtins.default_optional_client_scopes.clone(),
                rep.scope_mappings
                    .clone()
                    .unwrap_or_else(builtin::scope_mappings),
            ),
        };
        if rep.client_scopes.is_none() && rep.scope_mappings.is_some() {
            scope_mappings.extend(builtin::scope_mappings());
        }
        RealmAccess {
            roles,
            default_role,
            groups: rep.groups.clone().unwrap_or_default(),
            default_groups: rep.default_groups.clone().unwrap_or_default(),
            client_scopes,
            default_default_client_scopes: dd,
            default_optional_client_scopes: dopt,
            scope_mappings,
            client_scope_mappings: rep.client_scope_mappings.clone().unwrap_or_default(),
            user_profile: rep
                .components
                .as_ref()
                .and_then(|c| c.get(USER_PROFILE))
                .and_then(|l| l.first())
                .cloned(),
        }
    }

    /// Writes these parts into a realm representation.
    pub fn write(&self, rep: &mut RealmRepresentation) {
        rep.roles = Some(self.roles.clone());
        rep.default_role = Some(RoleRepresentation {
            name: self.default_role.clone(),
            composite: Some(true),
            client_role: Some(false),
            ..Default::default()
        });
        rep.groups = Some(self.groups.clone());
        rep.default_groups = (!self.default_groups.is_empty()).then(|| self.default_groups.clone());
        rep.client_scopes = Some(self.client_scopes.clone());
        rep.default_default_client_scopes = Some(self.default_default_client_scopes.clone());
        rep.default_optional_client_scopes = Some(self.default_optional_client_scopes.clone());
        rep.scope_mappings = Some(self.scope_mappings.clone());
        rep.client_scope_mappings =
            (!self.client_scope_mappings.is_empty()).then(|| self.client_scope_mappings.clone());
        if let Some(p) = &self.user_profile {
            rep.components
                .get_or_insert_with(Default::default)
                .insert(USER_PROFILE.to_string(), vec![p.clone()]);
        }
    }

    pub fn realm_role_names(&self) -> Vec<String> {
        self.roles.realm.iter().map(|r| r.name.clone()).collect()
    }
}

/// The roles a client stored before roles were kept with the realm (its clientId has no
/// entry under `roles.client`; once it has one, that entry is the authority).
pub fn legacy_roles(c: &Client) -> Vec<RoleRepresentation> {
    c.client_roles
        .iter()
        .map(|r| RoleRepresentation::named(r))
        .collect()
}

/// A client scope, its mappers compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientScope {
    pub name: String,
    pub in_token_scope: bool,
    pub mappers: Vec<Mapper>,
}

/// Who may carry roles into a token under a client whose scope is not full.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Holder {
    Client(String),
    Scope(String),
}

/// A realm's [`RealmAccess`] compiled for issuing tokens.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RealmModel {
    pub roles: RoleGraph,
    pub groups: Groups,
    pub scopes: HashMap<String, ClientScope>,
    pub default_role: Option<RoleId>,
    pub attributes: AttributeAccess,
    scope_mappings: HashMap<Holder, Vec<RoleId>>,
}

impl RealmModel {
    /// Compiles the model. The roles of a client the representation has no entry for (stored
    /// before roles were kept with the realm) are its stored role names.
    pub fn build(access: &RealmAccess, clients: &[&Client]) -> Result<RealmModel, String> {
        let mut client_roles = access.roles.client.clone();
        for c in clients {
            client_roles
                .entry(c.client_id.clone())
                .or_insert_with(|| legacy_roles(c));
        }
        let roles = RoleGraph::build(&access.roles.realm, &client_roles)?;
        let groups = Groups::build(&access.groups, &roles)?;
        let mut scopes = HashMap::new();
        for s in access.client_scopes.iter().filter(|s| s.is_oidc()) {
            let mappers = s
                .protocol_mappers
                .iter()
                .flatten()
                .filter_map(|m| Mapper::compile(m).ok())
                .collect();
            scopes.insert(
                s.name.clone(),
                ClientScope {
                    name: s.name.clone(),
                    in_token_scope: s.include_in_token_scope(),
                    mappers,
                },
            );
        }
        let mut scope_mappings: HashMap<Holder, Vec<RoleId>> = HashMap::new();
        let mut add = |m: &ScopeMappingRepresentation, owner: Option<&str>| {
            let holder = match m.holder() {
                Some(crate::keycloak::access::ScopeHolder::Client(c)) => Holder::Client(c.into()),
                Some(crate::keycloak::access::ScopeHolder::Scope(s)) => Holder::Scope(s.into()),
                None => return,
            };
            let ids = m.roles.iter().filter_map(|r| match owner {
                None => roles.realm_role(r),
                Some(c) => roles.client_role(c, r),
            });
            scope_mappings.entry(holder).or_default().extend(ids);
        };
        for m in &access.scope_mappings {
            add(m, None);
        }
        for (owner, list) in &access.client_scope_mappings {
            for m in list {
                add(m, Some(owner));
            }
        }
        Ok(RealmModel {
            attributes: AttributeAccess::of(access.user_profile.as_ref()),
            default_role: roles.realm_role(&access.default_role),
            roles,
            groups,
            scopes,
            scope_mappings,
        })
    }

    /// The roles a client may carry into tokens when its scope is not full: its own roles and
    /// the scope mappings of the client and of the client scopes in effect, expanded.
    pub fn scope_of<'a>(
        &self,
        client: &Client,
        scopes: impl Iterator<Item = &'a str>,
    ) -> Vec<RoleId> {
        let own = self
            .roles
            .client_roles(&client.client_id)
            .filter_map(|n| self.roles.client_role(&client.client_id, n));
        let mut direct: Vec<RoleId> = own.collect();
        let mut holders = vec![Holder::Client(client.client_id.clone())];
        holders.extend(scopes.map(|s| Holder::Scope(s.to_string())));
        for h in holders {
            if let Some(ids) = self.scope_mappings.get(&h) {
                direct.extend_from_slice(ids);
            }
        }
        self.roles.expand(direct)
    }
}

#[cfg(test)]
mod tests;
