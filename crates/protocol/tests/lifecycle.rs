//! The refresh-token lifecycle through the real router, in process, over a temporary SQLite
//! store and a clock the test moves: idle and maximum lifespans, the grace period and reuse
//! detection, without sleeping. (The Python suite drives the real binary from outside.)

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use latchkey_application::clock::FakeClock;
use latchkey_application::hashing::PasswordPool;
use latchkey_application::ids::SequentialIds;
use latchkey_application::App;
use latchkey_crypto::password::HashParams;
use latchkey_crypto::secrets::MasterKey;
use latchkey_protocol::AppState;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

const START: i64 = 1_900_000_000;

struct Server {
    router: axum::Router,
    clock: Arc<FakeClock>,
}

impl Server {
    /// Realm `t` (idle 1800 s, max 36000 s, the given grace period), public client `spa` with
    /// the password grant, user alice.
    async fn start(grace: &str) -> Server {
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
        store.create_realm(realm).await.unwrap();
        let app = App::with_clock(
            store,
            master,
            passwords,
            "http://latchkey.test".into(),
            clock.clone(),
        )
        .with_ids(Arc::new(SequentialIds::default()));
        let state = AppState::from_app(app, Default::default());
        state.set_ready();
        Server {
            router: latchkey_protocol::router(state),
            clock,
        }
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace('+', "%2B")))
            .collect::<Vec<_>>()
            .join("&");
        let req = Request::post("/realms/t/protocol/openid-connect/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    async fn login(&self) -> String {
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

    async fn refresh(&self, rt: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", rt),
        ])
        .await
    }

    fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
    }
}

fn description(body: &Value) -> &str {
    body["error_description"].as_str().unwrap_or("")
}

#[tokio::test]
async fn using_a_session_keeps_it_alive_and_idling_ends_it() {
    let s = Server::start("10").await;
    let mut rt = s.login().await;
    // Refreshing every 20 minutes slides the 30-minute idle window, for hours.
    for _ in 0..6 {
        s.advance(1200);
        let (status, body) = s.refresh(&rt).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["refresh_expires_in"], 1800);
        rt = body["refresh_token"].as_str().unwrap().to_string();
    }
    // Idle past the window: the error names the limit.
    s.advance(1801);
    let (status, body) = s.refresh(&rt).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        description(&body).contains("SSO session idle timeout"),
        "{body}"
    );
}

/// The claims of a JWT, unverified (the test only reads what the server put there).
fn payload(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn identifiers_come_from_the_injected_source() {
    let s = Server::start("10").await;
    let rt = s.login().await;
    // A login draws the session, its family and the refresh token's id, in that order.
    let claims = payload(&rt);
    assert_eq!(claims["sid"], "id-1");
    assert_eq!(claims["jti"], "id-3");
    let (_, body) = s.refresh(&rt).await;
    let successor = payload(body["refresh_token"].as_str().unwrap());
    assert_eq!(
        successor["jti"], "id-5",
        "after the first access token's id-4"
    );
}

#[tokio::test]
async fn the_max_lifespan_ends_a_session_in_use() {
    let s = Server::start("10").await;
    let mut rt = s.login().await;
    let mut last = Value::Null;
    for _ in 0..20 {
        s.advance(1790);
        let (status, body) = s.refresh(&rt).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        rt = body["refresh_token"].as_str().unwrap().to_string();
        last = body;
    }
    // 20 × 1790 = 35800 s in: the newest token lives only to the 36000 s maximum.
    assert_eq!(last["refresh_expires_in"], 200);
    s.advance(200);
    let (status, body) = s.refresh(&rt).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        description(&body).contains("SSO session max lifespan"),
        "{body}"
    );
}

#[tokio::test]
async fn within_the_grace_period_a_retry_gets_the_same_successor_and_after_it_reuse_revokes() {
    let s = Server::start("10").await;
    let first = s.login().await;
    let (_, a) = s.refresh(&first).await;
    s.advance(9);
    let (status, b) = s.refresh(&first).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(a["refresh_token"], b["refresh_token"], "the same successor");
    s.advance(2);
    let (status, body) = s.refresh(&first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(description(&body).contains("grace period ended"), "{body}");
    assert!(description(&body).contains("reuse detected"), "{body}");
    // The whole login is revoked: the successor no longer works either.
    let (status, body) = s.refresh(a["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(description(&body).contains("revoked"), "{body}");
}

#[tokio::test]
async fn without_a_grace_period_the_second_use_is_reuse() {
    let s = Server::start("0").await;
    let first = s.login().await;
    let (status, _) = s.refresh(&first).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s.refresh(&first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(description(&body).contains("no grace period"), "{body}");
}
