//! OAuth clients as Keycloak models them.

use crate::keycloak::ClientRepresentation;
use std::collections::BTreeMap;

pub const DEFAULT_CLIENT_SCOPES: [&str; 6] =
    ["web-origins", "acr", "profile", "roles", "basic", "email"];
pub const OPTIONAL_CLIENT_SCOPES: [&str; 5] = [
    "address",
    "phone",
    "offline_access",
    "organization",
    "microprofile-jwt",
];

/// A stored client secret: a digest to check against and an encrypted copy to show an admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub digest: Vec<u8>,
    pub encrypted: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    /// Internal id (Keycloak's `id`, a UUID).
    pub id: String,
    pub realm_id: String,
    pub client_id: String,
    pub name: Option<String>,
    pub enabled: bool,
    pub public_client: bool,
    pub bearer_only: bool,
    pub standard_flow_enabled: bool,
    pub direct_access_grants_enabled: bool,
    pub service_accounts_enabled: bool,
    pub consent_required: bool,
    pub redirect_uris: Vec<String>,
    pub web_origins: Vec<String>,
    pub root_url: Option<String>,
    pub base_url: Option<String>,
    pub default_client_scopes: Vec<String>,
    pub optional_client_scopes: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    pub secret: Option<StoredSecret>,
    pub client_roles: Vec<String>,
    /// Whether tokens may carry every role of the user (else only the client's scope).
    pub full_scope_allowed: bool,
    /// The client's own protocol mappers, as represented …
    pub protocol_mappers: Vec<crate::keycloak::ProtocolMapperRepresentation>,
    /// … and compiled (those latchkey supports).
    pub mappers: Vec<crate::model::mappers::Mapper>,
    /// The attributes that rules read, parsed once when the client is loaded.
    pub settings: ClientSettings,
}

/// A client's attributes as typed values, parsed when the client is loaded (every refresh
/// reads them). `None`: the attribute is absent (or not a positive number), the realm decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientSettings {
    pub access_token_lifespan: Option<i64>,
    pub client_session_idle_timeout: Option<i64>,
    pub client_session_max_lifespan: Option<i64>,
    pub offline_session_idle_timeout: Option<i64>,
    pub offline_session_max_lifespan: Option<i64>,
    pub use_refresh_tokens: bool,
    pub client_credentials_use_refresh_token: bool,
    /// `latchkey.revokeRefreshToken`.
    pub rotate: Option<bool>,
    /// `latchkey.refreshTokenMaxReuse`.
    pub max_reuse: Option<i64>,
    /// `latchkey.refreshTokenGracePeriod`.
    pub grace_seconds: Option<i64>,
    /// `latchkey.refreshTokenReuseDetection`.
    pub reuse_detection: Option<bool>,
}

impl ClientSettings {
    pub fn parse(attrs: &BTreeMap<String, String>) -> ClientSettings {
        let get = |key: &str| attrs.get(key).map(String::as_str).filter(|v| !v.is_empty());
        let positive = |key: &str| {
            get(key)
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|v| *v > 0)
        };
        let flag = |key: &str| match get(key) {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        };
        ClientSettings {
            access_token_lifespan: positive("access.token.lifespan"),
            client_session_idle_timeout: positive("client.session.idle.timeout"),
            client_session_max_lifespan: positive("client.session.max.lifespan"),
            offline_session_idle_timeout: positive("client.offline.session.idle.timeout"),
            offline_session_max_lifespan: positive("client.offline.session.max.lifespan"),
            use_refresh_tokens: flag("use.refresh.tokens").unwrap_or(true),
            client_credentials_use_refresh_token: flag("client_credentials.use_refresh_token")
                .unwrap_or(false),
            rotate: flag("latchkey.revokeRefreshToken"),
            max_reuse: get("latchkey.refreshTokenMaxReuse").and_then(|v| v.parse().ok()),
            grace_seconds: get("latchkey.refreshTokenGracePeriod").and_then(|v| v.parse().ok()),
            reuse_detection: get("latchkey.refreshTokenReuseDetection").map(|v| v != "false"),
        }
    }
}

/// A URI a browser may be sent to (redirect URIs, post-logout URIs, `rootUrl`, `baseUrl`): no
/// `javascript:`, `data:` or `vbscript:` scheme and no fragment, as Keycloak refuses them.
pub fn browser_uri(field: &str, uri: &str) -> Result<(), String> {
    if uri.is_empty() || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{field}: '{}' is not a valid URI",
            uri.escape_debug()
        ));
    }
    if let Some((scheme, _)) = uri.split_once(':') {
        let s = scheme.to_ascii_lowercase();
        if ["javascript", "data", "vbscript"].contains(&s.as_str()) {
            return Err(format!(
                "{field}: '{}' uses the scheme '{s}', which is never accepted where a browser is sent",
                uri.escape_debug()
            ));
        }
    }
    if uri.contains('#') {
        return Err(format!(
            "{field}: '{}' must not contain a fragment ('#')",
            uri.escape_debug()
        ));
    }
    Ok(())
}

