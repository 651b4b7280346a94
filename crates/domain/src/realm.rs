//! A realm and its token settings, with Keycloak's defaults where the representation is silent.

use crate::keycloak::RealmRepresentation;
use crate::model::RealmAccess;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The asymmetric algorithms a realm can sign access and ID tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "RS256" => Ok(SigningAlg::RS256),
            "ES256" => Ok(SigningAlg::ES256),
            "EdDSA" | "Ed25519" => Ok(SigningAlg::EdDSA),
            other => Err(format!(
                "unsupported signature algorithm '{other}': latchkey signs with RS256, ES256 or EdDSA"
            )),
        }
    }
}

/// Keycloak's realm defaults (seconds).
pub mod defaults {
    pub const ACCESS_TOKEN_LIFESPAN: i64 = 300;
    pub const SSO_SESSION_IDLE: i64 = 1800;
    pub const SSO_SESSION_MAX: i64 = 36000;
    pub const OFFLINE_SESSION_IDLE: i64 = 2_592_000;
    pub const OFFLINE_SESSION_MAX: i64 = 5_184_000;
    pub const ACCESS_CODE_LIFESPAN: i64 = 60;
    pub const REFRESH_TOKEN_GRACE_PERIOD: i64 = 10;
}

#[derive(Debug, Clone, PartialEq)]
pub struct Realm {
    pub id: String,
    pub name: String,
    pub display_name: Option<String>,
    pub enabled: bool,
    pub access_token_lifespan: i64,
    pub sso_session_idle_timeout: i64,
    pub sso_session_max_lifespan: i64,
    pub client_session_idle_timeout: i64,
    pub client_session_max_lifespan: i64,
    pub offline_session_idle_timeout: i64,
    pub offline_session_max_lifespan_enabled: bool,
    pub offline_session_max_lifespan: i64,
    pub access_code_lifespan: i64,
    /// Rotation. latchkey's default is on; an explicit `false` keeps Keycloak's behaviour.
    pub revoke_refresh_token: bool,
    pub refresh_token_max_reuse: i64,
    pub default_signature_algorithm: SigningAlg,
    pub not_before: i64,
    /// The names of the realm roles (from `access`).
    pub realm_roles: Vec<String>,
    /// Roles, groups, client scopes and scope mappings, as represented (shared: a realm is
    /// cloned into every refresh's decision, and this is most of its size).
    pub access: std::sync::Arc<RealmAccess>,
    /// Users may sign in with their email address as well as their username (Keycloak's
    /// default); never while `duplicate_emails_allowed`, when an address names no one user.
    pub login_with_email_allowed: bool,
    pub duplicate_emails_allowed: bool,
    pub attributes: BTreeMap<String, String>,
    /// `latchkey.refreshTokenGracePeriod`, parsed when the realm is loaded.
    pub refresh_token_grace_period: Option<i64>,
    /// `latchkey.refreshTokenReuseDetection`, parsed when the realm is loaded.
    pub refresh_token_reuse_detection: Option<bool>,
    /// Which events are stored, and for how long.
    pub events: crate::EventsConfig,
}

