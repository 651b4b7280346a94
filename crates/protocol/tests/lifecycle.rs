//! The refresh-token lifecycle through the real router, in process, over a temporary SQLite
//! store and a clock the test moves: idle and maximum lifespans, the grace period and reuse
//! detection, without sleeping. (The Python suite drives the real binary from outside.)

use axum::http::StatusCode;
use serde_json::Value;

mod common;
use common::Server;

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
    // A login draws its event's id, then the session, its family and the refresh token's id,
    // in that order.
    let claims = payload(&rt);
    assert_eq!(claims["sid"], "id-2");
    assert_eq!(claims["jti"], "id-4");
    let (_, body) = s.refresh(&rt).await;
    let successor = payload(body["refresh_token"].as_str().unwrap());
    assert_eq!(
        successor["jti"], "id-7",
        "after the first access token's id-5 and the refresh's event id-6"
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
