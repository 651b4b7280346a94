//! What one token carries: the user's roles within the client's scope, then the protocol
//! mappers of the client and of the client scopes in effect.

use super::mappers::{Kind, Mapper, Target};
use super::roles::RoleId;
use super::RealmModel;
use crate::scope::Scopes;
use crate::{Client, User};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Who and what a token is for.
pub struct Subject<'a> {
    pub model: &'a RealmModel,
    pub client: &'a Client,
    pub user: &'a User,
    pub scopes: &'a Scopes,
    /// The user session's notes (`clientAddress`, `AUTH_TIME`, …).
    pub notes: &'a Notes<'a>,
}

/// The session notes Keycloak's session-note mappers read.
#[derive(Debug, Default, Clone, Copy)]
pub struct Notes<'a> {
    /// The address a client-credentials grant came from (`clientHost`, `clientAddress`).
    pub client_address: Option<&'a str>,
    /// Whether the session is a client's own (client credentials), which sets `clientId`.
    pub service_account: bool,
    pub auth_time: Option<i64>,
}

/// The roles a token carries, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRoles {
    pub realm: Vec<String>,
    pub clients: BTreeMap<String, Vec<String>>,
}

impl TokenRoles {
    fn add(&mut self, client: Option<&str>, name: &str) {
        let list = match client {
            None => &mut self.realm,
            Some(c) => self.clients.entry(c.to_string()).or_default(),
        };
        if !list.iter().any(|r| r == name) {
            list.push(name.to_string());
        }
    }

    fn remove(&mut self, client: Option<&str>, name: &str) -> bool {
        let list = match client {
            None => Some(&mut self.realm),
            Some(c) => self.clients.get_mut(c),
        };
        match list {
            Some(l) => {
                let before = l.len();
                l.retain(|r| r != name);
                before != l.len()
            }
            None => false,
        }
    }
}

/// The roles of `user` directly, through its groups and their parents, and composites.
pub fn user_roles(model: &RealmModel, u: &User) -> Vec<RoleId> {
    let g = &model.roles;
    let mut direct: Vec<RoleId> = u
        .realm_roles
        .iter()
        .filter_map(|r| g.realm_role(r))
        .collect();
    for (c, names) in &u.client_roles {
        direct.extend(names.iter().filter_map(|n| g.client_role(c, n)));
    }
    for path in &u.groups {
        if let Some(group) = model.groups.by_path(path) {
            for gr in model.groups.lineage(group) {
                direct.extend_from_slice(&gr.roles);
            }
        }
    }
    g.expand(direct)
}

/// A role as Keycloak's role mappers name it: `clientId.role` split at the last dot, else a
/// realm role.
pub fn parse_role(s: &str) -> (Option<&str>, &str) {
    match s.rsplit_once('.') {
        Some((client, name)) => (Some(client), name),
        None => (None, s),
    }
}

/// What the mappers wrote for one token.
#[derive(Debug, Default)]
pub struct Mapped {
    pub claims: Map<String, Value>,
    /// Audiences besides the one the token type implies.
    pub aud: Vec<String>,
}

/// Claims every token writes itself; a mapper cannot overwrite them.
const RESERVED: [&str; 14] = [
    "exp",
    "iat",
    "auth_time",
    "jti",
    "iss",
    "aud",
    "sub",
    "typ",
    "azp",
    "nonce",
    "sid",
    "at_hash",
    "scope",
    "session_state",
];

impl<'a> Subject<'a> {
    /// The mappers in effect: the client's, then each client scope's.
    pub fn mappers(&self) -> impl Iterator<Item = &'a Mapper> + 'a {
        let model = self.model;
        self.client.mappers.iter().chain(
            self.scopes
                .effective
                .iter()
                .filter_map(move |s| model.scopes.get(s))
                .flat_map(|s| s.mappers.iter()),
        )
    }

