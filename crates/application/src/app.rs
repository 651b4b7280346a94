//! The application's state, passed to every use case (no globals): the store, the realm cache,
//! the password-hashing pool, the brute-force throttle, the master key and the clock.

use crate::clock::{Clock, SystemClock};
use crate::hashing::PasswordPool;
use crate::ids::{Ids, UuidIds};
use crate::realms::RealmCache;
use crate::throttle::Throttle;
use latchkey_crypto::secrets::MasterKey;
use latchkey_domain::policy::Outage;
use latchkey_storage::Store;
use std::sync::{Arc, RwLock};

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
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Events written apart from any change, started at the first one.
    pub(crate) events: std::sync::OnceLock<crate::events::EventQueue>,
    /// When no server of the store ran, read at start: a grace period does not run then.
    outages: RwLock<Arc<[Outage]>>,
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
            metrics: Default::default(),
            events: Default::default(),
            outages: RwLock::new(Arc::from([])),
        }
    }

    /// The same application counting in `metrics` (registered where they are served).
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> App {
        self.metrics = metrics;
        self
    }

    /// The same application drawing its identifiers from `ids`.
    pub fn with_ids(mut self, ids: Arc<dyn Ids>) -> App {
        self.ids = ids;
        self
    }

    /// The store's outages, oldest first.
    pub fn outages(&self) -> Arc<[Outage]> {
        self.outages
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records this server's start in the store (the time since the last server's sign of life
    /// becomes an outage) and keeps the outages for the refresh decision.
    pub async fn record_start(&self) -> Result<(), latchkey_storage::StoreError> {
        let outages = self.store.record_start(self.now()).await?;
        *self.outages.write().unwrap_or_else(|p| p.into_inner()) = outages.into();
        Ok(())
    }

    /// Seconds since the Unix epoch, by this application's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{}", self.public_url, realm)
    }
}
