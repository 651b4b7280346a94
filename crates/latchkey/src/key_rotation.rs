//! The background task that keeps realms' signing keys on their schedule
//! (`latchkey.keyRotationPeriod`, see `latchkey_domain::key_schedule`): every `every`, each
//! realm that has one gets the successors that are due, published now, signing later.

use latchkey_application::Clock as _;
use latchkey_protocol::AppState;
use std::sync::Arc;
use std::time::Duration;

pub fn spawn(state: Arc<AppState>, every: Duration) {
    crate::purge::periodic(every, move || {
        let state = state.clone();
        async move {
            if let Err(e) = sweep(&state).await {
                tracing::warn!(error = %e, "scheduled key rotation failed; will retry at the next sweep");
            }
        }
    });
}

async fn sweep(state: &AppState) -> latchkey_storage::Result<()> {
    for name in state.store.realm_names().await? {
        let Some(realm) = state.store.realm_by_name(&name).await? else {
            continue;
        };
        let now = latchkey_application::SystemClock.now();
        let added = latchkey_application::keys::rotate_on_schedule(
            state.store.as_ref(),
            &realm,
            now,
            &state.master_key,
        )
        .await?;
        for k in &added {
            tracing::info!(
                realm = %name,
                alg = %k.alg,
                kid = %k.kid,
                signs_from = %latchkey_domain::claims::format_timestamp(k.created_at),
                "published the next signing key of the realm's rotation schedule"
            );
        }
        if !added.is_empty() {
            state.realms.invalidate(&name);
        }
    }
    Ok(())
}
