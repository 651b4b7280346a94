use super::SqliteStore;
use crate::{NewGrant, NewRealm, RefreshOutcome, Store, StoredKey};
use latchkey_domain::keycloak::{ClientRepresentation, RealmRepresentation};
use latchkey_domain::policy::{decide_refresh, RefreshDecision, RefreshRequest};
use latchkey_domain::{Client, ClientSession, Realm, RefreshRecord, Session};
use std::sync::Arc;

fn temp_db() -> String {
    let dir = std::env::temp_dir().join(format!("latchkey-store-{}", uuid::Uuid::new_v4()));
    dir.join("t.db").to_string_lossy().into_owned()
}

fn realm(grace: &str) -> Realm {
    let mut rep = RealmRepresentation {
        realm: "t".into(),
        ..Default::default()
    };
    rep.attributes
        .insert("latchkey.refreshTokenGracePeriod".into(), grace.into());
    Realm::from_representation("r1".into(), &rep).unwrap()
}

fn client() -> Client {
    let rep = ClientRepresentation {
        client_id: "spa".into(),
        public_client: Some(true),
        ..Default::default()
    };
    Client::from_representation("c1".into(), "r1".into(), &rep, vec![]).unwrap()
}

async fn store_with_login(realm: &Realm) -> (Arc<SqliteStore>, String) {
    let store = Arc::new(SqliteStore::open(&temp_db()).await.unwrap());
    let key = StoredKey {
        kid: "h".into(),
        alg: "HS512".into(),
        material: vec![1; 64],
        created_at: 0,
        active: true,
    };
    store
        .create_realm(NewRealm {
            realm: realm.clone(),
            keys: vec![key],
            clients: vec![client()],
            users: vec![],
        })
        .await
        .unwrap();
    let now = crate::sqlite::now();
    let session = Session {
        id: "s1".into(),
        realm_id: "r1".into(),
        user_id: "u1".into(),
        offline: false,
        started_at: now,
        auth_time: now,
        last_refresh: now,
        ended_at: None,
        end_reason: None,
    };
    let cs = ClientSession {
        id: "cs1".into(),
        session_id: "s1".into(),
        client_id: "spa".into(),
        started_at: now,
        last_refresh: now,
        current_jti: Some("t1".into()),
        revoked_at: None,
        revoke_reason: None,
    };
    let rec = RefreshRecord {
        jti: "t1".into(),
        client_session_id: "cs1".into(),
        parent_jti: None,
        issued_at: now,
        expires_at: Some(now + 1800),
        scope: "profile".into(),
        offline: false,
        rotated_at: None,
        successor_jti: None,
        use_count: 0,
    };
    store
        .start_grant(NewGrant {
            session,
            session_is_new: true,
            client_session: cs,
            refresh: Some(rec),
        })
        .await
        .unwrap();
    (store, "t1".into())
}

