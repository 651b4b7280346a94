//! Realm and client roles with their composites, expanded once when the realm is loaded.

use crate::keycloak::{CompositesRepresentation, RoleRepresentation};
use std::collections::{BTreeMap, HashMap};

/// A role's index in its realm's [`RoleGraph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleId(pub u32);

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// `None` for a realm role, else the clientId of the client that defines it.
    pub client: Option<String>,
    pub name: String,
    pub composites: Vec<RoleId>,
    /// The role and every role its composites reach, sorted.
    pub expanded: Vec<RoleId>,
}

/// Every role of a realm.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoleGraph {
    roles: Vec<Role>,
    realm: HashMap<String, RoleId>,
    client: HashMap<(String, String), RoleId>,
}

impl RoleGraph {
    /// Builds the graph from the realm's `roles`. A composite naming a role that is not defined
    /// is an error naming both; so is a cycle of composites.
    pub fn build(
        realm: &[RoleRepresentation],
        client: &BTreeMap<String, Vec<RoleRepresentation>>,
    ) -> Result<RoleGraph, String> {
        let mut g = RoleGraph::default();
        let mut reps: Vec<(&RoleRepresentation, String)> = Vec::new();
        for r in realm {
            if g.realm.contains_key(&r.name) {
                return Err(format!("roles.realm: role '{}' is defined twice", r.name));
            }
            let id = g.push(None, &r.name);
            g.realm.insert(r.name.clone(), id);
            reps.push((r, format!("roles.realm '{}'", r.name)));
        }
        for (client_id, roles) in client {
            for r in roles {
                let key = (client_id.clone(), r.name.clone());
                if g.client.contains_key(&key) {
                    return Err(format!(
                        "roles.client.{client_id}: role '{}' is defined twice",
                        r.name
                    ));
                }
                let id = g.push(Some(client_id), &r.name);
                g.client.insert(key, id);
                reps.push((r, format!("roles.client.{client_id} '{}'", r.name)));
            }
        }
        for (i, (rep, at)) in reps.iter().enumerate() {
            if let Some(c) = &rep.composites {
                g.roles[i].composites = g
                    .resolve(c)
                    .map_err(|missing| format!("{at}: composite {missing} is not defined"))?;
            }
        }
        for i in 0..g.roles.len() {
            g.roles[i].expanded = g.expand_one(RoleId(i as u32), &reps)?;
        }
        Ok(g)
    }

    fn push(&mut self, client: Option<&String>, name: &str) -> RoleId {
        self.roles.push(Role {
            client: client.cloned(),
            name: name.to_string(),
            composites: Vec::new(),
            expanded: Vec::new(),
        });
        RoleId(self.roles.len() as u32 - 1)
    }

    /// Depth-first expansion that refuses a role reaching itself.
    fn expand_one(
        &self,
        start: RoleId,
        reps: &[(&RoleRepresentation, String)],
    ) -> Result<Vec<RoleId>, String> {
        let mut out = vec![start];
        let mut stack: Vec<(RoleId, usize)> = vec![(start, 0)];
        let mut path = vec![start];
        while let Some((id, next)) = stack.last_mut() {
            let comps = &self.roles[id.0 as usize].composites;
            if *next >= comps.len() {
                stack.pop();
                path.pop();
                continue;
            }
            let c = comps[*next];
            *next += 1;
            if path.contains(&c) {
                let cycle: Vec<String> = path
                    .iter()
                    .skip_while(|p| **p != c)
                    .chain([&c])
                    .map(|p| self.describe(*p))
                    .collect();
                return Err(format!(
                    "{}: composite roles may not form a cycle: {}",
                    reps[start.0 as usize].1,
                    cycle.join(" → ")
                ));
            }
            if !out.contains(&c) {
                out.push(c);
            }
            path.push(c);
            stack.push((c, 0));
        }
        out.sort();
        Ok(out)
    }

    /// `'name'` for a realm role, `'client' role 'name'` for a client role.
    pub fn describe(&self, id: RoleId) -> String {
        let r = self.role(id);
        match &r.client {
            None => format!("realm role '{}'", r.name),
            Some(c) => format!("client '{c}' role '{}'", r.name),
        }
    }

    /// The ids of a composites list, or the description of the first missing role.
    pub fn resolve(&self, c: &CompositesRepresentation) -> Result<Vec<RoleId>, String> {
        let mut out = Vec::new();
        for name in &c.realm {
            out.push(
                self.realm_role(name)
                    .ok_or_else(|| format!("realm role '{name}'"))?,
            );
        }
        for (client, names) in &c.client {
            for name in names {
                out.push(
                    self.client_role(client, name)
                        .ok_or_else(|| format!("client '{client}' role '{name}'"))?,
                );
            }
        }
        Ok(out)
    }

