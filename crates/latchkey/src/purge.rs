//! Removes records that can no longer serve a request (expired refresh-token records, long
//! ended sessions, sessions that idled out or reached their maximum lifespan without a
//! logout, expired revocations and codes) in the background. Each step is one small
//! transaction of at most `BATCH` rows that queues behind requests like any other write, and
//! the task sleeps between steps, so a backlog of millions drains without stalling anyone.

use latchkey_application::Clock as _;
use latchkey_domain::policy::session_bounds;
use latchkey_protocol::telemetry::{Gauges, PurgeLabels};
use latchkey_storage::{DeadSessions, Store, EXPIRED_RETENTION};
use std::sync::Arc;
use std::time::Duration;

/// Rows per transaction: small enough that no rotation waits long behind one on a large
/// store (docs/performance.md).
const BATCH: usize = 500;
/// Pause between two batches of one sweep: requests' writes get the store in between. A
/// backlog drains at up to 20,000 rows/s, above the rate a busy server creates records.
const PAUSE: Duration = Duration::from_millis(25);

/// Runs `step` every `every` (never when it is zero); a late step delays the next rather than
/// bunching them. The purge and the key schedule both run this way.
pub fn periodic<F, Fut>(every: Duration, mut step: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    if every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            step().await;
        }
    });
}

pub fn spawn(store: Arc<dyn Store>, every: Duration, counted: Gauges) {
    periodic(every, move || {
        let (store, counted) = (store.clone(), counted.clone());
        async move {
            // Side by side, each pausing between its steps: a backlog of expired records
            // (after downtime, say) does not hold back the sessions' sweep.
            let (expired, sessions, events) = tokio::join!(
                sweep(store.as_ref()),
                sweep_sessions(store.as_ref()),
                sweep_events(store.as_ref())
            );
            for (what, n) in [
                ("expired", expired),
                ("sessions", sessions),
                ("events", events),
            ] {
                counted
                    .purged
                    .get_or_create(&PurgeLabels { what })
                    .inc_by(n);
            }
            counted.purge_sweeps.inc();
        }
    });
}

/// One sweep: batches until a batch comes back short. Returns the rows removed.
pub async fn sweep(store: &dyn Store) -> u64 {
    let started = std::time::Instant::now();
    let mut total = 0;
    loop {
        match store
            .purge_expired(latchkey_application::SystemClock.now(), BATCH)
            .await
        {
            Ok(n) => {
                total += n;
                if n < BATCH as u64 {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "purging expired records failed; will retry at the next sweep");
                break;
            }
        }
        tokio::time::sleep(PAUSE).await;
    }
    if total > 0 {
        tracing::info!(
            rows = total,
            ms = started.elapsed().as_millis() as u64,
            "purged expired records"
        );
    }
    total
}

/// One sweep of every realm's sessions, online and offline: each is judged by the realm's
/// current limits ([`session_bounds`]) and kept [`EXPIRED_RETENTION`] past the moment it
/// could last have been used, so that its holder still hears why. A page of `BATCH`
/// candidates a step, `PAUSE` apart. Returns the sessions removed.
pub async fn sweep_sessions(store: &dyn Store) -> u64 {
    let started = std::time::Instant::now();
    let mut total = 0;
    if let Err(e) = sweep_sessions_into(store, &mut total).await {
        tracing::warn!(error = %e, "purging sessions that idled out or ran out failed; will retry at the next sweep");
    }
    if total > 0 {
        tracing::info!(
            sessions = total,
            ms = started.elapsed().as_millis() as u64,
            "purged sessions that idled out or reached their maximum lifespan"
        );
    }
    total
}

/// One sweep of the events past their realm's expiration (`eventsExpiration` for user
/// events, the attribute `adminEventsExpiration` for admin events, in seconds, as Keycloak
/// keeps them). Returns the events removed.
pub async fn sweep_events(store: &dyn Store) -> u64 {
    let mut total = 0;
    if let Err(e) = sweep_events_into(store, &mut total).await {
        tracing::warn!(error = %e, "purging expired events failed; will retry at the next sweep");
    }
    if total > 0 {
        tracing::info!(events = total, "purged expired events");
    }
    total
}

