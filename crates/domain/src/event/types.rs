//! Keycloak's names: the user event types (each with an `_ERROR` twin) and whether a realm with
//! an empty `enabledEventTypes` stores them, the error strings events carry, and the admin
//! events' operation and resource types.

/// Keycloak's user event types and `saveByDefault`. Each has an `_ERROR` twin that is stored
/// by default when it is (but for the three [`ERROR_NOT_SAVED`]).
const TYPES: &[(&str, bool)] = &[
    ("LOGIN", true),
    ("REGISTER", true),
    ("LOGOUT", true),
    ("CODE_TO_TOKEN", true),
    ("CLIENT_LOGIN", true),
    ("REFRESH_TOKEN", false),
    ("VALIDATE_ACCESS_TOKEN", false),
    ("INTROSPECT_TOKEN", false),
    ("FEDERATED_IDENTITY_LINK", true),
    ("REMOVE_FEDERATED_IDENTITY", true),
    ("UPDATE_EMAIL", true),
    ("UPDATE_PROFILE", true),
    ("UPDATE_PASSWORD", true),
    ("UPDATE_TOTP", true),
    ("VERIFY_EMAIL", true),
    ("VERIFY_PROFILE", true),
    ("REMOVE_TOTP", true),
    ("GRANT_CONSENT", true),
    ("UPDATE_CONSENT", true),
    ("REVOKE_GRANT", true),
    ("SEND_VERIFY_EMAIL", true),
    ("SEND_RESET_PASSWORD", true),
    ("SEND_IDENTITY_PROVIDER_LINK", true),
    ("RESET_PASSWORD", true),
    ("RESTART_AUTHENTICATION", true),
    ("INVALID_SIGNATURE", false),
    ("REGISTER_NODE", false),
    ("UNREGISTER_NODE", false),
    ("USER_INFO_REQUEST", false),
    ("IDENTITY_PROVIDER_LINK_ACCOUNT", true),
    ("IDENTITY_PROVIDER_LOGIN", false),
    ("IDENTITY_PROVIDER_FIRST_LOGIN", true),
    ("IDENTITY_PROVIDER_POST_LOGIN", true),
    ("IDENTITY_PROVIDER_RESPONSE", false),
    ("IDENTITY_PROVIDER_RETRIEVE_TOKEN", false),
    ("IMPERSONATE", true),
    ("CUSTOM_REQUIRED_ACTION", true),
    ("EXECUTE_ACTIONS", true),
    ("EXECUTE_ACTION_TOKEN", true),
    ("CLIENT_INFO", false),
    ("CLIENT_REGISTER", true),
    ("CLIENT_UPDATE", true),
    ("CLIENT_DELETE", true),
    ("CLIENT_INITIATED_ACCOUNT_LINKING", true),
    ("TOKEN_EXCHANGE", true),
    ("OAUTH2_DEVICE_AUTH", true),
    ("OAUTH2_DEVICE_VERIFY_USER_CODE", true),
    ("OAUTH2_DEVICE_CODE_TO_TOKEN", true),
    ("AUTHREQID_TO_TOKEN", true),
    ("PERMISSION_TOKEN", true),
    ("DELETE_ACCOUNT", true),
    ("PUSHED_AUTHORIZATION_REQUEST", false),
    ("USER_DISABLED_BY_PERMANENT_LOCKOUT", true),
    ("USER_DISABLED_BY_TEMPORARY_LOCKOUT", true),
    ("OAUTH2_EXTENSION_GRANT", true),
    ("JWT_BEARER", true),
];

/// `_ERROR` twins Keycloak does not store by default though their success type is.
const ERROR_NOT_SAVED: &[&str] = &[
    "PERMISSION_TOKEN_ERROR",
    "USER_DISABLED_BY_PERMANENT_LOCKOUT_ERROR",
    "USER_DISABLED_BY_TEMPORARY_LOCKOUT_ERROR",
];

/// The event types latchkey records.
pub mod kind {
    pub const LOGIN: &str = "LOGIN";
    pub const LOGOUT: &str = "LOGOUT";
    pub const CODE_TO_TOKEN: &str = "CODE_TO_TOKEN";
    pub const CLIENT_LOGIN: &str = "CLIENT_LOGIN";
    pub const REFRESH_TOKEN: &str = "REFRESH_TOKEN";
    pub const INTROSPECT_TOKEN: &str = "INTROSPECT_TOKEN";
    pub const REVOKE_GRANT: &str = "REVOKE_GRANT";
    pub const USER_INFO_REQUEST: &str = "USER_INFO_REQUEST";
    pub const UPDATE_PASSWORD: &str = "UPDATE_PASSWORD";
    pub const RESET_PASSWORD: &str = "RESET_PASSWORD";
}

