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
    /// All non-empty parameters, ordered.
    pub fn to_map(&self) -> std::collections::BTreeMap<String, String> {
        self.map
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
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
            if k.contains('\0') || v.contains('\0') {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{}' contains a NUL character",
                    crate::error::sanitize(&k)
                )));
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

/// How long a client may take to send its body.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads the whole body, at most `limit` bytes: 413 past the limit, 400 for a broken body
/// (truncated, bad chunking), 408 when it does not arrive in time.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    use http_body_util::BodyExt;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large(limit));
    }
    let limited = http_body_util::Limited::new(body, limit);
    match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Err(_) => Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "the request body did not arrive in time",
        )
        .with_status(408)
        .into()),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large(limit))
        }
        Ok(Err(e)) => Err(OAuthError::invalid_request(format!(
            "the request body could not be read: {e}"
        ))
        .into()),
    }
}

/// Reads a form body: the size, the content type, and duplicates. The body is read first so
/// that the connection stays usable whatever the verdict.
pub async fn read_form(headers: &HeaderMap, body: Body, limit: usize) -> Result<Params, ApiError> {
    let bytes = read_body(headers, body, limit).await?;
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
