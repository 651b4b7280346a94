//! The columns of each row type, in the order the mappers read them, and the mappers.

use super::Columns;
use crate::{Result, StoreError};
use latchkey_domain::keycloak::UserRepresentation;
use latchkey_domain::policy::RefreshState;
use latchkey_domain::{AuthCode, ClientSession, RefreshRecord, Session, User};

macro_rules! session_columns {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "realm_id, ",
            $p,
            "user_id, ",
            $p,
            "offline, ",
            $p,
            "started_at, ",
            $p,
            "auth_time, ",
            $p,
            "last_refresh, ",
            $p,
            "ended_at, ",
            $p,
            "end_reason"
        )
    };
}
macro_rules! cs_columns {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "session_id, ",
            $p,
            "client_id, ",
            $p,
            "started_at, ",
            $p,
            "last_refresh, ",
            $p,
            "current_jti, ",
            $p,
            "revoked_at, ",
            $p,
            "revoke_reason"
        )
    };
}
macro_rules! rt_columns {
    ($p:literal) => {
        concat!(
            $p,
            "jti, ",
            $p,
            "client_session_id, ",
            $p,
            "parent_jti, ",
            $p,
            "issued_at, ",
            $p,
            "expires_at, ",
            $p,
            "scope, ",
            $p,
            "offline, ",
            $p,
            "rotated_at, ",
            $p,
            "successor_jti, ",
            $p,
            "use_count"
        )
    };
}
macro_rules! code_columns {
    () => {
        "code_hash, realm_id, client_id, redirect_uri, redirect_uri_sent, scope, nonce, code_challenge, session_id, user_id, auth_time, expires_at, used_at, family_id"
    };
}
pub(crate) use {code_columns, cs_columns, rt_columns, session_columns};

/// Columns a [`Session`] takes.
pub const SESSION_WIDTH: usize = 9;
/// Columns a [`ClientSession`] takes.
pub const CS_WIDTH: usize = 8;
/// Columns a [`RefreshRecord`] takes.
pub const RT_WIDTH: usize = 10;

/// A [`Session`] from columns `o..o + SESSION_WIDTH`.
pub fn session(r: &impl Columns, o: usize) -> Result<Session> {
    Ok(Session {
        id: r.text(o)?,
        realm_id: r.text(o + 1)?,
        user_id: r.text(o + 2)?,
        offline: r.flag(o + 3)?,
        started_at: r.int(o + 4)?,
        auth_time: r.int(o + 5)?,
        last_refresh: r.int(o + 6)?,
        ended_at: r.opt_int(o + 7)?,
        end_reason: r.opt_text(o + 8)?,
    })
}

/// A [`ClientSession`] from columns `o..o + CS_WIDTH`.
pub fn client_session(r: &impl Columns, o: usize) -> Result<ClientSession> {
    Ok(ClientSession {
        id: r.text(o)?,
        session_id: r.text(o + 1)?,
        client_id: r.text(o + 2)?,
        started_at: r.int(o + 3)?,
        last_refresh: r.int(o + 4)?,
        current_jti: r.opt_text(o + 5)?,
        revoked_at: r.opt_int(o + 6)?,
        revoke_reason: r.opt_text(o + 7)?,
    })
}

/// A [`RefreshRecord`] from columns `o..o + RT_WIDTH`.
pub fn record(r: &impl Columns, o: usize) -> Result<RefreshRecord> {
    Ok(RefreshRecord {
        jti: r.text(o)?,
        client_session_id: r.text(o + 1)?,
        parent_jti: r.opt_text(o + 2)?,
        issued_at: r.int(o + 3)?,
        expires_at: r.opt_int(o + 4)?,
        scope: r.text(o + 5)?,
        offline: r.flag(o + 6)?,
        rotated_at: r.opt_int(o + 7)?,
        successor_jti: r.opt_text(o + 8)?,
        use_count: r.int(o + 9)?,
    })
}

/// A refresh decision's state from [`super::sessions::REFRESH_STATE`]'s row.
pub fn refresh_state(r: &impl Columns) -> Result<RefreshState> {
    let (cs, s) = (RT_WIDTH, RT_WIDTH + CS_WIDTH);
    let cur = s + SESSION_WIDTH;
    // The LEFT JOIN's columns are NULL when the family's current record is the presented one.
    let current = match r.opt_text(cur)? {
        Some(_) => Some(record(r, cur)?),
        None => None,
    };
    Ok(RefreshState {
        record: record(r, 0)?,
        client_session: client_session(r, cs)?,
        session: session(r, s)?,
        current,
        user: opt_user(r, cur + RT_WIDTH)?,
    })
}

/// A [`User`] from columns `o..o + 3` (id, realm, representation); `None` when they are NULL
/// (a LEFT JOIN that found no user).
pub fn opt_user(r: &impl Columns, o: usize) -> Result<Option<User>> {
    let Some(id) = r.opt_text(o)? else {
        return Ok(None);
    };
    let rep: UserRepresentation = serde_json::from_str(&r.text(o + 2)?)
        .map_err(|e| StoreError::Corrupt(format!("user {id}: {e}")))?;
    User::from_representation(id, r.text(o + 1)?, &rep, 0)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(format!("user: {e}")))
}

/// An [`AuthCode`] in [`code_columns`] order.
pub fn code(r: &impl Columns) -> Result<AuthCode> {
    Ok(AuthCode {
        code_hash: r.text(0)?,
        realm_id: r.text(1)?,
        client_id: r.text(2)?,
        redirect_uri: r.text(3)?,
        redirect_uri_sent: r.flag(4)?,
        scope: r.text(5)?,
        nonce: r.opt_text(6)?,
        code_challenge: r.opt_text(7)?,
        session_id: r.text(8)?,
        user_id: r.text(9)?,
        auth_time: r.int(10)?,
        expires_at: r.int(11)?,
        used_at: r.opt_int(12)?,
        family_id: r.opt_text(13)?,
    })
}
