use super::*;
use crate::keycloak::{ClientRepresentation, RealmRepresentation};
use crate::RefreshRecord;

fn realm(f: impl FnOnce(&mut RealmRepresentation)) -> Realm {
    let mut rep = RealmRepresentation {
        realm: "demo".into(),
        ..Default::default()
    };
    f(&mut rep);
    Realm::from_representation("r".into(), &rep).unwrap()
}

fn client(attrs: &[(&str, &str)]) -> Client {
    let mut rep = ClientRepresentation {
        client_id: "spa".into(),
        public_client: Some(true),
        ..Default::default()
    };
    for (k, v) in attrs {
        rep.attributes.insert(k.to_string(), v.to_string());
    }
    Client::from_representation("c".into(), "r".into(), &rep, vec![]).unwrap()
}

fn session(offline: bool, started: i64, last: i64) -> Session {
    Session {
        id: "s".into(),
        realm_id: "r".into(),
        user_id: "u".into(),
        offline,
        started_at: started,
        auth_time: started,
        last_refresh: last,
        ended_at: None,
        end_reason: None,
    }
}

fn cs(current: &str, started: i64, last: i64) -> ClientSession {
    ClientSession {
        id: "cs".into(),
        session_id: "s".into(),
        client_id: "spa".into(),
        started_at: started,
        last_refresh: last,
        current_jti: Some(current.into()),
        revoked_at: None,
        revoke_reason: None,
    }
}

fn rec(jti: &str, issued: i64) -> RefreshRecord {
    RefreshRecord {
        jti: jti.into(),
        client_session_id: "cs".into(),
        parent_jti: None,
        issued_at: issued,
        expires_at: Some(issued + 1800),
        scope: "profile email".into(),
        offline: false,
        rotated_at: None,
        successor_jti: None,
        use_count: 0,
    }
}

/// A record issued at 0, rotated at `at` into `into` (used once).
fn rotated(jti: &str, at: i64, into: &str) -> RefreshRecord {
    let mut r = rec(jti, 0);
    r.rotated_at = Some(at);
    r.successor_jti = Some(into.into());
    r.use_count = 1;
    r
}

fn state(
    record: RefreshRecord,
    current: Option<RefreshRecord>,
    start: i64,
    last: i64,
) -> RefreshState {
    let cur = current
        .as_ref()
        .map(|c| c.jti.clone())
        .unwrap_or_else(|| record.jti.clone());
    RefreshState {
        session: session(false, start, last),
        client_session: cs(&cur, start, last),
        record,
        current,
        user: Some(user()),
    }
}

fn user() -> crate::User {
    crate::User {
        id: "u1".into(),
        realm_id: "r1".into(),
        username: "alice".into(),
        enabled: true,
        email: None,
        email_verified: false,
        first_name: None,
        last_name: None,
        attributes: Default::default(),
        realm_roles: vec![],
        client_roles: Default::default(),
        groups: vec![],
        service_account_client_id: None,
        created_at: 0,
    }
}

fn decide(realm: &Realm, client: &Client, now: i64, st: &RefreshState) -> RefreshDecision {
    decide_after(realm, client, now, st, &[])
}

fn decide_after(
    realm: &Realm,
    client: &Client,
    now: i64,
    st: &RefreshState,
    outages: &[Outage],
) -> RefreshDecision {
    let req = RefreshRequest {
        realm,
        client,
        now,
        new_jti: "new".into(),
        scope: st.record.scope.clone(),
        outages,
    };
    decide_refresh(&req, st)
}