impl Realm {
    /// Builds the domain realm from its representation. Fails with a message naming the field
    /// when a value is out of range.
    pub fn from_representation(id: String, rep: &RealmRepresentation) -> Result<Realm, String> {
        let attr = |key: &str| {
            rep.attributes
                .get(key)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let non_negative = |name: &str, v: Option<i64>, default: i64| -> Result<i64, String> {
            match v {
                Some(v) if v < 0 => Err(format!("{name} must not be negative (got {v})")),
                Some(v) => Ok(v),
                None => Ok(default),
            }
        };
        if !valid_name(&rep.realm) {
            return Err(format!(
                "realm: '{}' is not a valid realm name (letters, digits, '-', '_' and '.', not dots alone, at most 255)",
                rep.realm
            ));
        }
        let alg = match &rep.default_signature_algorithm {
            Some(a) if !a.is_empty() => a
                .parse()
                .map_err(|e| format!("defaultSignatureAlgorithm: {e}"))?,
            _ => SigningAlg::RS256,
        };
        let access = RealmAccess::from_representation(rep);
        let realm_roles = access.realm_role_names();
        Ok(Realm {
            id,
            name: rep.realm.clone(),
            display_name: rep.display_name.clone(),
            enabled: rep.enabled.unwrap_or(true),
            access_token_lifespan: non_negative(
                "accessTokenLifespan",
                rep.access_token_lifespan,
                defaults::ACCESS_TOKEN_LIFESPAN,
            )?,
            sso_session_idle_timeout: non_negative(
                "ssoSessionIdleTimeout",
                rep.sso_session_idle_timeout,
                defaults::SSO_SESSION_IDLE,
            )?,
            sso_session_max_lifespan: non_negative(
                "ssoSessionMaxLifespan",
                rep.sso_session_max_lifespan,
                defaults::SSO_SESSION_MAX,
            )?,
            client_session_idle_timeout: non_negative(
                "clientSessionIdleTimeout",
                rep.client_session_idle_timeout,
                0,
            )?,
            client_session_max_lifespan: non_negative(
                "clientSessionMaxLifespan",
                rep.client_session_max_lifespan,
                0,
            )?,
            offline_session_idle_timeout: non_negative(
                "offlineSessionIdleTimeout",
                rep.offline_session_idle_timeout,
                defaults::OFFLINE_SESSION_IDLE,
            )?,
            offline_session_max_lifespan_enabled: rep
                .offline_session_max_lifespan_enabled
                .unwrap_or(false),
            offline_session_max_lifespan: non_negative(
                "offlineSessionMaxLifespan",
                rep.offline_session_max_lifespan,
                defaults::OFFLINE_SESSION_MAX,
            )?,
            access_code_lifespan: non_negative(
                "accessCodeLifespan",
                rep.access_code_lifespan,
                defaults::ACCESS_CODE_LIFESPAN,
            )?,
            revoke_refresh_token: rep.revoke_refresh_token.unwrap_or(true),
            refresh_token_max_reuse: non_negative(
                "refreshTokenMaxReuse",
                rep.refresh_token_max_reuse,
                0,
            )?,
            default_signature_algorithm: alg,
            not_before: rep.not_before.unwrap_or(0),
            realm_roles,
            access: access.into(),
            login_with_email_allowed: rep.login_with_email_allowed.unwrap_or(true),
            duplicate_emails_allowed: rep.duplicate_emails_allowed.unwrap_or(false),
            refresh_token_grace_period: attr("latchkey.refreshTokenGracePeriod")
                .and_then(|v| v.parse().ok()),
            refresh_token_reuse_detection: attr("latchkey.refreshTokenReuseDetection")
                .map(|v| v != "false"),
            events: crate::EventsConfig {
                events_enabled: rep.events_enabled.unwrap_or(false),
                events_expiration: non_negative("eventsExpiration", rep.events_expiration, 0)?,
                events_listeners: rep
                    .events_listeners
                    .clone()
                    .unwrap_or_else(|| vec!["jboss-logging".into()]),
                enabled_event_types: rep.enabled_event_types.clone().unwrap_or_default(),
                admin_events_enabled: rep.admin_events_enabled.unwrap_or(false),
                admin_events_details_enabled: rep.admin_events_details_enabled.unwrap_or(false),
            },
            attributes: rep.attributes.clone(),
        })
    }

    /// The representation stored for this realm (without clients and users).
    pub fn to_representation(&self) -> RealmRepresentation {
        let mut rep = RealmRepresentation {
            id: Some(self.id.clone()),
            realm: self.name.clone(),
            display_name: self.display_name.clone(),
            enabled: Some(self.enabled),
            access_token_lifespan: Some(self.access_token_lifespan),
            sso_session_idle_timeout: Some(self.sso_session_idle_timeout),
            sso_session_max_lifespan: Some(self.sso_session_max_lifespan),
            client_session_idle_timeout: Some(self.client_session_idle_timeout),
            client_session_max_lifespan: Some(self.client_session_max_lifespan),
            offline_session_idle_timeout: Some(self.offline_session_idle_timeout),
            offline_session_max_lifespan_enabled: Some(self.offline_session_max_lifespan_enabled),
            offline_session_max_lifespan: Some(self.offline_session_max_lifespan),
            access_code_lifespan: Some(self.access_code_lifespan),
            revoke_refresh_token: Some(self.revoke_refresh_token),
            refresh_token_max_reuse: Some(self.refresh_token_max_reuse),
            default_signature_algorithm: Some(self.default_signature_algorithm.to_string()),
            not_before: Some(self.not_before),
            brute_force_protected: None,
            login_with_email_allowed: Some(self.login_with_email_allowed),
            duplicate_emails_allowed: Some(self.duplicate_emails_allowed),
            clients: None,
            users: None,
            events_enabled: Some(self.events.events_enabled),
            events_expiration: Some(self.events.events_expiration),
            events_listeners: Some(self.events.events_listeners.clone()),
            enabled_event_types: Some(self.events.enabled_event_types.clone()),
            admin_events_enabled: Some(self.events.admin_events_enabled),
            admin_events_details_enabled: Some(self.events.admin_events_details_enabled),
            attributes: self.attributes.clone(),
            ..Default::default()
        };
        self.access.write(&mut rep);
        rep
    }

    /// The role every user of the realm has, as Keycloak names it.
    pub fn default_role(&self) -> String {
        self.access.default_role.clone()
    }

    /// Whether a sign-in name containing `@` is looked up as an email address first.
    pub fn email_sign_in(&self) -> bool {
        self.login_with_email_allowed && !self.duplicate_emails_allowed
    }

    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// Seconds an admin event is kept (the attribute `adminEventsExpiration`, as in Keycloak);
    /// `None` keeps them forever.
    pub fn admin_events_expiration(&self) -> Option<i64> {
        self.attribute("adminEventsExpiration")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|s| *s > 0)
    }
}

