//! The refresh-token lifecycle against a model: random interleavings of refreshing with the
//! current token, replaying older ones, revocation, logout, time passing and restarts (with
//! outages) run through the real router and store, and every answer is the one a simple model
//! of the rules predicts — the check that failed named, no second live successor, nothing
//! revoked coming back.

mod common;
use axum::http::StatusCode;
use common::Server;
use proptest::prelude::*;
use serde_json::Value;

/// The realm's grace period and SSO idle timeout (common::Server's realm).
const GRACE: i64 = 10;
const IDLE: i64 = 1800;

#[derive(Debug, Clone)]
enum Op {
    /// Present the token `back` rotations behind the current one (0: the current).
    Present {
        back: usize,
    },
    /// Revoke the login with its current token (RFC 7009).
    Revoke,
    /// Log out with the current token.
    Logout,
    Advance(i64),
    /// The server is down this long, then starts again on the same store.
    Restart(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..4).prop_map(|back| Op::Present { back }),
        1 => Just(Op::Revoke),
        1 => Just(Op::Logout),
        3 => prop_oneof![Just(1i64), Just(4), Just(9), Just(12), Just(IDLE + 200)].prop_map(Op::Advance),
        2 => prop_oneof![Just(2i64), Just(4), Just(30), Just(600)].prop_map(Op::Restart),
    ]
}

/// What the rules say happens.
#[derive(Debug, PartialEq)]
enum Expect {
    Issue,
    Replay,
    /// Refused, with these words in the description.
    Refused(&'static str),
}

#[derive(Default)]
struct Model {
    /// Every refresh token of the login, oldest first, and when each was rotated out.
    chain: Vec<(String, Option<i64>)>,
    last_refresh: i64,
    revoked: bool,
    ended: bool,
    /// (down from, back at), oldest first.
    outages: Vec<(i64, i64)>,
}

impl Model {
    fn current(&self) -> usize {
        self.chain.len() - 1
    }

    /// The grace period's end for a token rotated at `at`: its clock stops during outages.
    fn grace_end(&self, at: i64) -> i64 {
        let mut end = at + GRACE;
        for &(from, to) in &self.outages {
            if to > at && from < end {
                end += to - from.max(at);
            }
        }
        end
    }

    fn expect(&self, i: usize, now: i64) -> Expect {
        if self.ended {
            return Expect::Refused("ended at");
        }
        if self.revoked {
            return Expect::Refused("were all revoked");
        }
        if now >= self.last_refresh + IDLE {
            return Expect::Refused("idle timeout");
        }
        let cur = self.current();
        if i == cur {
            return Expect::Issue;
        }
        if i + 1 == cur {
            let rotated = self.chain[i].1.expect("rotated");
            return if now < self.grace_end(rotated) {
                Expect::Replay
            } else {
                Expect::Refused("grace period")
            };
        }
        Expect::Refused("not the immediate predecessor")
    }
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut s = Server::start(&GRACE.to_string()).await;
    let mut m = Model {
        chain: vec![(s.login().await, None)],
        last_refresh: s.now(),
        ..Default::default()
    };
    for (step, op) in ops.into_iter().enumerate() {
        let now = s.now();
        match op {
            Op::Present { back } => {
                let Some(i) = m.current().checked_sub(back) else {
                    continue;
                };
                let want = m.expect(i, now);
                let (status, body) = s.refresh(&m.chain[i].0).await;
                let d = body["error_description"].as_str().unwrap_or("");
                match want {
                    Expect::Issue => {
                        prop_assert_eq!(status, StatusCode::OK, "step {}: {}", step, body);
                        m.chain[i].1 = Some(now);
                        m.chain.push((rt(&body), None));
                        m.last_refresh = now;
                    }
                    Expect::Replay => {
                        prop_assert_eq!(status, StatusCode::OK, "step {}: {}", step, body);
                        // The same successor, not a second live one.
                        prop_assert_eq!(jti(&rt(&body)), jti(&m.chain[i + 1].0), "step {}", step);
                    }
                    Expect::Refused(words) => {
                        prop_assert_eq!(status, StatusCode::BAD_REQUEST, "step {}: {}", step, body);
                        prop_assert!(
                            d.contains(words),
                            "step {}: wanted '{}' in: {}",
                            step,
                            words,
                            d
                        );
                        // Reuse revokes the login; a refused current token changes nothing.
                        if words == "grace period" || words == "not the immediate predecessor" {
                            m.revoked = true;
                        }
                    }
                }
            }
            Op::Revoke | Op::Logout => {
                // On a live login only: a dead one's token is refused before anything changes.
                if m.expect(m.current(), now) != Expect::Issue {
                    continue;
                }
                let current = m.chain[m.current()].0.clone();
                let form = [
                    ("client_id", "spa"),
                    ("token", current.as_str()),
                    ("refresh_token", current.as_str()),
                ];
                let endpoint = if matches!(op, Op::Revoke) {
                    "revoke"
                } else {
                    "logout"
                };
                let (status, body) = s.post(endpoint, &form).await;
                prop_assert!(
                    status.is_success(),
                    "step {}: {} answered {}: {}",
                    step,
                    endpoint,
                    status,
                    body
                );
                if matches!(op, Op::Revoke) {
                    m.revoked = true;
                } else {
                    m.ended = true;
                }
            }
            Op::Advance(secs) => s.advance(secs),
            Op::Restart(secs) => {
                s.restart(secs).await;
                // A restart shorter than a live heartbeat's age is no outage (sql::uptime).
                if secs > 4 {
                    m.outages.push((now - 1, now + secs));
                }
            }
        }
    }
    Ok(())
}

fn rt(body: &Value) -> String {
    body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn jti(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap_or_default();
    let claims: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    claims["jti"].as_str().unwrap_or_default().to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn the_lifecycle_follows_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run(ops))?;
    }
}
