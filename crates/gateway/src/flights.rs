//! Single flight for calls that must not happen twice: concurrent requests presenting the same
//! refresh token (or credentials, or session) make one call to the identity provider and all
//! get its result; the result is remembered for a while, so a straggler with the same token
//! gets the same successor instead of presenting a rotated-out token. The call runs on a task
//! of its own: a client that disconnects mid-refresh cannot abandon a rotation half-way.
//!
//! With Redis (`session_storage: redis`), the flight also holds across gateway nodes: the node
//! that takes the lock calls the provider and leaves the result in Redis for the others.

use crate::cache::TtlCache;
use crate::sessions::RedisPool;
use crate::tokens::{Failure, Tokens};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub type Outcome = Result<Arc<Tokens>, Failure>;

/// How a caller got its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// This caller's flight called the provider.
    Called,
    /// Another caller's flight was under way; this one waited for it.
    Joined,
    /// A result of an earlier flight was still remembered.
    Remembered,
}

pub struct Flights {
    running: Mutex<HashMap<[u8; 32], watch::Receiver<Option<Outcome>>>>,
    done: TtlCache<[u8; 32], Outcome>,
}

/// How long a result is remembered: `None` forgets it at once.
pub type Remember = Box<dyn FnOnce(&Outcome) -> Option<Instant> + Send>;

impl Flights {
    pub fn new(capacity: usize) -> Flights {
        Flights {
            running: Mutex::new(HashMap::new()),
            done: TtlCache::new(capacity),
        }
    }

    pub fn remembered(&self, key: &[u8; 32]) -> Option<Outcome> {
        self.done.get(key, Instant::now())
    }

    /// Keeps `outcome` for `key` until `until` (a chain's older token learning its newest
    /// successor).
    pub fn remember(&self, key: [u8; 32], outcome: Outcome, until: Instant) {
        self.done.insert(key, outcome, until, Instant::now());
    }

    pub fn forget(&self, key: &[u8; 32]) {
        self.done.remove(key);
    }

    /// The outcome for `key`: remembered, joined, or obtained by running `call`.
    pub async fn run<F>(
        self: &Arc<Self>,
        key: [u8; 32],
        remember: Remember,
        call: F,
    ) -> (Outcome, How)
    where
        F: Future<Output = Outcome> + Send + 'static,
    {
        let (mut rx, how) = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(o) = self.done.get(&key, Instant::now()) {
                return (o, How::Remembered);
            }
            match running.get(&key) {
                Some(rx) => (rx.clone(), How::Joined),
                None => {
                    let (tx, rx) = watch::channel(None);
                    running.insert(key, rx.clone());
                    let me = self.clone();
                    tokio::spawn(async move {
                        let outcome = Box::pin(call).await;
                        {
                            // Remembered before the flight ends, under the same lock: a caller
                            // arriving now finds one or the other, never neither.
                            let mut running = me.running.lock().unwrap_or_else(|p| p.into_inner());
                            if let Some(until) = remember(&outcome) {
                                me.done.insert(key, outcome.clone(), until, Instant::now());
                            }
                            running.remove(&key);
                        }
                        let _ = tx.send(Some(outcome));
                    });
                    (rx, How::Called)
                }
            }
        };
        loop {
            if let Some(o) = rx.borrow_and_update().clone() {
                return (o, how);
            }
            if rx.changed().await.is_err() {
                // The flight's task ended without an answer (it panicked).
                return (
                    Err(Failure::Refused("the refresh failed unexpectedly".into())),
                    how,
                );
            }
        }
    }
}

/// The lock and shared result of a flight across gateway nodes, in Redis.
pub struct ClusterFlight<'a> {
    pub redis: &'a RedisPool,
    pub prefix: &'a str,
}

/// How long a node may hold the lock: longer than any provider call is allowed to take.
const LOCK_LEASE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

