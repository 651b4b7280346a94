//! The authorization endpoint (RFC 6749 §4.1.1-4.1.2, OIDC Core §3.1.2) and the hosted login
//! and consent pages. A bad client or redirect URI gets an error page, never a redirect; every
//! other error goes back to the client with `state` and `iss` (RFC 9207).

use super::{realm, ClientAddr, RealmName};
use crate::cookies;
use crate::error::ApiError;
use crate::form::{self, Params};
use crate::pages::PageOptions;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use latchkey_application::actions::authorize as flow;
use latchkey_application::realms::RealmContext;
use latchkey_application::sign_in::{self, Refusal};
use latchkey_domain::authorize::{self, AuthRequest, Rejection, ResponseMode};
use latchkey_domain::client::origin_of;
use latchkey_domain::event::types::{error as errors, kind};
use latchkey_domain::{scope, Client, ErrorCode, OAuthError, Session};
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A sign-in in progress, sealed into the page's hidden `request` field.
#[derive(Serialize, Deserialize)]
struct Pending {
    req: AuthRequest,
    csrf: String,
    issued: i64,
    /// Set once the user has signed in (for the consent step).
    sid: Option<String>,
}

const PENDING_LIFETIME: i64 = 1800;

pub async fn auth(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ctx = match realm(&state, &realm_name).await {
        Ok(c) => c,
        Err(e) => {
            return state
                .pages
                .error(StatusCode::NOT_FOUND, &realm_name, &e.error.description)
        }
    };
    let params = if method == Method::POST {
        form::read_form(&headers, body, state.body)
            .await
            .map_err(|e| e.error)
    } else {
        crate::form::parse(uri.query().unwrap_or("").as_bytes())
    };
    let params = match params {
        Ok(p) => p.to_map(),
        Err(e) => {
            return state
                .pages
                .error(StatusCode::BAD_REQUEST, &title(&ctx), &e.description)
        }
    };
    let client = params
        .get("client_id")
        .and_then(|id| ctx.client(id))
        .cloned();
    let req = match authorize::validate(client.as_deref(), &params) {
        Ok(r) => r,
        Err(Rejection::Page(page)) => {
            return state
                .pages
                .error(StatusCode::BAD_REQUEST, &title(&ctx), &page.0)
        }
        Err(Rejection::Redirect(req, e)) => return redirect_error(&state, &ctx, &req, e, false),
    };
    let client = client.expect("validated");
    let now = state.now();
    let sso = match cookies::identity(&state, &headers, &ctx.realm.name) {
        Some(id) => flow::sso_session(&state, &ctx, &id.sid).await,
        None => None,
    };
    let force_login = req.prompt.iter().any(|p| p == "login")
        || matches!((&sso, req.max_age), (Some(s), Some(max)) if now - s.auth_time > max);
    match sso {
        Some(session) if !force_login => {
            let _ = state.store.touch_session(&session.id, now).await;
            after_sign_in(&state, &ctx, &client, req, session, &headers, false).await
        }
        _ if req.prompt.iter().any(|p| p == "none") => redirect_error(
            &state,
            &ctx,
            &req,
            OAuthError::new(
                ErrorCode::LoginRequired,
                "prompt=none but the user is not signed in",
            ),
            false,
        ),
        _ => login_page(&state, &ctx, &client, req, None, StatusCode::OK, None),
    }
}

fn title(ctx: &RealmContext) -> String {
    ctx.realm
        .display_name
        .clone()
        .unwrap_or_else(|| ctx.realm.name.clone())
}

fn form_targets(req: &AuthRequest) -> Vec<String> {
    origin_of(&req.redirect_uri).into_iter().collect()
}

fn login_page(
    state: &AppState,
    ctx: &RealmContext,
    client: &Client,
    req: AuthRequest,
    error: Option<String>,
    status: StatusCode,
    username: Option<String>,
) -> Response {
    let csrf = latchkey_crypto::random_token(24);
    let targets = form_targets(&req);
    let username = username
        .or_else(|| req.login_hint.clone())
        .unwrap_or_default();
    let pending = Pending {
        req,
        csrf: csrf.clone(),
        issued: state.now(),
        sid: None,
    };
    let mut r = state.pages.render(
        status,
        "login.html",
        context! {
            realm_title => title(ctx),
            client_name => client.name.clone().filter(|n| !n.starts_with("${")).unwrap_or_else(|| client.client_id.clone()),
            action => format!("/realms/{}/login-actions/authenticate", ctx.realm.name),
            csrf => csrf.clone(),
            request => cookies::seal(state, &pending),
            username_label => if ctx.realm.email_sign_in() { "Username or email" } else { "Username" },
            // After a failed attempt the name is kept: the password is what to type next.
            focus_password => error.is_some() && !username.is_empty(),
            error => error,
            username => username,
        },
        PageOptions { form_targets: &targets },
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        cookies::set_csrf(state, &ctx.realm.name, &csrf),
    );
    r
}

