//! Sessions, client sessions (refresh-token families) and refresh-token records.

use super::backend;
use crate::{Event, NewGrant, RefreshOutcome, Result, SessionInfo};
use latchkey_domain::policy::{RefreshDecision, RefreshState, Rejection};
use latchkey_domain::{ClientSession, RefreshRecord, Session, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, Row};

const SESSION_COLUMNS: &str =
    "id, realm_id, user_id, offline, started_at, auth_time, last_refresh, ended_at, end_reason";
const CS_COLUMNS: &str =
    "id, session_id, client_id, started_at, last_refresh, current_jti, revoked_at, revoke_reason";
const RT_COLUMNS: &str =
    "jti, client_session_id, parent_jti, issued_at, expires_at, scope, offline, rotated_at, successor_jti, use_count";

fn session_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    session_at(r, 0)
}

/// A `Session` from the row's columns `o..o + 9` (in `SESSION_COLUMNS` order).
fn session_at(r: &Row<'_>, o: usize) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(o)?,
        realm_id: r.get(o + 1)?,
        user_id: r.get(o + 2)?,
        offline: r.get(o + 3)?,
        started_at: r.get(o + 4)?,
        auth_time: r.get(o + 5)?,
        last_refresh: r.get(o + 6)?,
        ended_at: r.get(o + 7)?,
        end_reason: r.get(o + 8)?,
    })
}

fn cs_row(r: &Row<'_>) -> rusqlite::Result<ClientSession> {
    cs_at(r, 0)
}

/// A `ClientSession` from columns `o..o + 8` (in `CS_COLUMNS` order).
fn cs_at(r: &Row<'_>, o: usize) -> rusqlite::Result<ClientSession> {
    Ok(ClientSession {
        id: r.get(o)?,
        session_id: r.get(o + 1)?,
        client_id: r.get(o + 2)?,
        started_at: r.get(o + 3)?,
        last_refresh: r.get(o + 4)?,
        current_jti: r.get(o + 5)?,
        revoked_at: r.get(o + 6)?,
        revoke_reason: r.get(o + 7)?,
    })
}

/// A `RefreshRecord` from columns `o..o + 10` (in `RT_COLUMNS` order).
fn rt_at(r: &Row<'_>, o: usize) -> rusqlite::Result<RefreshRecord> {
    Ok(RefreshRecord {
        jti: r.get(o)?,
        client_session_id: r.get(o + 1)?,
        parent_jti: r.get(o + 2)?,
        issued_at: r.get(o + 3)?,
        expires_at: r.get(o + 4)?,
        scope: r.get(o + 5)?,
        offline: r.get(o + 6)?,
        rotated_at: r.get(o + 7)?,
        successor_jti: r.get(o + 8)?,
        use_count: r.get(o + 9)?,
    })
}

/// `cols` with each column qualified by `alias` ("a, b" -> "t.a, t.b").
fn qualified(alias: &str, cols: &str) -> String {
    cols.split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn session(conn: &Connection, id: &str) -> Result<Option<Session>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1");
    conn.prepare_cached(&sql)
        .map_err(backend)?
        .query_row([id], session_row)
        .optional()
        .map_err(backend)
}

pub fn client_sessions(conn: &Connection, session_id: &str) -> Result<Vec<ClientSession>> {
    let sql = format!(
        "SELECT {CS_COLUMNS} FROM client_sessions WHERE session_id = ?1 ORDER BY started_at, id"
    );
    let mut st = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = st.query_map([session_id], cs_row).map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

fn insert_record(conn: &Connection, r: &RefreshRecord) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO refresh_tokens (jti, client_session_id, parent_jti, issued_at, expires_at, scope, offline, rotated_at, successor_jti, use_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .map_err(backend)?
    .execute(params![
        r.jti,
        r.client_session_id,
        r.parent_jti,
        r.issued_at,
        r.expires_at,
        r.scope,
        r.offline,
        r.rotated_at,
        r.successor_jti,
        r.use_count
    ])
    .map_err(backend)?;
    Ok(())
}

pub fn insert_session(tx: &Connection, s: &Session) -> Result<()> {
    tx.execute(
        "INSERT INTO sessions (id, realm_id, user_id, offline, started_at, auth_time, last_refresh, ended_at, end_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, NULL)",
        params![s.id, s.realm_id, s.user_id, s.offline, s.started_at, s.auth_time, s.last_refresh],
    )
    .map_err(backend)?;
    Ok(())
}

pub fn start_grant(tx: &Connection, g: &NewGrant) -> Result<()> {
    let s = &g.session;
    if g.session_is_new {
        insert_session(tx, s)?;
    } else {
        tx.execute(
            "UPDATE sessions SET last_refresh = ?2 WHERE id = ?1",
            params![s.id, s.last_refresh],
        )
        .map_err(backend)?;
    }
    let c = &g.client_session;
    tx.execute(
        "INSERT INTO client_sessions (id, session_id, client_id, started_at, last_refresh, current_jti, revoked_at, revoke_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, NULL)
         ON CONFLICT (id) DO UPDATE SET last_refresh = excluded.last_refresh, current_jti = excluded.current_jti",
        params![c.id, c.session_id, c.client_id, c.started_at, c.last_refresh, c.current_jti],
    )
    .map_err(backend)?;
    if let Some(r) = &g.refresh {
        insert_record(tx, r)?;
    }
    Ok(())
}

/// The statement behind [`refresh_state`].
pub(super) fn refresh_state_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "SELECT {}, {}, {}, {} FROM refresh_tokens rt
             JOIN client_sessions cs ON cs.id = rt.client_session_id
             JOIN sessions s ON s.id = cs.session_id
             LEFT JOIN refresh_tokens cur ON cur.jti = cs.current_jti AND cs.current_jti <> rt.jti
             WHERE rt.jti = ?1",
            qualified("rt", RT_COLUMNS),
            qualified("cs", CS_COLUMNS),
            qualified("s", SESSION_COLUMNS),
            qualified("cur", RT_COLUMNS),
        )
    })
}

