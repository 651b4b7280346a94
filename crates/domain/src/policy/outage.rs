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
/// start, not overlapping), and how many seconds of outage it was extended by. Only time up to
/// `now` counts: an outage recorded by a server whose clock ran ahead cannot pause the future.
pub fn paused_end(
    start: Timestamp,
    seconds: i64,
    outages: &[Outage],
    now: Timestamp,
) -> (Timestamp, i64) {
    let mut end = start.saturating_add(seconds);
    let mut paused = 0;
    if seconds <= 0 {
        return (end, paused); // no grace: nothing to stop the clock of
    }
    for o in outages {
        let to = o.to.min(now);
        if to <= start {
            continue;
        }
        if o.from >= end {
            break;
        }
        let down = to - o.from.max(start);
        end = end.saturating_add(down);
        paused += down;
    }
    (end, paused)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1000;

    fn o(from: i64, to: i64) -> Outage {
        Outage { from, to }
    }

    #[test]
    fn no_outage_no_pause() {
        assert_eq!(paused_end(100, 10, &[], NOW), (110, 0));
        assert_eq!(
            paused_end(100, 10, &[o(10, 50), o(200, 300)], NOW),
            (110, 0)
        );
    }

    #[test]
    fn an_outage_inside_the_period_extends_it_by_its_length() {
        assert_eq!(paused_end(100, 10, &[o(105, 405)], NOW), (410, 300));
    }

    #[test]
    fn an_outage_under_way_at_the_start_counts_from_the_start() {
        // The last heartbeat came before the rotation that was committed as the server died.
        assert_eq!(paused_end(100, 10, &[o(98, 160)], NOW), (170, 60));
    }

    #[test]
    fn a_chain_of_outages_each_reached_before_the_end_counts() {
        assert_eq!(
            paused_end(100, 10, &[o(105, 115), o(118, 130), o(200, 210)], NOW),
            (132, 22)
        );
    }

    #[test]
    fn zero_grace_stays_zero() {
        assert_eq!(paused_end(100, 0, &[o(98, 160)], NOW), (100, 0));
    }

    #[test]
    fn an_outage_ending_in_the_future_counts_only_until_now() {
        // Recorded by a server whose clock ran a day ahead.
        assert_eq!(paused_end(100, 10, &[o(105, 86_500)], 200), (205, 95));
    }
}
