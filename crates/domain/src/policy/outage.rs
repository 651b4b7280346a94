//! Time the server was down. A rotation committed at the moment of a crash leaves the client
//! holding the predecessor (the response never reached it); the grace period in which that
//! predecessor still gets its successor does not run while no server could answer, so a
//! restart that takes longer than the grace period logs nobody out.

use crate::Timestamp;

/// An interval in which no server of the store was running: from the last sign of life before
/// it to the next start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    pub from: Timestamp,
    pub to: Timestamp,
}

/// The end of a period of `seconds` from `start` whose clock stops during `outages` (sorted by
/// start, not overlapping), and how many seconds of outage it was extended by.
pub fn paused_end(start: Timestamp, seconds: i64, outages: &[Outage]) -> (Timestamp, i64) {
    let mut end = start.saturating_add(seconds);
    let mut paused = 0;
    if seconds <= 0 {
        return (end, paused); // no grace: nothing to stop the clock of
    }
    for o in outages {
        if o.to <= start {
            continue;
        }
        if o.from >= end {
            break;
        }
        let down = o.to - o.from.max(start);
        end = end.saturating_add(down);
        paused += down;
    }
    (end, paused)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(from: i64, to: i64) -> Outage {
        Outage { from, to }
    }

    #[test]
    fn no_outage_no_pause() {
        assert_eq!(paused_end(100, 10, &[]), (110, 0));
        assert_eq!(paused_end(100, 10, &[o(10, 50), o(200, 300)]), (110, 0));
    }

    #[test]
    fn an_outage_inside_the_period_extends_it_by_its_length() {
        assert_eq!(paused_end(100, 10, &[o(105, 405)]), (410, 300));
    }

    #[test]
    fn an_outage_under_way_at_the_start_counts_from_the_start() {
        // The last heartbeat came before the rotation that was committed as the server died.
        assert_eq!(paused_end(100, 10, &[o(98, 160)]), (170, 60));
    }

    #[test]
    fn a_chain_of_outages_each_reached_before_the_end_counts() {
        assert_eq!(
            paused_end(100, 10, &[o(105, 115), o(118, 130), o(200, 210)]),
            (132, 22)
        );
    }

    #[test]
    fn zero_grace_stays_zero() {
        assert_eq!(paused_end(100, 0, &[o(98, 160)]), (100, 0));
    }
}
