//! Password hashing off the async runtime, in a bounded pool: at most `permits` hashes run at
//! once, so a burst of logins queues instead of starving token requests of threads.
//!
//! argon2's working memory (19 MiB a hash) is handed from one hash to the next while logins
//! are waiting, which spares the page faults of fresh memory; when nobody waits it is wiped
//! and given back, so an idle server does not hold it.

use latchkey_crypto::password::{self, HashParams, PasswordError, Scratch, Verification};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OnceCell, Semaphore};

#[derive(Clone)]
pub struct PasswordPool {
    permits: Arc<Semaphore>,
    size: usize,
    pub params: HashParams,
    dummy: Arc<OnceCell<String>>,
    /// Hashes waiting for a permit.
    waiting: Arc<AtomicUsize>,
    /// Working memory kept for them (at most one per permit).
    spare: Arc<Mutex<Vec<Scratch>>>,
}

impl PasswordPool {
    pub fn new(permits: usize, params: HashParams) -> PasswordPool {
        PasswordPool {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            size: permits.max(1),
            params,
            dummy: Arc::new(OnceCell::new()),
            waiting: Default::default(),
            spare: Default::default(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Scratch) -> T + Send + 'static,
    ) -> T {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let permit = self.permits.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let _permit = permit.expect("semaphore never closed");
        // Memory is taken and given back on the blocking thread: wiping 19 MiB is no work for
        // the async runtime.
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut scratch = pool.take_spare();
            let out = f(&mut scratch);
            pool.give_back(scratch);
            out
        })
        .await
        .expect("password hashing task panicked")
    }

    fn take_spare(&self) -> Scratch {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        spare.pop().unwrap_or_default()
    }

    /// Keeps `scratch` for a hash that is waiting; with none waiting, drops it and any other
    /// kept memory (each is wiped on drop, outside the lock).
    fn give_back(&self, scratch: Scratch) {
        let idle = {
            let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
            if self.waiting.load(Ordering::SeqCst) > 0 {
                spare.push(scratch);
                return;
            }
            std::mem::take(&mut *spare)
        };
        drop((idle, scratch));
    }

    /// Hashes waiting for a permit.
    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Hashes being computed.
    pub fn busy(&self) -> usize {
        self.size.saturating_sub(self.permits.available_permits())
    }

    /// Working memory held for waiting hashes (for tests).
    pub fn spare_count(&self) -> usize {
        self.spare.lock().map(|s| s.len()).unwrap_or(0)
    }

    pub async fn hash(&self, pw: String) -> Result<String, PasswordError> {
        let params = self.params;
        self.run(move |s| password::hash_with(s, &pw, params)).await
    }

    pub async fn verify(&self, pw: String, stored: String) -> Result<Verification, PasswordError> {
        let params = self.params;
        self.run(move |s| password::verify_with(s, &pw, &stored, params))
            .await
    }

    /// Spends the same effort as a real check, for unknown users (no timing oracle).
    pub async fn verify_dummy(&self, pw: String) {
        let stored = self
            .dummy
            .get_or_init(|| async {
                self.hash(latchkey_crypto::random_token(16))
                    .await
                    .unwrap_or_default()
            })
            .await
            .clone();
        let _ = self.verify(pw, stored).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: HashParams = HashParams {
        m_kib: 256,
        t: 1,
        p: 1,
    };

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_is_kept_only_while_hashes_wait() {
        let pool = PasswordPool::new(1, FAST);
        let stored = pool.hash("pw".into()).await.unwrap();
        assert_eq!(pool.spare_count(), 0, "nothing waits: nothing kept");
        // A burst: one permit, many hashes; each result must be right with reused memory.
        let jobs: Vec<_> = (0..8)
            .map(|i| {
                let (p, s) = (pool.clone(), stored.clone());
                tokio::spawn(async move {
                    let pw = if i % 2 == 0 { "pw" } else { "wrong" };
                    p.verify(pw.into(), s).await.unwrap()
                })
            })
            .collect();
        for (i, j) in jobs.into_iter().enumerate() {
            let v = j.await.unwrap();
            assert_eq!(
                matches!(v, Verification::Match { .. }),
                i % 2 == 0,
                "job {i}"
            );
        }
        assert_eq!(
            pool.spare_count(),
            0,
            "the burst is over: memory given back"
        );
    }
}
