//! `application/x-www-form-urlencoded` bodies, read with a size limit, with RFC 6749's rules:
//! an empty value counts as absent, a repeated parameter is an error (§3.2).

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{header, HeaderMap};
use latchkey_domain::{ErrorCode, OAuthError};
use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct Params {
    map: HashMap<String, String>,
}

impl Params {
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
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Parses a form body, refusing repeated parameters.
    pub fn parse(body: &[u8]) -> Result<Params, OAuthError> {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            if k.is_empty() {
                continue;
            }
            if map.contains_key(k.as_ref()) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{}' was sent more than once; send each parameter once",
                    crate::error::sanitize(&k)
                )));
            }
            map.insert(k.into_owned(), v.into_owned());
        }
        Ok(Params { map })
    }
}

pub fn too_large(limit: usize) -> ApiError {
    OAuthError::new(
        ErrorCode::PayloadTooLarge,
        format!("request body exceeds the limit of {limit} bytes"),
    )
    .into()
}

/// Reads the whole body, at most `limit` bytes.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(too_large(limit));
        }
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit))
}

/// Reads a form body: checks the content type, the size, and duplicates.
pub async fn read_form(headers: &HeaderMap, body: Body, limit: usize) -> Result<Params, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        let shown = if ct.is_empty() {
            "none".to_string()
        } else {
            format!("'{}'", crate::error::sanitize(ct))
        };
        return Err(OAuthError::invalid_request(format!(
            "Content-Type must be application/x-www-form-urlencoded (got {shown})"
        ))
        .into());
    }
    let bytes = read_body(headers, body, limit).await?;
    Ok(Params::parse(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_and_empty_is_absent() {
        let e = Params::parse(b"grant_type=password&grant_type=password").unwrap_err();
        assert!(e.description.contains("'grant_type'"));
        let p = Params::parse(b"a=&b=1&c=x%20y+z").unwrap();
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), Some("1"));
        assert_eq!(p.get("c"), Some("x y z"));
        assert!(p
            .require("a", "send it")
            .unwrap_err()
            .description
            .contains("'a' is missing"));
    }
}
