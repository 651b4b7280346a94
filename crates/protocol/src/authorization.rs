//! The request's `Authorization` header. HTTP allows one (RFC 9110 §11.6.2 defines it as a
//! single credential); a request carrying two is refused everywhere, since a proxy that reads
//! the last and latchkey reading the first would disagree about who authenticated.

use axum::http::{header, HeaderMap, HeaderValue};

pub const DUPLICATE: &str = "the request has more than one Authorization header: send exactly one";

/// The one `Authorization` header, if any; an error when there are several.
pub fn header(headers: &HeaderMap) -> Result<Option<&HeaderValue>, &'static str> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let first = all.next();
    if all.next().is_some() {
        return Err(DUPLICATE);
    }
    Ok(first)
}

/// The credentials after `scheme` (case-insensitive) in a header value, trimmed (empty when
/// the value is the scheme alone); `None` for another scheme.
pub fn credentials<'a>(value: &'a HeaderValue, scheme: &str) -> Option<&'a [u8]> {
    let b = value.as_bytes().trim_ascii();
    let n = scheme.len();
    let named = b.len() >= n && b[..n].eq_ignore_ascii_case(scheme.as_bytes());
    (named && (b.len() == n || b[n] == b' ')).then(|| b[n..].trim_ascii())
}

/// A bearer token from the header, or why there is none.
pub fn bearer(headers: &HeaderMap) -> Result<&str, &'static str> {
    let value = header(headers)?
        .ok_or("no bearer token: get an access token and send 'Authorization: Bearer <token>'")?;
    credentials(value, "Bearer")
        .and_then(|t| std::str::from_utf8(t).ok())
        .filter(|t| !t.is_empty())
        .ok_or("Authorization header must be 'Bearer <access token>'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn one_bearer_token() {
        assert_eq!(bearer(&headers(&["Bearer abc"])), Ok("abc"));
        assert_eq!(bearer(&headers(&["bearer   abc  "])), Ok("abc"));
        assert!(bearer(&headers(&[])).unwrap_err().starts_with("no bearer"));
        assert!(bearer(&headers(&["Basic abc"])).is_err());
        assert!(bearer(&headers(&["Bearer"])).is_err());
        assert!(bearer(&headers(&["Bearer "])).is_err());
        assert!(bearer(&headers(&["Bearerabc"])).is_err());
    }

    #[test]
    fn two_headers_are_refused_whatever_they_hold() {
        assert_eq!(bearer(&headers(&["Bearer a", "Bearer b"])), Err(DUPLICATE));
        assert_eq!(header(&headers(&["Basic a", "Bearer b"])), Err(DUPLICATE));
        assert!(header(&headers(&["Basic a"])).unwrap().is_some());
    }
}
