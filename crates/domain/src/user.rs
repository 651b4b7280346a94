//! Users of a realm.

use crate::keycloak::UserRepresentation;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub realm_id: String,
    /// Stored lower-case, as Keycloak does.
    pub username: String,
    pub enabled: bool,
    pub email: Option<String>,
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub realm_roles: Vec<String>,
    pub client_roles: BTreeMap<String, Vec<String>>,
    /// The groups the user is a member of, by path.
    pub groups: Vec<String>,
    /// Set for the service-account user of a client (its clientId).
    pub service_account_client_id: Option<String>,
    pub created_at: i64,
}

/// The one form a username is stored and looked up in, so that names a person reads as the
/// same are one account: compatibility-normalised (NFKC: full-width `ａｌｉｃｅ` is `alice`,
/// `zoë` composed or decomposed is one string), lower-cased (as Keycloak stores usernames, and
/// as PRECIS's UsernameCaseMapped profile of RFC 8265 maps case), and trimmed.
pub fn canonical_username(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let lowered: String = name.trim().nfkc().collect::<String>().to_lowercase();
    // Lower-casing can leave a string that is no longer in normal form.
    lowered.nfkc().collect()
}

impl User {
    pub fn from_representation(
        id: String,
        realm_id: String,
        rep: &UserRepresentation,
        now: i64,
    ) -> Result<User, String> {
        let username = canonical_username(&rep.username);
        if username.is_empty() || username.len() > 255 {
            return Err("username: must be 1 to 255 characters".into());
        }
        if username.chars().any(|c| c.is_control()) {
            return Err("username: must not contain control characters".into());
        }
        if let Some(e) = &rep.email {
            if !e.is_empty()
                && (!e.contains('@') || e.chars().any(|c| c.is_control() || c.is_whitespace()))
            {
                return Err(format!(
                    "email: '{}' is not an email address",
                    e.escape_debug()
                ));
            }
        }
        for (field, v) in [("firstName", &rep.first_name), ("lastName", &rep.last_name)] {
            if v.as_deref().is_some_and(|s| s.contains('\0')) {
                return Err(format!("{field}: must not contain NUL characters"));
            }
        }
        Ok(User {
            id,
            realm_id,
            username,
            enabled: rep.enabled.unwrap_or(true),
            email: rep
                .email
                .clone()
                .filter(|e| !e.is_empty())
                .map(|e| e.to_lowercase()),
            email_verified: rep.email_verified.unwrap_or(false),
            first_name: rep.first_name.clone().filter(|s| !s.is_empty()),
            last_name: rep.last_name.clone().filter(|s| !s.is_empty()),
            attributes: rep.attributes.clone(),
            realm_roles: rep.realm_roles.clone().unwrap_or_default(),
            client_roles: rep.client_roles.clone().unwrap_or_default(),
            groups: rep
                .groups
                .iter()
                .flatten()
                .map(|p| {
                    if p.starts_with('/') {
                        p.clone()
                    } else {
                        format!("/{p}")
                    }
                })
                .collect(),
            service_account_client_id: rep.service_account_client_id.clone(),
            created_at: rep.created_timestamp.map(|ms| ms / 1000).unwrap_or(now),
        })
    }

    pub fn to_representation(&self) -> UserRepresentation {
        UserRepresentation {
            id: Some(self.id.clone()),
            username: self.username.clone(),
            enabled: Some(self.enabled),
            email: self.email.clone(),
            email_verified: Some(self.email_verified),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            created_timestamp: Some(self.created_at * 1000),
            service_account_client_id: self.service_account_client_id.clone(),
            attributes: self.attributes.clone(),
            credentials: None,
            groups: (!self.groups.is_empty()).then(|| self.groups.clone()),
            realm_roles: Some(self.realm_roles.clone()),
            client_roles: if self.client_roles.is_empty() {
                None
            } else {
                Some(self.client_roles.clone())
            },
        }
    }

    /// `name` as Keycloak builds it from first and last name.
    pub fn full_name(&self) -> Option<String> {
        match (&self.first_name, &self.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(f), None) => Some(f.clone()),
            (None, Some(l)) => Some(l.clone()),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_usernames_are_one_name() {
        assert_eq!(canonical_username("ａｌｉｃｅ"), "alice", "full width");
        assert_eq!(canonical_username("ALICE"), "alice");
        let (nfc, nfd) = ("zo\u{eb}", "zoe\u{308}");
        assert_ne!(nfc, nfd);
        assert_eq!(canonical_username(nfc), canonical_username(nfd));
        assert_eq!(
            canonical_username("Zo\u{cb}"),
            canonical_username(nfd),
            "upper-case composed"
        );
        assert_eq!(canonical_username("ﬁona"), "fiona", "ligature");
        assert_ne!(canonical_username("alice"), canonical_username("aIice"));
    }

    #[test]
    fn username_is_lowercased_and_validated() {
        let rep = UserRepresentation {
            username: " Alice ".into(),
            ..Default::default()
        };
        let u = User::from_representation("i".into(), "r".into(), &rep, 0).unwrap();
        assert_eq!(u.username, "alice");
        let rep = UserRepresentation {
            username: "".into(),
            ..Default::default()
        };
        assert!(User::from_representation("i".into(), "r".into(), &rep, 0)
            .unwrap_err()
            .contains("username"));
        let rep = UserRepresentation {
            username: "a".into(),
            email: Some("nope".into()),
            ..Default::default()
        };
        assert!(User::from_representation("i".into(), "r".into(), &rep, 0)
            .unwrap_err()
            .contains("email"));
    }

    #[test]
    fn full_name() {
        let rep = UserRepresentation {
            username: "a".into(),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            ..Default::default()
        };
        let u = User::from_representation("i".into(), "r".into(), &rep, 0).unwrap();
        assert_eq!(u.full_name().as_deref(), Some("Ada Lovelace"));
    }
}
