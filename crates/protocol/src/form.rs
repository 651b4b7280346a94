//! `application/x-www-form-urlencoded` bodies, read with a size limit, with RFC 6749's rules:
//! an empty value counts as absent, a repeated parameter is an error (§3.2).

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{header, HeaderMap};
use latchkey_domain::{ErrorCode, OAuthError};
use std::borrow::Cow;
use std::collections::HashMap;

pub use latchkey_application::Params;

/// Parses a form body, refusing repeated parameters.
pub fn parse(body: &[u8]) -> Result<Params, OAuthError> {
    let mut map = HashMap::new();
    let mut start = 0;
    let ends = memchr::memchr_iter(b'&', body).chain([body.len()]);
    for end in ends {
        let pair = &body[start..end];
        start = end + 1;
        if pair.is_empty() {
            continue;
        }
        let (k, v) = match memchr::memchr(b'=', pair) {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let k = decode(k);
        if k.is_empty() {
            continue;
        }
        let v = decode(v);
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
    Ok(Params::from_map(map))
}

/// One name or value of a form (the WHATWG URL standard's application/x-www-form-urlencoded
/// parser): `+` is a space, `%XX` a byte, and bytes that are not UTF-8 become U+FFFD. Most
/// values (a refresh token, a client id) have nothing to decode; they are only checked.
fn decode(raw: &[u8]) -> Cow<'_, str> {
    if memchr::memchr2(b'+', b'%', raw).is_none() {
        // std's validator has an ASCII fast path; the lossy one walks byte by byte.
        return match std::str::from_utf8(raw) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(raw),
        };
    }
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    match String::from_utf8(bytes) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

pub fn too_large(limit: usize) -> ApiError {
    OAuthError::new(
        ErrorCode::PayloadTooLarge,
        format!("request body exceeds the limit of {limit} bytes"),
    )
    .into()
}

/// How much body a request may send, and how long it may take.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub bytes: usize,
    pub timeout: std::time::Duration,
}

/// Reads the whole body, at most `limits.bytes`: 413 past the limit, 400 for a broken body
/// (truncated, bad chunking), 408 when it does not arrive within `limits.timeout`.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limits: BodyLimits,
) -> Result<axum::body::Bytes, ApiError> {
    let limit = limits.bytes;
    use http_body_util::BodyExt;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large(limit));
    }
    let limited = http_body_util::Limited::new(body, limit);
    match tokio::time::timeout(limits.timeout, limited.collect()).await {
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
pub async fn read_form(
    headers: &HeaderMap,
    body: Body,
    limits: BodyLimits,
) -> Result<Params, ApiError> {
    let bytes = read_body(headers, body, limits).await?;
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
    Ok(parse(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_and_empty_is_absent() {
        let e = parse(b"grant_type=password&grant_type=password").unwrap_err();
        assert!(e.description.contains("'grant_type'"));
        let p = parse(b"a=&b=1&c=x%20y+z").unwrap();
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), Some("1"));
        assert_eq!(p.get("c"), Some("x y z"));
        assert!(p
            .require("a", "send it")
            .unwrap_err()
            .description
            .contains("'a' is missing"));
    }

    /// The parser decodes exactly as the `form_urlencoded` crate (the WHATWG algorithm) does.
    #[test]
    fn decoding_matches_the_whatwg_parser() {
        let bodies: [&[u8]; 12] = [
            b"a=1&b=2",
            b"a=x+y%20z&b=%2B%25",
            b"a==b&c",
            b"&&a=1&&",
            b"=v&k=",
            b"a=%zz&b=%4&c=%",
            b"a=%C3%A9t%C3%A9&b=\xc3\xa9",
            b"a=%FF%FE&b=\xff",
            b"a=caf\xc3",
            b"k%3Dx=v%26w",
            b"n+m=1",
            b"eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ1In0.c2ln",
        ];
        for body in bodies {
            let ours = parse(body).unwrap();
            let mut theirs = std::collections::BTreeMap::new();
            for (k, v) in form_urlencoded::parse(body) {
                if !k.is_empty() && !v.is_empty() {
                    theirs.insert(k.into_owned(), v.into_owned());
                }
            }
            assert_eq!(ours.to_map(), theirs, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn nul_is_refused_whether_literal_or_encoded() {
        for body in [&b"a=x%00y"[..], b"a=x\0y", b"a%00=1"] {
            let e = parse(body).unwrap_err();
            assert!(e.description.contains("NUL"), "{}", e.description);
        }
    }
}