impl ClusterFlight<'_> {
    fn keys(&self, key: &[u8; 32]) -> (String, String) {
        let k = latchkey_crypto::b64url(key);
        (
            format!("{}latchkey:gw:lock:{k}", self.prefix),
            format!("{}latchkey:gw:result:{k}", self.prefix),
        )
    }

    /// Runs `call` on whichever node takes the lock; the others wait for its result. The
    /// result stays in Redis for `keep` (stragglers on any node get it).
    pub async fn run<F>(&self, key: &[u8; 32], keep: Duration, call: F) -> Outcome
    where
        F: Future<Output = Outcome>,
    {
        let (lock, result) = self.keys(key);
        let mut call = Some(call);
        let deadline = Instant::now() + LOCK_LEASE + Duration::from_secs(5);
        loop {
            match self.redis.get(&result).await {
                Ok(Some(stored)) => {
                    if let Some(outcome) = shared_outcome(&stored) {
                        return outcome;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "redis: reading a flight's result; calling the provider from this node");
                    if let Some(c) = call.take() {
                        return c.await;
                    }
                }
            }
            match self.redis.set_nx(&lock, "1", LOCK_LEASE).await {
                Ok(true) => {
                    // The node that held the lock leaves its result before letting go: one
                    // that finished between our read above and our taking the lock is seen here,
                    // not called again.
                    if let Ok(Some(stored)) = self.redis.get(&result).await {
                        if let Some(outcome) = shared_outcome(&stored) {
                            let _ = self.redis.del(&lock).await;
                            return outcome;
                        }
                    }
                    let Some(c) = call.take() else {
                        return Err(Failure::Refused("the refresh failed unexpectedly".into()));
                    };
                    let outcome = c.await;
                    let stored = match &outcome {
                        Ok(t) => serde_json::to_string(&**t).ok(),
                        Err(Failure::Refused(r)) => Some(format!("refused:{r}")),
                        Err(Failure::Unverified(r)) => Some(format!("unverified:{r}")),
                        // The provider could not be reached: nothing to share; the next try calls again.
                        Err(Failure::Unavailable(_)) => None,
                    };
                    if let Some(s) = stored {
                        if let Err(e) = self.redis.set_ex(&result, &s, keep).await {
                            tracing::warn!(error = %e, "redis: storing a flight's result");
                        }
                    }
                    let _ = self.redis.del(&lock).await;
                    return outcome;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "redis: taking a flight's lock; calling the provider from this node");
                    if let Some(c) = call.take() {
                        return c.await;
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(Failure::Unavailable(
                    crate::errors::Unavailable::IdpTimeout(
                        "another gateway node holds the refresh and did not finish".into(),
                    ),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The outcome another node left in Redis, if `stored` is one.
fn shared_outcome(stored: &str) -> Option<Outcome> {
    if let Ok(tokens) = serde_json::from_str::<Tokens>(stored) {
        return Some(Ok(Arc::new(tokens)));
    }
    if let Some(reason) = stored.strip_prefix("refused:") {
        return Some(Err(Failure::Refused(reason.to_string())));
    }
    stored
        .strip_prefix("unverified:")
        .map(|reason| Err(Failure::Unverified(reason.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn tokens(n: &str) -> Outcome {
        Ok(Arc::new(Tokens {
            access_token: n.into(),
            refresh_token: None,
            id_token: None,
            expires_at: None,
            claims: Default::default(),
            id_claims: None,
            introspection: None,
        }))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fifty_callers_one_call_and_stragglers_get_the_same_result() {
        let flights = Arc::new(Flights::new(100));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (f, calls) = (flights.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                f.run(
                    [7; 32],
                    Box::new(|_| Some(Instant::now() + Duration::from_secs(60))),
                    async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        tokens("a1")
                    },
                )
                .await
            }));
        }
        let mut hows = Vec::new();
        for t in tasks {
            let (o, how) = t.await.unwrap();
            assert_eq!(o.unwrap().access_token, "a1");
            hows.push(how);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(hows.iter().filter(|h| **h == How::Called).count(), 1);
        let (late, how) = flights
            .run([7; 32], Box::new(|_| None), async { tokens("never") })
            .await;
        assert_eq!(
            (late.unwrap().access_token.as_str(), how),
            ("a1", How::Remembered)
        );
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_does_not_abandon_the_call() {
        let flights = Arc::new(Flights::new(100));
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let f = flights.clone();
        let leader = tokio::spawn(async move {
            f.run(
                [1; 32],
                Box::new(|_| Some(Instant::now() + Duration::from_secs(60))),
                async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    c.fetch_add(1, Ordering::SeqCst);
                    tokens("done")
                },
            )
            .await
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        leader.abort();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the call completed");
        assert_eq!(
            flights.remembered(&[1; 32]).unwrap().unwrap().access_token,
            "done"
        );
    }
}
