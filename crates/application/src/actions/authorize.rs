//! The use cases behind the authorization endpoint and the login page (RFC 6749 §4.1.1–4.1.2):
//! whether a browser's SSO session may sign it in again, starting the session of a sign-in,
//! whether to ask for consent, and issuing the authorization code.

use crate::app::App;
use crate::error::Result;
use crate::realms::RealmContext;
use latchkey_domain::authorize::AuthRequest;
use latchkey_domain::{scope, AuthCode, Client, Session, User};

/// The SSO session `sid` (from the browser's identity cookie), if it may still sign the
/// browser in: active, online, within the realm's SSO idle and maximum lifespans, and its user
/// enabled.
pub async fn sso_session(app: &App, ctx: &RealmContext, sid: &str) -> Option<Session> {
    let now = app.now();
    let s = app.store.session(sid).await.ok()??;
    let r = &ctx.realm;
    let alive = s.is_active()
        && !s.offline
        && (r.sso_session_idle_timeout == 0 || now < s.last_refresh + r.sso_session_idle_timeout)
        && (r.sso_session_max_lifespan == 0 || now < s.started_at + r.sso_session_max_lifespan);
    let user = app.store.user_by_id(&r.id, &s.user_id).await.ok()??;
    (alive && user.enabled).then_some(s)
}

/// The SSO session a sign-in on the login page starts.
pub async fn start_session(app: &App, ctx: &RealmContext, user: &User) -> Result<Session> {
    let now = app.now();
    let session = crate::grants::new_session(&*app.ids, ctx, user, false, now, now);
    app.store.create_session(session.clone()).await?;
    Ok(session)
}

/// Consent is asked when the client requires it, and always for `offline_access`.
pub fn needs_consent(client: &Client, req: &AuthRequest) -> bool {
    let offline = req
        .scope
        .as_deref()
        .is_some_and(|s| s.split(' ').any(|x| x == "offline_access"));
    client.consent_required || offline
}

/// Issues an authorization code for `req` in `session` (§4.1.2): stored by its hash, valid for
/// the realm's access-code lifespan (at most a minute). Returns the code.
pub async fn issue_code(
    app: &App,
    ctx: &RealmContext,
    req: &AuthRequest,
    session: &Session,
) -> Result<String> {
    let code = latchkey_crypto::random_token(32);
    let now = app.now();
    let scope = ctx
        .client(&req.client_id)
        .and_then(|c| scope::resolve(c, req.scope.as_deref()).ok())
        .map(|s| s.to_scope_string())
        .unwrap_or_default();
    let rec = AuthCode {
        code_hash: crate::grants::authorization_code::code_hash(&code),
        realm_id: ctx.realm.id.clone(),
        client_id: req.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        redirect_uri_sent: req.redirect_uri_sent,
        scope,
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        session_id: session.id.clone(),
        user_id: session.user_id.clone(),
        auth_time: session.auth_time,
        expires_at: now + ctx.realm.access_code_lifespan.clamp(1, 60),
        used_at: None,
        family_id: None,
    };
    app.store.insert_code(rec).await?;
    Ok(code)
}
