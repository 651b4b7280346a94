//! Events in Keycloak's shape: user events (a sign-in, a refresh, a logout, each failure with
//! Keycloak's error string and `details`) and admin events (an administrator's change), with
//! the realm's rules for which of them are stored. The store writes a state change's event in
//! the same transaction as the change.

pub mod query;
pub mod types;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A user event, as Keycloak's `EventRepresentation` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEvent {
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub time: i64,
    /// The event type: `REFRESH_TOKEN`, `LOGIN_ERROR`, … ([`types`]).
    #[serde(rename = "type")]
    pub kind: String,
    pub realm_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Keycloak's error string ([`types::error`]), on `_ERROR` events only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub details: BTreeMap<String, String>,
}

impl UserEvent {
    /// An event of `kind` in realm `realm_id`, with nothing else known yet.
    pub fn new(id: String, time: i64, kind: &str, realm_id: &str) -> UserEvent {
        UserEvent {
            id,
            time,
            kind: kind.to_string(),
            realm_id: realm_id.to_string(),
            client_id: None,
            user_id: None,
            session_id: None,
            ip_address: None,
            error: None,
            details: BTreeMap::new(),
        }
    }

    /// Adds a detail; as in Keycloak, an empty value is left out.
    pub fn detail(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        if !value.is_empty() {
            self.details.insert(key.to_string(), value);
        }
        self
    }

    /// Turns the event into its `_ERROR` twin with Keycloak's error string.
    pub fn fail(&mut self, error: &str) -> &mut Self {
        self.kind = types::error_of(&self.kind);
        self.error = Some(error.to_string());
        self
    }
}

/// Who made an admin change (Keycloak's `AuthDetailsRepresentation`): the realm and client of
/// the token (the client's internal id, as Keycloak records it), its user, and their address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AuthDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

/// An admin event, as Keycloak's `AdminEventRepresentation` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminEvent {
    pub id: String,
    pub time: i64,
    pub realm_id: String,
    pub auth_details: AuthDetails,
    /// `CREATE`, `UPDATE`, `DELETE` or `ACTION`.
    pub operation_type: String,
    pub resource_type: String,
    /// The request path after `/admin/realms/{realm}/`, e.g. `users/{id}`.
    pub resource_path: String,
    /// The JSON sent, secrets removed, as a string; kept only with `adminEventsDetailsEnabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub representation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Something to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    User(UserEvent),
    Admin(AdminEvent),
}

impl Event {
    pub fn realm_id(&self) -> &str {
        match self {
            Event::User(e) => &e.realm_id,
            Event::Admin(e) => &e.realm_id,
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Event::User(e) => serde_json::to_value(e),
            Event::Admin(e) => serde_json::to_value(e),
        }
        .unwrap_or(Value::Null)
    }
}

/// A realm's event settings (Keycloak's `RealmEventsConfigRepresentation`): whether user and
/// admin events are stored, which user event types, and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventsConfig {
    pub events_enabled: bool,
    /// Seconds a user event is kept; 0 keeps it forever.
    pub events_expiration: i64,
    pub events_listeners: Vec<String>,
    /// The user event types stored; empty means Keycloak's default list.
    pub enabled_event_types: Vec<String>,
    pub admin_events_enabled: bool,
    pub admin_events_details_enabled: bool,
}

impl EventsConfig {
    /// Whether a user event of type `kind` is stored (Keycloak's `EventBuilder` rule).
    pub fn stores(&self, kind: &str) -> bool {
        self.events_enabled
            && if self.enabled_event_types.is_empty() {
                types::saved_by_default(kind)
            } else {
                self.enabled_event_types.iter().any(|t| t == kind)
            }
    }

    /// Whether a user event of type `kind` or its error twin might be stored: the cheap test
    /// before anything is built.
    pub fn stores_either(&self, kind: &str) -> bool {
        self.stores(kind) || self.stores(&types::error_of(kind))
    }

    /// The representation `GET …/events/config` answers: an empty type list shows as the
    /// types stored by default, and a zero expiration is left out.
    pub fn to_representation(&self) -> Value {
        let types = if self.enabled_event_types.is_empty() {
            types::saved_by_default_list()
        } else {
            self.enabled_event_types.clone()
        };
        let mut v = json!({
            "eventsEnabled": self.events_enabled,
            "eventsListeners": self.events_listeners,
            "enabledEventTypes": types,
            "adminEventsEnabled": self.admin_events_enabled,
            "adminEventsDetailsEnabled": self.admin_events_details_enabled,
        });
        if self.events_expiration != 0 {
            v["eventsExpiration"] = json!(self.events_expiration);
        }
        v
    }
}

