//! The state every handler shares, passed in explicitly (no globals).

use crate::hashing::PasswordPool;
use crate::realms::RealmCache;
use latchkey_crypto::secrets::MasterKey;
use latchkey_storage::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Config {
    /// Base of every issuer: `{public_url}/realms/{realm}`. No trailing slash.
    pub public_url: String,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub realms: RealmCache,
    pub passwords: PasswordPool,
    pub master_key: Arc<MasterKey>,
    pub config: Config,
    pub pages: crate::pages::Pages,
    pub throttle: crate::throttle::Throttle,
    ready: AtomicBool,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        master_key: Arc<MasterKey>,
        passwords: PasswordPool,
        config: Config,
    ) -> Arc<Self> {
        Arc::new(AppState {
            realms: RealmCache::new(store.clone()),
            store,
            passwords,
            master_key,
            config,
            pages: Default::default(),
            throttle: Default::default(),
            ready: AtomicBool::new(false),
        })
    }
    /// Drops cached realm configuration whenever another node (sharing the store) changes it.
    pub fn watch_changes(self: &Arc<Self>) {
        let Some(mut rx) = self.store.changes() else {
            return;
        };
        let state = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let closed = matches!(
                    rx.recv().await,
                    Err(tokio::sync::broadcast::error::RecvError::Closed)
                );
                let Some(state) = state.upgrade() else { break };
                state.realms.invalidate_all();
                if closed {
                    break;
                }
            }
        });
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{}", self.config.public_url, realm)
    }
}
