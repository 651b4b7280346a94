//! The store conformance suite: every test here runs on SQLite and on PostgreSQL
//! (`LATCHKEY_TEST_POSTGRES`, by default the local server's `test` database, each test in a
//! schema of its own). Outside CI a PostgreSQL that cannot be reached skips its half, and says
//! so; in CI it is a failure.

use crate::{
    AdminEvent, CodeDecision, CodeState, DecideCode, Event, NewGrant, NewRealm, RefreshOutcome,
    Store, StoredKey, UserEvent, UserEventQuery, UserWithCredential,
};
use latchkey_domain::keycloak::{ClientRepresentation, RealmRepresentation};
use latchkey_domain::policy::{decide_refresh, RefreshDecision, RefreshRequest, Rejection};
use latchkey_domain::{
    AuthCode, Client, ClientSession, OAuthError, Realm, RefreshRecord, Session, User,
};
use std::sync::Arc;

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub(crate) fn temp_db() -> String {
    let dir = std::env::temp_dir().join(format!("latchkey-store-{}", uuid::Uuid::new_v4()));
    dir.join("t.db").to_string_lossy().into_owned()
}

async fn sqlite() -> Arc<dyn Store> {
    Arc::new(crate::sqlite::SqliteStore::open(&temp_db()).await.unwrap())
}

