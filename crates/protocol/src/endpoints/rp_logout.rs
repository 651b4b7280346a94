//! RP-Initiated Logout 1.0 at the `end_session_endpoint`: `id_token_hint`,
//! `post_logout_redirect_uri` (matched against the client's `post.logout.redirect.uris`: `+` =
//! its redirect URIs, a trailing `*` matches a prefix, `##` separates entries), `client_id`,
//! `state`. Without a hint the user confirms on a page first. Ends the SSO session and its
//! online refresh tokens; offline sessions live on.

use super::realm;
use crate::cookies;
use crate::form::Params;
use crate::pages::PageOptions;
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_application::realms::RealmContext;
use latchkey_domain::authorize::{redirect_uri_matches, registered_redirects};
use latchkey_domain::Client;
use minijinja::context;
use serde_json::Value;

fn title(ctx: &RealmContext) -> String {
    ctx.realm
        .display_name
        .clone()
        .unwrap_or_else(|| ctx.realm.name.clone())
}

/// The client's allowed post-logout redirect URIs.
pub fn post_logout_uris(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for entry in client
        .attribute("post.logout.redirect.uris")
        .unwrap_or("")
        .split("##")
        .filter(|s| !s.is_empty())
    {
        if entry == "+" {
            out.extend(registered_redirects(client));
        } else {
            out.push(entry.to_string());
        }
    }
    out
}

pub async fn logout(
    state: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    params: &Params,
) -> Response {
    let ctx = match realm(state, realm_name).await {
        Ok(c) => c,
        Err(e) => {
            return state
                .pages
                .error(StatusCode::NOT_FOUND, realm_name, &e.error.description)
        }
    };
    let page_error = |m: String| state.pages.error(StatusCode::BAD_REQUEST, &title(&ctx), &m);
    let hint = match params.get("id_token_hint") {
        // An ID token this realm issued; an expired one is accepted (RP-Initiated Logout §2).
        Some(h) => match latchkey_application::issued::signed(&ctx, h, "ID") {
            Ok(c) => Some(c),
            Err(e) => return page_error(format!("id_token_hint is not valid: {e}")),
        },
        None => None,
    };
    let hinted_client = hint
        .as_ref()
        .and_then(|c| c.get("azp").and_then(Value::as_str))
        .map(str::to_string);
    let client_id = match (params.get("client_id"), hinted_client) {
        (Some(a), Some(b)) if a != b => {
            return page_error(format!(
                "client_id '{a}' does not match the id_token_hint's client '{b}'"
            ))
        }
        (Some(a), _) => Some(a.to_string()),
        (None, b) => b,
    };
    let client = client_id.as_deref().and_then(|id| ctx.client(id)).cloned();
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let Some(c) = &client else {
                return page_error(
                    "post_logout_redirect_uri needs id_token_hint or client_id".into(),
                );
            };
            if !post_logout_uris(c)
                .iter()
                .any(|r| redirect_uri_matches(r, uri))
            {
                return page_error(format!(
                    "post_logout_redirect_uri '{uri}' is not registered for client '{}' (post.logout.redirect.uris)",
                    c.client_id
                ));
            }
            Some(uri.to_string())
        }
    };
    let confirmed = params.get("confirm") == Some("yes") && {
        let cookie = cookies::get(headers, cookies::CSRF).unwrap_or_default();
        !cookie.is_empty()
            && latchkey_crypto::ct_eq(
                cookie.as_bytes(),
                params.get("csrf").unwrap_or("").as_bytes(),
            )
    };
    if hint.is_none() && !confirmed {
        let csrf = latchkey_crypto::random_token(24);
        let mut r = state.pages.render(
            StatusCode::OK,
            "logout.html",
            context! {
                realm_title => title(&ctx),
                action => format!("/realms/{}/protocol/openid-connect/logout", ctx.realm.name),
                csrf => csrf.clone(),
                redirect => redirect.clone(),
                client_id => client_id.clone(),
                state => params.get("state"),
            },
            PageOptions {
                form_targets: &redirect
                    .iter()
                    .filter_map(|r| latchkey_domain::client::origin_of(r))
                    .collect::<Vec<_>>(),
            },
        );
        r.headers_mut().append(
            header::SET_COOKIE,
            cookies::set_csrf(state, &ctx.realm.name, &csrf),
        );
        return r;
    }
    // The session to end: the hint's, else the browser's.
    let sid = hint
        .as_ref()
        .and_then(|c| c.get("sid").and_then(Value::as_str).map(str::to_string))
        .or_else(|| cookies::identity(state, headers, &ctx.realm.name).map(|i| i.sid));
    let now = state.now();
    if let Some(sid) = &sid {
        let mut event = state.user_event(&ctx, latchkey_domain::event::types::kind::LOGOUT);
        event.session_id = Some(sid.clone());
        event.client_id = client_id.map(|c| c.to_string());
        event.user_id = hint
            .as_ref()
            .and_then(|c| c.get("sub").and_then(Value::as_str).map(str::to_string));
        if let Some(uri) = &redirect {
            event.detail("redirect_uri", uri.as_str());
        }
        let event = latchkey_application::events::Draft::new(event).with_change(state, &ctx);
        let reason = "logged out (RP-initiated logout)";
        if let Err(e) = state.store.end_session(sid, now, reason, event).await {
            return crate::error::ApiError::from(e).into_response();
        }
    }
    let mut r = match redirect {
        Some(uri) => {
            let mut target = uri.clone();
            if let Some(s) = params.get("state") {
                let sep = if target.contains('?') { '&' } else { '?' };
                let q = form_urlencoded::Serializer::new(String::new()).append_pair("state", s).finish();
                target = format!("{target}{sep}{q}");
            }
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&target) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        None => state.pages.render(
            StatusCode::OK,
            "message.html",
            context! { realm_title => title(&ctx), heading => "You are signed out", message => "You can close this window." },
            PageOptions { form_targets: &[] },
        ),
    };
    for c in cookies::clear_identity(state, &ctx.realm.name) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}
