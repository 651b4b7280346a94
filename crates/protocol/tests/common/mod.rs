#![allow(dead_code)] // each test file uses part of the harness
//! The harness of the in-process lifecycle tests: the real router over a temporary SQLite
//! store, with a clock the test moves and identifiers from a counter.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use latchkey_application::clock::FakeClock;
use latchkey_application::hashing::PasswordPool;
use latchkey_application::ids::SequentialIds;
use latchkey_application::{App, Clock};
use latchkey_crypto::password::HashParams;
use latchkey_crypto::secrets::MasterKey;
use latchkey_protocol::AppState;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

pub const START: i64 = 1_900_000_000;

pub struct Server {
    router: axum::Router,
    clock: Arc<FakeClock>,
    store: Arc<dyn latchkey_storage::Store>,
    master: Arc<MasterKey>,
    ids: Arc<SequentialIds>,
}

impl Server {
    /// Realm `t` (idle 1800 s, max 36000 s, the given grace period), public client `spa` with
    /// the password grant, user alice.
    pub async fn start(grace: &str) -> Server {
        let dir = std::env::temp_dir().join(format!("latchkey-lifecycle-{}", uuid::Uuid::new_v4()));
        let store: Arc<dyn latchkey_storage::Store> = Arc::new(
            latchkey_storage::sqlite::SqliteStore::open(&dir.join("t.db").to_string_lossy())
                .await
                .unwrap(),
        );
        let clock = Arc::new(FakeClock::at(START));
        let master = Arc::new(MasterKey::from_setting("lifecycle-test"));
        let passwords = PasswordPool::new(2, HashParams::default());
        let rep = serde_json::from_value(json!({
            "realm": "t",
            "ssoSessionIdleTimeout": 1800,
            "ssoSessionMaxLifespan": 36000,
            "attributes": {"latchkey.refreshTokenGracePeriod": grace},
            "clients": [{"clientId": "spa", "publicClient": true, "directAccessGrantsEnabled": true}],
            "users": [{"username": "alice", "enabled": true,
                       "credentials": [{"type": "password", "value": "pw"}]}],
        }))
        .unwrap();
        let realm = latchkey_application::provision::realm(&rep, &master, &passwords, START)
            .await
            .unwrap();
        store.create_realm(realm.new).await.unwrap();
        let ids = Arc::new(SequentialIds::default());
        let router = Self::router(&store, &master, &clock, &ids, passwords).await;
        Server {
            router,
            clock,
            store,
            master,
            ids,
        }
    }

    async fn router(
        store: &Arc<dyn latchkey_storage::Store>,
        master: &Arc<MasterKey>,
        clock: &Arc<FakeClock>,
        ids: &Arc<SequentialIds>,
        passwords: PasswordPool,
    ) -> axum::Router {
        let app = App::with_clock(
            store.clone(),
            master.clone(),
            passwords,
            "http://latchkey.test".into(),
            clock.clone(),
        )
        .with_ids(ids.clone());
        app.record_start().await.unwrap();
        let state = AppState::from_app(app, Default::default());
        state.set_ready();
        latchkey_protocol::router(state)
    }

    /// The server stops (its last heartbeat now), stays down `seconds`, and a new one starts
    /// on the same store.
    pub async fn restart(&mut self, seconds: i64) {
        self.store.heartbeat(self.clock.now()).await.unwrap();
        self.clock.advance(seconds);
        let passwords = PasswordPool::new(2, HashParams::default());
        self.router =
            Self::router(&self.store, &self.master, &self.clock, &self.ids, passwords).await;
    }

    /// A form POST to an endpoint of realm `t` (`token`, `revoke`, `logout`).
    pub async fn post(&self, endpoint: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace('+', "%2B")))
            .collect::<Vec<_>>()
            .join("&");
        let req = Request::post(format!("/realms/t/protocol/openid-connect/{endpoint}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        self.post("token", form).await
    }

    pub async fn login(&self) -> String {
        let (status, body) = self
            .token(&[
                ("grant_type", "password"),
                ("client_id", "spa"),
                ("username", "alice"),
                ("password", "pw"),
            ])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["refresh_token"].as_str().unwrap().to_string()
    }

    pub async fn refresh(&self, rt: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", rt),
        ])
        .await
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
    }
}
