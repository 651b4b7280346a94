//! Slices of load and slices of limit, one after the other: the clients pass a [`Gate`] before
//! each request, and [`interleave`] shuts it, waits for the server to answer what it has, has
//! the limit measured on the server's core, and opens it again.

use crate::limit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Holds the clients' next requests while a limit slice runs. A client counts itself in flight
/// before it looks at the gate, so that once the gate is shut and nobody is in flight, nobody
/// sends until it opens.
pub struct Gate {
    open: tokio::sync::watch::Sender<bool>,
    in_flight: AtomicUsize,
}

impl Gate {
    pub fn new() -> Gate {
        Gate {
            open: tokio::sync::watch::Sender::new(true),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Waits for the gate to be open and counts the caller in flight. The gate is open nearly
    /// always; only a caller that finds it shut subscribes to hear it open.
    pub async fn enter(&self) {
        let mut waiting: Option<tokio::sync::watch::Receiver<bool>> = None;
        loop {
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            if *self.open.borrow() {
                return;
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let open = waiting.get_or_insert_with(|| self.open.subscribe());
            // Looked at after subscribing, so that an opening after this look is a change.
            if !*open.borrow_and_update() {
                // The sender is `self.open`, alive as long as `self`: this cannot fail.
                let _ = open.changed().await;
            }
        }
    }

    pub fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// Shuts the gate and waits for every request in flight to be answered.
    async fn shut(&self) {
        self.open.send_replace(false);
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            tokio::task::yield_now().await;
        }
    }

    fn reopen(&self) {
        self.open.send_replace(true);
    }
}

/// What the limit slices measured, and how long the load ran between them.
#[derive(Default)]
pub struct Interleaved {
    pub load_secs: f64,
    pub ops: u64,
    pub limit_secs: f64,
}

/// From `measure_from` to `until`: load for `every`, a limit slice of `slice`, and again.
pub async fn interleave(
    gate: &Gate,
    pinned: &limit::Pinned,
    measure_from: Instant,
    until: Instant,
    every: Duration,
    slice: Duration,
) -> Interleaved {
    let mut out = Interleaved::default();
    tokio::time::sleep_until(measure_from.into()).await;
    loop {
        let start = Instant::now();
        if start + every >= until {
            out.load_secs += until.saturating_duration_since(start).as_secs_f64();
            return out;
        }
        tokio::time::sleep_until((start + every).into()).await;
        gate.shut().await;
        out.load_secs += start.elapsed().as_secs_f64();
        let (n, secs) = pinned.measure(slice).await;
        out.ops += n;
        out.limit_secs += secs;
        gate.reopen();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_shut_gate_waits_for_requests_in_flight_and_holds_the_next_until_it_opens() {
        let gate = Arc::new(Gate::new());
        gate.enter().await; // a request in flight
        let shut = tokio::spawn({
            let gate = gate.clone();
            async move { gate.shut().await }
        });
        tokio::task::yield_now().await;
        assert!(
            !shut.is_finished(),
            "shut returned with a request in flight"
        );
        gate.leave();
        shut.await.unwrap();
        assert_eq!(gate.in_flight.load(Ordering::SeqCst), 0);

        let next = tokio::spawn({
            let gate = gate.clone();
            async move { gate.enter().await }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!next.is_finished(), "a request went through a shut gate");
        assert_eq!(gate.in_flight.load(Ordering::SeqCst), 0);
        gate.reopen();
        next.await.unwrap();
        assert_eq!(gate.in_flight.load(Ordering::SeqCst), 1);
    }
}
