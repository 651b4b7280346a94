//! Sessions, refresh-token families, codes and events on PostgreSQL. A refresh locks its
//! family's row (`FOR UPDATE`) before reading anything else, so concurrent refreshes of one
//! family — on any node — are decided one after another.

use super::backend;
use crate::{Event, NewGrant, RefreshOutcome, Result, SessionInfo};
use deadpool_postgres::GenericClient;
use latchkey_domain::policy::{RefreshDecision, RefreshState, Rejection};
use latchkey_domain::{AuthCode, ClientSession, RefreshRecord, Session, Timestamp};
use tokio_postgres::Row;

const SESSION_COLUMNS: &str =
    "id, realm_id, user_id, offline, started_at, auth_time, last_refresh, ended_at, end_reason";
const CS_COLUMNS: &str =
    "id, session_id, client_id, started_at, last_refresh, current_jti, revoked_at, revoke_reason";
const RT_COLUMNS: &str =
    "jti, client_session_id, parent_jti, issued_at, expires_at, scope, offline, rotated_at, successor_jti, use_count";
const CODE_COLUMNS: &str = "code_hash, realm_id, client_id, redirect_uri, redirect_uri_sent, scope, nonce, code_challenge, session_id, user_id, auth_time, expires_at, used_at, family_id";

fn session_row(r: &Row) -> Session {
    Session {
        id: r.get(0),
        realm_id: r.get(1),
        user_id: r.get(2),
        offline: r.get(3),
        started_at: r.get(4),
        auth_time: r.get(5),
        last_refresh: r.get(6),
        ended_at: r.get(7),
        end_reason: r.get(8),
    }
}

fn cs_row(r: &Row) -> ClientSession {
    ClientSession {
        id: r.get(0),
        session_id: r.get(1),
        client_id: r.get(2),
        started_at: r.get(3),
        last_refresh: r.get(4),
        current_jti: r.get(5),
        revoked_at: r.get(6),
        revoke_reason: r.get(7),
    }
}

fn rt_row(r: &Row) -> RefreshRecord {
    RefreshRecord {
        jti: r.get(0),
        client_session_id: r.get(1),
        parent_jti: r.get(2),
        issued_at: r.get(3),
        expires_at: r.get(4),
        scope: r.get(5),
        offline: r.get(6),
        rotated_at: r.get(7),
        successor_jti: r.get(8),
        use_count: r.get(9),
    }
}

pub async fn session<C: GenericClient>(c: &C, id: &str) -> Result<Option<Session>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1");
    Ok(c.query_opt(&sql, &[&id])
        .await
        .map_err(backend)?
        .as_ref()
        .map(session_row))
}

async fn client_session<C: GenericClient>(
    c: &C,
    id: &str,
    lock: bool,
) -> Result<Option<ClientSession>> {
    let sql = format!(
        "SELECT {CS_COLUMNS} FROM client_sessions WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(c.query_opt(&sql, &[&id])
        .await
        .map_err(backend)?
        .as_ref()
        .map(cs_row))
}

pub async fn client_sessions<C: GenericClient>(
    c: &C,
    session_id: &str,
) -> Result<Vec<ClientSession>> {
    let sql = format!(
        "SELECT {CS_COLUMNS} FROM client_sessions WHERE session_id = $1 ORDER BY started_at, id"
    );
    Ok(c.query(&sql, &[&session_id])
        .await
        .map_err(backend)?
        .iter()
        .map(cs_row)
        .collect())
}

async fn record<C: GenericClient>(c: &C, jti: &str) -> Result<Option<RefreshRecord>> {
    let sql = format!("SELECT {RT_COLUMNS} FROM refresh_tokens WHERE jti = $1");
    Ok(c.query_opt(&sql, &[&jti])
        .await
        .map_err(backend)?
        .as_ref()
        .map(rt_row))
}

