//! The headers the plugin sets: upstream (`upstream_*_header`, `upstream_headers_claims`) and
//! downstream (`downstream_*_header`, `downstream_headers_claims`). Every upstream header the
//! configuration names is first removed from the client's request, so a client can never
//! supply one the plugin would have set, even when the claim behind it is missing.

use crate::config::oidc::{HeaderSpec, Headers, OidcConfig};
use crate::tokens::Tokens;
use base64::Engine;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

fn names(h: &Headers) -> impl Iterator<Item = HeaderName> + '_ {
    [
        &h.access_token,
        &h.id_token,
        &h.refresh_token,
        &h.introspection,
    ]
    .into_iter()
    .flatten()
    .map(|s| match s {
        HeaderSpec::Authorization(_) => AUTHORIZATION,
        HeaderSpec::Named(n) => n.clone(),
    })
    .chain(h.claims.iter().map(|(_, n)| n.clone()))
}

/// Removes from the client's request every header the plugin sets upstream.
pub fn remove_upstream(cfg: &OidcConfig, headers: &mut HeaderMap) {
    for n in names(&cfg.upstream) {
        headers.remove(n);
    }
}

fn put(headers: &mut HeaderMap, spec: &HeaderSpec, value: &str, append: bool) {
    let (name, value) = match spec {
        HeaderSpec::Authorization(scheme) => (AUTHORIZATION, format!("{scheme} {value}")),
        HeaderSpec::Named(n) => (n.clone(), value.to_string()),
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        if append {
            headers.append(name, v);
        } else {
            headers.insert(name, v);
        }
    }
}

/// A claim's value as a header: strings as they are, numbers and booleans as text, objects
/// and arrays as base64 of their JSON (Kong's encoding).
fn claim_value(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(base64::engine::general_purpose::STANDARD.encode(other.to_string())),
    }
}

/// The claim at `path`: the introspection answer first, then the access token, then the ID
/// token.
fn claim<'a>(t: &'a Tokens, path: &[String]) -> Option<&'a Value> {
    let sources = [
        t.introspection.as_ref().and_then(Value::as_object),
        Some(&t.claims),
        t.id_claims.as_ref(),
    ];
    sources.into_iter().flatten().find_map(|m| {
        let (first, rest) = path.split_first()?;
        let mut v = m.get(first)?;
        for p in rest {
            v = v.get(p)?;
        }
        Some(v)
    })
}

fn apply(h: &Headers, t: &Tokens, headers: &mut HeaderMap, append: bool) {
    if let Some(s) = &h.access_token {
        put(headers, s, &t.access_token, append);
    }
    if let (Some(s), Some(v)) = (&h.id_token, &t.id_token) {
        put(headers, s, v, append);
    }
    if let (Some(s), Some(v)) = (&h.refresh_token, &t.refresh_token) {
        put(headers, s, v, append);
    }
    if let (Some(s), Some(v)) = (&h.introspection, &t.introspection) {
        put(
            headers,
            s,
            &base64::engine::general_purpose::STANDARD.encode(v.to_string()),
            append,
        );
    }
    for (path, name) in &h.claims {
        if let Some(v) = claim(t, path).and_then(claim_value) {
            put(headers, &HeaderSpec::Named(name.clone()), &v, append);
        }
    }
}

/// Sets the upstream headers from the tokens.
pub fn set_upstream(cfg: &OidcConfig, t: &Tokens, headers: &mut HeaderMap) {
    apply(&cfg.upstream, t, headers, false);
}

/// Adds the downstream headers (the response to the client).
pub fn set_downstream(cfg: &OidcConfig, t: &Tokens, headers: &mut HeaderMap) {
    apply(&cfg.downstream, t, headers, true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_as_kong_encodes_them() {
        assert_eq!(claim_value(&json!("alice")).as_deref(), Some("alice"));
        assert_eq!(claim_value(&json!(42)).as_deref(), Some("42"));
        assert_eq!(claim_value(&json!(true)).as_deref(), Some("true"));
        assert_eq!(
            claim_value(&json!(["a", "b"])).as_deref(),
            Some(
                base64::engine::general_purpose::STANDARD
                    .encode("[\"a\",\"b\"]")
                    .as_str()
            )
        );
        assert_eq!(claim_value(&Value::Null), None);
    }
}