/// A `PUT …/events/config` body: each field absent (or null) leaves the setting as it is, but
/// for `eventsExpiration`, where absent means "never expire", as in Keycloak.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsConfigUpdate {
    pub events_enabled: Option<bool>,
    pub events_expiration: Option<i64>,
    pub events_listeners: Option<Vec<String>>,
    pub enabled_event_types: Option<Vec<String>>,
    pub admin_events_enabled: Option<bool>,
    pub admin_events_details_enabled: Option<bool>,
}

impl EventsConfigUpdate {
    /// The configuration after this update, or what is wrong with it in Keycloak's words.
    pub fn apply(self, before: &EventsConfig) -> Result<EventsConfig, String> {
        if let Some(unknown) = self
            .enabled_event_types
            .iter()
            .flatten()
            .find(|t| !types::is_known(t))
        {
            return Err(format!(
                "Invalid value for 'enabledEventTypes': '{}' is not an event type",
                crate::sanitize(unknown)
            ));
        }
        let expiration = self.events_expiration.unwrap_or(0);
        if expiration < 0 {
            return Err(format!(
                "Invalid value for 'eventsExpiration': {expiration} (seconds; 0 keeps events forever)"
            ));
        }
        Ok(EventsConfig {
            events_enabled: self.events_enabled.unwrap_or(before.events_enabled),
            events_expiration: expiration,
            events_listeners: self
                .events_listeners
                .unwrap_or_else(|| before.events_listeners.clone()),
            enabled_event_types: self
                .enabled_event_types
                .unwrap_or_else(|| before.enabled_event_types.clone()),
            admin_events_enabled: self
                .admin_events_enabled
                .unwrap_or(before.admin_events_enabled),
            admin_events_details_enabled: self
                .admin_events_details_enabled
                .unwrap_or(before.admin_events_details_enabled),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_stored_until_events_are_enabled() {
        let mut c = EventsConfig::default();
        assert!(!c.stores("LOGIN"));
        c.events_enabled = true;
        assert!(c.stores("LOGIN") && c.stores("LOGIN_ERROR"));
        assert!(!c.stores("REFRESH_TOKEN"), "not saved by default");
        c.enabled_event_types = vec!["REFRESH_TOKEN_ERROR".into()];
        assert!(c.stores("REFRESH_TOKEN_ERROR") && !c.stores("LOGIN"));
        assert!(c.stores_either("REFRESH_TOKEN"));
    }

    #[test]
    fn representation_fills_the_default_types_and_hides_zero_expiration() {
        let c = EventsConfig::default();
        let v = c.to_representation();
        assert_eq!(v["eventsEnabled"], false);
        assert!(v.get("eventsExpiration").is_none());
        assert!(v["enabledEventTypes"].as_array().unwrap().len() > 40);
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name() {
        let before = EventsConfig {
            events_enabled: true,
            events_expiration: 60,
            admin_events_enabled: true,
            ..Default::default()
        };
        let up: EventsConfigUpdate =
            serde_json::from_str(r#"{"adminEventsDetailsEnabled":true}"#).unwrap();
        let after = up.apply(&before).unwrap();
        assert!(
            after.events_enabled
                && after.admin_events_enabled
                && after.admin_events_details_enabled
        );
        assert_eq!(
            after.events_expiration, 0,
            "absent expiration means never, as in Keycloak"
        );
        let bad: EventsConfigUpdate =
            serde_json::from_str(r#"{"enabledEventTypes":["LOGN"]}"#).unwrap();
        assert!(bad.apply(&before).unwrap_err().contains("'LOGN'"));
    }

    #[test]
    fn a_user_event_serialises_as_keycloak_does() {
        let mut e = UserEvent::new("e1".into(), 1_700_000_000_123, "REFRESH_TOKEN", "r1");
        e.client_id = Some("spa".into());
        e.detail("grant_type", "refresh_token").detail("scope", "");
        e.fail("invalid_token");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "REFRESH_TOKEN_ERROR");
        assert_eq!(v["time"], 1_700_000_000_123i64);
        assert_eq!(v["details"], json!({"grant_type": "refresh_token"}));
        assert!(v.get("userId").is_none());
    }
}
