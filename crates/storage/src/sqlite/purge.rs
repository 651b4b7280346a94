//! The purge's statements (see [`crate::Store::purge_expired`] and
//! [`crate::Store::purge_dead_sessions`]); both run inside the writer's transaction.

use super::backend;
use crate::{DeadSessions, Result, SessionCursor};
use latchkey_domain::Timestamp;
use rusqlite::{params, Connection};

/// See [`crate::Store::purge_expired`]. Each DELETE picks its rows through an expiry index
/// and a LIMIT, so one call is a short transaction whatever the table sizes.
pub fn purge_expired(tx: &Connection, now: Timestamp, limit: usize) -> Result<u64> {
    let mut n = 0u64;
    for step in crate::purge::purge_steps(now, limit) {
        n += tx
            .prepare_cached(&step.sql("?1", "?2"))
            .map_err(backend)?
            .execute(params![step.before, step.limit])
            .map_err(backend)? as u64;
    }
    Ok(n)
}

/// One page of candidates for [`purge_dead_sessions`], in the order of `sessions_started`.
pub(super) const DEAD_SESSIONS_PAGE: &str =
    "SELECT id, started_at, last_refresh, ended_at IS NOT NULL FROM sessions
     WHERE realm_id = ?1 AND offline = ?2 AND started_at < ?3 AND (started_at, id) > (?4, ?5)
     ORDER BY started_at, id LIMIT ?6";

/// See [`crate::Store::purge_dead_sessions`]: the candidates come in start order through
/// `sessions_started` (realm, offline, start, id), so a page costs `scan` index steps however
/// many sessions the store holds; deleting a session cascades to its families.
pub fn purge_dead_sessions(
    tx: &Connection,
    which: &DeadSessions,
    after: Option<&SessionCursor>,
    scan: usize,
) -> Result<(u64, Option<SessionCursor>)> {
    let Some(before) = which.candidates_before() else {
        return Ok((0, None));
    };
    let (after_started, after_id) = after.map_or((i64::MIN, ""), |c| (c.started_at, &c.id));
    let mut page = tx.prepare_cached(DEAD_SESSIONS_PAGE).map_err(backend)?;
    let rows = page
        .query_map(
            params![
                which.realm_id,
                which.offline,
                before,
                after_started,
                after_id,
                scan as i64
            ],
            |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<(String, Timestamp, Timestamp, bool)>>>()
        .map_err(backend)?;
    let next = (rows.len() >= scan).then(|| {
        let (id, started_at, ..) = &rows[rows.len() - 1];
        SessionCursor {
            started_at: *started_at,
            id: id.clone(),
        }
    });
    let mut delete = tx
        .prepare_cached("DELETE FROM sessions WHERE id = ?1")
        .map_err(backend)?;
    let mut deleted = 0;
    for (id, started_at, last_refresh, ended) in &rows {
        if which.is_dead(*started_at, *last_refresh, *ended) {
            deleted += delete.execute([id]).map_err(backend)? as u64;
        }
    }
    Ok((deleted, next))
}