/// Keycloak's error strings (`org.keycloak.events.Errors`) that latchkey's events carry.
pub mod error {
    pub const INVALID_REQUEST: &str = "invalid_request";
    pub const CLIENT_NOT_FOUND: &str = "client_not_found";
    pub const CLIENT_DISABLED: &str = "client_disabled";
    pub const INVALID_CLIENT_CREDENTIALS: &str = "invalid_client_credentials";
    pub const INVALID_CLIENT: &str = "invalid_client";
    pub const USER_NOT_FOUND: &str = "user_not_found";
    pub const USER_DISABLED: &str = "user_disabled";
    pub const USER_TEMPORARILY_DISABLED: &str = "user_temporarily_disabled";
    pub const INVALID_USER_CREDENTIALS: &str = "invalid_user_credentials";
    pub const INVALID_REDIRECT_URI: &str = "invalid_redirect_uri";
    pub const INVALID_CODE: &str = "invalid_code";
    pub const EXPIRED_CODE: &str = "expired_code";
    pub const INVALID_TOKEN: &str = "invalid_token";
    pub const NOT_ALLOWED: &str = "not_allowed";
    pub const USER_SESSION_NOT_FOUND: &str = "user_session_not_found";
    pub const INVALID_CODE_VERIFIER: &str = "invalid_code_verifier";
    pub const CODE_VERIFIER_MISSING: &str = "code_verifier_missing";
    pub const ACCESS_DENIED: &str = "access_denied";
}

/// Whether `name` is one of Keycloak's user event types (an `_ERROR` twin included).
pub fn is_known(name: &str) -> bool {
    let base = name.strip_suffix("_ERROR").unwrap_or(name);
    TYPES.iter().any(|(t, _)| *t == base)
}

/// Whether a realm whose `enabledEventTypes` is empty stores events of type `name`.
pub fn saved_by_default(name: &str) -> bool {
    if ERROR_NOT_SAVED.contains(&name) {
        return false;
    }
    let base = name.strip_suffix("_ERROR").unwrap_or(name);
    TYPES.iter().any(|(t, saved)| *t == base && *saved)
}

/// Every type stored by default, in Keycloak's order (a success type before its error twin):
/// what `GET …/events/config` lists when the realm names none.
pub fn saved_by_default_list() -> Vec<String> {
    let mut out = Vec::new();
    for (t, _) in TYPES {
        for name in [t.to_string(), format!("{t}_ERROR")] {
            if saved_by_default(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// The `_ERROR` twin of a type.
pub fn error_of(kind: &str) -> String {
    if kind.ends_with("_ERROR") {
        kind.to_string()
    } else {
        format!("{kind}_ERROR")
    }
}

/// Keycloak's admin event operation types.
pub const OPERATION_TYPES: &[&str] = &["CREATE", "UPDATE", "DELETE", "ACTION"];

/// Keycloak's admin event resource types.
pub const RESOURCE_TYPES: &[&str] = &[
    "REALM",
    "REALM_ROLE",
    "REALM_ROLE_MAPPING",
    "REALM_SCOPE_MAPPING",
    "AUTH_FLOW",
    "AUTH_EXECUTION_FLOW",
    "AUTH_EXECUTION",
    "AUTHENTICATOR_CONFIG",
    "REQUIRED_ACTION",
    "IDENTITY_PROVIDER",
    "IDENTITY_PROVIDER_MAPPER",
    "PROTOCOL_MAPPER",
    "USER",
    "USER_LOGIN_FAILURE",
    "USER_SESSION",
    "USER_FEDERATION_PROVIDER",
    "USER_FEDERATION_MAPPER",
    "GROUP",
    "GROUP_MEMBERSHIP",
    "CLIENT",
    "CLIENT_INITIAL_ACCESS_MODEL",
    "CLIENT_ROLE",
    "CLIENT_ROLE_MAPPING",
    "CLIENT_SCOPE",
    "CLIENT_SCOPE_MAPPING",
    "CLIENT_SCOPE_CLIENT_MAPPING",
    "CLUSTER_NODE",
    "COMPONENT",
    "AUTHORIZATION_RESOURCE_SERVER",
    "AUTHORIZATION_RESOURCE",
    "AUTHORIZATION_SCOPE",
    "AUTHORIZATION_POLICY",
    "CUSTOM",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keycloak_default_storage_rules() {
        assert!(saved_by_default("LOGIN") && saved_by_default("LOGIN_ERROR"));
        assert!(!saved_by_default("REFRESH_TOKEN") && !saved_by_default("REFRESH_TOKEN_ERROR"));
        assert!(!saved_by_default("USER_INFO_REQUEST") && !saved_by_default("INTROSPECT_TOKEN"));
        assert!(
            saved_by_default("PERMISSION_TOKEN") && !saved_by_default("PERMISSION_TOKEN_ERROR")
        );
        assert!(!saved_by_default("NO_SUCH_TYPE"));
        let list = saved_by_default_list();
        assert_eq!(&list[..2], ["LOGIN", "LOGIN_ERROR"]);
        assert!(!list.iter().any(|t| t.starts_with("REFRESH_TOKEN")));
    }

    #[test]
    fn known_types_include_error_twins() {
        assert!(is_known("REFRESH_TOKEN_ERROR") && is_known("JWT_BEARER"));
        assert!(!is_known("LOGIN_ERROR_ERROR") && !is_known("login"));
        assert_eq!(error_of("LOGIN"), "LOGIN_ERROR");
        assert_eq!(error_of("LOGIN_ERROR"), "LOGIN_ERROR");
    }
}
