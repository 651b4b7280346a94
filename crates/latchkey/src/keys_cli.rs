//! `latchkey keys …`: a realm's signing keys in the store (server running or not).

use crate::cli::KeysCommand;
use anyhow::{anyhow, Result};
use latchkey_application::Clock as _;
use latchkey_domain::claims::format_timestamp as ts;
use latchkey_storage::Store;
use serde_json::json;
use std::process::ExitCode;

pub async fn run(command: KeysCommand) -> Result<ExitCode> {
    match command {
        KeysCommand::Rotate { realm, db } => {
            let master = db.master_key()?;
            let store = db.open().await?;
            let realm_id = realm_id(store.as_ref(), &realm).await?;
            let mut algs: Vec<String> = Vec::new();
            for k in store
                .realm_keys(&realm_id)
                .await
                .map_err(|e| anyhow!("{e}"))?
            {
                if !algs.contains(&k.alg) {
                    algs.push(k.alg);
                }
            }
            let keys = latchkey_application::keys::generate(
                algs,
                latchkey_application::SystemClock.now(),
                &master,
            )
            .await
            .map_err(|e| anyhow!(e))?;
            for k in keys {
                println!("new {} key {}", k.alg, k.kid);
                store
                    .add_key(&realm_id, k)
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
            }
            println!("realm '{realm}' now signs with the new keys (servers on SQLite pick them up within 30 s)");
        }
        KeysCommand::List { realm, output, db } => {
            let store = db.open().await?;
            let realm_id = realm_id(store.as_ref(), &realm).await?;
            // Stored oldest first; the newest active key of an algorithm signs (as the realm
            // cache loads them), the others stay published for the tokens they signed.
            let keys = store
                .realm_keys(&realm_id)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            let now = latchkey_application::SystemClock.now();
            // In force: signing from its creation on (a scheduled successor is made ahead).
            let in_force = |i: usize| keys[i].created_at <= now;
            let signs = |i: usize| {
                keys[i].active
                    && in_force(i)
                    && !keys[i + 1..]
                        .iter()
                        .any(|k| k.active && k.alg == keys[i].alg && k.created_at <= now)
            };
            let status = |i: usize| match (signs(i), keys[i].active, in_force(i)) {
                (true, _, _) => "signing",
                (false, true, false) => "next",
                (false, true, true) => "published",
                (false, false, _) => "retired",
            };
            if output == "json" {
                let list: Vec<_> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| {
                        json!({"kid": k.kid, "algorithm": k.alg, "status": status(i),
                               "created": ts(k.created_at), "sealed": k.sealed})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                let mut rows = vec![["kid", "algorithm", "status", "created", "at rest"]
                    .map(String::from)
                    .to_vec()];
                for (i, k) in keys.iter().enumerate() {
                    rows.push(vec![
                        k.kid.clone(),
                        k.alg.clone(),
                        status(i).into(),
                        ts(k.created_at),
                        if k.sealed { "sealed" } else { "clear" }.into(),
                    ]);
                }
                print!("{}", crate::table::render(&rows));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn realm_id(store: &dyn Store, realm: &str) -> Result<String> {
    Ok(store
        .realm_by_name(realm)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("realm '{realm}' does not exist"))?
        .id)
}
