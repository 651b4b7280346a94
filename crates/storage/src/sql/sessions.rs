//! Sessions, refresh-token families, refresh-token records, codes and events: the statements
//! and the write plans, once for both backends.

use super::events::{self, While};
use super::rows::{code_columns, cs_columns, rt_columns, session_columns};
use super::{stmt, Statement};
use crate::{CodeDecision, CodeState, Event, NewGrant};
use latchkey_domain::policy::{RefreshDecision, RefreshState, Rejection};
use latchkey_domain::{AuthCode, RefreshRecord, Session, Timestamp};

pub const SESSION_BY_ID: &str = concat!(
    "SELECT ",
    session_columns!(""),
    " FROM sessions WHERE id = $1"
);
pub const CLIENT_SESSIONS_OF: &str = concat!(
    "SELECT ",
    cs_columns!(""),
    " FROM client_sessions WHERE session_id = $1 ORDER BY started_at, id"
);
pub const SESSIONS_OF_REALM: &str = concat!(
    "SELECT ", session_columns!(""),
    " FROM sessions WHERE realm_id = $1 AND ended_at IS NULL AND (CAST($2 AS BOOLEAN) IS NULL OR offline = $2) ORDER BY started_at, id"
);
pub const USERNAME_OF: &str = "SELECT username FROM users WHERE id = $1";
pub const LIVE_COUNTS: &str = "SELECT s.realm_id, s.offline, COUNT(DISTINCT s.id), COUNT(cs.id)
     FROM sessions s LEFT JOIN client_sessions cs ON cs.session_id = s.id AND cs.revoked_at IS NULL
     WHERE s.ended_at IS NULL GROUP BY s.realm_id, s.offline";

/// A row of [`LIVE_COUNTS`].
pub fn live_count(r: &impl super::Columns) -> crate::Result<crate::LiveCount> {
    Ok(crate::LiveCount {
        realm_id: r.text(0)?,
        offline: r.flag(1)?,
        sessions: r.int(2)?,
        families: r.int(3)?,
    })
}

/// Everything a refresh decision reads — the record, its family, the family's session, the
/// family's current record when that is another one, and the session's user — in one statement.
pub const REFRESH_STATE: &str = concat!(
    "SELECT ",
    rt_columns!("rt."),
    ", ",
    cs_columns!("cs."),
    ", ",
    session_columns!("s."),
    ", ",
    rt_columns!("cur."),
    ", u.id, u.realm_id, u.representation
     FROM refresh_tokens rt
     JOIN client_sessions cs ON cs.id = rt.client_session_id
     JOIN sessions s ON s.id = cs.session_id
     LEFT JOIN refresh_tokens cur ON cur.jti = cs.current_jti AND cs.current_jti <> rt.jti
     LEFT JOIN users u ON u.id = s.user_id AND u.realm_id = s.realm_id
     WHERE rt.jti = $1"
);

/// PostgreSQL: locks the family of refresh token `$1`, so that concurrent refreshes of one
/// family — on any node — are decided one after another. [`REFRESH_STATE`] runs after it,
/// and so reads what the refresh before it wrote. (SQLite's one writer serialises them.)
pub const LOCK_FAMILY: &str = "SELECT 1 FROM client_sessions WHERE id = (SELECT client_session_id FROM refresh_tokens WHERE jti = $1) FOR UPDATE";

pub const IS_ACCESS_TOKEN_REVOKED: &str = "SELECT 1 FROM revoked_tokens WHERE jti = $1";
pub const CODE_BY_HASH: &str = concat!(
    "SELECT ",
    code_columns!(),
    " FROM auth_codes WHERE code_hash = $1"
);
/// PostgreSQL: the code, locked until its redemption commits.
pub const CODE_BY_HASH_LOCKED: &str = concat!(
    "SELECT ",
    code_columns!(),
    " FROM auth_codes WHERE code_hash = $1 FOR UPDATE"
);

