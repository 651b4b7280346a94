//! `latchkey sessions list|revoke`: see and end sessions and offline sessions, against the
//! store, whether a server runs on it or not.

use anyhow::{anyhow, bail, Result};
use latchkey_domain::claims::format_timestamp as ts;
use latchkey_storage::{Event, SessionInfo, Store};
use serde_json::json;
use std::process::ExitCode;
use std::sync::Arc;

async fn open(db: &str, realm: &str) -> Result<(Arc<dyn Store>, String)> {
    let store = latchkey_storage::open(db)
        .await
        .map_err(|e| anyhow!("{e}"))?;
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

pub async fn list(
    db: &str,
    realm: &str,
    offline: Option<bool>,
    user: Option<&str>,
    json_out: bool,
) -> Result<ExitCode> {
    let (store, realm_id) = open(db, realm).await?;
    let mut list = store
        .sessions(&realm_id, offline)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if let Some(u) = user {
        list.retain(|s| s.username == u.to_lowercase());
    }
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&list.iter().map(to_json).collect::<Vec<_>>())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        println!("no active sessions");
    }
    for s in &list {
        let clients: Vec<String> = s
            .clients
            .iter()
            .filter(|c| c.revoked_at.is_none())
            .map(|c| c.client_id.clone())
            .collect();
        println!(
            "{}  {:7}  {:20}  started {}  last refresh {}  clients: {}",
            s.session.id,
            if s.session.offline {
                "offline"
            } else {
                "online"
            },
            s.username,
            ts(s.session.started_at),
            ts(s.session.last_refresh),
            clients.join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn revoke(
    db: &str,
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
            .filter(|s| s.username == u.to_lowercase())
            .collect(),
        (None, None, true) => list.iter().collect(),
        _ => bail!("say which sessions: a SESSION_ID, --user NAME, or --all"),
    };
    let now = latchkey_protocol::now();
    for s in &targets {
        store
            .end_session(
                &s.session.id,
                now,
                "revoked by an administrator (latchkey sessions revoke)",
            )
            .await
            .map_err(|e| anyhow!("{e}"))?;
        store
            .record_event(Event {
                realm_id: Some(realm_id.clone()),
                at: now,
                kind: "SESSION_REVOKED".into(),
                detail: json!({"sid": s.session.id, "username": s.username, "offline": s.session.offline}),
            })
            .await
            .map_err(|e| anyhow!("{e}"))?;
        println!(
            "revoked {} session {} of {}",
            if s.session.offline {
                "offline"
            } else {
                "online"
            },
            s.session.id,
            s.username
        );
    }
    if targets.is_empty() {
        println!("no matching active sessions");
    }
    Ok(ExitCode::SUCCESS)
}