#[test]
fn current_token_rotates() {
    let (r, c) = (realm(|_| {}), client(&[]));
    match decide(&r, &c, 100, &state(rec("t1", 0), None, 0, 0)) {
        RefreshDecision::Issue {
            successor,
            rotate_presented,
        } => {
            assert!(rotate_presented);
            assert_eq!(successor.parent_jti.as_deref(), Some("t1"));
            assert_eq!(successor.expires_at, Some(100 + 1800), "idle window slides");
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn predecessor_within_grace_replays_the_same_successor() {
    let (r, c) = (realm(|_| {}), client(&[]));
    let t1 = rotated("t1", 100, "t2");
    let t2 = rec("t2", 100);
    let d = decide(&r, &c, 105, &state(t1.clone(), Some(t2.clone()), 0, 100));
    assert_eq!(
        d,
        RefreshDecision::Replay {
            successor: t2.clone()
        }
    );
    // After the window: the grace period is named as what failed, and the family is revoked.
    let r = rejected(decide(&r, &c, 111, &state(t1, Some(t2), 0, 100)));
    assert_eq!(r.check, RefreshCheck::GracePeriodOver);
    assert!(r.revoke_family.is_some());
    let d = r.error().description;
    assert!(d.contains("grace period ended at"), "{d}");
    assert!(
        d.contains("reuse detected") && d.contains("has been revoked"),
        "{d}"
    );
    assert!(r.prospect().contains("would"), "{}", r.prospect());
    assert!(
        !r.prospect().contains("has been revoked"),
        "{}",
        r.prospect()
    );
}

#[test]
fn time_no_server_ran_does_not_count_against_the_grace_period() {
    // Rotated at 100 as the server died (last heartbeat 99); back at 400. The client, which
    // never got t2, presents t1 at 403: 4 s of its 10 s grace have run.
    let (r, c) = (realm(|_| {}), client(&[]));
    let t1 = rotated("t1", 100, "t2");
    let t2 = rec("t2", 100);
    let down = [Outage { from: 99, to: 400 }];
    let st = state(t1.clone(), Some(t2.clone()), 0, 100);
    assert_eq!(
        decide_after(&r, &c, 403, &st, &down),
        RefreshDecision::Replay { successor: t2 }
    );
    // Without the outage that is reuse; with it, the grace still ends 10 s of uptime later,
    // and the message says it was paused.
    assert!(matches!(
        decide(&r, &c, 403, &st),
        RefreshDecision::Reject(_)
    ));
    let late = rejected(decide_after(&r, &c, 411, &st, &down));
    assert_eq!(late.check, RefreshCheck::GracePeriodOver);
    assert!(
        late.reason.contains("paused for the 300 s"),
        "{}",
        late.reason
    );
}

fn rejected(d: RefreshDecision) -> Rejection {
    match d {
        RefreshDecision::Reject(r) => r,
        d => panic!("expected a rejection, got {d:?}"),
    }
}

#[test]
fn grace_zero_means_second_use_is_reuse() {
    let r = realm(|rep| {
        rep.attributes
            .insert("latchkey.refreshTokenGracePeriod".into(), "0".into());
    });
    let c = client(&[]);
    let t1 = rotated("t1", 100, "t2");
    let r = rejected(decide(
        &r,
        &c,
        100,
        &state(t1, Some(rec("t2", 100)), 0, 100),
    ));
    assert_eq!(r.check, RefreshCheck::GracePeriodOver);
    assert!(r.revoke_family.is_some());
    assert!(r.reason.contains("no grace period"), "{}", r.reason);
}

#[test]
fn older_ancestor_is_reuse_even_within_grace() {
    let (r, c) = (realm(|_| {}), client(&[]));
    let mut t1 = rec("t1", 0);
    t1.rotated_at = Some(100);
    t1.successor_jti = Some("t2".into());
    let mut t2 = rec("t2", 100);
    t2.rotated_at = Some(101);
    t2.successor_jti = Some("t3".into());
    let t3 = rec("t3", 101);
    let mut st = state(t1, Some(t3), 0, 101);
    st.client_session.current_jti = Some("t3".into());
    // One second after t2's rotation: well within any grace period, but t1 is two rotations old.
    let r = rejected(decide(&r, &c, 102, &st));
    assert_eq!(r.check, RefreshCheck::NotImmediatePredecessor);
    assert!(r.revoke_family.is_some());
    assert!(
        r.reason.contains("not the immediate predecessor")
            && !r.reason.contains("grace period ended"),
        "{}",
        r.reason
    );
}

#[test]
fn predecessor_whose_successor_was_used_is_refused() {
    let (r, c) = (realm(|_| {}), client(&[]));
    let mut t1 = rec("t1", 0);
    t1.rotated_at = Some(100);
    t1.successor_jti = Some("t2".into());
    let mut t2 = rec("t2", 100);
    t2.rotated_at = Some(101);
    let r = rejected(decide(&r, &c, 102, &state(t1, Some(t2), 0, 101)));
    assert_eq!(r.check, RefreshCheck::SuccessorUsed);
    assert!(r.reason.contains("t2 has been used since"), "{}", r.reason);
}

#[test]
fn superseded_token_is_refused_without_revoking() {
    let (r, c) = (realm(|_| {}), client(&[]));
    let mut st = state(rec("t1", 0), Some(rec("t2", 50)), 0, 50);
    st.client_session.current_jti = Some("t2".into());
    let r = rejected(decide(&r, &c, 60, &st));
    assert_eq!(r.check, RefreshCheck::Superseded);
    assert!(r.revoke_family.is_none());
}

#[test]
fn reuse_detection_off_rejects_without_revoking() {
    let c = client(&[
        ("latchkey.refreshTokenReuseDetection", "false"),
        ("latchkey.refreshTokenGracePeriod", "0"),
    ]);
    let r = realm(|_| {});
    let t1 = rotated("t1", 100, "t2");
    let r = rejected(decide(
        &r,
        &c,
        200,
        &state(t1, Some(rec("t2", 100)), 0, 100),
    ));
    assert_eq!(r.check, RefreshCheck::GracePeriodOver);
    assert!(r.revoke_family.is_none());
    assert!(r
        .error()
        .description
        .ends_with("use the newest refresh token"));
}

#[test]
fn no_rotation_keeps_old_tokens_valid() {
    let r = realm(|rep| rep.revoke_refresh_token = Some(false));
    let c = client(&[]);
    let mut t1 = rec("t1", 0);
    t1.successor_jti = Some("t2".into());
    let st = state(t1, Some(rec("t2", 50)), 0, 50);
    assert!(matches!(
        decide(&r, &c, 100, &st),
        RefreshDecision::Issue {
            rotate_presented: false,
            ..
        }
    ));
}

#[test]
fn max_reuse_allows_counted_reuse() {
    let r = realm(|rep| {
        rep.refresh_token_max_reuse = Some(1);
        rep.attributes
            .insert("latchkey.refreshTokenGracePeriod".into(), "0".into());
    });
    let c = client(&[]);
    let mut t1 = rotated("t1", 100, "t2");
    assert!(matches!(
        decide(
            &r,
            &c,
            200,
            &state(t1.clone(), Some(rec("t2", 100)), 0, 100)
        ),
        RefreshDecision::Issue {
            rotate_presented: true,
            ..
        }
    ));
    t1.use_count = 2;
    let r = rejected(decide(
        &r,
        &c,
        200,
        &state(t1, Some(rec("t2", 100)), 0, 100),
    ));
    assert_eq!(r.check, RefreshCheck::MaxReuseExceeded);
    assert!(r.revoke_family.is_none());
    assert!(r
        .reason
        .contains("maximum allowed refresh token reuse (1) exceeded"));
}

#[test]
fn expiry_names_the_limit() {
    let (r, c) = (realm(|_| {}), client(&[]));
    let d = decide(&r, &c, 1801, &state(rec("t1", 0), None, 0, 0));
    match d {
        RefreshDecision::Reject(r) => {
            assert_eq!(r.check, RefreshCheck::SessionLimit(Limit::SsoIdle));
            assert!(r.reason.contains("SSO session idle"), "{}", r.reason)
        }
        d => panic!("{d:?}"),
    }
    // Kept alive by refreshes, the max still ends it.
    let d = decide(&r, &c, 36001, &state(rec("t1", 36000), None, 0, 36000));
    match d {
        RefreshDecision::Reject(r) => {
            assert_eq!(r.check, RefreshCheck::SessionLimit(Limit::SsoMax));
            assert!(r.reason.contains("SSO session max"), "{}", r.reason)
        }
        d => panic!("{d:?}"),
    }
    let c2 = client(&[("client.session.idle.timeout", "60")]);
    match decide(&r, &c2, 61, &state(rec("t1", 0), None, 0, 0)) {
        RefreshDecision::Reject(r) => {
            assert_eq!(r.check, RefreshCheck::SessionLimit(Limit::ClientIdle));
            assert!(r.reason.contains("client session idle"), "{}", r.reason)
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn successor_never_outlives_the_max() {
    let (r, c) = (realm(|_| {}), client(&[]));
    match decide(&r, &c, 35000, &state(rec("t1", 34000), None, 0, 34000)) {
        RefreshDecision::Issue { successor, .. } => assert_eq!(successor.expires_at, Some(36000)),
        d => panic!("{d:?}"),
    }
}

#[test]
fn offline_without_max_has_no_expiry() {
    let (r, c) = (realm(|_| {}), client(&[]));
    let s = session(true, 0, 0);
    let cs = cs("t1", 0, 0);
    assert_eq!(refresh_token_expiry(&r, &c, &s, &cs), None);
    let r2 = realm(|rep| {
        rep.offline_session_max_lifespan_enabled = Some(true);
        rep.offline_session_max_lifespan = Some(1000);
    });
    assert_eq!(refresh_token_expiry(&r2, &c, &s, &cs), Some(1000));
}

#[test]
fn ended_session_and_revoked_family_are_refused() {
    let (r, c) = (realm(|_| {}), client(&[]));
    let mut st = state(rec("t1", 0), None, 0, 0);
    st.session.ended_at = Some(5);
    st.session.end_reason = Some("logout".into());
    match decide(&r, &c, 10, &st) {
        RefreshDecision::Reject(r) => {
            assert_eq!(r.check, RefreshCheck::SessionEnded);
            assert!(r.reason.contains("ended"), "{}", r.reason)
        }
        d => panic!("{d:?}"),
    }
    let mut st = state(rec("t1", 0), None, 0, 0);
    st.client_session.revoked_at = Some(5);
    match decide(&r, &c, 10, &st) {
        RefreshDecision::Reject(r) => {
            assert_eq!(r.check, RefreshCheck::FamilyRevoked);
            assert!(r.reason.contains("revoked"), "{}", r.reason)
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn client_overrides_realm_rotation() {
    let r = realm(|rep| rep.revoke_refresh_token = Some(false));
    let c = client(&[("latchkey.revokeRefreshToken", "true")]);
    assert!(RefreshPolicy::for_client(&r, &c).rotate);
    assert!(!RefreshPolicy::for_client(&r, &client(&[])).rotate);
}

#[test]
fn session_bounds_follow_the_limits_that_end_sessions() {
    let r = realm(|r| {
        r.sso_session_idle_timeout = Some(600);
        r.sso_session_max_lifespan = Some(7200);
        r.offline_session_idle_timeout = Some(1000);
    });
    // Online: the realm's SSO limits; a client's own idle limit ends only its families.
    let short = client(&[("client.session.idle.timeout", "60")]);
    let online = session_bounds(&r, std::slice::from_ref(&short), false);
    assert_eq!(
        online,
        SessionBounds {
            idle: Some(600),
            max: Some(7200)
        }
    );
    // Offline: the longest over the realm and the clients' overrides; no max unless enabled.
    let long = client(&[("client.offline.session.idle.timeout", "5000")]);
    let offline = session_bounds(&r, &[short.clone(), long], true);
    assert_eq!(
        offline,
        SessionBounds {
            idle: Some(5000),
            max: None
        }
    );
    // A client attribute of 0 inherits the realm's value, as in Keycloak; a realm without an
    // offline idle limit leaves its offline sessions without one.
    let inherits = client(&[("client.offline.session.idle.timeout", "0")]);
    assert_eq!(
        session_bounds(&r, std::slice::from_ref(&inherits), true).idle,
        Some(1000)
    );
    let no_idle = realm(|r| r.offline_session_idle_timeout = Some(0));
    assert_eq!(session_bounds(&no_idle, &[inherits], true).idle, None);
    let capped = realm(|r| {
        r.offline_session_max_lifespan_enabled = Some(true);
        r.offline_session_max_lifespan = Some(9000);
    });
    assert_eq!(session_bounds(&capped, &[], true).max, Some(9000));
    // Limits of 0 are no limits.
    let open = realm(|r| {
        r.sso_session_idle_timeout = Some(0);
        r.sso_session_max_lifespan = Some(0);
    });
    assert_eq!(session_bounds(&open, &[], false), SessionBounds::default());
}

#[test]
fn own_exp_is_named_when_no_session_limit_passed() {
    let (r, c) = (realm(|_| {}), client(&[]));
    let mut t1 = rec("t1", 0);
    t1.expires_at = Some(50);
    let r = rejected(decide(&r, &c, 60, &state(t1, None, 0, 0)));
    assert_eq!(r.check, RefreshCheck::TokenExpired);
    assert!(r.reason.contains("its exp claim"), "{}", r.reason);
}

#[test]
fn every_check_has_its_own_name() {
    let names: std::collections::HashSet<_> = [
        RefreshCheck::SessionEnded,
        RefreshCheck::FamilyRevoked,
        RefreshCheck::SessionLimit(Limit::SsoIdle),
        RefreshCheck::SessionLimit(Limit::SsoMax),
        RefreshCheck::SessionLimit(Limit::ClientIdle),
        RefreshCheck::SessionLimit(Limit::ClientMax),
        RefreshCheck::SessionLimit(Limit::OfflineIdle),
        RefreshCheck::SessionLimit(Limit::OfflineMax),
        RefreshCheck::TokenExpired,
        RefreshCheck::Superseded,
        RefreshCheck::NotImmediatePredecessor,
        RefreshCheck::SuccessorUsed,
        RefreshCheck::GracePeriodOver,
        RefreshCheck::MaxReuseExceeded,
    ]
    .iter()
    .map(|c| c.name())
    .collect();
    assert_eq!(names.len(), 14);
}

#[test]
fn a_deleted_or_disabled_user_or_a_disabled_client_ends_the_grant() {
    let (r, c) = (realm(|_| {}), client(&[]));
    let mut st = state(rec("t1", 0), None, 0, 0);
    st.user = None;
    let e = rejected(decide(&r, &c, 100, &st));
    assert_eq!(e.check, RefreshCheck::UserGone);
    assert!(e.revoke_family.is_none());
    st.user = Some(crate::User {
        enabled: false,
        ..user()
    });
    let e = rejected(decide(&r, &c, 100, &st));
    assert_eq!(e.check, RefreshCheck::UserDisabled);
    assert!(
        e.reason.contains("user 'alice' is disabled"),
        "{}",
        e.reason
    );
    st.user = Some(user());
    let mut off = c.clone();
    off.enabled = false;
    assert_eq!(
        rejected(decide(&r, &off, 100, &st)).check,
        RefreshCheck::ClientDisabled
    );
}

mod properties {
    //! The decision for any token of a rotated chain, at any time, with any grace period and
    //! outages: only the current token rotates, only its immediate predecessor inside the
    //! (outage-paused) grace period replays, and everything else is refused as reuse, the
    //! refusal naming that check and revoking the login.
    use super::*;
    use crate::policy::outage::paused_end;
    use proptest::prelude::*;

    fn chain(rotations: &[i64]) -> Vec<RefreshRecord> {
        let mut at = 0;
        let mut out = Vec::new();
        for (k, gap) in rotations.iter().enumerate() {
            at += gap;
            let mut r = rotated(&format!("t{k}"), at, &format!("t{}", k + 1));
            r.expires_at = None;
            out.push(r);
        }
        let mut cur = rec(&format!("t{}", rotations.len()), at);
        cur.expires_at = None;
        out.push(cur);
        out
    }

    proptest! {
        #[test]
        fn only_the_current_token_rotates_and_only_its_predecessor_replays(
            rotations in prop::collection::vec(1i64..30, 0..5),
            pick in 0usize..6,
            delay in 0i64..60,
            grace in 0i64..20,
            outages in prop::collection::vec((0i64..150, 1i64..40), 0..3),
        ) {
            let r = realm(|rep| {
                rep.attributes.insert("latchkey.refreshTokenGracePeriod".into(), grace.to_string());
            });
            let c = client(&[]);
            let records = chain(&rotations);
            let i = pick.min(records.len() - 1);
            let last_rotation = records.iter().filter_map(|t| t.rotated_at).max().unwrap_or(0);
            let now = last_rotation + delay;
            let mut outages: Vec<Outage> = outages
                .iter()
                .map(|&(from, len)| Outage { from, to: from + len })
                .filter(|o| o.to <= now)
                .collect();
            outages.sort_by_key(|o| o.from);
            outages.dedup_by(|b, a| b.from < a.to); // keep them disjoint, as the store merges them
            let current = records.last().unwrap().clone();
            let presented = records[i].clone();
            let st = state(presented.clone(), (i + 1 < records.len()).then(|| current.clone()), now - 1, now - 1);
            let d = decide_after(&r, &c, now, &st, &outages);
            if i + 1 == records.len() {
                let rotates = matches!(&d, RefreshDecision::Issue { successor, rotate_presented: true }
                    if successor.parent_jti.as_deref() == Some(presented.jti.as_str()));
                prop_assert!(rotates, "{:?}", d);
            } else if i + 2 == records.len() {
                let (end, _) = paused_end(presented.rotated_at.unwrap(), grace, &outages, now);
                if now < end {
                    prop_assert_eq!(d, RefreshDecision::Replay { successor: current });
                } else {
                    let rej = rejected(d);
                    prop_assert_eq!(rej.check, RefreshCheck::GracePeriodOver);
                    prop_assert!(rej.revoke_family.is_some());
                }
            } else {
                let rej = rejected(d);
                prop_assert_eq!(rej.check, RefreshCheck::NotImmediatePredecessor);
                prop_assert!(rej.revoke_family.is_some());
                prop_assert!(rej.reason.contains("not the immediate predecessor"), "{}", rej.reason);
            }
        }
    }
}
