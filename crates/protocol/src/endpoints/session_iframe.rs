//! The pages keycloak-js loads in hidden iframes: the third-party-cookie check
//! (`3p-cookies/step1.html` → `step2.html`, answering the parent with a postMessage of
//! "supported" or "unsupported") and the login-status iframe (OIDC Session Management), which
//! answers "unchanged", "changed" or "error" by comparing the sid it is sent with the
//! JS-readable `KEYCLOAK_SESSION` cookie (base64url of SHA-256 of the sid).

use super::{realm, RealmName};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;

/// Framed by the application's pages, so no frame-ancestors restriction; scripts by nonce.
fn script_page(body: String, nonce: &str) -> Response {
    let mut r = Html(body).into_response();
    let csp = format!("default-src 'none'; script-src 'nonce-{nonce}'; connect-src 'self'");
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).expect("ascii"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub async fn step1(RealmName(realm_name): RealmName) -> Response {
    let nonce = latchkey_crypto::random_token(16);
    let secure = "; SameSite=None; Secure";
    script_page(
        format!(
            r#"<!doctype html><html><head><meta charset="utf-8"><title>3p cookies</title></head><body>
<script nonce="{nonce}">
  var secure = location.protocol === "https:" ? "{secure}" : "";
  document.cookie = "KEYCLOAK_3P_COOKIE_SAMESITE=supported; Max-Age=60; Path=/realms/{realm}/" + secure;
  document.cookie = "KEYCLOAK_3P_COOKIE=supported; Max-Age=60; Path=/realms/{realm}/";
  window.location.replace("step2.html");
</script></body></html>"#,
            realm = realm_name.replace(['"', '<', '>', '\\'], "")
        ),
        &nonce,
    )
}

pub async fn step2(RealmName(realm_name): RealmName) -> Response {
    let nonce = latchkey_crypto::random_token(16);
    script_page(
        format!(
            r#"<!doctype html><html><head><meta charset="utf-8"><title>3p cookies</title></head><body>
<script nonce="{nonce}">
  var has = document.cookie.indexOf("KEYCLOAK_3P_COOKIE") !== -1;
  document.cookie = "KEYCLOAK_3P_COOKIE_SAMESITE=; Max-Age=0; Path=/realms/{realm}/";
  document.cookie = "KEYCLOAK_3P_COOKIE=; Max-Age=0; Path=/realms/{realm}/";
  window.parent.postMessage(has ? "supported" : "unsupported", "*");
</script></body></html>"#,
            realm = realm_name.replace(['"', '<', '>', '\\'], "")
        ),
        &nonce,
    )
}

pub async fn login_status_iframe(RealmName(_realm): RealmName) -> Response {
    let nonce = latchkey_crypto::random_token(16);
    script_page(
        format!(
            r#"<!doctype html><html><head><meta charset="utf-8"><title>login status</title></head><body>
<script nonce="{nonce}">
(function () {{
  var verified = {{}};
  function cookie(name) {{
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {{
      var eq = parts[i].indexOf("=");
      if (parts[i].substring(0, eq) === name) return parts[i].substring(eq + 1);
    }}
    return null;
  }}
  function b64url(buf) {{
    var s = "", bytes = new Uint8Array(buf);
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }}
  function allowed(clientId, origin) {{
    var key = clientId + " " + origin;
    if (verified[key] !== undefined) return Promise.resolve(verified[key]);
    var url = location.pathname + "/init?client_id=" + encodeURIComponent(clientId) + "&origin=" + encodeURIComponent(origin);
    return fetch(url, {{ credentials: "same-origin" }}).then(function (r) {{ verified[key] = r.status === 204; return verified[key]; }},
      function () {{ return false; }});
  }}
  window.addEventListener("message", function (event) {{
    var origin = event.origin, source = event.source;
    if (typeof event.data !== "string") return;
    var parts = event.data.split(" ");
    if (parts.length !== 2 || !parts[0]) {{ source.postMessage("error", origin); return; }}
    allowed(parts[0], origin).then(function (ok) {{
      if (!ok) {{ source.postMessage("error", origin); return; }}
      var current = cookie("KEYCLOAK_SESSION");
      if (!parts[1]) {{ source.postMessage(current ? "changed" : "unchanged", origin); return; }}
      if (!current) {{ source.postMessage("changed", origin); return; }}
      crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts[1])).then(function (d) {{
        source.postMessage(b64url(d) === current ? "unchanged" : "changed", origin);
      }}, function () {{ source.postMessage("error", origin); }});
    }});
  }}, false);
}})();
</script></body></html>"#
        ),
        &nonce,
    )
}

/// `…/login-status-iframe.html/init?client_id=&origin=`: 204 when the origin is one of the
/// client's web origins, else 403.
pub async fn login_status_init(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Ok(ctx) = realm(&state, &realm_name).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (Some(client_id), Some(origin)) = (q.get("client_id"), q.get("origin")) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match ctx.client(client_id) {
        Some(c)
            if c.enabled
                && c.resolved_web_origins()
                    .iter()
                    .any(|o| o == "*" || o == origin) =>
        {
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::FORBIDDEN.into_response(),
    }
}
