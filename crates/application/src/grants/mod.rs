//! The grants of the token endpoint, one module each.

pub mod authorization_code;
pub mod client_credentials;
pub mod password;
pub mod refresh_token;

use crate::app::App;
use crate::error::Result;
use crate::events::Draft;
use crate::ids::Ids;
use crate::realms::RealmContext;
use latchkey_domain::scope::Scopes;
use latchkey_domain::{policy, Client, ClientSession, RefreshRecord, Session, User, UserEvent};
use latchkey_storage::NewGrant;

/// A login that was just persisted.
pub struct Started {
    pub session: Session,
    pub refresh: Option<RefreshRecord>,
    /// The client session (family) id.
    pub family: String,
}

/// Persists a new login of `user` at `client`: a session (offline when `offline_access` was
/// granted), its client session (the refresh-token family) and the first refresh token when
/// the client gets one, with the request's event.
#[allow(clippy::too_many_arguments)]
pub async fn start_login(
    app: &App,
    ctx: &RealmContext,
    client: &Client,
    user: &User,
    scopes: &Scopes,
    issue_refresh: bool,
    now: i64,
    draft: &mut Draft,
) -> Result<Started> {
    let session = new_session(&*app.ids, ctx, user, scopes.offline(), now, now);
    let mut grant = new_grant(
        &*app.ids,
        ctx,
        client,
        session,
        true,
        scopes,
        issue_refresh,
        now,
    );
    describe_login(&mut draft.event, &grant, scopes);
    grant.event = draft.with_change(app, ctx);
    let started = Started {
        session: grant.session.clone(),
        refresh: grant.refresh.clone(),
        family: grant.client_session.id.clone(),
    };
    app.store.start_grant(grant).await?;
    Ok(started)
}

/// What Keycloak's events say of a login just started: its user and session, the refresh
/// token's id and type, and the scope granted.
pub fn describe_login(e: &mut UserEvent, g: &NewGrant, scopes: &Scopes) {
    e.user_id = Some(g.session.user_id.clone());
    e.session_id = Some(g.session.id.clone());
    if let Some(r) = &g.refresh {
        e.detail("refresh_token_id", r.jti.as_str());
        e.detail("refresh_token_type", refresh_token_type(r.offline));
    }
    e.detail("scope", scopes.to_scope_string());
}

/// Keycloak's `refresh_token_type` detail.
pub fn refresh_token_type(offline: bool) -> &'static str {
    if offline {
        "Offline"
    } else {
        "Refresh"
    }
}

pub fn new_session(
    ids: &dyn Ids,
    ctx: &RealmContext,
    user: &User,
    offline: bool,
    auth_time: i64,
    now: i64,
) -> Session {
    Session {
        id: ids.new_id(),
        realm_id: ctx.realm.id.clone(),
        user_id: user.id.clone(),
        offline,
        started_at: now,
        auth_time,
        last_refresh: now,
        ended_at: None,
        end_reason: None,
    }
}

/// A new refresh-token family for `client` in `session` (created with it when `is_new`), with
/// its first refresh token when the client gets one: what [`start_family`] persists.
#[allow(clippy::too_many_arguments)]
pub fn new_grant(
    ids: &dyn Ids,
    ctx: &RealmContext,
    client: &Client,
    mut session: Session,
    is_new: bool,
    scopes: &Scopes,
    issue_refresh: bool,
    now: i64,
) -> NewGrant {
    session.last_refresh = now;
    let mut cs = ClientSession {
        id: ids.new_id(),
        session_id: session.id.clone(),
        client_id: client.client_id.clone(),
        started_at: now,
        last_refresh: now,
        current_jti: None,
        revoked_at: None,
        revoke_reason: None,
    };
    let refresh = issue_refresh.then(|| RefreshRecord {
        jti: ids.new_id(),
        client_session_id: cs.id.clone(),
        parent_jti: None,
        issued_at: now,
        expires_at: policy::refresh_token_expiry(&ctx.realm, client, &session, &cs),
        scope: scopes.to_scope_string(),
        offline: session.offline,
        rotated_at: None,
        successor_jti: None,
        use_count: 0,
    });
    cs.current_jti = refresh.as_ref().map(|r| r.jti.clone());
    NewGrant {
        session,
        session_is_new: is_new,
        client_session: cs,
        refresh,
        event: None,
    }
}
