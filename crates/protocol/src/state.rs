//! The state every handler shares, passed in explicitly (no globals): the application (its
//! fields read through `Deref`), and what only HTTP needs — its limits, the pages, readiness.

use crate::form::BodyLimits;
use crate::limits::{HttpLimits, ProxyTrust, RateLimiters, RateLimits};
use latchkey_application::hashing::PasswordPool;
use latchkey_application::{App, Clock, SystemClock};
use latchkey_crypto::secrets::MasterKey;
use latchkey_storage::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Config {
    /// Base of every issuer: `{public_url}/realms/{realm}`. No trailing slash.
    pub public_url: String,
    pub http: Http,
}

/// What HTTP allows a request: body and head sizes, times, rates, and whose proxy headers count.
#[derive(Debug, Clone)]
pub struct Http {
    pub body: BodyLimits,
    pub head: HttpLimits,
    pub rates: RateLimits,
    pub proxy: ProxyTrust,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            body: BodyLimits {
                bytes: 1024 * 1024,
                timeout: std::time::Duration::from_secs(30),
            },
            head: HttpLimits::default(),
            rates: RateLimits::default(),
            proxy: ProxyTrust::default(),
        }
    }
}

pub struct AppState {
    pub app: App,
    pub body: BodyLimits,
    pub head: HttpLimits,
    pub rates: RateLimiters,
    pub proxy: ProxyTrust,
    pub pages: crate::pages::Pages,
    /// The metrics served on the management listener.
    pub telemetry: crate::telemetry::Telemetry,
    ready: AtomicBool,
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        master_key: Arc<MasterKey>,
        passwords: PasswordPool,
        config: Config,
    ) -> Arc<Self> {
        AppState::with_clock(store, master_key, passwords, config, Arc::new(SystemClock))
    }

    /// As [`AppState::new`], with the clock the application reads.
    pub fn with_clock(
        store: Arc<dyn Store>,
        master_key: Arc<MasterKey>,
        passwords: PasswordPool,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        let app = App::with_clock(store, master_key, passwords, config.public_url, clock);
        AppState::from_app(app, config.http)
    }

    /// The HTTP state around an application built by the caller (tests inject its clock and
    /// ids this way).
    pub fn from_app(app: App, http: Http) -> Arc<Self> {
        Arc::new(AppState {
            telemetry: crate::telemetry::Telemetry::new(&app),
            app,
            body: http.body,
            head: http.head,
            rates: RateLimiters::new(http.rates),
            proxy: http.proxy,
            pages: Default::default(),
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
}
