//! The purge's statements (see [`crate::Store::purge_expired`] and
//! [`crate::Store::purge_dead_sessions`]).

use super::backend;
use crate::purge::{dead_sessions_page_sql, judge, page_after, Candidate};
use crate::{DeadSessions, Result, SessionCursor};
use deadpool_postgres::GenericClient;

/// See [`crate::Store::purge_expired`]: each DELETE takes its rows through an expiry index
/// and a LIMIT, in autocommit, so no statement holds locks for long.
pub async fn purge_expired<C: GenericClient>(c: &C, now: i64, limit: usize) -> Result<u64> {
    let mut n = 0u64;
    for step in crate::purge::purge_steps(now, limit) {
        n += c
            .execute(&step.sql('$'), &[&step.before, &step.limit])
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
    let (after_started, after_id) = page_after(after);
    let page = c
        .query(
            &dead_sessions_page_sql('$'),
            &[
                &which.realm_id,
                &which.offline,
                &before,
                &after_started,
                &after_id,
                &(scan as i64),
            ],
        )
        .await
        .map_err(backend)?
        .iter()
        .map(|r| Candidate {
            id: r.get(0),
            started_at: r.get(1),
            last_refresh: r.get(2),
            ended: r.get(3),
        })
        .collect();
    let (dead, next) = judge(which, page, scan);
    if dead.is_empty() {
        return Ok((0, next));
    }
    let deleted = c
        .execute("DELETE FROM sessions WHERE id = ANY($1)", &[&dead])
        .await
        .map_err(backend)?;
    Ok((deleted, next))
}