async fn concurrent(grace: &str) -> Vec<RefreshDecision> {
    let realm = realm(grace);
    let (store, jti) = store_with_login(&realm).await;
    let now = crate::sqlite::now();
    let mut handles = Vec::new();
    for i in 0..30 {
        let (store, jti, realm) = (store.clone(), jti.clone(), realm.clone());
        handles.push(tokio::spawn(async move {
            let c = client();
            let decide = Box::new(move |st: &latchkey_domain::policy::RefreshState| {
                let req = RefreshRequest {
                    realm: &realm,
                    client: &c,
                    now,
                    new_jti: format!("n{i}"),
                    scope: "profile".into(),
                };
                decide_refresh(&req, st)
            });
            match store
                .refresh(&jti, now, decide)
                .await
                .unwrap()
                .durable()
                .await
                .unwrap()
            {
                RefreshOutcome::Decided { decision, .. } => decision,
                RefreshOutcome::Unknown => panic!("record vanished"),
            }
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_converge_on_one_successor() {
    let decisions = concurrent("10").await;
    let issued: Vec<_> = decisions
        .iter()
        .filter(|d| matches!(d, RefreshDecision::Issue { .. }))
        .collect();
    assert_eq!(issued.len(), 1, "exactly one successor is created");
    let RefreshDecision::Issue { successor, .. } = issued[0] else {
        unreachable!()
    };
    for d in &decisions {
        match d {
            RefreshDecision::Issue { .. } => {}
            RefreshDecision::Replay { successor: s } => assert_eq!(s.jti, successor.jti),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_grace_exactly_one_succeeds_and_the_family_is_revoked() {
    let decisions = concurrent("0").await;
    let ok = decisions
        .iter()
        .filter(|d| matches!(d, RefreshDecision::Issue { .. }))
        .count();
    assert_eq!(ok, 1);
    assert!(decisions.iter().any(|d| matches!(
        d,
        RefreshDecision::Reject(latchkey_domain::policy::Rejection {
            revoke_family: Some(_),
            ..
        })
    )));
}

#[tokio::test]
async fn reopening_applies_no_migration_twice_and_keeps_data() {
    let path = temp_db();
    {
        let s = SqliteStore::open(&path).await.unwrap();
        let r = realm("10");
        s.create_realm(NewRealm {
            realm: r,
            keys: vec![],
            clients: vec![],
            users: vec![],
        })
        .await
        .unwrap();
    }
    let s = SqliteStore::open(&path).await.unwrap();
    assert_eq!(s.realm_names().await.unwrap(), vec!["t".to_string()]);
    let dup = s
        .create_realm(NewRealm {
            realm: realm("10"),
            keys: vec![],
            clients: vec![],
            users: vec![],
        })
        .await;
    assert!(
        matches!(dup, Err(crate::StoreError::Conflict(_))),
        "{dup:?}"
    );
}

#[tokio::test]
async fn purge_removes_only_what_can_no_longer_be_used() {
    let realm = realm("10");
    let (store, jti) = store_with_login(&realm).await;
    let now = crate::sqlite::now();
    // The live record stays, whatever the batch size.
    assert_eq!(store.purge_expired(now, 100).await.unwrap(), 0);
    assert!(store.refresh_state(&jti).await.unwrap().is_some());
    // Expired, it is kept for a while (its holder hears "expired"), then it goes.
    assert_eq!(store.purge_expired(now + 1801, 100).await.unwrap(), 0);
    let later = now + 1801 + crate::EXPIRED_RETENTION;
    assert_eq!(store.purge_expired(later, 100).await.unwrap(), 1);
    assert!(store.refresh_state(&jti).await.unwrap().is_none());
    // An ended session goes (with its family) only after the retention period.
    store.end_session("s1", now, "logout").await.unwrap();
    store.purge_expired(now + 10, 100).await.unwrap();
    assert!(store.session("s1").await.unwrap().is_some());
    store
        .purge_expired(now + crate::ENDED_SESSION_RETENTION + 1, 100)
        .await
        .unwrap();
    assert!(store.session("s1").await.unwrap().is_none());
    assert!(store.client_sessions("s1").await.unwrap().is_empty());
}

fn count(path: &str, sql: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_deleted_family_takes_its_unexpiring_records_and_leaves_the_rest_to_the_purge() {
    let realm = realm("10");
    let (store, _) = store_with_login(&realm).await;
    let path = store.path().to_string_lossy().into_owned();
    let now = crate::sqlite::now();
    // An offline login whose token never expires, beside the online one (t1, 30 min).
    store
        .start_grant(NewGrant {
            session: Session {
                id: "s2".into(),
                realm_id: "r1".into(),
                user_id: "u1".into(),
                offline: true,
                started_at: now,
                auth_time: now,
                last_refresh: now,
                ended_at: None,
                end_reason: None,
            },
            session_is_new: true,
            client_session: ClientSession {
                id: "cs2".into(),
                session_id: "s2".into(),
                client_id: "spa".into(),
                started_at: now,
                last_refresh: now,
                current_jti: Some("o1".into()),
                revoked_at: None,
                revoke_reason: None,
            },
            refresh: Some(RefreshRecord {
                jti: "o1".into(),
                client_session_id: "cs2".into(),
                parent_jti: None,
                issued_at: now,
                expires_at: None,
                scope: "offline_access".into(),
                offline: true,
                rotated_at: None,
                successor_jti: None,
                use_count: 0,
            }),
        })
        .await
        .unwrap();
    assert_eq!(count(&path, "SELECT count(*) FROM refresh_tokens"), 2);
    assert!(store.delete_realm("r1").await.unwrap());
    // The families are gone; so is the record that would never expire. The other one is
    // unusable (no family) and stays until its expiry has passed the retention period.
    assert_eq!(count(&path, "SELECT count(*) FROM client_sessions"), 0);
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM refresh_tokens WHERE jti = 'o1'"
        ),
        0
    );
    assert!(store.refresh_state("t1").await.unwrap().is_none());
    let later = now + 1801 + crate::EXPIRED_RETENTION;
    assert_eq!(store.purge_expired(later, 100).await.unwrap(), 1);
    assert_eq!(count(&path, "SELECT count(*) FROM refresh_tokens"), 0);
}

#[tokio::test]
async fn migration_4_keeps_the_records_of_a_version_3_store() {
    let path = temp_db();
    std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        for m in &super::schema::MIGRATIONS[..3] {
            c.execute_batch(m).unwrap();
        }
        c.execute_batch(
            "PRAGMA user_version = 3;
             INSERT INTO realms VALUES ('r1', 't', '{}', 0);
             INSERT INTO sessions (id, realm_id, user_id, offline, started_at, auth_time, last_refresh)
                 VALUES ('s1', 'r1', 'u1', 0, 1, 1, 1);
             INSERT INTO client_sessions (id, session_id, client_id, started_at, last_refresh, current_jti)
                 VALUES ('cs1', 's1', 'spa', 1, 1, 't2');
             INSERT INTO refresh_tokens (jti, client_session_id, parent_jti, issued_at, expires_at, scope, offline, rotated_at, successor_jti, use_count)
                 VALUES ('t1', 'cs1', NULL, 1, 99, 'profile', 0, 2, 't2', 1),
                        ('t2', 'cs1', 't1', 2, NULL, 'profile', 0, NULL, NULL, 0);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let st = store.refresh_state("t1").await.unwrap().expect("t1 kept");
    assert_eq!(st.record.successor_jti.as_deref(), Some("t2"));
    assert_eq!(st.record.rotated_at, Some(2));
    assert_eq!(st.current.expect("current record").jti, "t2");
    assert_eq!(
        count(&path, "PRAGMA user_version"),
        super::schema::MIGRATIONS.len() as i64
    );
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM sqlite_schema WHERE name = 'refresh_tokens_family'"
        ),
        0
    );
}

#[test]
fn the_refresh_read_is_planned_once_whatever_token_it_is_asked_for() {
    let path = temp_db();
    let path = std::path::Path::new(&path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut c = super::open_conn(path, true).unwrap();
    super::migrate(&mut c).unwrap();
    for i in 0..5 {
        super::sessions::refresh_state(&c, &format!("jti-{i}")).unwrap();
    }
    let st = c
        .prepare_cached(super::sessions::refresh_state_sql())
        .unwrap();
    // A re-prepare per new value was a parse and a plan on every rotation (63 µs, not 16).
    assert_eq!(
        st.get_status(rusqlite::StatementStatus::RePrepare),
        0,
        "the statement was prepared again for a new parameter value"
    );
}

#[tokio::test]
async fn sessions_that_idled_out_or_ran_out_are_purged_page_by_page() {
    let realm = realm("10");
    let (store, jti) = store_with_login(&realm).await;
    let now = crate::sqlite::now();
    let old = now - 10_000;
    for (id, last, offline) in [
        ("idle", old, false),
        ("active", now, false),
        ("ended", old, false),
        ("offline", old, true),
    ] {
        store
            .create_session(Session {
                id: id.into(),
                realm_id: "r1".into(),
                user_id: "u1".into(),
                offline,
                started_at: old,
                auth_time: old,
                last_refresh: last,
                ended_at: None,
                end_reason: None,
            })
            .await
            .unwrap();
    }
    store.end_session("ended", old, "logout").await.unwrap();
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
    assert!(store.refresh_state(&jti).await.unwrap().is_none());
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

#[tokio::test]
async fn the_session_purge_walks_its_index() {
    let path = temp_db();
    drop(SqliteStore::open(&path).await.unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let plan: Vec<String> = conn
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            crate::purge::dead_sessions_page_sql('?')
        ))
        .unwrap()
        .query_map(rusqlite::params!["r1", false, 0, 0, "", 10], |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let plan = plan.join(" / ");
    assert!(plan.contains("USING INDEX sessions_started"), "{plan}");
    assert!(
        !plan.contains("TEMP B-TREE"),
        "sorted by the index, not afterwards: {plan}"
    );
}
