//! Realm signing keys at rest: generated and sealed under the master key (AES-256-GCM, as the
//! client secrets are), opened when a realm is loaded. A copy of the database without the
//! master key holds no usable key. Stores written before keys were sealed are sealed by the
//! server's first start ([`seal_at_rest`]); until then a clear key still loads.

use latchkey_crypto::secrets::MasterKey;
use latchkey_crypto::{HmacKey, SigningKey};
use latchkey_domain::keycloak::access::KEY_PROVIDER;
use latchkey_domain::keycloak::{ComponentRepresentation, RealmRepresentation};
use latchkey_domain::realm::SigningAlg;
use latchkey_storage::{RealmRepository, StoreError, StoredKey};

/// The `alg` a stored key has when it is published for encryption only.
pub const ENCRYPTION_ALG: &str = "RSA-OAEP";
/// The `alg` of the realm's refresh-token key.
pub const HMAC_ALG: &str = "HS512";

/// The keys Keycloak gives a new realm: RSA signing (RS256), RSA encryption (published only)
/// and the HMAC key of refresh tokens. A key for another algorithm is made when a realm or
/// client first asks for it (the realm cache).
pub fn default_algorithms() -> Vec<String> {
    vec![
        SigningAlg::RS256.to_string(),
        ENCRYPTION_ALG.into(),
        HMAC_ALG.into(),
    ]
}

