//! What the application counts, in Keycloak's metric names where Keycloak has one
//! (`keycloak_user_events_total`, `keycloak_credentials_password_hashing_validations_total`)
//! and latchkey's own for the refresh lifecycle. Registered in the registry the binary serves
//! on its management listener; labels never carry a token, a user or a value a client chose
//! but a client id the realm knows.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UserEventLabels {
    pub realm: String,
    pub client_id: String,
    /// The event type in lower case, without `_error` (Keycloak's label).
    pub event: String,
    pub error: String,
    pub idp: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PasswordLabels {
    pub realm: String,
    pub algorithm: String,
    pub hashing_strength: String,
    /// `valid`, `invalid` or `error`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefreshLabels {
    pub realm: String,
    /// `rotated`, `issued` (rotation off), `replayed` (within the grace period),
    /// `reuse_detected` (the family revoked) or `rejected`.
    pub outcome: String,
    /// The check that refused (`grace_period_over`, `sso_session_idle`, …); empty otherwise.
    pub check: String,
}

/// The application's counters. A fresh one counts without being served (tests, the CLI).
#[derive(Default)]
pub struct Metrics {
    pub user_events: Family<UserEventLabels, Counter>,
    pub password_validations: Family<PasswordLabels, Counter>,
    pub refreshes: Family<RefreshLabels, Counter>,
}

impl Metrics {
    /// Registers these counters in `registry` (where they are served).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "keycloak_user_events",
            "Keycloak user events",
            self.user_events.clone(),
        );
        registry.register(
            "keycloak_credentials_password_hashing_validations",
            "Password validations",
            self.password_validations.clone(),
        );
        registry.register(
            "latchkey_refresh_tokens",
            "Refresh-token requests decided, by outcome and the check that refused",
            self.refreshes.clone(),
        );
    }

    /// Counts a user event, labelled as Keycloak labels it.
    pub fn user_event(
        &self,
        realm: &str,
        client_id: Option<&str>,
        kind: &str,
        error: Option<&str>,
    ) {
        let event = kind
            .strip_suffix("_ERROR")
            .unwrap_or(kind)
            .to_ascii_lowercase();
        let error = error.unwrap_or(if kind.ends_with("_ERROR") {
            "unknown"
        } else {
            ""
        });
        // An unknown client's id is whatever the request said: not a label.
        let client_id = if error == latchkey_domain::event::types::error::CLIENT_NOT_FOUND {
            "unknown"
        } else {
            client_id.unwrap_or("")
        };
        self.user_events
            .get_or_create(&UserEventLabels {
                realm: realm.to_string(),
                client_id: client_id.to_string(),
                event,
                error: error.to_string(),
                idp: String::new(),
            })
            .inc();
    }

    pub fn refresh(&self, realm: &str, outcome: &str, check: &str) {
        self.refreshes
            .get_or_create(&RefreshLabels {
                realm: realm.to_string(),
                outcome: outcome.to_string(),
                check: check.to_string(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_labelled_as_keycloak_labels_them() {
        let mut reg = Registry::default();
        let m = Metrics::default();
        m.register(&mut reg);
        m.user_event(
            "demo",
            Some("spa"),
            "LOGIN_ERROR",
            Some("invalid_user_credentials"),
        );
        m.user_event(
            "demo",
            Some("made-up"),
            "LOGIN_ERROR",
            Some("client_not_found"),
        );
        m.user_event("demo", Some("spa"), "REFRESH_TOKEN", None);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &reg).unwrap();
        assert!(out.contains(r#"keycloak_user_events_total{realm="demo",client_id="spa",event="login",error="invalid_user_credentials",idp=""} 1"#), "{out}");
        assert!(
            out.contains(r#"client_id="unknown",event="login",error="client_not_found""#),
            "{out}"
        );
        assert!(out.contains(r#"event="refresh_token",error="""#), "{out}");
    }
}
