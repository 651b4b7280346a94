//! Password hashing off the async runtime, in a bounded pool: at most `permits` hashes run at
//! once, so a burst of logins queues instead of starving token requests of threads.

use latchkey_crypto::password::{self, HashParams, PasswordError, Verification};
use std::sync::Arc;
use tokio::sync::{OnceCell, Semaphore};

#[derive(Clone)]
pub struct PasswordPool {
    permits: Arc<Semaphore>,
    pub params: HashParams,
    dummy: Arc<OnceCell<String>>,
}

impl PasswordPool {
    pub fn new(permits: usize, params: HashParams) -> PasswordPool {
        PasswordPool {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            params,
            dummy: Arc::new(OnceCell::new()),
        }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        tokio::task::spawn_blocking(f)
            .await
            .expect("password hashing task panicked")
    }

    pub async fn hash(&self, pw: String) -> Result<String, PasswordError> {
        let params = self.params;
        self.run(move || password::hash(&pw, params)).await
    }

    pub async fn verify(&self, pw: String, stored: String) -> Result<Verification, PasswordError> {
        let params = self.params;
        self.run(move || password::verify(&pw, &stored, params))
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
