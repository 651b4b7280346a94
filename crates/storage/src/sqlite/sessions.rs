//! Sessions, families, refresh tokens, codes and events on SQLite: the shared statements
//! ([`crate::sql::sessions`]) run on a reader, or on the writer inside its group commit.

use super::{config, exec};
use crate::sql::{rows, sessions as q};
use crate::{CodeDecision, CodeState, Event, NewGrant, RefreshOutcome, Result, SessionInfo};
use latchkey_domain::policy::RefreshState;
use latchkey_domain::{AuthCode, ClientSession, Session, Timestamp};
use rusqlite::Connection;

pub fn session(conn: &Connection, id: &str) -> Result<Option<Session>> {
    exec::query_opt(conn, q::SESSION_BY_ID, &[id.into()], |r| {
        rows::session(r, 0)
    })
}

pub fn client_sessions(conn: &Connection, session_id: &str) -> Result<Vec<ClientSession>> {
    exec::query(conn, q::CLIENT_SESSIONS_OF, &[session_id.into()], |r| {
        rows::client_session(r, 0)
    })
}

pub fn start_grant(tx: &Connection, g: &NewGrant) -> Result<()> {
    exec::run(tx, &q::start_grant(g)).map(drop)
}

pub fn refresh_state(conn: &Connection, jti: &str) -> Result<Option<RefreshState>> {
    exec::query_opt(conn, q::REFRESH_STATE, &[jti.into()], |r| {
        rows::refresh_state(r)
    })
}

/// Reads, decides and applies a refresh on the writer (which serialises refreshes).
pub fn refresh(
    tx: &Connection,
    jti: &str,
    now: Timestamp,
    decide: crate::Decide,
) -> Result<RefreshOutcome> {
    let Some(state) = refresh_state(tx, jti)? else {
        return Ok(RefreshOutcome::Unknown);
    };
    let (decision, event) = decide(&state);
    exec::run(
        tx,
        &q::refresh_effects(&state, &decision, event.as_ref(), now),
    )?;
    Ok(RefreshOutcome::Decided {
        state: Box::new(state),
        decision,
    })
}

/// Reads, decides and applies a code's redemption on the writer.
pub fn redeem_code(
    tx: &Connection,
    hash: &str,
    now: Timestamp,
    decide: crate::DecideCode,
) -> Result<Option<(CodeState, CodeDecision)>> {
    let Some(code) = exec::query_opt(tx, q::CODE_BY_HASH, &[hash.into()], |r| rows::code(r))?
    else {
        return Ok(None);
    };
    let state = CodeState {
        session: session(tx, &code.session_id)?,
        user: config::user_by_id(tx, &code.realm_id, &code.user_id)?,
        code,
    };
    let decision = decide(&state);
    exec::run(tx, &q::redeem_effects(&state, &decision, now))?;
    Ok(Some((state, decision)))
}

pub fn revoke_family(
    tx: &Connection,
    id: &str,
    now: Timestamp,
    reason: &str,
    event: Option<&Event>,
) -> Result<bool> {
    Ok(exec::run(tx, &q::revoke_family_recording(id, now, reason, event))?.last() > Some(&0))
}

pub fn end_session(
    tx: &Connection,
    id: &str,
    now: Timestamp,
    reason: &str,
    event: Option<&Event>,
) -> Result<bool> {
    let counts = exec::run(tx, &q::end_session(id, now, reason, event))?;
    Ok(counts[counts.len() - 2] > 0)
}

pub fn is_access_token_revoked(conn: &Connection, jti: &str) -> Result<bool> {
    Ok(exec::query_opt(conn, q::IS_ACCESS_TOKEN_REVOKED, &[jti.into()], |_| Ok(()))?.is_some())
}

pub fn sessions(
    conn: &Connection,
    realm_id: &str,
    offline: Option<bool>,
) -> Result<Vec<SessionInfo>> {
    let list = exec::query(
        conn,
        q::SESSIONS_OF_REALM,
        &[realm_id.into(), offline.into()],
        |r| rows::session(r, 0),
    )?;
    list.into_iter()
        .map(|s| {
            let username =
                exec::query_opt(conn, q::USERNAME_OF, &[s.user_id.as_str().into()], |r| {
                    crate::sql::Columns::text(r, 0)
                })?;
            Ok(SessionInfo {
                username: username.unwrap_or_else(|| format!("(deleted user {})", s.user_id)),
                clients: client_sessions(conn, &s.id)?,
                session: s,
            })
        })
        .collect()
}

pub fn insert_code(tx: &Connection, c: &AuthCode) -> Result<()> {
    exec::run(tx, &q::insert_code(c)).map(drop)
}