/// A realm name fit for a URL path segment: letters, digits, `-`, `_` and `.`, but not dots
/// alone (`.` and `..` are path steps that clients and proxies rewrite).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.chars().all(|c| c == '.')
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(name: &str) -> RealmRepresentation {
        RealmRepresentation {
            realm: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn keycloak_defaults_apply_when_absent() {
        let r = Realm::from_representation("id".into(), &rep("demo")).unwrap();
        assert_eq!(r.access_token_lifespan, 300);
        assert_eq!(r.sso_session_idle_timeout, 1800);
        assert_eq!(r.sso_session_max_lifespan, 36000);
        assert_eq!(r.offline_session_idle_timeout, 2_592_000);
        assert!(!r.offline_session_max_lifespan_enabled);
        assert_eq!(r.default_signature_algorithm, SigningAlg::RS256);
        assert!(
            r.revoke_refresh_token,
            "rotation is on unless a realm says otherwise"
        );
        assert!(r.realm_roles.contains(&"default-roles-demo".to_string()));
    }

    #[test]
    fn explicit_false_rotation_is_kept() {
        let mut rp = rep("demo");
        rp.revoke_refresh_token = Some(false);
        assert!(
            !Realm::from_representation("id".into(), &rp)
                .unwrap()
                .revoke_refresh_token
        );
    }

    #[test]
    fn bad_values_name_the_field() {
        let mut rp = rep("demo");
        rp.access_token_lifespan = Some(-5);
        let e = Realm::from_representation("id".into(), &rp).unwrap_err();
        assert!(e.contains("accessTokenLifespan"), "{e}");
        let mut rp = rep("demo");
        rp.default_signature_algorithm = Some("HS256".into());
        let e = Realm::from_representation("id".into(), &rp).unwrap_err();
        assert!(e.contains("defaultSignatureAlgorithm"), "{e}");
        let e = Realm::from_representation("id".into(), &rep("a b")).unwrap_err();
        assert!(e.contains("realm"), "{e}");
    }

    #[test]
    fn representation_round_trips() {
        let mut rp = rep("demo");
        rp.access_token_lifespan = Some(60);
        rp.attributes
            .insert("latchkey.refreshTokenGracePeriod".into(), "5".into());
        let r = Realm::from_representation("id".into(), &rp).unwrap();
        let back = Realm::from_representation("id".into(), &r.to_representation()).unwrap();
        assert_eq!(r, back);
    }

    #[test]
    fn dots_alone_are_path_steps_not_names() {
        for bad in [".", "..", "...", "", "a/b", "a b"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        for good in ["a.b", ".hidden", "v1..2", "demo"] {
            assert!(valid_name(good), "{good:?}");
        }
    }
}
