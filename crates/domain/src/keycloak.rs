//! Keycloak's JSON representations (realm export format and admin API), field for field.
//! Only the fields latchkey understands are typed; the rest are reported as ignored by the
//! importer (see the binary's `import` module).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod access;
pub use access::{
    ClientScopeRepresentation, ComponentRepresentation, CompositesRepresentation,
    GroupRepresentation, ProtocolMapperRepresentation, ScopeMappingRepresentation,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RealmRepresentation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub realm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_lifespan: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso_session_idle_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso_session_max_lifespan: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_session_idle_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_session_max_lifespan: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_session_idle_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_session_max_lifespan_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_session_max_lifespan: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_code_lifespan: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_refresh_token: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_max_reuse: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_signature_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brute_force_protected: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_expiration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_listeners: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled_event_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_events_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_events_details_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_with_email_allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_emails_allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<RolesRepresentation>,
    /// The version of Keycloak that wrote the export; older exports are migrated on import.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keycloak_version: Option<String>,
    /// The composite role every new user gets (Keycloak 13 and later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_role: Option<RoleRepresentation>,
    /// The roles every new user got before Keycloak 13.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupRepresentation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_scopes: Option<Vec<ClientScopeRepresentation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_default_client_scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_optional_client_scopes: Option<Vec<String>>,
    /// Realm roles a client or client scope may carry into tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope_mappings: Option<Vec<ScopeMappingRepresentation>>,
    /// Client roles (by the clientId that defines them) a client or client scope may carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_scope_mappings: Option<BTreeMap<String, Vec<ScopeMappingRepresentation>>>,
    /// Components by type; latchkey reads `org.keycloak.keys.KeyProvider` (the realm's keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<BTreeMap<String, Vec<ComponentRepresentation>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<ClientRepresentation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserRepresentation>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolesRepresentation {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub realm: Vec<RoleRepresentation>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub client: BTreeMap<String, Vec<RoleRepresentation>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleRepresentation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composite: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composites: Option<CompositesRepresentation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_role: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "access::multi_valued",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl RoleRepresentation {
    pub fn named(name: &str) -> RoleRepresentation {
        RoleRepresentation {
            name: name.to_string(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientRepresentation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_client: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_authenticator_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standard_flow_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implicit_flow_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_access_grants_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_accounts_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_scope_allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_client_scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional_client_scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_mappers: Option<Vec<ProtocolMapperRepresentation>>,
    /// The client roles every new user got before Keycloak 13.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRepresentation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_client_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "access::multi_valued",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Group memberships by path (`/parent/child`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Vec<CredentialRepresentation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm_roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_roles: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRepresentation {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporary: Option<bool>,
    /// Keycloak exports a hashed password as two JSON documents in strings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_data: Option<String>,
}
