//! When the store's servers were running: one row with the last sign of life of any of them
//! (a heartbeat), and the outages found at start — the interval from the last sign of life to
//! the first start after it, during which no server could answer.

use super::{stmt, Columns, Statement};
use crate::Result;
use latchkey_domain::policy::Outage;
use latchkey_domain::Timestamp;

/// How long an outage is remembered after it ended: an outage can only extend a grace period
/// that was running when it began, so a month covers any grace period a realm would set.
pub const OUTAGE_RETENTION: i64 = 30 * 24 * 3600;

/// A heartbeat younger than this (seconds) is another running server's: the heartbeat comes
/// every 2 s, and a second of rounding on each side.
pub const LIVE_GAP: i64 = 4;

pub const OUTAGES: &str = "SELECT started_at, ended_at FROM outages ORDER BY started_at";

/// A server starting at `now`: the time since the last sign of life becomes an outage, the
/// clock moves to `now` (never back), and outages past [`OUTAGE_RETENTION`] go. One
/// transaction. Servers starting together may each record the same outage; readers merge them.
/// Times are whole seconds, so the outage starts one second before the last heartbeat: a
/// rotation in the same second as that heartbeat is not charged for time that was rounding.
/// A heartbeat less than [`LIVE_GAP`] old means another server is running: no outage (a node
/// restarting beside others, even in a loop, pauses nobody's grace period).
pub fn record_start(now: Timestamp) -> Vec<Statement> {
    vec![
        stmt!(
            "INSERT INTO outages (started_at, ended_at) SELECT alive_at - 1, $1 FROM server_clock WHERE id = 1 AND alive_at < $2",
            now,
            now - LIVE_GAP
        ),
        heartbeat(now),
        stmt!(
            "DELETE FROM outages WHERE ended_at < $1",
            now - OUTAGE_RETENTION
        ),
    ]
}

/// A running server's sign of life.
pub fn heartbeat(now: Timestamp) -> Statement {
    stmt!(
        "INSERT INTO server_clock (id, alive_at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET alive_at = excluded.alive_at WHERE server_clock.alive_at < excluded.alive_at",
        now
    )
}

/// An [`Outage`] row: started_at, ended_at.
pub fn outage(r: &impl Columns) -> Result<Outage> {
    Ok(Outage {
        from: r.int(0)?,
        to: r.int(1)?,
    })
}

/// Sorted outages with overlapping ones merged (two servers starting together record the
/// same outage twice).
pub fn merged(mut outages: Vec<Outage>) -> Vec<Outage> {
    outages.sort_by_key(|o| (o.from, o.to));
    let mut out: Vec<Outage> = Vec::with_capacity(outages.len());
    for o in outages {
        match out.last_mut() {
            Some(last) if o.from <= last.to => last.to = last.to.max(o.to),
            _ => out.push(o),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_outages_merge() {
        let o = |from, to| Outage { from, to };
        assert_eq!(
            merged(vec![o(10, 20), o(10, 21), o(30, 40), o(5, 8)]),
            vec![o(5, 8), o(10, 21), o(30, 40)]
        );
    }
}