/// Reads and checks a sealed pending sign-in against the CSRF cookie.
fn pending_from(
    state: &AppState,
    ctx: &RealmContext,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Pending, String> {
    let sealed = params
        .get("request")
        .ok_or("the form is incomplete: start signing in again from the application")?;
    let pending: Pending = cookies::unseal(state, sealed)
        .ok_or("the sign-in form was altered: start again from the application")?;
    let cookie = cookies::get(headers, cookies::CSRF).unwrap_or_default();
    let field = params.get("csrf").unwrap_or("");
    if cookie.is_empty()
        || !latchkey_crypto::ct_eq(cookie.as_bytes(), pending.csrf.as_bytes())
        || !latchkey_crypto::ct_eq(field.as_bytes(), pending.csrf.as_bytes())
    {
        return Err("the sign-in form could not be verified (CSRF check failed): enable cookies and start again".into());
    }
    if state.now() - pending.issued > PENDING_LIFETIME {
        return Err("the sign-in page expired: start again from the application".into());
    }
    let _ = ctx;
    Ok(pending)
}

pub async fn login_action(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ctx = match realm(&state, &realm_name).await {
        Ok(c) => c,
        Err(e) => {
            return state
                .pages
                .error(StatusCode::NOT_FOUND, &realm_name, &e.error.description)
        }
    };
    let params = match form::read_form(&headers, body, state.body).await {
        Ok(p) => p,
        Err(e) => {
            return state
                .pages
                .error(StatusCode::BAD_REQUEST, &title(&ctx), &e.error.description)
        }
    };
    let pending = match pending_from(&state, &ctx, &headers, &params) {
        Ok(p) => p,
        Err(m) => return state.pages.error(StatusCode::BAD_REQUEST, &title(&ctx), &m),
    };
    let Some(client) = ctx.client(&pending.req.client_id).cloned() else {
        return state.pages.error(
            StatusCode::BAD_REQUEST,
            &title(&ctx),
            "the client of this sign-in no longer exists",
        );
    };
    let username = params.get("username").unwrap_or("").trim().to_string();
    let password = params.get("password").unwrap_or("").to_string();
    let req = pending.req;
    let refused = |message: String, status| {
        login_page(
            &state,
            &ctx,
            &client,
            req.clone(),
            Some(message),
            status,
            Some(username.clone()),
        )
    };
    // Keycloak's LOGIN event of a browser sign-in.
    let mut event = state.user_event(&ctx, kind::LOGIN);
    event.client_id = Some(client.client_id.clone());
    event.ip_address = addr.map(|a| a.to_string());
    event.detail("auth_method", "openid-connect");
    event.detail("auth_type", "code");
    event.detail("redirect_uri", req.redirect_uri.as_str());
    event.detail("username", username.as_str());
    let user = match sign_in::check(&state, &ctx.realm, &username, &password, addr).await {
        Ok(user) => user,
        Err(Refusal::Locked(message)) => {
            event.fail(errors::USER_TEMPORARILY_DISABLED);
            state.emit(&ctx, event).await;
            return refused(message, StatusCode::TOO_MANY_REQUESTS);
        }
        Err(Refusal::BadCredentials { why, user_id }) => {
            event.user_id = user_id;
            event.fail(why);
            state.emit(&ctx, event).await;
            return refused(
                "Invalid username or password.".into(),
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(Refusal::Store(e)) => return ApiError::from(e).into_response(),
    };
    let session = match flow::start_session(&state, &ctx, &user).await {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    event.user_id = Some(user.id.clone());
    event.session_id = Some(session.id.clone());
    state.emit(&ctx, event).await;
    let mut r = after_sign_in(&state, &ctx, &client, req, session.clone(), &headers, true).await;
    for c in cookies::set_identity(&state, &ctx.realm.name, &session.id) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// The user is signed in: ask for consent when needed, else issue the code.
async fn after_sign_in(
    state: &AppState,
    ctx: &RealmContext,
    client: &Client,
    req: AuthRequest,
    session: Session,
    _headers: &HeaderMap,
    posted: bool,
) -> Response {
    let consent_asked = req.prompt.iter().any(|p| p == "consent");
    if flow::needs_consent(client, &req) || consent_asked {
        if req.prompt.iter().any(|p| p == "none") {
            return redirect_error(
                state,
                ctx,
                &req,
                OAuthError::new(
                    ErrorCode::ConsentRequired,
                    "the user must grant this client access first",
                ),
                posted,
            );
        }
        let csrf = latchkey_crypto::random_token(24);
        let scopes = scope::resolve(client, req.scope.as_deref())
            .map(|s| s.to_scope_string())
            .unwrap_or_default();
        let labels: Vec<String> = scopes
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(|s| match s {
                "openid" => "Your identity".to_string(),
                "profile" => "Your profile: name and username".to_string(),
                "email" => "Your email address".to_string(),
                "offline_access" => {
                    "Offline access: staying signed in even after you sign out here".to_string()
                }
                other => other.to_string(),
            })
            .collect();
        let targets = form_targets(&req);
        let pending = Pending {
            req,
            csrf: csrf.clone(),
            issued: state.now(),
            sid: Some(session.id.clone()),
        };
        let mut r = state.pages.render(
            StatusCode::OK,
            "consent.html",
            context! {
                realm_title => title(ctx),
                client_name => client.name.clone().filter(|n| !n.starts_with("${")).unwrap_or_else(|| client.client_id.clone()),
                scopes => labels,
                action => format!("/realms/{}/login-actions/consent", ctx.realm.name),
                csrf => csrf.clone(),
                request => cookies::seal(state, &pending),
            },
            PageOptions { form_targets: &targets },
        );
        r.headers_mut().append(
            header::SET_COOKIE,
            cookies::set_csrf(state, &ctx.realm.name, &csrf),
        );
        return r;
    }
    issue_code(state, ctx, &req, &session, posted).await
}

pub async fn consent_action(
    State(state): State<Arc<AppState>>,
    RealmName(realm_name): RealmName,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ctx = match realm(&state, &realm_name).await {
        Ok(c) => c,
        Err(e) => {
            return state
                .pages
                .error(StatusCode::NOT_FOUND, &realm_name, &e.error.description)
        }
    };
    let params = match form::read_form(&headers, body, state.body).await {
        Ok(p) => p,
        Err(e) => {
            return state
                .pages
                .error(StatusCode::BAD_REQUEST, &title(&ctx), &e.error.description)
        }
    };
    let pending = match pending_from(&state, &ctx, &headers, &params) {
        Ok(p) => p,
        Err(m) => return state.pages.error(StatusCode::BAD_REQUEST, &title(&ctx), &m),
    };
    let Some(sid) = pending.sid.clone() else {
        return state.pages.error(
            StatusCode::BAD_REQUEST,
            &title(&ctx),
            "this consent form has no sign-in: start again",
        );
    };
    if params.get("decision") != Some("accept") {
        return redirect_error(
            &state,
            &ctx,
            &pending.req,
            OAuthError::new(ErrorCode::AccessDenied, "the user denied access"),
            true,
        );
    }
    match state.store.session(&sid).await {
        Ok(Some(s)) if s.is_active() => issue_code(&state, &ctx, &pending.req, &s, true).await,
        Ok(_) => state.pages.error(
            StatusCode::BAD_REQUEST,
            &title(&ctx),
            "your session ended: sign in again",
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn issue_code(
    state: &AppState,
    ctx: &RealmContext,
    req: &AuthRequest,
    session: &Session,
    posted: bool,
) -> Response {
    let code = match flow::issue_code(state, ctx, req, session).await {
        Ok(code) => code,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut fields = vec![("code".to_string(), code)];
    if let Some(s) = &req.state {
        fields.push(("state".into(), s.clone()));
    }
    fields.push(("session_state".into(), session.id.clone()));
    fields.push(("iss".into(), ctx.issuer.clone()));
    respond(state, req, fields, posted)
}

/// Sends an error back to the client's redirect URI (§4.1.2.1).
fn redirect_error(
    state: &AppState,
    ctx: &RealmContext,
    req: &AuthRequest,
    e: OAuthError,
    posted: bool,
) -> Response {
    let mut fields = vec![
        ("error".to_string(), e.code.as_str().to_string()),
        (
            "error_description".to_string(),
            crate::error::sanitize(&e.description),
        ),
    ];
    if let Some(s) = &req.state {
        fields.push(("state".into(), s.clone()));
    }
    fields.push(("iss".into(), ctx.issuer.clone()));
    respond(state, req, fields, posted)
}

fn respond(
    state: &AppState,
    req: &AuthRequest,
    fields: Vec<(String, String)>,
    posted: bool,
) -> Response {
    let encoded = || {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter())
            .finish()
    };
    let location = match req.response_mode {
        ResponseMode::Query => {
            let sep = if req.redirect_uri.contains('?') {
                '&'
            } else {
                '?'
            };
            format!("{}{sep}{}", req.redirect_uri, encoded())
        }
        ResponseMode::Fragment => format!("{}#{}", req.redirect_uri, encoded()),
        ResponseMode::FormPost => {
            let targets = form_targets(req);
            let list: Vec<Vec<String>> = fields
                .iter()
                .map(|(k, v)| vec![k.clone(), v.clone()])
                .collect();
            return state.pages.render(
                StatusCode::OK,
                "form_post.html",
                context! { action => req.redirect_uri.clone(), fields => list },
                PageOptions {
                    form_targets: &targets,
                },
            );
        }
    };
    // After a credential POST, 303 (RFC 9700 §4.12); 302 otherwise.
    let status = if posted {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::FOUND
    };
    let mut r = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