async fn insert_record<C: GenericClient>(c: &C, r: &RefreshRecord) -> Result<()> {
    c.execute(
        "INSERT INTO refresh_tokens (jti, client_session_id, parent_jti, issued_at, expires_at, scope, offline, rotated_at, successor_jti, use_count)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[&r.jti, &r.client_session_id, &r.parent_jti, &r.issued_at, &r.expires_at, &r.scope, &r.offline, &r.rotated_at, &r.successor_jti, &r.use_count],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

pub async fn insert_session<C: GenericClient>(c: &C, s: &Session) -> Result<()> {
    c.execute(
        "INSERT INTO sessions (id, realm_id, user_id, offline, started_at, auth_time, last_refresh) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&s.id, &s.realm_id, &s.user_id, &s.offline, &s.started_at, &s.auth_time, &s.last_refresh],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

pub async fn start_grant<C: GenericClient>(c: &C, g: &NewGrant) -> Result<()> {
    let s = &g.session;
    if g.session_is_new {
        insert_session(c, s).await?;
    } else {
        c.execute(
            "UPDATE sessions SET last_refresh = $2 WHERE id = $1",
            &[&s.id, &s.last_refresh],
        )
        .await
        .map_err(backend)?;
    }
    let cs = &g.client_session;
    c.execute(
        "INSERT INTO client_sessions (id, session_id, client_id, started_at, last_refresh, current_jti) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET last_refresh = excluded.last_refresh, current_jti = excluded.current_jti",
        &[&cs.id, &cs.session_id, &cs.client_id, &cs.started_at, &cs.last_refresh, &cs.current_jti],
    )
    .await
    .map_err(backend)?;
    if let Some(r) = &g.refresh {
        insert_record(c, r).await?;
    }
    Ok(())
}

/// Reads a refresh token's state; with `lock`, locks its family row first.
pub async fn refresh_state<C: GenericClient>(
    c: &C,
    jti: &str,
    lock: bool,
) -> Result<Option<RefreshState>> {
    let family: Option<String> = c
        .query_opt(
            "SELECT client_session_id FROM refresh_tokens WHERE jti = $1",
            &[&jti],
        )
        .await
        .map_err(backend)?
        .map(|r| r.get(0));
    let Some(family) = family else {
        return Ok(None);
    };
    let Some(cs) = client_session(c, &family, lock).await? else {
        return Ok(None);
    };
    let Some(rec) = record(c, jti).await? else {
        return Ok(None);
    };
    let Some(sess) = session(c, &cs.session_id).await? else {
        return Ok(None);
    };
    let current = match cs.current_jti.as_deref() {
        Some(cur) if cur != rec.jti => record(c, cur).await?,
        _ => None,
    };
    Ok(Some(RefreshState {
        record: rec,
        session: sess,
        client_session: cs,
        current,
    }))
}

pub async fn refresh<C: GenericClient>(
    c: &C,
    jti: &str,
    now: Timestamp,
    decide: crate::Decide,
) -> Result<RefreshOutcome> {
    let Some(state) = refresh_state(c, jti, true).await? else {
        return Ok(RefreshOutcome::Unknown);
    };
    let decision = decide(&state);
    match &decision {
        RefreshDecision::Issue {
            successor,
            rotate_presented,
        } => {
            insert_record(c, successor).await?;
            if *rotate_presented {
                c.execute(
                    "UPDATE refresh_tokens SET rotated_at = $2, successor_jti = $3, use_count = use_count + 1 WHERE jti = $1",
                    &[&jti, &now, &successor.jti],
                )
                .await
                .map_err(backend)?;
            }
            c.execute(
                "UPDATE client_sessions SET current_jti = $2, last_refresh = $3 WHERE id = $1",
                &[&state.client_session.id, &successor.jti, &now],
            )
            .await
            .map_err(backend)?;
            c.execute(
                "UPDATE sessions SET last_refresh = $2 WHERE id = $1",
                &[&state.session.id, &now],
            )
            .await
            .map_err(backend)?;
        }
        RefreshDecision::Replay { .. } => {}
        RefreshDecision::Reject(Rejection {
            revoke_family: Some(reason),
            ..
        }) => {
            revoke_family(c, &state.client_session.id, now, reason).await?;
            insert_event(
                c,
                &Event {
                    realm_id: Some(state.session.realm_id.clone()),
                    at: now,
                    kind: "REFRESH_TOKEN_REUSE".into(),
                    detail: serde_json::json!({
                        "jti": jti, "sid": state.session.id, "client_id": state.client_session.client_id,
                        "user_id": state.session.user_id, "family": state.client_session.id, "reason": reason,
                    }),
                },
            )
            .await?;
        }
        RefreshDecision::Reject(_) => {}
    }
    Ok(RefreshOutcome::Decided {
        state: Box::new(state),
        decision,
    })
}

pub async fn revoke_family<C: GenericClient>(
    c: &C,
    id: &str,
    now: Timestamp,
    reason: &str,
) -> Result<bool> {
    Ok(c
        .execute(
            "UPDATE client_sessions SET revoked_at = $2, revoke_reason = $3 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now, &reason],
        )
        .await
        .map_err(backend)?
        > 0)
}

pub async fn end_session<C: GenericClient>(
    c: &C,
    id: &str,
    now: Timestamp,
    reason: &str,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL",
            &[&id, &now, &reason],
        )
        .await
        .map_err(backend)?;
    c.execute(
        "UPDATE client_sessions SET revoked_at = $2, revoke_reason = $3 WHERE session_id = $1 AND revoked_at IS NULL",
        &[&id, &now, &reason],
    )
    .await
    .map_err(backend)?;
    Ok(n > 0)
}

pub async fn sessions<C: GenericClient>(
    c: &C,
    realm_id: &str,
    offline: Option<bool>,
) -> Result<Vec<SessionInfo>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE realm_id = $1 AND ended_at IS NULL AND ($2::BOOLEAN IS NULL OR offline = $2) ORDER BY started_at, id"
    );
    let list: Vec<Session> = c
        .query(&sql, &[&realm_id, &offline])
        .await
        .map_err(backend)?
        .iter()
        .map(session_row)
        .collect();
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        out.push(SessionInfo {
            username: super::config::username_of(c, &s.user_id).await?,
            clients: client_sessions(c, &s.id).await?,
            session: s,
        });
    }
    Ok(out)
}