/// Everything a refresh decision reads — the record, its family, the family's session and the
/// family's current record when that is another one — in one statement (this runs inside the
/// writer's transaction for every rotation; four point lookups cost four statement runs).
pub fn refresh_state(conn: &Connection, jti: &str) -> Result<Option<RefreshState>> {
    let sql = refresh_state_sql();
    conn.prepare_cached(sql)
        .map_err(backend)?
        .query_row([jti], |r| {
            // The LEFT JOIN's columns are NULL when there is no other current record.
            let current = r
                .get::<_, Option<String>>(27)?
                .map(|_| rt_at(r, 27))
                .transpose()?;
            Ok(RefreshState {
                record: rt_at(r, 0)?,
                client_session: cs_at(r, 10)?,
                session: session_at(r, 18)?,
                current,
            })
        })
        .optional()
        .map_err(backend)
}

pub fn refresh(
    tx: &Connection,
    jti: &str,
    now: Timestamp,
    decide: crate::Decide,
) -> Result<RefreshOutcome> {
    let Some(state) = refresh_state(tx, jti)? else {
        return Ok(RefreshOutcome::Unknown);
    };
    let decision = decide(&state);
    match &decision {
        RefreshDecision::Issue {
            successor,
            rotate_presented,
        } => {
            insert_record(tx, successor)?;
            if *rotate_presented {
                tx.prepare_cached(
                    "UPDATE refresh_tokens SET rotated_at = ?2, successor_jti = ?3, use_count = use_count + 1 WHERE jti = ?1",
                )
                .map_err(backend)?
                .execute(params![jti, now, successor.jti])
                .map_err(backend)?;
            }
            tx.prepare_cached(
                "UPDATE client_sessions SET current_jti = ?2, last_refresh = ?3 WHERE id = ?1",
            )
            .map_err(backend)?
            .execute(params![state.client_session.id, successor.jti, now])
            .map_err(backend)?;
            tx.prepare_cached("UPDATE sessions SET last_refresh = ?2 WHERE id = ?1")
                .map_err(backend)?
                .execute(params![state.session.id, now])
                .map_err(backend)?;
        }
        RefreshDecision::Replay { .. } => {}
        RefreshDecision::Reject(Rejection {
            revoke_family: Some(reason),
            ..
        }) => {
            revoke_family(tx, &state.client_session.id, now, reason)?;
            insert_event(
                tx,
                &Event {
                    realm_id: Some(state.session.realm_id.clone()),
                    at: now,
                    kind: "REFRESH_TOKEN_REUSE".into(),
                    detail: serde_json::json!({
                        "jti": jti,
                        "sid": state.session.id,
                        "client_id": state.client_session.client_id,
                        "user_id": state.session.user_id,
                        "family": state.client_session.id,
                        "reason": reason,
                    }),
                },
            )?;
        }
        RefreshDecision::Reject(_) => {}
    }
    Ok(RefreshOutcome::Decided {
        state: Box::new(state),
        decision,
    })
}

pub fn revoke_family(tx: &Connection, id: &str, now: Timestamp, reason: &str) -> Result<bool> {
    let n = tx
        .execute(
            "UPDATE client_sessions SET revoked_at = ?2, revoke_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now, reason],
        )
        .map_err(backend)?;
    Ok(n > 0)
}

pub fn end_session(tx: &Connection, id: &str, now: Timestamp, reason: &str) -> Result<bool> {
    let n = tx
        .execute(
            "UPDATE sessions SET ended_at = ?2, end_reason = ?3 WHERE id = ?1 AND ended_at IS NULL",
            params![id, now, reason],
        )
        .map_err(backend)?;
    tx.execute(
        "UPDATE client_sessions SET revoked_at = ?2, revoke_reason = ?3 WHERE session_id = ?1 AND revoked_at IS NULL",
        params![id, now, reason],
    )
    .map_err(backend)?;
    Ok(n > 0)
}

