//! What Keycloak creates with every realm: its client scopes, the default role, the roles of
//! the `account`, `realm-management` and `broker` clients.

use crate::keycloak::{
    ClientScopeRepresentation, CompositesRepresentation, RoleRepresentation,
    ScopeMappingRepresentation,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuiltinScopes {
    pub client_scopes: Vec<ClientScopeRepresentation>,
    pub default_default_client_scopes: Vec<String>,
    pub default_optional_client_scopes: Vec<String>,
}

/// The OpenID Connect client scopes of a new Keycloak 26 realm.
pub fn scopes() -> &'static BuiltinScopes {
    static SCOPES: OnceLock<BuiltinScopes> = OnceLock::new();
    SCOPES.get_or_init(|| {
        serde_json::from_str(include_str!("builtin_scopes.json"))
            .expect("builtin_scopes.json is a valid list of client scopes")
    })
}

pub fn scope(name: &str) -> Option<&'static ClientScopeRepresentation> {
    scopes().client_scopes.iter().find(|s| s.name == name)
}

/// The scope mapping Keycloak gives the `offline_access` scope: the role of the same name.
pub fn scope_mappings() -> Vec<ScopeMappingRepresentation> {
    vec![ScopeMappingRepresentation {
        client_scope: Some("offline_access".into()),
        roles: vec!["offline_access".into()],
        ..Default::default()
    }]
}

pub const OFFLINE_ACCESS: &str = "offline_access";
pub const UMA_AUTHORIZATION: &str = "uma_authorization";
pub const ACCOUNT: &str = "account";
pub const REALM_MANAGEMENT: &str = "realm-management";
pub const BROKER: &str = "broker";

/// `default-roles-<realm>`.
pub fn default_role_name(realm: &str) -> String {
    format!("default-roles-{}", realm.to_lowercase())
}

/// The default role of a new realm: offline access, UMA, and the account console's roles.
pub fn default_role(realm: &str) -> RoleRepresentation {
    composite(
        &default_role_name(realm),
        &[OFFLINE_ACCESS, UMA_AUTHORIZATION],
        &[(ACCOUNT, &["view-profile", "manage-account"])],
    )
}

fn composite(name: &str, realm: &[&str], client: &[(&str, &[&str])]) -> RoleRepresentation {
    let c = CompositesRepresentation {
        realm: realm.iter().map(|s| s.to_string()).collect(),
        client: client
            .iter()
            .map(|(c, r)| (c.to_string(), r.iter().map(|s| s.to_string()).collect()))
            .collect(),
    };
    RoleRepresentation {
        name: name.into(),
        composite: Some(!c.is_empty()),
        composites: (!c.is_empty()).then_some(c),
        ..Default::default()
    }
}

/// Roles of the clients Keycloak creates with a realm (`realm-management` is not in `master`,
/// whose administration roles live on `<realm>-realm` clients).
pub fn client_roles(realm: &str) -> BTreeMap<String, Vec<RoleRepresentation>> {
    let plain = |n: &str| RoleRepresentation::named(n);
    let mut out = BTreeMap::new();
    out.insert(
        ACCOUNT.to_string(),
        vec![
            plain("view-profile"),
            composite(
                "manage-account",
                &[],
                &[(ACCOUNT, &["manage-account-links"])],
            ),
            plain("manage-account-links"),
            plain("view-applications"),
            plain("view-consent"),
            composite("manage-consent", &[], &[(ACCOUNT, &["view-consent"])]),
            plain("delete-account"),
            plain("view-groups"),
        ],
    );
    out.insert(BROKER.to_string(), vec![plain("read-token")]);
    if realm != "master" {
        const SIMPLE: [&str; 18] = [
            "create-client",
            "impersonation",
            "manage-authorization",
            "manage-clients",
            "manage-events",
            "manage-identity-providers",
            "manage-realm",
            "manage-users",
            "query-clients",
            "query-groups",
            "query-realms",
            "query-users",
            "view-authorization",
            "view-clients",
            "view-events",
            "view-identity-providers",
            "view-realm",
            "view-users",
        ];
        let mut roles = vec![composite(
            "realm-admin",
            &[],
            &[(REALM_MANAGEMENT, &SIMPLE)],
        )];
        for r in SIMPLE {
            roles.push(match r {
                "view-clients" => composite(r, &[], &[(REALM_MANAGEMENT, &["query-clients"])]),
                "view-users" => composite(
                    r,
                    &[],
                    &[(REALM_MANAGEMENT, &["query-users", "query-groups"])],
                ),
                _ => plain(r),
            });
        }
        out.insert(REALM_MANAGEMENT.to_string(), roles);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_scopes_load_and_their_mappers_compile() {
        let s = scopes();
        for name in &s.default_default_client_scopes {
            assert!(scope(name).is_some(), "{name}");
        }
        let mut compiled = 0;
        for sc in &s.client_scopes {
            for m in sc.protocol_mappers.iter().flatten() {
                if super::super::mappers::Mapper::compile(m).is_ok() {
                    compiled += 1;
                }
            }
        }
        assert!(compiled >= 25, "{compiled}");
        assert!(!scope("roles").unwrap().include_in_token_scope());
        assert!(scope("profile").unwrap().include_in_token_scope());
    }
}
