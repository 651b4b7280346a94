//! Groups and sub-groups, found by path (`/parent/child`), with their role mappings and
//! attributes.

use super::roles::{RoleGraph, RoleId};
use crate::keycloak::{CompositesRepresentation, GroupRepresentation};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: Option<String>,
    pub name: String,
    pub path: String,
    pub parent: Option<usize>,
    pub roles: Vec<RoleId>,
    pub attributes: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Groups {
    groups: Vec<Group>,
    by_path: HashMap<String, usize>,
}

impl Groups {
    pub fn build(reps: &[GroupRepresentation], roles: &RoleGraph) -> Result<Groups, String> {
        let mut g = Groups::default();
        for rep in reps {
            g.add(rep, None, "", roles)?;
        }
        Ok(g)
    }

    fn add(
        &mut self,
        rep: &GroupRepresentation,
        parent: Option<usize>,
        parent_path: &str,
        roles: &RoleGraph,
    ) -> Result<(), String> {
        if rep.name.is_empty() || rep.name.contains('/') {
            return Err(format!(
                "groups: '{}' under '{}' is not a group name (not empty, no '/')",
                rep.name,
                if parent_path.is_empty() {
                    "/"
                } else {
                    parent_path
                }
            ));
        }
        let path = format!("{parent_path}/{}", rep.name);
        if self.by_path.contains_key(&path) {
            return Err(format!("groups: '{path}' is defined twice"));
        }
        let mappings = CompositesRepresentation {
            realm: rep.realm_roles.clone(),
            client: rep.client_roles.clone(),
        };
        let ids = roles.resolve(&mappings).map_err(|missing| {
            format!("groups: '{path}' is mapped to {missing}, which is not defined")
        })?;
        self.groups.push(Group {
            id: rep.id.clone(),
            name: rep.name.clone(),
            path: path.clone(),
            parent,
            roles: ids,
            attributes: rep.attributes.clone(),
        });
        let me = self.groups.len() - 1;
        self.by_path.insert(path.clone(), me);
        for sub in &rep.sub_groups {
            self.add(sub, Some(me), &path, roles)?;
        }
        Ok(())
    }

    /// The group at `path`; a path without its leading `/` is found too (older exports).
    pub fn by_path(&self, path: &str) -> Option<&Group> {
        let i = match self.by_path.get(path) {
            Some(i) => *i,
            None => *self.by_path.get(&format!("/{path}"))?,
        };
        Some(&self.groups[i])
    }

    /// The group and its ancestors, nearest first.
    pub fn lineage<'a>(&'a self, g: &'a Group) -> impl Iterator<Item = &'a Group> + 'a {
        std::iter::successors(Some(g), move |g| g.parent.map(|p| &self.groups[p]))
    }

    pub fn all(&self) -> &[Group] {
        &self.groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keycloak::RoleRepresentation;

    #[test]
    fn paths_lineage_and_roles() {
        let roles = RoleGraph::build(
            &[RoleRepresentation::named("staff")],
            &BTreeMap::from([("api".into(), vec![RoleRepresentation::named("read")])]),
        )
        .unwrap();
        let reps: Vec<GroupRepresentation> = serde_json::from_str(
            r#"[{"name":"org","realmRoles":["staff"],"subGroups":[
                 {"name":"eng","clientRoles":{"api":["read"]},"attributes":{"floor":"3"}}]}]"#,
        )
        .unwrap();
        let g = Groups::build(&reps, &roles).unwrap();
        let eng = g.by_path("/org/eng").unwrap();
        assert_eq!(eng.attributes["floor"], vec!["3"]);
        let up: Vec<&str> = g.lineage(eng).map(|g| g.path.as_str()).collect();
        assert_eq!(up, vec!["/org/eng", "/org"]);
        assert!(g.by_path("org/eng").is_some());
        let bad: Vec<GroupRepresentation> =
            serde_json::from_str(r#"[{"name":"x","realmRoles":["ghost"]}]"#).unwrap();
        let e = Groups::build(&bad, &roles).unwrap_err();
        assert!(e.contains("'/x'") && e.contains("ghost"), "{e}");
    }
}
