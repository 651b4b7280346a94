//! HTTP Basic client credentials (RFC 6749 §2.3.1), with a form that may also name a client.
#![no_main]
use axum::http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (value, form) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(v) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, v);
    let Ok(params) = latchkey_protocol::form::parse(form) else {
        return;
    };
    if let Ok(Some(p)) = latchkey_protocol::client_auth::presented(&headers, &params, "demo") {
        assert!(!p.client_id.is_empty(), "a client id is never empty");
    }
});
