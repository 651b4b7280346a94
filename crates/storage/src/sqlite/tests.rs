//! What only SQLite has: its migrations, its file, its query plans. The behaviour every store
//! shares is in the conformance suite (`crate::conformance`).

use super::SqliteStore;
use crate::conformance::{grant, now, realm, temp_db, with_login};
use crate::prelude::*;
use crate::NewRealm;
use std::sync::Arc;

async fn store_with_login() -> Arc<SqliteStore> {
    let store = Arc::new(SqliteStore::open(&temp_db()).await.unwrap());
    with_login(&*store, &realm("10")).await;
    store
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

fn count(path: &str, sql: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_deleted_family_takes_its_unexpiring_records_and_leaves_the_rest_to_the_purge() {
    let store = store_with_login().await;
    let path = store.path().to_string_lossy().into_owned();
    let now = now();
    // An offline login whose token never expires, beside the online one (t1, 30 min).
    store
        .start_grant(grant("s2", "cs2", "o1", None))
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
        for m in &crate::sql::schema::MIGRATIONS[..3] {
            c.execute_batch(m.sqlite).unwrap();
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
        crate::sql::schema::MIGRATIONS.len() as i64
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
        .prepare_cached(crate::sql::sessions::REFRESH_STATE)
        .unwrap();
    // A re-prepare per new value was a parse and a plan on every rotation (63 µs, not 16).
    assert_eq!(
        st.get_status(rusqlite::StatementStatus::RePrepare),
        0,
        "the statement was prepared again for a new parameter value"
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