    pub fn role(&self, id: RoleId) -> &Role {
        &self.roles[id.0 as usize]
    }

    pub fn realm_role(&self, name: &str) -> Option<RoleId> {
        self.realm.get(name).copied()
    }

    pub fn client_role(&self, client: &str, name: &str) -> Option<RoleId> {
        self.client
            .get(&(client.to_string(), name.to_string()))
            .copied()
    }

    /// A role written as Keycloak's mappers write it: `name` for a realm role,
    /// `clientId.name` for a client role (the longest clientId that matches wins).
    pub fn parse_ref(&self, s: &str) -> Option<RoleId> {
        if let Some(id) = self.realm_role(s) {
            return Some(id);
        }
        s.char_indices()
            .rev()
            .filter(|(_, ch)| *ch == '.')
            .find_map(|(i, _)| self.client_role(&s[..i], &s[i + 1..]))
    }

    /// Every role `ids` reach through composites, sorted and without repeats.
    pub fn expand(&self, ids: impl IntoIterator<Item = RoleId>) -> Vec<RoleId> {
        let mut out: Vec<RoleId> = Vec::new();
        for id in ids {
            out.extend_from_slice(&self.role(id).expanded);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    pub fn realm_roles(&self) -> impl Iterator<Item = &str> {
        self.roles
            .iter()
            .filter(|r| r.client.is_none())
            .map(|r| r.name.as_str())
    }

    pub fn client_roles<'a>(&'a self, client: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.roles
            .iter()
            .filter(move |r| r.client.as_deref() == Some(client))
            .map(|r| r.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, realm: &[&str], client: &[(&str, &str)]) -> RoleRepresentation {
        let mut c = CompositesRepresentation {
            realm: realm.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        for (cl, r) in client {
            c.client
                .entry(cl.to_string())
                .or_default()
                .push(r.to_string());
        }
        RoleRepresentation {
            name: name.into(),
            composite: Some(!c.is_empty()),
            composites: (!c.is_empty()).then_some(c),
            ..Default::default()
        }
    }

    fn names(g: &RoleGraph, ids: &[RoleId]) -> Vec<String> {
        ids.iter().map(|i| g.describe(*i)).collect()
    }

    #[test]
    fn composites_expand_through_realm_and_client_roles() {
        let realm = vec![
            role(
                "default-roles-x",
                &["offline_access"],
                &[("account", "manage-account")],
            ),
            role("offline_access", &[], &[]),
            role("editor", &["viewer"], &[]),
            role("viewer", &[], &[]),
        ];
        let client = BTreeMap::from([(
            "account".to_string(),
            vec![
                role(
                    "manage-account",
                    &[],
                    &[("account", "manage-account-links")],
                ),
                role("manage-account-links", &[], &[]),
            ],
        )]);
        let g = RoleGraph::build(&realm, &client).unwrap();
        let d = g.realm_role("default-roles-x").unwrap();
        assert_eq!(
            names(&g, &g.expand([d])),
            vec![
                "realm role 'default-roles-x'",
                "realm role 'offline_access'",
                "client 'account' role 'manage-account'",
                "client 'account' role 'manage-account-links'"
            ]
        );
        let e = g.realm_role("editor").unwrap();
        assert_eq!(g.expand([e, e]).len(), 2);
        assert_eq!(
            g.parse_ref("account.manage-account"),
            g.client_role("account", "manage-account")
        );
        assert_eq!(g.parse_ref("editor"), Some(e));
        assert_eq!(g.parse_ref("nobody.x"), None);
    }

    #[test]
    fn cycles_and_missing_composites_are_refused_by_name() {
        let realm = vec![role("a", &["b"], &[]), role("b", &["a"], &[])];
        let e = RoleGraph::build(&realm, &BTreeMap::new()).unwrap_err();
        assert!(
            e.contains("cycle: realm role 'a' → realm role 'b' → realm role 'a'"),
            "{e}"
        );
        let realm = vec![role("a", &["ghost"], &[])];
        let e = RoleGraph::build(&realm, &BTreeMap::new()).unwrap_err();
        assert!(e.contains("realm role 'ghost'"), "{e}");
        let realm = vec![role("a", &[], &[]), role("a", &[], &[])];
        assert!(RoleGraph::build(&realm, &BTreeMap::new())
            .unwrap_err()
            .contains("twice"));
    }

    #[test]
    fn a_diamond_is_not_a_cycle() {
        let realm = vec![
            role("top", &["l", "r"], &[]),
            role("l", &["base"], &[]),
            role("r", &["base"], &[]),
            role("base", &[], &[]),
        ];
        let g = RoleGraph::build(&realm, &BTreeMap::new()).unwrap();
        assert_eq!(g.expand([g.realm_role("top").unwrap()]).len(), 4);
    }
}
