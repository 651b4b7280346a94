//! `latchkey events tail`: a realm's stored events on the terminal as they are recorded, read
//! from the store (a server may be running on it), one line each.

use crate::store::DbArgs;
use anyhow::{anyhow, Result};
use latchkey_domain::event::query::{self, Page};
use latchkey_domain::{AdminEvent, UserEvent};
use latchkey_storage::Store;
use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Duration;

/// What `tail` follows and how it prints.
pub struct Tail {
    pub realm: String,
    pub admin: bool,
    pub lines: i64,
    pub json: bool,
    pub follow: bool,
    pub db: DbArgs,
}

pub async fn tail(t: Tail) -> Result<ExitCode> {
    let store = t.db.open().await?;
    let realm = store
        .realm_by_name(&t.realm)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("realm '{}' does not exist", t.realm))?;
    // The last `lines` events, oldest first; then whatever comes after the newest one (read
    // even when none is printed, so that following starts from now).
    let newest = Page {
        max: t.lines.max(1),
        ..Page::default()
    };
    let mut batch = fetch(store.as_ref(), &realm.id, t.admin, newest).await?;
    batch.reverse();
    let mut since = None;
    let mut seen_at_since: HashSet<String> = HashSet::new();
    let skip = batch.len().saturating_sub(t.lines as usize);
    for e in batch.drain(..skip) {
        since = Some(e.time());
        seen_at_since.insert(e.id().to_string());
    }
    loop {
        for e in &batch {
            if since.is_some_and(|s| e.time() < s) || seen_at_since.contains(e.id()) {
                continue;
            }
            if since != Some(e.time()) {
                since = Some(e.time());
                seen_at_since.clear();
            }
            seen_at_since.insert(e.id().to_string());
            println!("{}", if t.json { e.json() } else { e.line() });
        }
        if !t.follow {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let page = Page {
            from: since,
            ascending: true,
            max: 1000,
            ..Page::default()
        };
        batch = fetch(store.as_ref(), &realm.id, t.admin, page).await?;
    }
}

enum Any {
    User(UserEvent),
    Admin(AdminEvent),
}

impl Any {
    fn time(&self) -> i64 {
        match self {
            Any::User(e) => e.time,
            Any::Admin(e) => e.time,
        }
    }
    fn id(&self) -> &str {
        match self {
            Any::User(e) => &e.id,
            Any::Admin(e) => &e.id,
        }
    }
    fn json(&self) -> String {
        match self {
            Any::User(e) => serde_json::to_string(e),
            Any::Admin(e) => serde_json::to_string(e),
        }
        .unwrap_or_default()
    }
    /// `2026-12-07 10:00:00.123Z REFRESH_TOKEN_ERROR client=spa user=… error=invalid_token check=grace_period_over reason="…"`
    fn line(&self) -> String {
        let at = |ms: i64| {
            let s = latchkey_domain::claims::format_timestamp(ms.div_euclid(1000));
            format!(
                "{}.{:03}Z",
                s.trim_end_matches(" UTC").trim_end_matches('Z'),
                ms.rem_euclid(1000)
            )
        };
        let mut out = String::new();
        let mut field = |k: &str, v: Option<&str>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                if v.contains(' ') || v.contains('"') {
                    out.push_str(&format!(" {k}={v:?}"));
                } else {
                    out.push_str(&format!(" {k}={v}"));
                }
            }
        };
        match self {
            Any::User(e) => {
                field("client", e.client_id.as_deref());
                field("user", e.user_id.as_deref());
                field("session", e.session_id.as_deref());
                field("ip", e.ip_address.as_deref());
                field("error", e.error.as_deref());
                for (k, v) in &e.details {
                    field(k, Some(v));
                }
                format!("{} {}{out}", at(e.time), e.kind)
            }
            Any::Admin(e) => {
                field("path", Some(&e.resource_path));
                field("by", e.auth_details.user_id.as_deref());
                field("ip", e.auth_details.ip_address.as_deref());
                format!(
                    "{} {} {}{out}",
                    at(e.time),
                    e.operation_type,
                    e.resource_type
                )
            }
        }
    }
}

async fn fetch(store: &dyn Store, realm_id: &str, admin: bool, page: Page) -> Result<Vec<Any>> {
    let err = |e: latchkey_storage::StoreError| anyhow!("{e}");
    Ok(if admin {
        let q = query::AdminEventQuery {
            realm_id: realm_id.to_string(),
            page,
            ..Default::default()
        };
        store
            .admin_events(&q)
            .await
            .map_err(err)?
            .into_iter()
            .map(Any::Admin)
            .collect()
    } else {
        let q = query::UserEventQuery {
            realm_id: realm_id.to_string(),
            page,
            ..Default::default()
        };
        store
            .user_events(&q)
            .await
            .map_err(err)?
            .into_iter()
            .map(Any::User)
            .collect()
    })
}