impl Client {
    /// Builds a client from its representation; the secret is attached by the caller, who
    /// owns the crypto. Fails with a message naming the field.
    pub fn from_representation(
        id: String,
        realm_id: String,
        rep: &ClientRepresentation,
        client_roles: Vec<String>,
    ) -> Result<Client, String> {
        if rep.client_id.is_empty() || rep.client_id.len() > 255 {
            return Err("clientId: must be 1 to 255 characters".into());
        }
        if rep.client_id.chars().any(|c| c.is_control()) {
            return Err(format!(
                "clientId: '{}' contains control characters",
                rep.client_id.escape_debug()
            ));
        }
        if let Some(t) = &rep.client_authenticator_type {
            if t != "client-secret" && !t.is_empty() {
                return Err(format!(
                    "clientAuthenticatorType: '{t}' is not supported; latchkey authenticates confidential clients with 'client-secret'"
                ));
            }
        }
        if let Some(p) = rep.protocol.as_deref() {
            if p != "openid-connect" {
                return Err(format!(
                    "protocol: '{p}' is not supported; latchkey speaks 'openid-connect'"
                ));
            }
        }
        for (i, uri) in rep.redirect_uris.iter().flatten().enumerate() {
            browser_uri(&format!("redirectUris[{i}]"), uri)?;
        }
        for (field, value) in [("rootUrl", &rep.root_url), ("baseUrl", &rep.base_url)] {
            if let Some(uri) = value.as_deref().filter(|u| !u.is_empty()) {
                browser_uri(field, uri)?;
            }
        }
        if let Some(list) = rep.attributes.get("post.logout.redirect.uris") {
            for (i, uri) in list.split("##").enumerate() {
                if !uri.is_empty() && uri != "+" && uri != "-" {
                    browser_uri(&format!("attributes.post.logout.redirect.uris[{i}]"), uri)?;
                }
            }
        }
        let attrs = rep.attributes.clone();
        for key in [
            "access.token.lifespan",
            "client.session.idle.timeout",
            "client.session.max.lifespan",
            "client.offline.session.idle.timeout",
            "client.offline.session.max.lifespan",
        ] {
            if let Some(v) = attrs.get(key) {
                if !v.is_empty() && v.parse::<i64>().map(|n| n < 0).unwrap_or(true) {
                    return Err(format!(
                        "attributes.{key}: '{v}' is not a number of seconds"
                    ));
                }
            }
        }
        for key in [
            "access.token.signed.response.alg",
            "id.token.signed.response.alg",
            "user.info.response.signature.alg",
        ] {
            if let Some(v) = attrs.get(key).filter(|v| !v.is_empty()) {
                let unsigned_ok = key == "user.info.response.signature.alg" && v == "unsigned";
                if !unsigned_ok && v.parse::<crate::realm::SigningAlg>().is_err() {
                    return Err(format!(
                        "attributes.{key}: '{v}' is not an algorithm latchkey signs with (RS256, ES256, EdDSA{})",
                        if key.starts_with("user.info") { ", or unsigned" } else { "" }
                    ));
                }
            }
        }
        for key in ["use.refresh.tokens", "client_credentials.use_refresh_token"] {
            if let Some(v) = attrs.get(key) {
                if !matches!(v.as_str(), "true" | "false" | "") {
                    return Err(format!(
                        "attributes.{key}: '{v}' must be \"true\" or \"false\""
                    ));
                }
            }
        }
        if let Some(m) = attrs.get("pkce.code.challenge.method") {
            if !matches!(m.as_str(), "" | "S256" | "plain") {
                return Err(format!(
                    "attributes.pkce.code.challenge.method: '{m}' must be S256 (or plain)"
                ));
            }
        }
        Ok(Client {
            id,
            realm_id,
            client_id: rep.client_id.clone(),
            name: rep.name.clone(),
            enabled: rep.enabled.unwrap_or(true),
            public_client: rep.public_client.unwrap_or(false),
            bearer_only: rep.bearer_only.unwrap_or(false),
            standard_flow_enabled: rep.standard_flow_enabled.unwrap_or(true),
            direct_access_grants_enabled: rep.direct_access_grants_enabled.unwrap_or(false),
            service_accounts_enabled: rep.service_accounts_enabled.unwrap_or(false),
            consent_required: rep.consent_required.unwrap_or(false),
            redirect_uris: rep.redirect_uris.clone().unwrap_or_default(),
            web_origins: rep.web_origins.clone().unwrap_or_default(),
            root_url: rep.root_url.clone(),
            base_url: rep.base_url.clone(),
            default_client_scopes: rep.default_client_scopes.clone().unwrap_or_else(|| {
                DEFAULT_CLIENT_SCOPES
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
            optional_client_scopes: rep.optional_client_scopes.clone().unwrap_or_else(|| {
                OPTIONAL_CLIENT_SCOPES
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
            settings: ClientSettings::parse(&attrs),
            attributes: attrs,
            secret: None,
            client_roles,
            // Keycloak's default: full scope unless the client asks for consent.
            full_scope_allowed: rep
                .full_scope_allowed
                .unwrap_or(!rep.consent_required.unwrap_or(false)),
            protocol_mappers: rep.protocol_mappers.clone().unwrap_or_default(),
            mappers: rep
                .protocol_mappers
                .iter()
                .flatten()
                .filter_map(|m| crate::model::mappers::Mapper::compile(m).ok())
                .collect(),
        })
    }

    /// The representation without the secret.
    pub fn to_representation(&self) -> ClientRepresentation {
        ClientRepresentation {
            id: Some(self.id.clone()),
            client_id: self.client_id.clone(),
            name: self.name.clone(),
            enabled: Some(self.enabled),
            public_client: Some(self.public_client),
            bearer_only: Some(self.bearer_only),
            secret: None,
            client_authenticator_type: Some("client-secret".into()),
            standard_flow_enabled: Some(self.standard_flow_enabled),
            implicit_flow_enabled: Some(false),
            direct_access_grants_enabled: Some(self.direct_access_grants_enabled),
            service_accounts_enabled: Some(self.service_accounts_enabled),
            consent_required: Some(self.consent_required),
            full_scope_allowed: Some(self.full_scope_allowed),
            protocol: Some("openid-connect".into()),
            redirect_uris: Some(self.redirect_uris.clone()),
            web_origins: Some(self.web_origins.clone()),
            root_url: self.root_url.clone(),
            base_url: self.base_url.clone(),
            default_client_scopes: Some(self.default_client_scopes.clone()),
            optional_client_scopes: Some(self.optional_client_scopes.clone()),
            protocol_mappers: (!self.protocol_mappers.is_empty())
                .then(|| self.protocol_mappers.clone()),
            default_roles: None,
            attributes: self.attributes.clone(),
        }
    }

    /// Keycloak's built-in `admin-cli`: public, direct access grants on, standard flow off.
    pub fn admin_cli_representation() -> ClientRepresentation {
        ClientRepresentation {
            client_id: "admin-cli".into(),
            name: Some("${client_admin-cli}".into()),
            enabled: Some(true),
            public_client: Some(true),
            standard_flow_enabled: Some(false),
            direct_access_grants_enabled: Some(true),
            service_accounts_enabled: Some(false),
            ..Default::default()
        }
    }

    /// Confidential clients must authenticate; bearer-only clients never get tokens.
    pub fn is_confidential(&self) -> bool {
        !self.public_client
    }

    pub fn access_token_lifespan(&self) -> Option<i64> {
        self.settings.access_token_lifespan
    }
    pub fn client_session_idle_timeout(&self) -> Option<i64> {
        self.settings.client_session_idle_timeout
    }
    pub fn client_session_max_lifespan(&self) -> Option<i64> {
        self.settings.client_session_max_lifespan
    }
    pub fn offline_session_idle_timeout(&self) -> Option<i64> {
        self.settings.offline_session_idle_timeout
    }
    pub fn offline_session_max_lifespan(&self) -> Option<i64> {
        self.settings.offline_session_max_lifespan
    }
    pub fn use_refresh_tokens(&self) -> bool {
        self.settings.use_refresh_tokens
    }
    pub fn client_credentials_use_refresh_token(&self) -> bool {
        self.settings.client_credentials_use_refresh_token
    }
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// The web origins with `+` expanded to the origins of the redirect URIs, as Keycloak does.
    pub fn resolved_web_origins(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for o in &self.web_origins {
            if o == "+" {
                for uri in &self.redirect_uris {
                    if let Some(origin) = origin_of(uri) {
                        if !out.contains(&origin) {
                            out.push(origin);
                        }
                    }
                }
            } else if !out.contains(o) {
                out.push(o.trim_end_matches('/').to_string());
            }
        }
        out
    }

    /// The username of this client's service account, as Keycloak names it.
    pub fn service_account_username(&self) -> String {
        format!("service-account-{}", self.client_id.to_lowercase())
    }
}

/// `scheme://host[:port]` of an absolute URI, if it has one.
pub fn origin_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    if authority.is_empty() || authority.contains('*') {
        return None;
    }
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_a_browser_is_sent_to_refuse_script_schemes_and_fragments() {
        let build = |f: &dyn Fn(&mut ClientRepresentation)| {
            let mut rep = ClientRepresentation {
                client_id: "app".into(),
                ..Default::default()
            };
            f(&mut rep);
            Client::from_representation("i".into(), "r".into(), &rep, vec![])
        };
        let e = build(&|r| {
            r.redirect_uris = Some(vec!["https://ok/cb".into(), "JavaScript:alert(1)".into()])
        })
        .unwrap_err();
        assert!(
            e.starts_with("redirectUris[1]:") && e.contains("scheme 'javascript'"),
            "{e}"
        );
        let e = build(&|r| r.root_url = Some("data:text/html,x".into())).unwrap_err();
        assert!(e.starts_with("rootUrl:"), "{e}");
        let e = build(&|r| r.base_url = Some("/app#frag".into())).unwrap_err();
        assert!(e.starts_with("baseUrl:") && e.contains("fragment"), "{e}");
        let e = build(&|r| {
            r.attributes
                .insert("post.logout.redirect.uris".into(), "+##vbscript:x".into());
        })
        .unwrap_err();
        assert!(
            e.starts_with("attributes.post.logout.redirect.uris[1]:"),
            "{e}"
        );
        assert!(
            build(&|r| r.redirect_uris = Some(vec!["/relative/*".into(), "myapp:/cb".into()]))
                .is_ok()
        );
    }

    #[test]
    fn plus_expands_to_redirect_origins() {
        let rep = ClientRepresentation {
            client_id: "spa".into(),
            redirect_uris: Some(vec![
                "http://localhost:3000/*".into(),
                "https://App.example.com/cb?x=1".into(),
            ]),
            web_origins: Some(vec!["+".into(), "https://other.example/".into()]),
            ..Default::default()
        };
        let c = Client::from_representation("i".into(), "r".into(), &rep, vec![]).unwrap();
        assert_eq!(
            c.resolved_web_origins(),
            vec![
                "http://localhost:3000",
                "https://app.example.com",
                "https://other.example"
            ]
        );
        assert_eq!(origin_of("/relative"), None);
    }

    #[test]
    fn defaults_match_keycloak() {
        let rep = ClientRepresentation {
            client_id: "web".into(),
            ..Default::default()
        };
        let c = Client::from_representation("i".into(), "r".into(), &rep, vec![]).unwrap();
        assert!(c.is_confidential());
        assert!(c.standard_flow_enabled);
        assert!(!c.direct_access_grants_enabled);
        assert!(c.use_refresh_tokens());
        assert!(!c.client_credentials_use_refresh_token());
        assert!(c.default_client_scopes.contains(&"profile".to_string()));
        assert!(c
            .optional_client_scopes
            .contains(&"offline_access".to_string()));
    }

    #[test]
    fn admin_cli_is_public_with_direct_grants() {
        let c = Client::from_representation(
            "i".into(),
            "r".into(),
            &Client::admin_cli_representation(),
            vec![],
        )
        .unwrap();
        assert!(c.public_client && c.direct_access_grants_enabled && !c.standard_flow_enabled);
    }

    #[test]
    fn bad_attributes_name_the_field() {
        let mut rep = ClientRepresentation {
            client_id: "web".into(),
            ..Default::default()
        };
        rep.attributes
            .insert("access.token.lifespan".into(), "soon".into());
        let e = Client::from_representation("i".into(), "r".into(), &rep, vec![]).unwrap_err();
        assert!(e.contains("access.token.lifespan"), "{e}");
        let rep = ClientRepresentation {
            client_id: "web".into(),
            client_authenticator_type: Some("client-jwt".into()),
            ..Default::default()
        };
        let e = Client::from_representation("i".into(), "r".into(), &rep, vec![]).unwrap_err();
        assert!(e.contains("clientAuthenticatorType"), "{e}");
    }

    #[test]
    fn service_account_name() {
        let rep = ClientRepresentation {
            client_id: "My-Svc".into(),
            ..Default::default()
        };
        let c = Client::from_representation("i".into(), "r".into(), &rep, vec![]).unwrap();
        assert_eq!(c.service_account_username(), "service-account-my-svc");
    }
}
