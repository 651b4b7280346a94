//! The grants of the token endpoint, one module each.

pub mod client_credentials;
pub mod password;
pub mod refresh_token;

use crate::error::ApiResult;
use crate::provision::new_id;
use crate::realms::RealmContext;
use crate::state::AppState;
use latchkey_domain::scope::Scopes;
use latchkey_domain::{policy, Client, ClientSession, RefreshRecord, Session, User};
use latchkey_storage::NewGrant;

/// A login that was just persisted.
pub struct Started {
    pub session: Session,
    pub refresh: Option<RefreshRecord>,
}

/// Persists a new login of `user` at `client`: a session (offline when `offline_access` was
/// granted), its client session (the refresh-token family) and the first refresh token when
/// the client gets one.
pub async fn start_login(
    state: &AppState,
    ctx: &RealmContext,
    client: &Client,
    user: &User,
    scopes: &Scopes,
    issue_refresh: bool,
    now: i64,
) -> ApiResult<Started> {
    let offline = scopes.offline();
    let session = Session {
        id: new_id(),
        realm_id: ctx.realm.id.clone(),
        user_id: user.id.clone(),
        offline,
        started_at: now,
        auth_time: now,
        last_refresh: now,
        ended_at: None,
        end_reason: None,
    };
    let mut cs = ClientSession {
        id: new_id(),
        session_id: session.id.clone(),
        client_id: client.client_id.clone(),
        started_at: now,
        last_refresh: now,
        current_jti: None,
        revoked_at: None,
        revoke_reason: None,
    };
    let refresh = issue_refresh.then(|| RefreshRecord {
        jti: new_id(),
        client_session_id: cs.id.clone(),
        parent_jti: None,
        issued_at: now,
        expires_at: policy::refresh_token_expiry(&ctx.realm, client, &session, &cs),
        scope: scopes.to_scope_string(),
        offline,
        rotated_at: None,
        successor_jti: None,
        use_count: 0,
    });
    cs.current_jti = refresh.as_ref().map(|r| r.jti.clone());
    state
        .store
        .start_grant(NewGrant {
            session: session.clone(),
            session_is_new: true,
            client_session: cs,
            refresh: refresh.clone(),
        })
        .await?;
    Ok(Started { session, refresh })
}