pub async fn insert_event<C: GenericClient>(c: &C, e: &Event) -> Result<()> {
    c.execute(
        "INSERT INTO events (realm_id, at, kind, detail) VALUES ($1, $2, $3, $4)",
        &[&e.realm_id, &e.at, &e.kind, &e.detail.to_string()],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

pub async fn events<C: GenericClient>(
    c: &C,
    realm_id: Option<&str>,
    limit: usize,
) -> Result<Vec<Event>> {
    let rows = c
        .query(
            "SELECT realm_id, at, kind, detail FROM events WHERE ($1::TEXT IS NULL OR realm_id = $1) ORDER BY id DESC LIMIT $2",
            &[&realm_id, &(limit as i64)],
        )
        .await
        .map_err(backend)?;
    Ok(rows
        .iter()
        .map(|r| {
            let detail: String = r.get(3);
            Event {
                realm_id: r.get(0),
                at: r.get(1),
                kind: r.get(2),
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
            }
        })
        .collect())
}

pub async fn insert_code<C: GenericClient>(c: &C, a: &AuthCode) -> Result<()> {
    c.execute(
        &format!("INSERT INTO auth_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"),
        &[
            &a.code_hash, &a.realm_id, &a.client_id, &a.redirect_uri, &a.redirect_uri_sent, &a.scope, &a.nonce,
            &a.code_challenge, &a.session_id, &a.user_id, &a.auth_time, &a.expires_at, &a.used_at, &a.family_id,
        ],
    )
    .await
    .map_err(backend)?;
    c.execute(
        "DELETE FROM auth_codes WHERE expires_at < $1",
        &[&(a.expires_at - 3600)],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

pub async fn consume_code<C: GenericClient>(
    c: &C,
    hash: &str,
    now: Timestamp,
) -> Result<Option<AuthCode>> {
    let row = c
        .query_opt(
            &format!("SELECT {CODE_COLUMNS} FROM auth_codes WHERE code_hash = $1 FOR UPDATE"),
            &[&hash],
        )
        .await
        .map_err(backend)?;
    let Some(r) = row else { return Ok(None) };
    let code = AuthCode {
        code_hash: r.get(0),
        realm_id: r.get(1),
        client_id: r.get(2),
        redirect_uri: r.get(3),
        redirect_uri_sent: r.get(4),
        scope: r.get(5),
        nonce: r.get(6),
        code_challenge: r.get(7),
        session_id: r.get(8),
        user_id: r.get(9),
        auth_time: r.get(10),
        expires_at: r.get(11),
        used_at: r.get(12),
        family_id: r.get(13),
    };
    if code.used_at.is_none() {
        c.execute(
            "UPDATE auth_codes SET used_at = $2 WHERE code_hash = $1",
            &[&hash, &now],
        )
        .await
        .map_err(backend)?;
    }
    Ok(Some(code))
}