    /// The roles of the user directly, through groups and their parents, and composites.
    pub fn user_roles(&self) -> Vec<RoleId> {
        user_roles(self.model, self.user)
    }

    /// The roles the token carries: the user's, within the client's scope unless it is full,
    /// then hard-coded and renamed by the role mappers.
    pub fn token_roles(&self) -> TokenRoles {
        let mut ids = self.user_roles();
        if !self.client.full_scope_allowed {
            let allowed = self.model.scope_of(
                self.client,
                self.scopes.effective.iter().map(String::as_str),
            );
            ids.retain(|id| allowed.binary_search(id).is_ok());
        }
        let mut out = TokenRoles::default();
        for id in ids {
            let r = self.model.roles.role(id);
            out.add(r.client.as_deref(), &r.name);
        }
        // Keycloak renames first, then adds hard-coded roles (their mapper priorities).
        for m in self.mappers() {
            if let Kind::RoleName { role, new_name } = &m.kind {
                let (client, name) = parse_role(role);
                if out.remove(client, name) {
                    let (client, name) = parse_role(new_name);
                    out.add(client, name);
                }
            }
        }
        for m in self.mappers() {
            if let Kind::HardcodedRole { role } = &m.kind {
                let (client, name) = parse_role(role);
                out.add(client, name);
            }
        }
        out
    }

    /// Applies the mappers for `target`.
    pub fn map(&self, roles: &TokenRoles, target: Target) -> Mapped {
        let mut out = Mapped::default();
        for m in self.mappers().filter(|m| m.targets.has(target)) {
            self.apply(m, roles, &mut out);
        }
        for k in RESERVED {
            out.claims.remove(k);
        }
        out
    }

    fn apply(&self, m: &Mapper, roles: &TokenRoles, out: &mut Mapped) {
        let u = self.user;
        let c = &mut out.claims;
        match &m.kind {
            Kind::UserAttribute {
                attribute,
                aggregate,
            } => {
                let vals = self.attribute(attribute, *aggregate);
                if !vals.is_empty() {
                    m.write(c, &vals);
                }
            }
            Kind::UserProperty { property } => {
                if let Some(v) = self.property(property) {
                    m.write(c, &[v.as_str()]);
                }
            }
            Kind::Hardcoded { value } => m.write(c, &[value.as_str()]),
            Kind::RealmRoles { prefix } => {
                if !roles.realm.is_empty() {
                    let named: Vec<String> =
                        roles.realm.iter().map(|r| format!("{prefix}{r}")).collect();
                    m.write(c, &named.iter().map(String::as_str).collect::<Vec<_>>());
                }
            }
            Kind::ClientRoles { client, prefix } => {
                for (id, names) in &roles.clients {
                    if names.is_empty() || client.as_ref().is_some_and(|want| want != id) {
                        continue;
                    }
                    let prefix = prefix.replace("${client_id}", id);
                    let named: Vec<String> = names.iter().map(|r| format!("{prefix}{r}")).collect();
                    let Some(path) = &m.claim else { continue };
                    let concrete = super::claim::ClaimPath(
                        path.0
                            .iter()
                            .map(|p| p.replace("${client_id}", id))
                            .collect(),
                    );
                    let vals: Vec<&str> = named.iter().map(String::as_str).collect();
                    if let Some(v) = super::claim::values(m.json_type, &vals, m.multivalued) {
                        super::claim::set(c, &concrete, v, m.multivalued);
                    }
                }
            }
            Kind::GroupMembership { full_path } => {
                let names: Vec<&str> = u
                    .groups
                    .iter()
                    .filter_map(|p| self.model.groups.by_path(p))
                    .map(|g| {
                        if *full_path {
                            g.path.as_str()
                        } else {
                            g.name.as_str()
                        }
                    })
                    .collect();
                if !names.is_empty() {
                    m.write(c, &names);
                }
            }
            Kind::SessionNote { note } => {
                let n = self.notes;
                let v = match note.as_str() {
                    "clientId" | "client_id" if n.service_account => {
                        Some(self.client.client_id.clone())
                    }
                    "clientHost" | "clientAddress" => n.client_address.map(str::to_string),
                    "AUTH_TIME" => n.auth_time.map(|t| t.to_string()),
                    _ => None,
                };
                if let Some(v) = v {
                    m.write(c, &[v.as_str()]);
                }
            }
            Kind::FullName => {
                if let Some(n) = u.full_name() {
                    m.write_value(c, Value::String(n));
                }
            }
            Kind::Address => {
                let mut addr = Map::new();
                for (claim, attr) in [
                    ("formatted", "formatted"),
                    ("street_address", "street"),
                    ("locality", "locality"),
                    ("region", "region"),
                    ("postal_code", "postal_code"),
                    ("country", "country"),
                ] {
                    if let Some(v) = u.attributes.get(attr).and_then(|v| v.first()) {
                        addr.insert(claim.into(), Value::String(v.clone()));
                    }
                }
                if !addr.is_empty() {
                    m.write_value(c, Value::Object(addr));
                }
            }
            Kind::AllowedOrigins => {
                let origins = self.client.resolved_web_origins();
                if !origins.is_empty() {
                    m.write_value(c, Value::from(origins));
                }
            }
            Kind::Acr => m.write_value(c, Value::String("1".into())),
            Kind::Sub => {}
            Kind::Audience { client, custom } => {
                // The custom audience counts only when no client is named.
                if let Some(a) = client.as_ref().or(custom.as_ref()) {
                    if !out.aud.contains(a) {
                        out.aud.push(a.clone());
                    }
                }
            }
            Kind::AudienceResolve => {
                for (id, names) in &roles.clients {
                    if !names.is_empty() && *id != self.client.client_id && !out.aud.contains(id) {
                        out.aud.push(id.clone());
                    }
                }
            }
            Kind::HardcodedRole { .. } | Kind::RoleName { .. } => {}
        }
    }

