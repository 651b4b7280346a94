//! A request's parameters, as the adapters parsed them (RFC 6749 §3.2's rules: an empty value
//! counts as absent; a repeated parameter never gets this far).

use latchkey_domain::OAuthError;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Default, Clone)]
pub struct Params {
    map: HashMap<String, String>,
}

impl Params {
    pub fn from_map(map: HashMap<String, String>) -> Params {
        Params { map }
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
    pub fn require(&self, name: &str, hint: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::invalid_request(format!("parameter '{name}' is missing: {hint}"))
        })
    }
    /// All non-empty parameters, ordered.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.map
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}