/// A PostgreSQL store in a fresh schema; `None` (skipped) when no server answers outside CI.
async fn postgres() -> Option<Arc<dyn Store>> {
    let base = std::env::var("LATCHKEY_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("lk_test_{}_{}", now(), uuid::Uuid::new_v4().simple());
    let setup = async {
        let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        // The schemas of runs more than an hour old go.
        let old = client
            .query(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'lk\\_test\\_%'",
                &[],
            )
            .await?;
        for row in old {
            let name: String = row.get(0);
            let born: i64 = name
                .split('_')
                .nth(2)
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            if born < now() - 3600 {
                let _ = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .await;
            }
        }
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
    };
    if let Err(e) = setup.await {
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL at {base} is needed in CI: {e}"
        );
        eprintln!("skipped: PostgreSQL at {base} cannot be reached ({e})");
        return None;
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    Some(Arc::new(
        crate::postgres::PgStore::open_with_pool(&url, 8)
            .await
            .unwrap(),
    ))
}

pub(crate) fn realm(grace: &str) -> Realm {
    let mut rep = RealmRepresentation {
        realm: "t".into(),
        ..Default::default()
    };
    rep.attributes
        .insert("latchkey.refreshTokenGracePeriod".into(), grace.into());
    Realm::from_representation("r1".into(), &rep).unwrap()
}

pub(crate) fn client() -> Client {
    let rep = ClientRepresentation {
        client_id: "spa".into(),
        public_client: Some(true),
        ..Default::default()
    };
    Client::from_representation("c1".into(), "r1".into(), &rep, vec![]).unwrap()
}

fn user(enabled: bool) -> User {
    User {
        id: "u1".into(),
        realm_id: "r1".into(),
        username: "alice".into(),
        enabled,
        email: Some("alice@example.com".into()),
        email_verified: true,
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

pub(crate) fn session(id: &str, offline: bool, started: i64, last: i64) -> Session {
    Session {
        id: id.into(),
        realm_id: "r1".into(),
        user_id: "u1".into(),
        offline,
        started_at: started,
        auth_time: started,
        last_refresh: last,
        ended_at: None,
        end_reason: None,
    }
}

/// A grant of family `cs` in session `sid` with first refresh token `jti`.
pub(crate) fn grant(sid: &str, cs: &str, jti: &str, expires_at: Option<i64>) -> NewGrant {
    let now = now();
    NewGrant {
        session: session(sid, expires_at.is_none(), now, now),
        session_is_new: true,
        client_session: ClientSession {
            id: cs.into(),
            session_id: sid.into(),
            client_id: "spa".into(),
            started_at: now,
            last_refresh: now,
            current_jti: Some(jti.into()),
            revoked_at: None,
            revoke_reason: None,
        },
        event: None,
        refresh: Some(RefreshRecord {
            jti: jti.into(),
            client_session_id: cs.into(),
            parent_jti: None,
            issued_at: now,
            expires_at,
            scope: "profile".into(),
            offline: expires_at.is_none(),
            rotated_at: None,
            successor_jti: None,
            use_count: 0,
        }),
    }
}

/// Realm `r1` with client `spa`, user `u1` and a login: session `s1`, family `cs1`, token `t1`.
pub(crate) async fn with_login(store: &dyn Store, realm: &Realm) {
    let key = StoredKey {
        kid: "h".into(),
        alg: "HS512".into(),
        material: vec![1; 64],
        created_at: 0,
        active: true,
        sealed: false,
    };
    store
        .create_realm(NewRealm {
            realm: realm.clone(),
            keys: vec![key],
            clients: vec![client()],
            users: vec![UserWithCredential {
                user: user(true),
                password_hash: None,
            }],
        })
        .await
        .unwrap();
    store
        .start_grant(grant("s1", "cs1", "t1", Some(now() + 1800)))
        .await
        .unwrap();
}

async fn refresh(store: &dyn Store, realm: &Realm, jti: &str, new_jti: &str) -> RefreshDecision {
    let (realm, now, new_jti) = (realm.clone(), now(), new_jti.to_string());
    let decide = Box::new(move |st: &latchkey_domain::policy::RefreshState| {
        let req = RefreshRequest {
            realm: &realm,
            client: &client(),
            now,
            new_jti,
            scope: "profile".into(),
            outages: &[],
        };
        let decision = decide_refresh(&req, st);
        // The event a rejection is recorded by, in the same transaction.
        let event = matches!(decision, RefreshDecision::Reject(_))
            .then(|| user_event("REFRESH_TOKEN_ERROR", &format!("rt-{}", req.new_jti)));
        (decision, event)
    });
    match store
        .refresh(jti, now, decide)
        .await
        .unwrap()
        .durable()
        .await
        .unwrap()
    {
        RefreshOutcome::Decided { decision, .. } => decision,
        RefreshOutcome::Unknown => panic!("record {jti} vanished"),
    }
}

async fn concurrent(store: Arc<dyn Store>, grace: &str) -> Vec<RefreshDecision> {
    let realm = realm(grace);
    with_login(&*store, &realm).await;
    let mut handles = Vec::new();
    for i in 0..30 {
        let (store, realm) = (store.clone(), realm.clone());
        handles.push(tokio::spawn(async move {
            refresh(&*store, &realm, "t1", &format!("n{i}")).await
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

async fn concurrent_refreshes_converge_on_one_successor(store: Arc<dyn Store>) {
    let decisions = concurrent(store.clone(), "10").await;
    let issued: Vec<_> = decisions
        .iter()
        .filter_map(|d| match d {
            RefreshDecision::Issue { successor, .. } => Some(successor.jti.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(issued.len(), 1, "exactly one successor is created");
    for d in &decisions {
        match d {
            RefreshDecision::Issue { .. } => {}
            RefreshDecision::Replay { successor } => assert_eq!(successor.jti, issued[0]),
            other => panic!("{other:?}"),
        }
    }
    // What the rotation wrote: the family points at the successor, the presented record is
    // rotated to it.
    let st = store.refresh_state(&issued[0]).await.unwrap().unwrap();
    assert_eq!(
        st.client_session.current_jti.as_deref(),
        Some(issued[0].as_str())
    );
    assert_eq!(st.record.parent_jti.as_deref(), Some("t1"));
    let old = store.refresh_state("t1").await.unwrap().unwrap();
    assert_eq!(
        old.record.successor_jti.as_deref(),
        Some(issued[0].as_str())
    );
    assert!(old.record.rotated_at.is_some());
    assert_eq!(old.current.map(|c| c.jti), Some(issued[0].clone()));
}

async fn without_grace_exactly_one_succeeds_and_the_family_is_revoked(store: Arc<dyn Store>) {
    let decisions = concurrent(store.clone(), "0").await;
    let ok = decisions
        .iter()
        .filter(|d| matches!(d, RefreshDecision::Issue { .. }))
        .count();
    assert_eq!(ok, 1);
    assert!(decisions.iter().any(|d| matches!(
        d,
        RefreshDecision::Reject(Rejection {
            revoke_family: Some(_),
            ..
        })
    )));
    let st = store.refresh_state("t1").await.unwrap().unwrap();
    assert!(st.client_session.revoked_at.is_some());
    let events = store.user_events(&user_query(&[])).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "REFRESH_TOKEN_ERROR"));
}

fn code(hash: &str) -> AuthCode {
    AuthCode {
        code_hash: hash.into(),
        realm_id: "r1".into(),
        client_id: "spa".into(),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_sent: true,
        scope: "openid".into(),
        nonce: None,
        code_challenge: None,
        session_id: "s1".into(),
        user_id: "u1".into(),
        auth_time: now(),
        expires_at: now() + 60,
        used_at: None,
        family_id: None,
    }
}

/// Redeems like the grant does: the first presentation starts family `cs9`, a replay revokes it.
fn redeem_as_grant() -> DecideCode {
    Box::new(|st: &CodeState| {
        if st.code.used_at.is_some() {
            return CodeDecision::Refuse {
                error: OAuthError::invalid_grant("used twice"),
                revoke_family: Some("authorization code was used twice".into()),
                event: Some(Box::new(user_event("CODE_TO_TOKEN_ERROR", "replay"))),
            };
        }
        assert!(st.session.is_some() && st.user.as_ref().is_some_and(|u| u.enabled));
        let mut g = grant("s1", "cs9", "c1", Some(now() + 1800));
        g.session_is_new = false;
        CodeDecision::Redeem(Box::new(g))
    })
}

async fn a_code_is_redeemed_once_and_a_replay_revokes_its_family(store: Arc<dyn Store>) {
    with_login(&*store, &realm("10")).await;
    store.insert_code(code("k1")).await.unwrap();
    let t = now();
    let (st, d) = store
        .redeem_code("k1", t, redeem_as_grant())
        .await
        .unwrap()
        .unwrap();
    assert!(st.code.used_at.is_none() && matches!(d, CodeDecision::Redeem(_)));
    // The family exists, and the code remembers it: all in the redemption's transaction.
    let family = store.refresh_state("c1").await.unwrap().unwrap();
    assert_eq!(family.client_session.id, "cs9");
    assert!(family.client_session.revoked_at.is_none());

    let (st, d) = store
        .redeem_code("k1", t, redeem_as_grant())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st.code.used_at, Some(t));
    assert_eq!(st.code.family_id.as_deref(), Some("cs9"));
    assert!(matches!(d, CodeDecision::Refuse { .. }));
    let family = store.refresh_state("c1").await.unwrap().unwrap();
    assert!(
        family.client_session.revoked_at.is_some(),
        "the replay revoked the family"
    );
    let events = store.user_events(&user_query(&[])).await.unwrap();
    assert!(events.iter().any(|e| e.id == "replay"));
    // The other family of the session is untouched.
    let other = store.refresh_state("t1").await.unwrap().unwrap();
    assert!(other.client_session.revoked_at.is_none());

    assert!(store
        .redeem_code("nope", t, redeem_as_grant())
        .await
        .unwrap()
        .is_none());
}

async fn a_refused_code_is_used_up_and_starts_nothing(store: Arc<dyn Store>) {
    with_login(&*store, &realm("10")).await;
    store.insert_code(code("k2")).await.unwrap();
    let refuse: DecideCode = Box::new(|_| CodeDecision::Refuse {
        error: OAuthError::invalid_grant("wrong client"),
        revoke_family: None,
        event: None,
    });
    store
        .redeem_code("k2", now(), refuse)
        .await
        .unwrap()
        .unwrap();
    let (st, _) = store
        .redeem_code("k2", now(), redeem_as_grant())
        .await
        .unwrap()
        .unwrap();
    assert!(
        st.code.used_at.is_some(),
        "the first presentation used the code up"
    );
    assert!(st.code.family_id.is_none());
    assert!(store.refresh_state("c1").await.unwrap().is_none());
}

async fn a_disabled_or_deleted_user_is_read_with_the_code(store: Arc<dyn Store>) {
    with_login(&*store, &realm("10")).await;
    store.update_user(user(false)).await.unwrap();
    store.insert_code(code("k3")).await.unwrap();
    let seen: DecideCode = Box::new(|st| {
        assert!(st.user.as_ref().is_some_and(|u| !u.enabled));
        CodeDecision::Refuse {
            error: OAuthError::invalid_grant("disabled"),
            revoke_family: None,
            event: None,
        }
    });
    store.redeem_code("k3", now(), seen).await.unwrap().unwrap();
}

async fn ending_a_session_revokes_its_families_once(store: Arc<dyn Store>) {
    with_login(&*store, &realm("10")).await;
    let logout = user_event("LOGOUT", "first");
    assert!(store
        .end_session("s1", now(), "logout", Some(logout))
        .await
        .unwrap());
    let again = user_event("LOGOUT", "again");
    assert!(!store
        .end_session("s1", now(), "logout", Some(again))
        .await
        .unwrap());
    let events = store.user_events(&user_query(&[])).await.unwrap();
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        ["first"],
        "recorded with the change; none for a session already ended"
    );
    let st = store.refresh_state("t1").await.unwrap().unwrap();
    assert_eq!(st.client_session.revoke_reason.as_deref(), Some("logout"));
    assert!(!st.session.is_active());
    assert!(!store
        .revoke_family("cs1", now(), "again", None)
        .await
        .unwrap());
    assert!(store.sessions("r1", None).await.unwrap().is_empty());
}

async fn sessions_list_with_their_user_and_families(store: Arc<dyn Store>) {
    with_login(&*store, &realm("10")).await;
    let live = store.live_counts().await.unwrap();
    assert_eq!(
        live,
        [crate::LiveCount {
            realm_id: "r1".into(),
            offline: false,
            sessions: 1,
            families: 1
        }]
    );
    store.touch_session("s1", now() + 5).await.unwrap();
    let list = store.sessions("r1", Some(false)).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].username, "alice");
    assert_eq!(list[0].session.last_refresh, now() + 5);
    assert_eq!(list[0].clients[0].id, "cs1");
    assert!(store.sessions("r1", Some(true)).await.unwrap().is_empty());
}

async fn revoked_access_tokens_are_remembered(store: Arc<dyn Store>) {
    with_login(&*store, &realm("10")).await;
    assert!(!store.is_access_token_revoked("a1").await.unwrap());
    store.revoke_access_token("a1", now() + 60).await.unwrap();
    store.revoke_access_token("a1", now() + 60).await.unwrap();
    assert!(store.is_access_token_revoked("a1").await.unwrap());
}

/// A user event of realm `r1` with id `id`, at a time after the previous one made here.
pub(crate) fn user_event(kind: &str, id: &str) -> Event {
    use std::sync::atomic::{AtomicI64, Ordering};
    static CLOCK: AtomicI64 = AtomicI64::new(1_700_000_000_000);
    let mut e = UserEvent::new(id.into(), CLOCK.fetch_add(1, Ordering::SeqCst), kind, "r1");
    e.client_id = Some("spa".into());
    e.user_id = Some("u1".into());
    e.detail("grant_type", "refresh_token");
    Event::User(e)
}

fn user_query(pairs: &[(&str, &str)]) -> UserEventQuery {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    latchkey_domain::event::query::user_query("r1", &pairs).unwrap()
}

async fn events_are_listed_filtered_paged_and_cleared(store: Arc<dyn Store>) {
    with_login(&*store, &realm("10")).await;
    let mut batch = Vec::new();
    for (i, kind) in ["LOGIN", "REFRESH_TOKEN", "REFRESH_TOKEN_ERROR", "LOGOUT"]
        .iter()
        .enumerate()
    {
        batch.push(user_event(kind, &format!("e{i}")));
    }
    let Event::User(mut other) = user_event("LOGIN", "other-realm") else {
        unreachable!()
    };
    other.realm_id = "r2".into();
    batch.push(Event::User(other));
    store.record_events(batch).await.unwrap();
    let ids = |list: Vec<UserEvent>| list.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.user_events(&user_query(&[])).await.unwrap()),
        ["e3", "e2", "e1", "e0"]
    );
    let q = user_query(&[
        ("type", "REFRESH_TOKEN"),
        ("type", "LOGOUT"),
        ("direction", "asc"),
    ]);
    assert_eq!(ids(store.user_events(&q).await.unwrap()), ["e1", "e3"]);
    let q = user_query(&[("first", "1"), ("max", "2")]);
    assert_eq!(ids(store.user_events(&q).await.unwrap()), ["e2", "e1"]);
    let all = store.user_events(&user_query(&[])).await.unwrap();
    assert_eq!(
        all[0].details.get("grant_type").map(String::as_str),
        Some("refresh_token")
    );
    let q = user_query(&[
        ("dateFrom", &all[1].time.to_string()),
        ("user", "u1"),
        ("client", "spa"),
    ]);
    assert_eq!(ids(store.user_events(&q).await.unwrap()), ["e3", "e2"]);
    assert_eq!(
        store
            .expire_events("r1", false, all[2].time, 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.clear_events("r1", false).await.unwrap(), 3);
    assert!(store
        .user_events(&user_query(&[]))
        .await
        .unwrap()
        .is_empty());

    let admin = AdminEvent {
        id: "a1".into(),
        time: 5,
        realm_id: "r1".into(),
        auth_details: latchkey_domain::AuthDetails {
            user_id: Some("admin-id".into()),
            ..Default::default()
        },
        operation_type: "CREATE".into(),
        resource_type: "USER".into(),
        resource_path: "users/u9".into(),
        representation: Some("{}".into()),
        error: None,
    };
    store
        .record_events(vec![Event::Admin(admin.clone())])
        .await
        .unwrap();
    let q = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        latchkey_domain::event::query::admin_query("r1", &pairs).unwrap()
    };
    assert_eq!(
        store
            .admin_events(&q(&[("resourcePath", "users/*"), ("authUser", "admin-id")]))
            .await
            .unwrap(),
        [admin]
    );
    assert!(store
        .admin_events(&q(&[("operationTypes", "DELETE")]))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.clear_events("r1", true).await.unwrap(), 1);
}

async fn purge_removes_only_what_can_no_longer_be_used(store: Arc<dyn Store>) {
    with_login(&*store, &realm("10")).await;
    let now = now();
    // The live record stays, whatever the batch size.
    assert_eq!(store.purge_expired(now, 100).await.unwrap(), 0);
    assert!(store.refresh_state("t1").await.unwrap().is_some());
    // Expired, it is kept for a while (its holder hears "expired"), then it goes.
    assert_eq!(store.purge_expired(now + 1801, 100).await.unwrap(), 0);
    let later = now + 1801 + crate::EXPIRED_RETENTION;
    assert_eq!(store.purge_expired(later, 100).await.unwrap(), 1);
    assert!(store.refresh_state("t1").await.unwrap().is_none());
    // An ended session goes (with its family) only after the retention period.
    store.end_session("s1", now, "logout", None).await.unwrap();
    store.purge_expired(now + 10, 100).await.unwrap();
    assert!(store.session("s1").await.unwrap().is_some());
    store
        .purge_expired(now + crate::ENDED_SESSION_RETENTION + 1, 100)
        .await
        .unwrap();
    assert!(store.session("s1").await.unwrap().is_none());
    assert!(store.client_sessions("s1").await.unwrap().is_empty());
}

async fn sessions_that_idled_out_or_ran_out_are_purged_page_by_page(store: Arc<dyn Store>) {
    with_login(&*store, &realm("10")).await;
    let now = now();
    let old = now - 10_000;
    for (id, last, offline) in [
        ("idle", old, false),
        ("active", now, false),
        ("ended", old, false),
        ("offline", old, true),
    ] {
        store
            .create_session(session(id, offline, old, last))
            .await
            .unwrap();
    }
    store
        .end_session("ended", old, "logout", None)
        .await
        .unwrap();
    let which = crate::DeadSessions {
        realm_id: "r1".into(),
        offline: false,
        idle_before: Some(now - 5_000),
        started_before: Some(now - 20_000),
    };
    // Candidates (started before now - 5000) in (start, id) order: active, ended, idle.
    let (n, next) = store.purge_dead_sessions(&which, None, 2).await.unwrap();
    assert_eq!(n, 0, "active is in use, ended waits for its own retention");
    let next = next.expect("a full page goes on");
    assert_eq!(next.id, "ended");
    let (n, next) = store
        .purge_dead_sessions(&which, Some(next), 2)
        .await
        .unwrap();
    assert_eq!((n, next), (1, None));
    assert!(store.session("idle").await.unwrap().is_none());
    for kept in ["active", "ended", "offline", "s1"] {
        assert!(store.session(kept).await.unwrap().is_some(), "{kept}");
    }
    // A session past its maximum goes with its family; its bounded record can no longer be
    // refreshed and waits for its own expiry in the purge of records.
    let ran_out = crate::DeadSessions {
        started_before: Some(now + 1),
        idle_before: None,
        ..which
    };
    let (n, _) = store
        .purge_dead_sessions(&ran_out, None, 100)
        .await
        .unwrap();
    assert_eq!(n, 2, "s1 and active");
    assert!(store.client_sessions("s1").await.unwrap().is_empty());
    assert!(store.refresh_state("t1").await.unwrap().is_none());
    // No limit, nothing to look at.
    let unlimited = crate::DeadSessions {
        idle_before: None,
        started_before: None,
        ..ran_out
    };
    assert_eq!(
        store
            .purge_dead_sessions(&unlimited, None, 100)
            .await
            .unwrap(),
        (0, None)
    );
}

async fn a_clear_key_is_sealed_once(store: Arc<dyn Store>) {
    let realm = realm("10");
    with_login(&*store, &realm).await;
    assert!(store.seal_key(&realm.id, "h", vec![9; 80]).await.unwrap());
    assert!(
        !store.seal_key(&realm.id, "h", vec![8; 80]).await.unwrap(),
        "a sealed key is not sealed again"
    );
    assert!(!store
        .seal_key(&realm.id, "nope", vec![8; 80])
        .await
        .unwrap());
    let keys = store.realm_keys(&realm.id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].sealed);
    assert_eq!(keys[0].material, vec![9; 80]);
}

async fn outages_are_the_gaps_between_signs_of_life(store: Arc<dyn Store>) {
    use latchkey_domain::policy::Outage;
    assert!(
        store.record_start(1000).await.unwrap().is_empty(),
        "first start"
    );
    store.heartbeat(1005).await.unwrap();
    store.heartbeat(1003).await.unwrap(); // a late heartbeat never moves the clock back
    let down = vec![Outage {
        from: 1004, // a second before the last heartbeat (whole seconds)
        to: 1100,
    }];
    assert_eq!(store.record_start(1100).await.unwrap(), down);
    // A second server starting at the same moment finds the clock current: nothing new; nor
    // does a node restarting while another's heartbeat is fresh.
    assert_eq!(store.record_start(1100).await.unwrap(), down);
    store.heartbeat(1102).await.unwrap();
    assert_eq!(store.record_start(1105).await.unwrap(), down);
    assert_eq!(store.outages().await.unwrap(), down);
    // Outages past their retention go at the next start.
    let later = 1100 + crate::sql::uptime::OUTAGE_RETENTION + 10;
    assert_eq!(
        store.record_start(later).await.unwrap(),
        vec![Outage {
            from: 1104,
            to: later
        }]
    );
}

async fn a_realm_is_replaced_only_from_what_is_stored(store: Arc<dyn Store>) {
    let realm = realm("10");
    with_login(&*store, &realm).await;
    let stored = store.realm_by_id(&realm.id).await.unwrap().unwrap();
    let mut a = stored.clone();
    std::sync::Arc::make_mut(&mut a.access)
        .default_groups
        .push("/a".into());
    let mut b = stored.clone();
    std::sync::Arc::make_mut(&mut b.access)
        .default_groups
        .push("/b".into());
    assert!(store.replace_realm(&stored, a.clone()).await.unwrap());
    assert!(
        !store.replace_realm(&stored, b).await.unwrap(),
        "a change from a stale copy is refused"
    );
    let now = store.realm_by_id(&realm.id).await.unwrap().unwrap();
    assert_eq!(now.access.default_groups, ["/a"]);
    assert!(
        store.replace_realm(&now, now.clone()).await.unwrap(),
        "what was read is what is stored, byte for byte"
    );
}

/// Each test, once per backend.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name(super::sqlite().await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(store) = super::postgres().await {
                    super::$name(store).await
                }
            }
        }
    )*};
}

on_both_stores!(
    concurrent_refreshes_converge_on_one_successor,
    without_grace_exactly_one_succeeds_and_the_family_is_revoked,
    a_code_is_redeemed_once_and_a_replay_revokes_its_family,
    a_refused_code_is_used_up_and_starts_nothing,
    a_disabled_or_deleted_user_is_read_with_the_code,
    ending_a_session_revokes_its_families_once,
    sessions_list_with_their_user_and_families,
    revoked_access_tokens_are_remembered,
    events_are_listed_filtered_paged_and_cleared,
    purge_removes_only_what_can_no_longer_be_used,
    sessions_that_idled_out_or_ran_out_are_purged_page_by_page,
    a_clear_key_is_sealed_once,
    outages_are_the_gaps_between_signs_of_life,
    a_realm_is_replaced_only_from_what_is_stored,
);
