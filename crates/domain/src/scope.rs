//! Scope resolution as Keycloak does it: a client's default scopes always apply, its optional
//! scopes apply when requested, `openid` switches on OIDC. Some built-in scopes shape claims but
//! are not listed in the `scope` string.

use crate::{Client, OAuthError};
use std::collections::BTreeSet;

/// Built-in client scopes that never appear in the token's `scope` string.
pub const HIDDEN_SCOPES: [&str; 5] = ["web-origins", "acr", "roles", "basic", "service_account"];

/// The scopes in effect for one token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes {
    /// Every scope in effect, hidden ones included (drives claims).
    pub effective: BTreeSet<String>,
}

impl Scopes {
    pub fn has(&self, s: &str) -> bool {
        self.effective.contains(s)
    }
    pub fn openid(&self) -> bool {
        self.has("openid")
    }
    pub fn offline(&self) -> bool {
        self.has("offline_access")
    }
    /// The `scope` string: openid first, then the visible scopes in order.
    pub fn to_scope_string(&self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        if self.openid() {
            parts.push("openid");
        }
        for s in &self.effective {
            if s != "openid" && !HIDDEN_SCOPES.contains(&s.as_str()) {
                parts.push(s);
            }
        }
        parts.join(" ")
    }
    /// Parses a granted scope string back, adding the client's default scopes (which always
    /// apply, and some of which are never listed).
    pub fn from_granted(scope: &str, client: &Client) -> Scopes {
        let mut effective: BTreeSet<String> =
            scope.split_whitespace().map(str::to_string).collect();
        effective.extend(client.default_client_scopes.iter().cloned());
        Scopes { effective }
    }
}

fn split(requested: Option<&str>) -> Vec<&str> {
    requested
        .map(|s| s.split(' ').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

/// Resolves the `scope` parameter of a new grant for `client`.
pub fn resolve(client: &Client, requested: Option<&str>) -> Result<Scopes, OAuthError> {
    let mut effective: BTreeSet<String> = client.default_client_scopes.iter().cloned().collect();
    for s in split(requested) {
        let known = s == "openid"
            || client.default_client_scopes.iter().any(|d| d == s)
            || client.optional_client_scopes.iter().any(|d| d == s);
        if known {
            effective.insert(s.to_string());
        } else {
            return Err(OAuthError::invalid_scope(format!(
                "scope '{s}' is neither a default nor an optional client scope of client '{}'",
                client.client_id
            )));
        }
    }
    Ok(Scopes { effective })
}

/// RFC 6749 §6: a refresh may narrow the scope but never widen it. `None` keeps the grant's.
/// As in Keycloak, the client's default scopes always stay; a request narrows the optional ones.
pub fn narrow(
    client: &Client,
    granted: &Scopes,
    requested: Option<&str>,
) -> Result<Scopes, OAuthError> {
    let req = split(requested);
    if req.is_empty() {
        return Ok(granted.clone());
    }
    // RFC 6749 §6, as Keycloak reads it (its #12009 and #24323): the new access and ID tokens
    // carry the optional scopes asked for; the client's default scopes always apply, as they
    // do in every request (clients such as authlib send `scope=openid` with every refresh).
    let mut effective: BTreeSet<String> = client
        .default_client_scopes
        .iter()
        .filter(|d| granted.has(d) || HIDDEN_SCOPES.contains(&d.as_str()))
        .cloned()
        .collect();
    for s in req {
        if !granted.has(s) {
            return Err(OAuthError::invalid_scope(format!(
                "scope '{s}' was not granted to this refresh token (granted: '{}'); a refresh can only narrow the scope",
                granted.to_scope_string()
            )));
        }
        effective.insert(s.to_string());
    }
    Ok(Scopes { effective })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keycloak::ClientRepresentation;

    fn client() -> Client {
        let rep = ClientRepresentation {
            client_id: "web".into(),
            ..Default::default()
        };
        Client::from_representation("i".into(), "r".into(), &rep, vec![]).unwrap()
    }

    #[test]
    fn defaults_and_requested_optional() {
        let s = resolve(&client(), Some("openid offline_access")).unwrap();
        assert_eq!(s.to_scope_string(), "openid email offline_access profile");
        assert!(s.has("roles"));
        let s = resolve(&client(), None).unwrap();
        assert_eq!(s.to_scope_string(), "email profile");
    }

    #[test]
    fn unknown_scope_is_invalid_scope() {
        let e = resolve(&client(), Some("openid admin")).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidScope);
        assert!(e.description.contains("'admin'"));
    }

    #[test]
    fn narrowing_only() {
        let c = client();
        let g = resolve(&c, Some("openid offline_access")).unwrap();
        let n = narrow(&c, &g, Some("openid")).unwrap();
        assert_eq!(
            n.to_scope_string(),
            "openid email profile",
            "the optional scope goes; default scopes stay, as in Keycloak"
        );
        assert!(n.has("roles"), "scopes outside the scope parameter stay");
        assert_eq!(
            narrow(&c, &g, Some("offline_access"))
                .unwrap()
                .to_scope_string(),
            "email offline_access profile"
        );
        assert_eq!(narrow(&c, &g, None).unwrap(), g);
        let g2 = resolve(&c, None).unwrap();
        assert_eq!(
            narrow(&c, &g2, Some("openid")).unwrap_err().code,
            crate::ErrorCode::InvalidScope
        );
    }
}