const INSERT_SESSION: &str = "INSERT INTO sessions (id, realm_id, user_id, offline, started_at, auth_time, last_refresh) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const TOUCH_SESSION: &str = "UPDATE sessions SET last_refresh = $1 WHERE id = $2";
const UPSERT_CLIENT_SESSION: &str = "INSERT INTO client_sessions (id, session_id, client_id, started_at, last_refresh, current_jti) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO UPDATE SET last_refresh = excluded.last_refresh, current_jti = excluded.current_jti";
const INSERT_RECORD: &str = concat!(
    "INSERT INTO refresh_tokens (",
    rt_columns!(""),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
);
const MARK_ROTATED: &str = "UPDATE refresh_tokens SET rotated_at = $1, successor_jti = $2, use_count = use_count + 1 WHERE jti = $3";
const ADVANCE_FAMILY: &str =
    "UPDATE client_sessions SET current_jti = $1, last_refresh = $2 WHERE id = $3";
const REVOKE_FAMILY: &str = "UPDATE client_sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL";
const END_SESSION: &str =
    "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL";
const REVOKE_SESSION_FAMILIES: &str = "UPDATE client_sessions SET revoked_at = $1, revoke_reason = $2 WHERE session_id = $3 AND revoked_at IS NULL";
const REVOKE_ACCESS_TOKEN: &str =
    "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING";
const INSERT_CODE: &str = concat!(
    "INSERT INTO auth_codes (",
    code_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
);
const SWEEP_CODES: &str = "DELETE FROM auth_codes WHERE expires_at < $1";
const MARK_CODE_USED: &str = "UPDATE auth_codes SET used_at = $1 WHERE code_hash = $2";
const SET_CODE_FAMILY: &str = "UPDATE auth_codes SET family_id = $1 WHERE code_hash = $2";

/// Every statement above, for the tests.
#[cfg(test)]
pub const ALL: &[&str] = &[
    SESSION_BY_ID,
    CLIENT_SESSIONS_OF,
    SESSIONS_OF_REALM,
    USERNAME_OF,
    LIVE_COUNTS,
    REFRESH_STATE,
    IS_ACCESS_TOKEN_REVOKED,
    CODE_BY_HASH,
    INSERT_SESSION,
    TOUCH_SESSION,
    UPSERT_CLIENT_SESSION,
    INSERT_RECORD,
    MARK_ROTATED,
    ADVANCE_FAMILY,
    REVOKE_FAMILY,
    END_SESSION,
    REVOKE_SESSION_FAMILIES,
    REVOKE_ACCESS_TOKEN,
    INSERT_CODE,
    SWEEP_CODES,
    MARK_CODE_USED,
    SET_CODE_FAMILY,
];

pub fn insert_session(s: &Session) -> Statement {
    stmt!(
        INSERT_SESSION,
        &s.id,
        &s.realm_id,
        &s.user_id,
        s.offline,
        s.started_at,
        s.auth_time,
        s.last_refresh
    )
}

pub fn touch_session(id: &str, now: Timestamp) -> Statement {
    stmt!(TOUCH_SESSION, now, id)
}

fn insert_record(r: &RefreshRecord) -> Statement {
    stmt!(
        INSERT_RECORD,
        &r.jti,
        &r.client_session_id,
        &r.parent_jti,
        r.issued_at,
        &r.expires_at,
        &r.scope,
        r.offline,
        &r.rotated_at,
        &r.successor_jti,
        r.use_count
    )
}

/// The first tokens of a login: its session (new, or an SSO session slid), the client session
/// and the first refresh token.
pub fn start_grant(g: &NewGrant) -> Vec<Statement> {
    let s = &g.session;
    let cs = &g.client_session;
    let mut plan = vec![if g.session_is_new {
        insert_session(s)
    } else {
        touch_session(&s.id, s.last_refresh)
    }];
    plan.push(stmt!(
        UPSERT_CLIENT_SESSION,
        &cs.id,
        &cs.session_id,
        &cs.client_id,
        cs.started_at,
        cs.last_refresh,
        &cs.current_jti
    ));
    plan.extend(g.refresh.as_ref().map(insert_record));
    plan.extend(g.event.as_ref().map(events::insert));
    plan
}

/// What a refresh decision changes: an issued successor is inserted, the presented record marked
/// rotated, the family pointed at the successor and both idle windows slid; a rejection that
/// revokes ends the family and records why. A replay and a plain rejection change nothing but
/// the event they are recorded by, when there is one.
pub fn refresh_effects(
    state: &RefreshState,
    decision: &RefreshDecision,
    event: Option<&Event>,
    now: Timestamp,
) -> Vec<Statement> {
    let mut plan = refresh_changes(state, decision, now);
    plan.extend(event.map(events::insert));
    plan
}

