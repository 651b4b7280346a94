//! CORS for the endpoints browsers call with `fetch` (token, userinfo, logout, revoke,
//! introspect): the exact origin, when it is one of the realm's clients' web origins (`+` = the
//! redirect URIs' origins), with credentials; preflights answered.

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

const CORS_ENDPOINTS: [&str; 6] = [
    "token",
    "userinfo",
    "logout",
    "revoke",
    "token/introspect",
    "certs",
];

fn realm_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/realms/")?;
    let (realm, tail) = rest.split_once('/')?;
    let ep = tail.strip_prefix("protocol/openid-connect/")?;
    CORS_ENDPOINTS.contains(&ep).then_some(realm)
}

async fn allowed(state: &AppState, realm: &str, origin: &str) -> bool {
    let Ok(Some(ctx)) = state.realms.get(realm, || state.issuer(realm)).await else {
        return false;
    };
    ctx.clients.values().filter(|c| c.enabled).any(|c| {
        c.resolved_web_origins()
            .iter()
            .any(|o| o == "*" || o == origin)
    })
}

pub async fn layer(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let realm = realm_of(req.uri().path()).map(str::to_string);
    let (Some(origin), Some(realm)) = (origin, realm) else {
        return next.run(req).await;
    };
    let ok = allowed(&state, &realm, &origin).await;
    if req.method() == Method::OPTIONS {
        let mut r = StatusCode::NO_CONTENT.into_response();
        if ok {
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            let asked = req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .cloned();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                asked.unwrap_or(HeaderValue::from_static("Authorization, Content-Type")),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("3600"),
            );
            decorate(&mut r, &origin);
        }
        return r;
    }
    let mut r = next.run(req).await;
    if ok {
        decorate(&mut r, &origin);
    }
    r
}

fn decorate(r: &mut Response, origin: &str) {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate"),
    );
}
