//! The time, passed in: the server reads the system clock, tests move a clock of their own.

use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch, as every stored and signed time is.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> i64;
    /// Milliseconds since the Unix epoch, as events are timed.
    fn now_ms(&self) -> i64 {
        self.now() * 1000
    }
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that stands still until moved: lifecycle tests run hours in microseconds.
#[derive(Debug)]
pub struct FakeClock(AtomicI64);

impl FakeClock {
    pub fn at(now: i64) -> FakeClock {
        FakeClock(AtomicI64::new(now))
    }
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
