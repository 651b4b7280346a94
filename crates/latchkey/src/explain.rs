//! `latchkey explain TOKEN`: decodes a token latchkey issued and says in plain words whether it
//! is valid now and, if not, exactly why. Works against the store, server running or not.

use crate::store::DbArgs;
use anyhow::{anyhow, bail, Result};
use latchkey_application::realms::{RealmCache, RealmContext};
use latchkey_application::Clock as _;
use latchkey_crypto::jws;
use latchkey_domain::claims::format_timestamp as ts;
use latchkey_domain::policy::{self, RefreshDecision, RefreshPolicy, RefreshRequest};
use latchkey_storage::Store;
use serde_json::{Map, Value};
use std::fmt::Write;
use std::process::ExitCode;
use std::sync::Arc;

pub async fn explain(db: &DbArgs, token: &str) -> Result<ExitCode> {
    let token = token.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token);
    let parsed = jws::parse(token).map_err(|e| anyhow!("cannot read this token: {e}"))?;
    let claims = parsed.claims.clone();
    let get = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let iss = get("iss");
    let realm_name = iss
        .rsplit_once("/realms/")
        .map(|(_, r)| r.to_string())
        .ok_or_else(|| {
            anyhow!("cannot read this token: its issuer '{iss}' is not a latchkey realm URL")
        })?;
    let master = std::sync::Arc::new(db.master_key()?);
    let store = db.open().await?;
    let cache = RealmCache::new(
        store.clone(),
        std::sync::Arc::new(latchkey_application::SystemClock),
        master,
    );
    let Some(ctx) = cache
        .get(&realm_name, || iss.clone())
        .await
        .map_err(|e| anyhow!("{e}"))?
    else {
        bail!(
            "cannot judge this token: realm '{realm_name}' does not exist in {}",
            db.db
        );
    };
    let now = latchkey_application::SystemClock.now();
    let mut out = String::new();
    let typ = get("typ");
    let alg = parsed.alg().to_string();
    let kid = parsed.kid().unwrap_or("").to_string();
    writeln!(
        out,
        "Token type:  {} ({alg}, key {kid})",
        if typ.is_empty() { "unknown" } else { &typ }
    )?;
    writeln!(out, "Realm:       {realm_name} (issuer {iss})")?;
    writeln!(out, "Client:      {}", get("azp"))?;
    writeln!(
        out,
        "Subject:     {}{}",
        get("sub"),
        user_suffix(&store, &ctx, &get("sub")).await
    )?;
    if !get("sid").is_empty() {
        writeln!(out, "Session:     {}", get("sid"))?;
    }
    writeln!(out, "Token id:    {}", get("jti"))?;
    writeln!(out, "Scope:       {}", get("scope"))?;
    if let Some(iat) = claims.get("iat").and_then(Value::as_i64) {
        writeln!(out, "Issued:      {}", ts(iat))?;
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) => writeln!(out, "Expires:     {}", ts(exp))?,
        None => writeln!(
            out,
            "Expires:     no exp claim (offline token without a maximum lifespan)"
        )?,
    }

    let verdict = if alg == "HS512" {
        match latchkey_application::issued::refresh::<Map<String, Value>>(&ctx, token) {
            Err(e) => Err(e),
            Ok(_) => refresh_verdict(&store, &ctx, &claims, now, &mut out).await?,
        }
    } else {
        match latchkey_application::access::validate(&ctx, store.as_ref(), token, now).await {
            Ok(_) => Ok(()),
            Err(latchkey_application::access::Invalid::Reason(r)) => Err(r),
            Err(latchkey_application::access::Invalid::Store(e)) => bail!("{e}"),
        }
    };
    match verdict {
        Ok(()) => writeln!(out, "\nVERDICT: VALID now ({}).", ts(now))?,
        Err(why) => writeln!(out, "\nVERDICT: NOT VALID — {why}")?,
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

async fn user_suffix(store: &Arc<dyn Store>, ctx: &RealmContext, sub: &str) -> String {
    match store.user_by_id(&ctx.realm.id, sub).await {
        Ok(Some(u)) => format!(
            " (user '{}'{})",
            u.username,
            if u.enabled { "" } else { ", disabled" }
        ),
        Ok(None) => " (no such user)".into(),
        Err(_) => String::new(),
    }
}

async fn refresh_verdict(
    store: &Arc<dyn Store>,
    ctx: &RealmContext,
    claims: &Map<String, Value>,
    now: i64,
    out: &mut String,
) -> Result<Result<(), String>> {
    let get = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let Some(client) = ctx.client(&get("azp")) else {
        return Ok(Err(format!(
            "client '{}' no longer exists in realm '{}'",
            get("azp"),
            ctx.realm.name
        )));
    };
    let Some(st) = store
        .refresh_state(&get("jti"))
        .await
        .map_err(|e| anyhow!("{e}"))?
    else {
        return Ok(Err("this store has no record of the token: it was issued by another store, or its records were removed".into()));
    };
    let p = RefreshPolicy::for_client(&ctx.realm, client);
    writeln!(
        out,
        "Policy:      rotation {}, grace period {} s, reuse detection {}, max reuse {}",
        if p.rotate { "on" } else { "off" },
        p.grace_seconds,
        if p.reuse_detection { "on" } else { "off" },
        p.max_reuse
    )?;
    let s = &st.session;
    writeln!(
        out,
        "Session:     {} session started {}, last refresh {}{}",
        if s.offline { "offline" } else { "online" },
        ts(s.started_at),
        ts(s.last_refresh),
        s.ended_at
            .map(|e| format!(
                ", ended {} ({})",
                ts(e),
                s.end_reason.clone().unwrap_or_default()
            ))
            .unwrap_or_default()
    )?;
    for d in policy::deadlines(&ctx.realm, client, &st.session, &st.client_session) {
        writeln!(
            out,
            "Limit:       {} of {} s → {}",
            d.limit,
            d.seconds,
            ts(d.at)
        )?;
    }
    if let Some(parent) = &st.record.parent_jti {
        writeln!(out, "Rotated from: {parent}")?;
    }
    if let Some(at) = st.record.rotated_at {
        let into = st.record.successor_jti.as_deref().unwrap_or("");
        let current = st
            .client_session
            .current_jti
            .as_deref()
            .unwrap_or("unknown");
        let standing = if p.grace_seconds <= 0 {
            "no grace period".to_string()
        } else if current == into {
            format!(
                "the current token's immediate predecessor: grace until {}",
                ts(at.saturating_add(p.grace_seconds))
            )
        } else {
            format!("not the current token's immediate predecessor (current: {current}): no grace")
        };
        writeln!(out, "Rotated:     at {} into {into} ({standing})", ts(at))?;
    }
    if let Some(at) = st.client_session.revoked_at {
        writeln!(
            out,
            "Family:      revoked at {} ({})",
            ts(at),
            st.client_session.revoke_reason.clone().unwrap_or_default()
        )?;
    }
    let outages = store.outages().await.map_err(|e| anyhow!("{e}"))?;
    let req = RefreshRequest {
        realm: &ctx.realm,
        client,
        now,
        new_jti: "(next)".into(),
        scope: st.record.scope.clone(),
        outages: &outages,
    };
    Ok(match policy::decide_refresh(&req, &st) {
        RefreshDecision::Issue { .. } => Ok(()),
        RefreshDecision::Replay { successor } => {
            writeln!(
                out,
                "Note:        within the grace period; presenting it again returns successor {}",
                successor.jti
            )?;
            Ok(())
        }
        RefreshDecision::Reject(rejection) => Err(rejection.prospect()),
    })
}