fn refresh_changes(
    state: &RefreshState,
    decision: &RefreshDecision,
    now: Timestamp,
) -> Vec<Statement> {
    match decision {
        RefreshDecision::Issue {
            successor,
            rotate_presented,
        } => {
            let mut plan = vec![insert_record(successor)];
            if *rotate_presented {
                plan.push(stmt!(MARK_ROTATED, now, &successor.jti, &state.record.jti));
            }
            plan.push(stmt!(
                ADVANCE_FAMILY,
                &successor.jti,
                now,
                &state.client_session.id
            ));
            plan.push(touch_session(&state.session.id, now));
            plan
        }
        RefreshDecision::Reject(Rejection {
            revoke_family: Some(reason),
            ..
        }) => vec![revoke_family(&state.client_session.id, now, reason)],
        RefreshDecision::Replay { .. } | RefreshDecision::Reject(_) => Vec::new(),
    }
}

/// Revokes a family unless it already is; the statement's count says whether it was.
pub fn revoke_family(id: &str, now: Timestamp, reason: &str) -> Statement {
    stmt!(REVOKE_FAMILY, now, reason, id)
}

/// Ends a session and revokes its families, recording the event when the session was active;
/// the last statement but one (the end) counts 1 when it was.
pub fn end_session(
    id: &str,
    now: Timestamp,
    reason: &str,
    event: Option<&Event>,
) -> Vec<Statement> {
    let mut plan: Vec<Statement> = event
        .map(|e| events::insert_while(e, While::SessionActive(id)))
        .into_iter()
        .collect();
    plan.push(stmt!(END_SESSION, now, reason, id));
    plan.push(stmt!(REVOKE_SESSION_FAMILIES, now, reason, id));
    plan
}

/// Revokes a family unless it already is, recording the event when it was not; the last
/// statement counts 1 when it was revoked now.
pub fn revoke_family_recording(
    id: &str,
    now: Timestamp,
    reason: &str,
    event: Option<&Event>,
) -> Vec<Statement> {
    let mut plan: Vec<Statement> = event
        .map(|e| events::insert_while(e, While::FamilyUnrevoked(id)))
        .into_iter()
        .collect();
    plan.push(revoke_family(id, now, reason));
    plan
}

pub fn revoke_access_token(jti: &str, expires_at: Timestamp) -> Statement {
    stmt!(REVOKE_ACCESS_TOKEN, jti, expires_at)
}

/// Stores a new code; codes live for seconds, so the long expired ones are swept as new ones
/// arrive.
pub fn insert_code(c: &AuthCode) -> Vec<Statement> {
    vec![
        stmt!(
            INSERT_CODE,
            &c.code_hash,
            &c.realm_id,
            &c.client_id,
            &c.redirect_uri,
            c.redirect_uri_sent,
            &c.scope,
            &c.nonce,
            &c.code_challenge,
            &c.session_id,
            &c.user_id,
            c.auth_time,
            c.expires_at,
            &c.used_at,
            &c.family_id
        ),
        stmt!(SWEEP_CODES, c.expires_at - 3600),
    ]
}

/// What redeeming a code changes, in the transaction that read it: the code is marked used at
/// its first presentation whatever the outcome; a redemption starts the grant and remembers
/// its family on the code; a replay revokes that family and records it.
pub fn redeem_effects(
    state: &CodeState,
    decision: &CodeDecision,
    now: Timestamp,
) -> Vec<Statement> {
    let code = &state.code;
    let mut plan = Vec::new();
    if code.used_at.is_none() {
        plan.push(stmt!(MARK_CODE_USED, now, &code.code_hash));
    }
    match decision {
        CodeDecision::Redeem(grant) => {
            plan.extend(start_grant(grant));
            plan.push(stmt!(
                SET_CODE_FAMILY,
                &grant.client_session.id,
                &code.code_hash
            ));
        }
        CodeDecision::Refuse {
            revoke_family: Some(reason),
            ..
        } => {
            if let Some(family) = &code.family_id {
                plan.push(revoke_family(family, now, reason));
            }
        }
        CodeDecision::Refuse { .. } => {}
    }
    if let CodeDecision::Refuse {
        event: Some(event), ..
    } = decision
    {
        plan.push(events::insert(event));
    }
    plan
}
