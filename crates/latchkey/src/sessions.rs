//! `latchkey sessions list|revoke`: see and end sessions and offline sessions, against the
//! store, whether a server runs on it or not.

use crate::store::DbArgs;
use anyhow::{anyhow, bail, Result};
use latchkey_application::Clock as _;
use latchkey_domain::claims::format_timestamp as ts;
use latchkey_domain::policy;
use latchkey_domain::{AdminEvent, Event};
use latchkey_storage::{SessionInfo, Store};
use serde_json::json;
use std::process::ExitCode;
use std::sync::Arc;

async fn open(db: &DbArgs, realm: &str) -> Result<(Arc<dyn Store>, String)> {
    let store = db.open().await?;
    let r = store
        .realm_by_name(realm)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("realm '{realm}' does not exist"))?;
    Ok((store, r.id))
}

fn to_json(s: &SessionInfo) -> serde_json::Value {
    json!({
        "id": s.session.id,
        "username": s.username,
        "userId": s.session.user_id,
        "offline": s.session.offline,
        "start": s.session.started_at * 1000,
        "lastAccess": s.session.last_refresh * 1000,
        "clients": s.clients.iter().filter(|c| c.revoked_at.is_none()).map(|c| c.client_id.clone()).collect::<Vec<_>>(),
    })
}

/// Why a listed session can serve no request any more, if it cannot.
fn dead_reason(s: &SessionInfo, bounds: policy::SessionBounds, now: i64) -> Option<&'static str> {
    if !s.clients.iter().any(|c| c.revoked_at.is_none()) {
        return Some("every token revoked");
    }
    let past =
        |since: i64, limit: Option<i64>| limit.is_some_and(|l| since.saturating_add(l) <= now);
    if past(s.session.last_refresh, bounds.idle) {
        return Some("idled out");
    }
    if past(s.session.started_at, bounds.max) {
        return Some("max lifespan reached");
    }
    None
}

pub async fn list(
    db: &DbArgs,
    realm: &str,
    offline: Option<bool>,
    user: Option<&str>,
    all: bool,
    json_out: bool,
) -> Result<ExitCode> {
    let (store, realm_id) = open(db, realm).await?;
    let r = store
        .realm_by_id(&realm_id)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("realm '{realm}' does not exist"))?;
    let clients = store.clients(&realm_id).await.map_err(|e| anyhow!("{e}"))?;
    let bounds = |offline| policy::session_bounds(&r, &clients, offline);
    let now = latchkey_application::SystemClock.now();
    let mut list: Vec<(SessionInfo, Option<&str>)> = store
        .sessions(&realm_id, offline)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .into_iter()
        .map(|s| {
            let dead = dead_reason(&s, bounds(s.session.offline), now);
            (s, dead)
        })
        .collect();
    if let Some(u) = user {
        list.retain(|(s, _)| s.username == latchkey_domain::user::canonical_username(u));
    }
    let hidden = list.iter().filter(|(_, dead)| dead.is_some()).count();
    if !all {
        list.retain(|(_, dead)| dead.is_none());
    }
    if json_out {
        let out: Vec<_> = list
            .iter()
            .map(|(s, dead)| {
                let mut v = to_json(s);
                v["alive"] = json!(dead.is_none());
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![vec![
        "SESSION".to_string(),
        "TYPE".into(),
        "USER".into(),
        "STARTED".into(),
        "LAST REFRESH".into(),
        "CLIENTS".into(),
        "STATE".into(),
    ]];
    for (s, dead) in &list {
        let clients: Vec<String> = s
            .clients
            .iter()
            .filter(|c| c.revoked_at.is_none())
            .map(|c| c.client_id.clone())
            .collect();
        rows.push(vec![
            s.session.id.clone(),
            if s.session.offline {
                "offline"
            } else {
                "online"
            }
            .into(),
            s.username.clone(),
            ts(s.session.started_at),
            ts(s.session.last_refresh),
            if clients.is_empty() {
                "-".into()
            } else {
                clients.join(",")
            },
            dead.unwrap_or("alive").into(),
        ]);
    }
    if list.is_empty() {
        println!("no active sessions");
    } else {
        print!("{}", crate::table::render(&rows));
    }
    if hidden > 0 && !all {
        println!("({hidden} session(s) with nothing left alive not shown; --all lists them)");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn revoke(
    db: &DbArgs,
    realm: &str,
    id: Option<&str>,
    user: Option<&str>,
    all: bool,
) -> Result<ExitCode> {
    let (store, realm_id) = open(db, realm).await?;
    let list = store
        .sessions(&realm_id, None)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let targets: Vec<&SessionInfo> = match (id, user, all) {
        (Some(id), None, false) => {
            let t: Vec<_> = list.iter().filter(|s| s.session.id == id).collect();
            if t.is_empty() {
                bail!("no active session '{id}' in realm '{realm}'");
            }
            t
        }
        (None, Some(u), false) => list
            .iter()
            .filter(|s| s.username == latchkey_domain::user::canonical_username(u))
            .collect(),
        (None, None, true) => list.iter().collect(),
        _ => bail!("say which sessions: a SESSION_ID, --user NAME, or --all"),
    };
    let now = latchkey_application::SystemClock.now();
    let admin_events = store
        .realm_by_id(&realm_id)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .is_some_and(|r| r.events.admin_events_enabled);
    // Every session is ended before anything is printed: a reader that stops reading early
    // (`| head`) must not leave sessions alive.
    let mut report = String::new();
    for s in &targets {
        // Keycloak's admin event of ending a session; made from the command line, it has no
        // caller's token to name.
        let event = admin_events.then(|| {
            Event::Admin(AdminEvent {
                id: uuid::Uuid::now_v7().to_string(),
                time: latchkey_application::SystemClock.now_ms(),
                realm_id: realm_id.clone(),
                auth_details: Default::default(),
                operation_type: "DELETE".into(),
                resource_type: "USER_SESSION".into(),
                resource_path: format!("sessions/{}", s.session.id),
                representation: None,
                error: None,
            })
        });
        store
            .end_session(
                &s.session.id,
                now,
                "revoked by an administrator (latchkey sessions revoke)",
                event,
            )
            .await
            .map_err(|e| anyhow!("{e}"))?;
        report.push_str(&format!(
            "revoked {} session {} of {}\n",
            if s.session.offline {
                "offline"
            } else {
                "online"
            },
            s.session.id,
            s.username
        ));
    }
    print!("{report}");
    if targets.is_empty() {
        println!("no matching active sessions");
    }
    Ok(ExitCode::SUCCESS)
}
