//! The Cookie header, as the SSO and CSRF cookies are read from it.
#![no_main]
use axum::http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for part in data.split(|&b| b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(part) {
            headers.append(header::COOKIE, v);
        }
    }
    for name in ["KEYCLOAK_IDENTITY", "KEYCLOAK_SESSION", "LATCHKEY_CSRF", ""] {
        let _ = latchkey_protocol::cookies::get(&headers, name);
    }
});