/// Generates a fresh key for each of `algs` (as stored: `RS256`, `ES256`, `EdDSA`,
/// `RSA-OAEP`, `HS512`), sealed.
pub async fn generate(
    algs: Vec<String>,
    now: i64,
    master: &MasterKey,
) -> Result<Vec<StoredKey>, String> {
    let clear = tokio::task::spawn_blocking(move || {
        let mut keys = Vec::new();
        for alg in algs {
            if alg == HMAC_ALG {
                let (h, secret) = HmacKey::generate();
                keys.push((h.kid.clone(), alg, secret));
                continue;
            }
            let sign = if alg == ENCRYPTION_ALG {
                SigningAlg::RS256
            } else {
                alg.parse().map_err(|e: String| e)?
            };
            let (k, der) = SigningKey::generate(sign).map_err(|e| e.to_string())?;
            let kid = k.keycloak_kid().unwrap_or(k.kid);
            keys.push((kid, alg, der));
        }
        Ok::<_, String>(keys)
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(clear
        .into_iter()
        .map(|(kid, alg, material)| sealed(kid, alg, &material, now, true, master))
        .collect())
}

fn sealed(
    kid: String,
    alg: String,
    material: &[u8],
    now: i64,
    active: bool,
    master: &MasterKey,
) -> StoredKey {
    StoredKey {
        kid,
        alg,
        material: master.encrypt(material),
        created_at: now,
        active,
        sealed: true,
    }
}

/// The realm's keys from the key providers of its export (`components`), so that tokens
/// Keycloak signed keep verifying and the JWKS keeps its `kid`s; a key of each kind the export
/// lacks is generated. Also returns what was not taken, a line each, and how many of the keys
/// (the first ones) came from the export.
pub async fn from_components(
    rep: &RealmRepresentation,
    now: i64,
    master: &MasterKey,
) -> Result<(Vec<StoredKey>, Vec<String>, usize), String> {
    let mut providers: Vec<&ComponentRepresentation> = rep
        .components
        .as_ref()
        .and_then(|c| c.get(KEY_PROVIDER))
        .map(|l| l.iter().collect())
        .unwrap_or_default();
    // Keycloak signs with the active key of highest priority (ties: the smaller id); stored
    // keys load oldest first and the last active one of an algorithm signs.
    let priority = |c: &ComponentRepresentation| -> i64 {
        c.get("priority").and_then(|p| p.parse().ok()).unwrap_or(0)
    };
    providers.sort_by(|a, b| priority(a).cmp(&priority(b)).then_with(|| b.id.cmp(&a.id)));
    let mut keys = Vec::new();
    let mut notes = Vec::new();
    for c in providers {
        let name = c
            .name
            .as_deref()
            .or(c.provider_id.as_deref())
            .unwrap_or("?");
        if c.get("enabled") == Some("false") {
            continue;
        }
        match imported(c) {
            Ok(Some((kid, alg, material))) => {
                let active = c.get("active") != Some("false");
                keys.push(sealed(kid, alg, &material, now, active, master));
            }
            Ok(None) => {}
            Err(why) => notes.push(format!("key provider '{name}': {why}")),
        }
    }
    let imported = keys.len();
    let mut wanted = default_algorithms();
    wanted.retain(|alg| !keys.iter().any(|k| &k.alg == alg && k.active));
    keys.extend(generate(wanted, now, master).await?);
    Ok((keys, notes, imported))
}

/// One provider's key as stored (`kid`, `alg`, clear material), `None` for providers that
/// hold no key latchkey uses, or why it is left out.
fn imported(c: &ComponentRepresentation) -> Result<Option<(String, String, Vec<u8>)>, String> {
    let provider = c.provider_id.as_deref().unwrap_or_default();
    let no_material = || {
        "holds no key material (a partial export): a new key is generated, and tokens signed \
         before the move will not verify"
            .to_string()
    };
    let asymmetric = |alg: SigningAlg, field: &str, stored: String| {
        let text = c.get(field).ok_or_else(no_material)?;
        let (pkcs8, key) = latchkey_crypto::keycloak_keys::private_key(alg, text, c.get("kid"))
            .map_err(|e| e.to_string())?;
        Ok(Some((key.kid, stored, pkcs8)))
    };
    match provider {
        "rsa-generated" | "rsa" | "rsa-enc-generated" | "rsa-enc" => {
            let enc = provider.contains("enc")
                || c.get("keyUse")
                    .is_some_and(|u| u.eq_ignore_ascii_case("enc"));
            let alg = c
                .get("algorithm")
                .unwrap_or(if enc { ENCRYPTION_ALG } else { "RS256" });
            match (enc, alg) {
                (false, "RS256") => asymmetric(SigningAlg::RS256, "privateKey", alg.into()),
                (true, ENCRYPTION_ALG) => asymmetric(SigningAlg::RS256, "privateKey", alg.into()),
                (_, other) => Err(format!(
                    "algorithm {other} is not served (RS256 signing, RSA-OAEP encryption)"
                )),
            }
        }
        "ecdsa-generated" => match c.get("ecdsaEllipticCurveKey").unwrap_or("P-256") {
            "P-256" => asymmetric(SigningAlg::ES256, "ecdsaPrivateKey", "ES256".into()),
            other => Err(format!("curve {other} is not served (ES256 on P-256)")),
        },
        "eddsa-generated" => match c.get("eddsaEllipticCurveKey").unwrap_or("Ed25519") {
            "Ed25519" => asymmetric(SigningAlg::EdDSA, "eddsaPrivateKey", "EdDSA".into()),
            other => Err(format!("curve {other} is not served (Ed25519)")),
        },
        "hmac-generated" | "hmac-generated-hs512" => {
            match c.get("algorithm").unwrap_or("HS256") {
                HMAC_ALG => {
                    let secret = c.get("secret").ok_or_else(no_material)?;
                    let bytes = latchkey_crypto::keycloak_keys::secret(secret)
                        .ok_or("its secret is not base64url")?;
                    let kid = c.get("kid").ok_or("it has no kid")?;
                    Ok(Some((kid.to_string(), HMAC_ALG.into(), bytes)))
                }
                _ => Ok(None), // an older HS256 key: refresh tokens use HS512
            }
        }
        "aes-generated" => Ok(None),
        other => Err(format!("provider type '{other}' is not served")),
    }
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

/// Makes the keys the realm's rotation schedule wants now (`latchkey.keyRotationPeriod`): for
/// each algorithm it signs with (the refresh-token HMAC key included, the published-only
/// encryption key not), a successor that is published now and starts signing later. Returns
/// the keys added.
pub async fn rotate_on_schedule(
    store: &dyn latchkey_storage::Store,
    realm: &latchkey_domain::Realm,
    now: i64,
    master: &MasterKey,
) -> Result<Vec<StoredKey>, StoreError> {
    use latchkey_domain::key_schedule::{due, KeyStamp, Schedule};
    let Some(schedule) = Schedule::of(realm) else {
        return Ok(Vec::new());
    };
    let stored = store.realm_keys(&realm.id).await?;
    let stamps: Vec<KeyStamp> = stored
        .iter()
        .map(|k| KeyStamp {
            alg: k.alg.clone(),
            created_at: k.created_at,
            active: k.active,
        })
        .collect();
    let mut algs: Vec<&str> = Vec::new();
    for k in &stored {
        if k.active && k.alg != ENCRYPTION_ALG && !algs.contains(&k.alg.as_str()) {
            algs.push(&k.alg);
        }
    }
    let mut added = Vec::new();
    for (alg, starts) in due(schedule, &stamps, &algs, now) {
        let keys = generate(vec![alg], starts, master)
            .await
            .map_err(StoreError::Corrupt)?;
        for k in keys {
            store.add_key(&realm.id, k.clone()).await?;
            added.push(k);
        }
    }
    Ok(added)
}