    /// A user attribute; the user's own profile fields answer to their Keycloak names; a user
    /// without the attribute gets their groups' (nearest first), as Keycloak resolves it.
    fn attribute(&self, name: &str, aggregate: bool) -> Vec<&'a str> {
        let u = self.user;
        let own: Option<&'a str> = match name {
            "username" => Some(u.username.as_str()),
            "email" => u.email.as_deref(),
            "firstName" => u.first_name.as_deref(),
            "lastName" => u.last_name.as_deref(),
            _ => None,
        };
        if let Some(v) = own {
            return vec![v];
        }
        let mut vals: Vec<&'a str> = u
            .attributes
            .get(name)
            .filter(|_| self.model.attributes.visible(name))
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default();
        if !vals.is_empty() && !aggregate {
            return vals;
        }
        for path in &u.groups {
            let Some(g) = self.model.groups.by_path(path) else {
                continue;
            };
            for gr in self.model.groups.lineage(g) {
                if let Some(v) = gr.attributes.get(name) {
                    for x in v {
                        if !vals.contains(&x.as_str()) {
                            vals.push(x.as_str());
                        }
                    }
                    if !aggregate {
                        return vals;
                    }
                }
            }
        }
        vals
    }

    /// A property of the user model, by Keycloak's getter name.
    fn property(&self, name: &str) -> Option<String> {
        let u = self.user;
        match name.to_ascii_lowercase().as_str() {
            "username" => Some(u.username.clone()),
            "email" => u.email.clone(),
            "firstname" => u.first_name.clone(),
            "lastname" => u.last_name.clone(),
            "emailverified" => Some(u.email_verified.to_string()),
            "enabled" => Some(u.enabled.to_string()),
            "id" => Some(u.id.clone()),
            "createdtimestamp" => Some((u.created_at * 1000).to_string()),
            _ => None,
        }
    }
}
