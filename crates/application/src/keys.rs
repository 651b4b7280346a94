//! Realm signing keys at rest: generated and sealed under the master key (AES-256-GCM, as the
//! client secrets are), opened when a realm is loaded. A copy of the database without the
//! master key holds no usable key. Stores written before keys were sealed are sealed by the
//! server's first start ([`seal_at_rest`]); until then a clear key still loads.

use latchkey_crypto::secrets::MasterKey;
use latchkey_crypto::{HmacKey, SigningKey};
use latchkey_domain::realm::SigningAlg;
use latchkey_storage::{RealmRepository, StoreError, StoredKey};

/// Generates a fresh key of every algorithm plus the HMAC key for refresh tokens, sealed.
pub async fn generate(now: i64, master: &MasterKey) -> Result<Vec<StoredKey>, String> {
    let clear = tokio::task::spawn_blocking(move || {
        let mut keys = Vec::new();
        for alg in SigningAlg::ALL {
            let (k, der) = SigningKey::generate(alg).map_err(|e| e.to_string())?;
            keys.push((k.kid.clone(), alg.to_string(), der));
        }
        let (h, secret) = HmacKey::generate();
        keys.push((h.kid.clone(), "HS512".into(), secret));
        Ok::<_, String>(keys)
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(clear
        .into_iter()
        .map(|(kid, alg, material)| StoredKey {
            kid,
            alg,
            material: master.encrypt(&material),
            created_at: now,
            active: true,
            sealed: true,
        })
        .collect())
}

/// A stored key's clear material.
pub fn open(master: &MasterKey, key: &StoredKey) -> Result<Vec<u8>, StoreError> {
    if !key.sealed {
        return Ok(key.material.clone());
    }
    master.decrypt(&key.material).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "signing key {} cannot be opened with this master key: start latchkey with the \
             master key this store was created with (LATCHKEY_MASTER_KEY, or the \
             latchkey.master.key file that was beside the store)",
            key.kid
        ))
    })
}

/// What [`seal_at_rest`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Keys that were in the clear and are now sealed.
    pub sealed: usize,
    /// Keys that were sealed already and open with this master key.
    pub checked: usize,
}

/// Seals every key still stored in the clear and checks that every sealed key opens with
/// `master`: run at start, so a wrong master key stops the server with a clear message
/// instead of failing each realm's first request.
pub async fn seal_at_rest(
    store: &dyn RealmRepository,
    master: &MasterKey,
) -> Result<SealReport, StoreError> {
    let mut report = SealReport::default();
    for name in store.realm_names().await? {
        let Some(realm) = store.realm_by_name(&name).await? else {
            continue;
        };
        for key in store.realm_keys(&realm.id).await? {
            if key.sealed {
                open(master, &key).map_err(|e| in_realm(&name, e))?;
                report.checked += 1;
            } else if store
                .seal_key(&realm.id, &key.kid, master.encrypt(&key.material))
                .await?
            {
                report.sealed += 1;
            }
        }
    }
    Ok(report)
}

fn in_realm(realm: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::Corrupt(m) => StoreError::Corrupt(format!("realm '{realm}': {m}")),
        other => other,
    }
}
