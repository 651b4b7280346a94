//! The purge's statements (see [`crate::Store::purge_expired`] and
//! [`crate::Store::purge_dead_sessions`]); both run inside the writer's transaction.

use super::backend;
use crate::purge::{dead_sessions_page_sql, judge, page_after, Candidate};
use crate::{DeadSessions, Result, SessionCursor};
use latchkey_domain::Timestamp;
use rusqlite::{params, Connection};

/// See [`crate::Store::purge_expired`]. Each DELETE picks its rows through an expiry index
/// and a LIMIT, so one call is a short transaction whatever the table sizes.
pub fn purge_expired(tx: &Connection, now: Timestamp, limit: usize) -> Result<u64> {
    let mut n = 0u64;
    for step in crate::purge::purge_steps(now, limit) {
        n += tx
            .prepare_cached(&step.sql('?'))
            .map_err(backend)?
            .execute(params![step.before, step.limit])
            .map_err(backend)? as u64;
    }
    Ok(n)
}

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
    let (after_started, after_id) = page_after(after);
    let page = tx
        .prepare_cached(&dead_sessions_page_sql('?'))
        .map_err(backend)?
        .query_map(
            params![
                which.realm_id,
                which.offline,
                before,
                after_started,
                after_id,
                scan as i64
            ],
            |r| {
                Ok(Candidate {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    last_refresh: r.get(2)?,
                    ended: r.get(3)?,
                })
            },
        )
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    let (dead, next) = judge(which, page, scan);
    let mut delete = tx
        .prepare_cached("DELETE FROM sessions WHERE id = ?1")
        .map_err(backend)?;
    let mut deleted = 0;
    for id in &dead {
        deleted += delete.execute([id]).map_err(backend)? as u64;
    }
    Ok((deleted, next))
}
