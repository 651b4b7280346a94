//! The purge's statements (see [`crate::Store::purge_expired`] and
//! [`crate::Store::purge_dead_sessions`]).

use super::backend;
use crate::{DeadSessions, Result, SessionCursor};
use deadpool_postgres::GenericClient;

/// See [`crate::Store::purge_expired`]: each DELETE takes its rows through an expiry index
/// and a LIMIT, in autocommit, so no statement holds locks for long.
pub async fn purge_expired<C: GenericClient>(c: &C, now: i64, limit: usize) -> Result<u64> {
    let mut n = 0u64;
    for step in crate::purge::purge_steps(now, limit) {
        n += c
            .execute(&step.sql("$1", "$2"), &[&step.before, &step.limit])
            .await
            .map_err(backend)?;
    }
    Ok(n)
}

/// See [`crate::Store::purge_dead_sessions`]: one page of candidates through
/// `sessions_started`, then one DELETE of the dead among them (cascading to their families).
pub async fn purge_dead_sessions<C: GenericClient>(
    c: &C,
    which: &DeadSessions,
    after: Option<&SessionCursor>,
    scan: usize,
) -> Result<(u64, Option<SessionCursor>)> {
    let Some(before) = which.candidates_before() else {
        return Ok((0, None));
    };
    let (after_started, after_id) = after.map_or((i64::MIN, ""), |c| (c.started_at, &c.id));
    let rows = c
        .query(
            "SELECT id, started_at, last_refresh, ended_at IS NOT NULL FROM sessions
             WHERE realm_id = $1 AND offline = $2 AND started_at < $3 AND (started_at, id) > ($4, $5)
             ORDER BY started_at, id LIMIT $6",
            &[&which.realm_id, &which.offline, &before, &after_started, &after_id, &(scan as i64)],
        )
        .await
        .map_err(backend)?;
    let next = (rows.len() >= scan).then(|| {
        let last = &rows[rows.len() - 1];
        SessionCursor {
            started_at: last.get(1),
            id: last.get(0),
        }
    });
    let dead: Vec<String> = rows
        .iter()
        .filter(|r| which.is_dead(r.get(1), r.get(2), r.get(3)))
        .map(|r| r.get(0))
        .collect();
    if dead.is_empty() {
        return Ok((0, next));
    }
    let deleted = c
        .execute("DELETE FROM sessions WHERE id = ANY($1)", &[&dead])
        .await
        .map_err(backend)?;
    Ok((deleted, next))
}