pub fn revoke_access_token(tx: &Connection, jti: &str, exp: Timestamp) -> Result<()> {
    tx.execute(
        "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?1, ?2) ON CONFLICT (jti) DO NOTHING",
        params![jti, exp],
    )
    .map_err(backend)?;
    Ok(())
}

pub fn is_access_token_revoked(conn: &Connection, jti: &str) -> Result<bool> {
    let found: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM revoked_tokens WHERE jti = ?1")
        .map_err(backend)?
        .query_row([jti], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    Ok(found.is_some())
}

pub fn sessions(
    conn: &Connection,
    realm_id: &str,
    offline: Option<bool>,
) -> Result<Vec<SessionInfo>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE realm_id = ?1 AND ended_at IS NULL AND (?2 IS NULL OR offline = ?2) ORDER BY started_at, id"
    );
    let mut st = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = st
        .query_map(params![realm_id, offline], session_row)
        .map_err(backend)?;
    let list = rows
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    list.into_iter()
        .map(|s| {
            Ok(SessionInfo {
                username: super::config::username_of(conn, &s.user_id)?,
                clients: client_sessions(conn, &s.id)?,
                session: s,
            })
        })
        .collect()
}

pub fn insert_event(tx: &Connection, e: &Event) -> Result<()> {
    tx.execute(
        "INSERT INTO events (realm_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)",
        params![e.realm_id, e.at, e.kind, e.detail.to_string()],
    )
    .map_err(backend)?;
    Ok(())
}

pub fn events(conn: &Connection, realm_id: Option<&str>, limit: usize) -> Result<Vec<Event>> {
    let mut st = conn
        .prepare_cached(
            "SELECT realm_id, at, kind, detail FROM events WHERE (?1 IS NULL OR realm_id = ?1) ORDER BY id DESC LIMIT ?2",
        )
        .map_err(backend)?;
    let rows = st
        .query_map(params![realm_id, limit as i64], |r| {
            let detail: String = r.get(3)?;
            Ok(Event {
                realm_id: r.get(0)?,
                at: r.get(1)?,
                kind: r.get(2)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
            })
        })
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

const CODE_COLUMNS: &str = "code_hash, realm_id, client_id, redirect_uri, redirect_uri_sent, scope, nonce, code_challenge, session_id, user_id, auth_time, expires_at, used_at, family_id";

pub fn insert_code(tx: &Connection, c: &latchkey_domain::AuthCode) -> Result<()> {
    tx.execute(
        &format!("INSERT INTO auth_codes ({CODE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
        params![
            c.code_hash,
            c.realm_id,
            c.client_id,
            c.redirect_uri,
            c.redirect_uri_sent,
            c.scope,
            c.nonce,
            c.code_challenge,
            c.session_id,
            c.user_id,
            c.auth_time,
            c.expires_at,
            c.used_at,
            c.family_id
        ],
    )
    .map_err(backend)?;
    // Codes live for seconds: sweep the long expired ones as new ones arrive.
    tx.execute(
        "DELETE FROM auth_codes WHERE expires_at < ?1",
        params![c.expires_at - 3600],
    )
    .map_err(backend)?;
    Ok(())
}

pub fn consume_code(
    tx: &Connection,
    hash: &str,
    now: Timestamp,
) -> Result<Option<latchkey_domain::AuthCode>> {
    let row = tx
        .query_row(
            &format!("SELECT {CODE_COLUMNS} FROM auth_codes WHERE code_hash = ?1"),
            [hash],
            |r| {
                Ok(latchkey_domain::AuthCode {
                    code_hash: r.get(0)?,
                    realm_id: r.get(1)?,
                    client_id: r.get(2)?,
                    redirect_uri: r.get(3)?,
                    redirect_uri_sent: r.get(4)?,
                    scope: r.get(5)?,
                    nonce: r.get(6)?,
                    code_challenge: r.get(7)?,
                    session_id: r.get(8)?,
                    user_id: r.get(9)?,
                    auth_time: r.get(10)?,
                    expires_at: r.get(11)?,
                    used_at: r.get(12)?,
                    family_id: r.get(13)?,
                })
            },
        )
        .optional()
        .map_err(backend)?;
    if let Some(c) = &row {
        if c.used_at.is_none() {
            tx.execute(
                "UPDATE auth_codes SET used_at = ?2 WHERE code_hash = ?1",
                params![hash, now],
            )
            .map_err(backend)?;
        }
    }
    Ok(row)
}

pub fn set_code_family(tx: &Connection, hash: &str, family: &str) -> Result<()> {
    tx.execute(
        "UPDATE auth_codes SET family_id = ?2 WHERE code_hash = ?1",
        params![hash, family],
    )
    .map_err(backend)?;
    Ok(())
}
