//! The parts of Keycloak's realm representation that decide what a token carries: roles and
//! their composites, groups, client scopes, protocol mappers, scope mappings and key components.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Keycloak reads an attribute given as a bare string (`"phone": "0181"`) as a one-element
/// list, and `null` as no values; exports of either shape must load.
pub fn multi_valued<'de, D>(d: D) -> Result<BTreeMap<String, Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
        Null(()),
    }
    let raw: Option<BTreeMap<String, OneOrMany>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                OneOrMany::One(s) => vec![s],
                OneOrMany::Many(v) => v,
                OneOrMany::Null(()) => Vec::new(),
            };
            (k, v)
        })
        .collect())
}

/// A role's composites: realm roles by name, client roles by clientId and name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompositesRepresentation {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub realm: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub client: BTreeMap<String, Vec<String>>,
}

impl CompositesRepresentation {
    pub fn is_empty(&self) -> bool {
        self.realm.is_empty() && self.client.values().all(Vec::is_empty)
    }
}

/// A group, with its sub-groups.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupRepresentation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(
        default,
        deserialize_with = "multi_valued",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub attributes: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub realm_roles: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub client_roles: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_groups: Vec<GroupRepresentation>,
}

/// A protocol mapper of a client or a client scope.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolMapperRepresentation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    pub protocol_mapper: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_required: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
}

/// A client scope.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientScopeRepresentation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_mappers: Option<Vec<ProtocolMapperRepresentation>>,
}

impl ClientScopeRepresentation {
    pub fn is_oidc(&self) -> bool {
        self.protocol
            .as_deref()
            .is_none_or(|p| p == "openid-connect")
    }
    /// Whether the scope's name is listed in a token's `scope` (Keycloak's default: yes).
    pub fn include_in_token_scope(&self) -> bool {
        self.attributes
            .get("include.in.token.scope")
            .is_none_or(|v| v != "false")
    }
}

/// Roles a client or client scope may put in tokens when its client's scope is not full.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopeMappingRepresentation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_scope: Option<String>,
    /// Keycloak 3's name for a client scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_template: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl ScopeMappingRepresentation {
    /// The client or client scope the mapping belongs to.
    pub fn holder(&self) -> Option<ScopeHolder<'_>> {
        match (&self.client, &self.client_scope, &self.client_template) {
            (Some(c), _, _) => Some(ScopeHolder::Client(c)),
            (None, Some(s), _) | (None, None, Some(s)) => Some(ScopeHolder::Scope(s)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeHolder<'a> {
    Client(&'a str),
    Scope(&'a str),
}

/// A component of an export (key providers, user federation, policies …).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentRepresentation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "multi_valued",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub config: BTreeMap<String, Vec<String>>,
}

impl ComponentRepresentation {
    /// The first value of a config key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.config
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

/// The component type of realm keys.
pub const KEY_PROVIDER: &str = "org.keycloak.keys.KeyProvider";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_may_be_bare_strings_lists_or_null() {
        let g: GroupRepresentation =
            serde_json::from_str(r#"{"name":"g","attributes":{"a":"x","b":["y","z"],"c":null}}"#)
                .unwrap();
        assert_eq!(g.attributes["a"], vec!["x"]);
        assert_eq!(g.attributes["b"], vec!["y", "z"]);
        assert!(g.attributes["c"].is_empty());
    }

    #[test]
    fn a_scope_mapping_names_its_holder() {
        let m: ScopeMappingRepresentation =
            serde_json::from_str(r#"{"clientTemplate":"t","roles":["r"]}"#).unwrap();
        assert_eq!(m.holder(), Some(ScopeHolder::Scope("t")));
        let m: ScopeMappingRepresentation =
            serde_json::from_str(r#"{"client":"c","roles":["r"]}"#).unwrap();
        assert_eq!(m.holder(), Some(ScopeHolder::Client("c")));
    }
}