async fn sweep_events_into(store: &dyn Store, total: &mut u64) -> latchkey_storage::Result<()> {
    for name in store.realm_names().await? {
        let Some(realm) = store.realm_by_name(&name).await? else {
            continue;
        };
        let user = Some(realm.events.events_expiration).filter(|s| *s > 0);
        for (admin, keep) in [(false, user), (true, realm.admin_events_expiration())] {
            let Some(keep) = keep else { continue };
            let now = latchkey_application::SystemClock.now_ms();
            let before = now.saturating_sub(keep.saturating_mul(1000));
            loop {
                let n = store.expire_events(&realm.id, admin, before, BATCH).await?;
                *total += n;
                if n < BATCH as u64 {
                    break;
                }
                tokio::time::sleep(PAUSE).await;
            }
        }
    }
    Ok(())
}

/// The moment before which a limit of `seconds` (plus the retention) has passed.
fn cutoff(now: i64, seconds: i64) -> i64 {
    now.saturating_sub(seconds)
        .saturating_sub(EXPIRED_RETENTION)
}

async fn sweep_sessions_into(store: &dyn Store, total: &mut u64) -> latchkey_storage::Result<()> {
    for name in store.realm_names().await? {
        let Some(realm) = store.realm_by_name(&name).await? else {
            continue; // deleted meanwhile
        };
        let clients = store.clients(&realm.id).await?;
        for offline in [false, true] {
            let bounds = session_bounds(&realm, &clients, offline);
            let now = latchkey_application::SystemClock.now();
            let which = DeadSessions {
                realm_id: realm.id.clone(),
                offline,
                // Saturating: a realm may set a limit of years (or of i64::MAX seconds).
                idle_before: bounds.idle.map(|s| cutoff(now, s)),
                started_before: bounds.max.map(|s| cutoff(now, s)),
            };
            let mut after = None;
            loop {
                let (n, next) = store.purge_dead_sessions(&which, after, BATCH).await?;
                *total += n;
                match next {
                    Some(cursor) => after = Some(cursor),
                    None => break,
                }
                tokio::time::sleep(PAUSE).await;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_domain::keycloak::RealmRepresentation;
    use latchkey_domain::{Realm, Session};
    use latchkey_storage::NewRealm;

    fn session(id: &str, offline: bool, started_at: i64, last_refresh: i64) -> Session {
        Session {
            id: id.into(),
            realm_id: "r1".into(),
            user_id: "u1".into(),
            offline,
            started_at,
            auth_time: started_at,
            last_refresh,
            ended_at: None,
            end_reason: None,
        }
    }

    #[tokio::test]
    async fn a_sweep_removes_the_sessions_the_realm_limits_have_ended() {
        let dir = std::env::temp_dir().join(format!("latchkey-purge-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = latchkey_storage::open(&format!("sqlite://{}/p.db", dir.display()))
            .await
            .unwrap();
        let rep = RealmRepresentation {
            realm: "p".into(),
            sso_session_idle_timeout: Some(1800),
            sso_session_max_lifespan: Some(36_000),
            offline_session_idle_timeout: Some(2_592_000),
            ..Default::default()
        };
        let realm = Realm::from_representation("r1".into(), &rep).unwrap();
        store
            .create_realm(NewRealm {
                realm,
                keys: vec![],
                clients: vec![],
                users: vec![],
            })
            .await
            .unwrap();
        let now = latchkey_application::SystemClock.now();
        let past_idle = now - 1800 - EXPIRED_RETENTION - 5;
        let past_max = now - 36_000 - EXPIRED_RETENTION - 5;
        for s in [
            session("idled-out", false, past_idle, past_idle),
            session("idle-but-within-retention", false, now - 1900, now - 1900),
            session("ran-out", false, past_max, now),
            session("in-use", false, past_max + 10, now),
            session("offline-in-use", true, past_max, past_idle),
            session("offline-idled-out", true, now - 3_000_000, now - 3_000_000),
        ] {
            store.create_session(s).await.unwrap();
        }
        assert_eq!(sweep_sessions(store.as_ref()).await, 3);
        for gone in ["idled-out", "ran-out", "offline-idled-out"] {
            assert!(store.session(gone).await.unwrap().is_none(), "{gone}");
        }
        for kept in ["idle-but-within-retention", "in-use", "offline-in-use"] {
            assert!(store.session(kept).await.unwrap().is_some(), "{kept}");
        }
        assert_eq!(sweep_sessions(store.as_ref()).await, 0);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn an_endless_limit_does_not_overflow() {
        assert_eq!(cutoff(1_000, i64::MAX), i64::MIN);
        assert_eq!(cutoff(10_000, 1_000), 10_000 - 1_000 - EXPIRED_RETENTION);
    }
}
