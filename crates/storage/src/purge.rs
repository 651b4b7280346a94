//! What the purge of each backend shares: which sessions are dead, where a scan of them
//! stopped, and the DELETEs of expired rows.

use crate::{Timestamp, ENDED_SESSION_RETENTION, EXPIRED_RETENTION};

/// Which of a realm's sessions can never serve a request again, as the purge judges them:
/// not used since `idle_before`, or started before `started_before` (the cut-offs already
/// include [`EXPIRED_RETENTION`]). Sessions that were ended are left to
/// [`ENDED_SESSION_RETENTION`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadSessions {
    pub realm_id: String,
    pub offline: bool,
    pub idle_before: Option<Timestamp>,
    pub started_before: Option<Timestamp>,
}

impl DeadSessions {
    /// Only sessions started before this can be dead (a session's last use is never before
    /// its start); `None` when neither limit applies.
    pub fn candidates_before(&self) -> Option<Timestamp> {
        match (self.idle_before, self.started_before) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn is_dead(&self, started_at: Timestamp, last_refresh: Timestamp, ended: bool) -> bool {
        !ended
            && (self.idle_before.is_some_and(|t| last_refresh < t)
                || self.started_before.is_some_and(|t| started_at < t))
    }
}

/// Where a scan of sessions stopped: the last session looked at, in (start, id) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCursor {
    pub started_at: Timestamp,
    pub id: String,
}

/// One page of candidates for [`crate::Store::purge_dead_sessions`], in the order of the
/// `sessions_started` index, with the backend's placeholder mark (`?` or `$`): realm,
/// offline, candidates' start before, cursor start, cursor id, page size.
pub(crate) fn dead_sessions_page_sql(mark: char) -> String {
    format!(
        "SELECT id, started_at, last_refresh, ended_at IS NOT NULL FROM sessions
         WHERE realm_id = {mark}1 AND offline = {mark}2 AND started_at < {mark}3
           AND (started_at, id) > ({mark}4, {mark}5)
         ORDER BY started_at, id LIMIT {mark}6"
    )
}

/// The cursor's bind values; the start of the realm's sessions when there is none yet.
pub(crate) fn page_after(after: Option<&SessionCursor>) -> (Timestamp, &str) {
    after.map_or((Timestamp::MIN, ""), |c| (c.started_at, c.id.as_str()))
}

/// A candidate as the page query returns it.
pub(crate) struct Candidate {
    pub id: String,
    pub started_at: Timestamp,
    pub last_refresh: Timestamp,
    pub ended: bool,
}

/// Judges a page of `scan` candidates: the ids to delete, and the cursor to go on from (none
/// when the page came back short: the end of the realm's candidates).
pub(crate) fn judge(
    which: &DeadSessions,
    page: Vec<Candidate>,
    scan: usize,
) -> (Vec<String>, Option<SessionCursor>) {
    let next = page
        .last()
        .filter(|_| page.len() >= scan)
        .map(|c| SessionCursor {
            started_at: c.started_at,
            id: c.id.clone(),
        });
    let dead = page
        .into_iter()
        .filter(|c| which.is_dead(c.started_at, c.last_refresh, c.ended))
        .map(|c| c.id)
        .collect();
    (dead, next)
}

/// One DELETE of [`crate::Store::purge_expired`]: at most `limit` rows of `table` whose
/// `column` is before `before`, picked through that column's index.
pub(crate) struct PurgeStep {
    table: &'static str,
    key: &'static str,
    column: &'static str,
    pub before: Timestamp,
    pub limit: i64,
}

impl PurgeStep {
    /// The statement, with the backend's placeholder mark (`?` or `$`): before, limit.
    pub fn sql(&self, mark: char) -> String {
        let PurgeStep {
            table, key, column, ..
        } = self;
        format!("DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {column} < {mark}1 LIMIT {mark}2)")
    }
}

/// The purge's DELETEs: refresh-token records expired for [`EXPIRED_RETENTION`], sessions
/// ended for [`ENDED_SESSION_RETENTION`] (a tenth of the batch: each takes its families),
/// revocations and codes past their expiry.
pub(crate) fn purge_steps(now: Timestamp, limit: usize) -> [PurgeStep; 4] {
    let limit = limit.max(10) as i64;
    let step = |table, key, column, before, limit| PurgeStep {
        table,
        key,
        column,
        before,
        limit,
    };
    [
        step(
            "refresh_tokens",
            "jti",
            "expires_at",
            now - EXPIRED_RETENTION,
            limit,
        ),
        step(
            "sessions",
            "id",
            "ended_at",
            now - ENDED_SESSION_RETENTION,
            (limit / 10).max(1),
        ),
        step("revoked_tokens", "jti", "expires_at", now, limit),
        step("auth_codes", "code_hash", "expires_at", now, limit),
    ]
}
