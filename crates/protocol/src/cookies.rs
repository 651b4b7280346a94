//! The browser's cookies: the SSO session (`KEYCLOAK_IDENTITY`, HttpOnly, sealed under the
//! master key), the JS-readable `KEYCLOAK_SESSION` that keycloak-js's login-status iframe
//! compares (base64url of SHA-256 of the sid), and the CSRF cookie of a login in progress.

use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine;
use cookie::{Cookie, SameSite};

pub const IDENTITY: &str = "KEYCLOAK_IDENTITY";
pub const SESSION: &str = "KEYCLOAK_SESSION";
pub const CSRF: &str = "LATCHKEY_CSRF";

/// The value of cookie `name` in the request, if any.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    for v in headers.get_all(header::COOKIE) {
        let Ok(s) = v.to_str() else { continue };
        for c in Cookie::split_parse(s).flatten() {
            if c.name() == name {
                return Some(c.value().to_string());
            }
        }
    }
    None
}

fn path(realm: &str) -> String {
    format!("/realms/{realm}/")
}

fn secure(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

fn build(
    state: &AppState,
    realm: &str,
    name: &'static str,
    value: String,
    http_only: bool,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut c = Cookie::new(name, value);
    c.set_path(path(realm));
    c.set_http_only(http_only);
    if secure(state) {
        c.set_secure(true);
        c.set_same_site(if name == SESSION {
            SameSite::None
        } else {
            SameSite::Lax
        });
    } else {
        c.set_same_site(SameSite::Lax);
    }
    if let Some(a) = max_age {
        c.set_max_age(cookie::time::Duration::seconds(a));
    }
    HeaderValue::from_str(&c.to_string()).expect("cookie is a valid header")
}

/// What the SSO cookie holds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub realm: String,
    pub sid: String,
}

pub fn session_hash(sid: &str) -> String {
    latchkey_crypto::b64url(latchkey_crypto::sha256(sid.as_bytes()))
}

/// Set-Cookie headers that establish the SSO session.
pub fn set_identity(state: &AppState, realm: &str, sid: &str) -> Vec<HeaderValue> {
    let id = Identity {
        realm: realm.to_string(),
        sid: sid.to_string(),
    };
    let sealed = state
        .master_key
        .encrypt(&serde_json::to_vec(&id).expect("serialize"));
    vec![
        build(
            state,
            realm,
            IDENTITY,
            latchkey_crypto::b64url(sealed),
            true,
            None,
        ),
        build(state, realm, SESSION, session_hash(sid), false, None),
    ]
}

/// Set-Cookie headers that end the SSO session in the browser.
pub fn clear_identity(state: &AppState, realm: &str) -> Vec<HeaderValue> {
    vec![
        build(state, realm, IDENTITY, String::new(), true, Some(0)),
        build(state, realm, SESSION, String::new(), false, Some(0)),
    ]
}

/// The SSO session the browser presents for `realm`, if its cookie is genuine.
pub fn identity(state: &AppState, headers: &HeaderMap, realm: &str) -> Option<Identity> {
    let raw = get(headers, IDENTITY)?;
    let sealed = latchkey_crypto::b64url_decode(raw)?;
    let plain = state.master_key.decrypt(&sealed)?;
    let id: Identity = serde_json::from_slice(&plain).ok()?;
    (id.realm == realm).then_some(id)
}

pub fn set_csrf(state: &AppState, realm: &str, value: &str) -> HeaderValue {
    build(state, realm, CSRF, value.to_string(), true, Some(1800))
}

/// Seals a value for a hidden form field (the pending authorization request).
pub fn seal<T: serde::Serialize>(state: &AppState, value: &T) -> String {
    latchkey_crypto::b64url(
        state
            .master_key
            .encrypt(&serde_json::to_vec(value).expect("serialize")),
    )
}

pub fn unseal<T: serde::de::DeserializeOwned>(state: &AppState, raw: &str) -> Option<T> {
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()?;
    serde_json::from_slice(&state.master_key.decrypt(&sealed)?).ok()
}
