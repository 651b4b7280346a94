//! The application's state, passed to every use case (no globals): the store, the realm cache,
//! the password-hashing pool, the brute-force throttle, the master key and the clock.

use crate::clock::{Clock, SystemClock};
use crate::hashing::PasswordPool;
use crate::ids::{Ids, UuidIds};
use crate::realms::RealmCache;
use crate::throttle::Throttle;
use latchkey_crypto::secrets::MasterKey;
use latchkey_storage::Store;
use std::sync::Arc;

pub struct App {
    pub store: Arc<dyn Store>,
    pub realms: RealmCache,
    pub passwords: PasswordPool,
    pub master_key: Arc<MasterKey>,
    pub throttle: Throttle,
    /// Base of every issuer: `{public_url}/realms/{realm}`. No trailing slash.
    pub public_url: String,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
}

impl App {
    pub fn new(
        store: Arc<dyn Store>,
        master_key: Arc<MasterKey>,
        passwords: PasswordPool,
        public_url: String,
    ) -> App {
        App::with_clock(
            store,
            master_key,
            passwords,
            public_url,
            Arc::new(SystemClock),
        )
    }

    pub fn with_clock(
        store: Arc<dyn Store>,
        master_key: Arc<MasterKey>,
        passwords: PasswordPool,
        public_url: String,
        clock: Arc<dyn Clock>,
    ) -> App {
        App {
            realms: RealmCache::new(store.clone(), clock.clone(), master_key.clone()),
            store,
            passwords,
            master_key,
            throttle: Default::default(),
            public_url,
            clock,
            ids: Arc::new(UuidIds),
        }
    }

    /// The same application drawing its identifiers from `ids`.
    pub fn with_ids(mut self, ids: Arc<dyn Ids>) -> App {
        self.ids = ids;
        self
    }

    /// Seconds since the Unix epoch, by this application's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{}", self.public_url, realm)
    }
}
