//! Realm configuration cached in memory: the realm, its parsed keys and its clients. Loaded
//! from the store on first use; `invalidate` drops an entry after a change.

use crate::clock::Clock;
use latchkey_crypto::secrets::MasterKey;
use latchkey_crypto::{HmacKey, SigningKey};
use latchkey_domain::model::RealmModel;
use latchkey_domain::realm::SigningAlg;
use latchkey_domain::{Client, Realm};
use latchkey_storage::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A realm's keys, parsed once.
pub struct RealmKeys {
    /// The active key per algorithm (the newest).
    pub active: HashMap<SigningAlg, Arc<SigningKey>>,
    /// Every key that may still verify (published in the JWKS).
    pub all: Vec<Arc<SigningKey>>,
    /// Keys published for encryption only (Keycloak's `rsa-enc` provider); never used.
    pub encryption: Vec<Arc<SigningKey>>,
    pub hmac_active: Arc<HmacKey>,
    pub hmac_all: Vec<Arc<HmacKey>>,
    /// When a key made ahead of its time starts signing: the cache reloads the realm then.
    pub next_activation: Option<i64>,
}

impl RealmKeys {
    pub fn signing(&self, alg: SigningAlg) -> Option<&Arc<SigningKey>> {
        self.active.get(&alg)
    }
    pub fn by_kid(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.all.iter().find(|k| k.kid == kid)
    }
    pub fn hmac_by_kid(&self, kid: &str) -> Option<&Arc<HmacKey>> {
        self.hmac_all.iter().find(|k| k.kid == kid)
    }
}

pub struct RealmContext {
    /// When this entry was read from the store.
    pub loaded: std::time::Instant,
    pub realm: Realm,
    /// The realm's roles, groups, client scopes and mappers, compiled.
    pub model: RealmModel,
    pub keys: RealmKeys,
    pub clients: HashMap<String, Arc<Client>>,
    pub issuer: String,
}

impl RealmContext {
    pub fn client(&self, client_id: &str) -> Option<&Arc<Client>> {
        self.clients.get(client_id)
    }
}

/// How long a cached realm is trusted without a change notification. Changes through this node
/// invalidate at once; PostgreSQL notifies every node at once; this bounds what else may happen
/// (a CLI writing to a SQLite store the server also uses).
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

pub struct RealmCache {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    master: Arc<MasterKey>,
    entries: RwLock<HashMap<String, Arc<RealmContext>>>,
}

impl RealmCache {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, master: Arc<MasterKey>) -> RealmCache {
        RealmCache {
            store,
            clock,
            master,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub fn invalidate_all(&self) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    pub fn invalidate(&self, realm: &str) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(realm);
    }

    /// The realm by name, or `None` when it does not exist.
    pub async fn get(
        &self,
        name: &str,
        issuer: impl FnOnce() -> String,
    ) -> Result<Option<Arc<RealmContext>>, StoreError> {
        if let Some(ctx) = self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .filter(|c| c.loaded.elapsed() < CACHE_TTL)
            .filter(|c| c.keys.next_activation.is_none_or(|t| self.clock.now() < t))
        {
            return Ok(Some(ctx.clone()));
        }
        let Some(realm) = self.store.realm_by_name(name).await? else {
            return Ok(None);
        };
        let clients: HashMap<String, Arc<Client>> = self
            .store
            .clients(&realm.id)
            .await?
            .into_iter()
            .map(|c| (c.client_id.clone(), Arc::new(c)))
            .collect();
        // A retired key stays published while tokens it signed may still be valid.
        let longest = clients
            .values()
            .filter_map(|c| c.access_token_lifespan())
            .chain([realm.access_token_lifespan])
            .max()
            .unwrap_or(0);
        let mut stored = self.store.realm_keys(&realm.id).await?;
        // As Keycloak does, a signing algorithm the realm or a client asks for and no key
        // serves gets a key of its own at first use.
        let missing: Vec<String> = needed_algorithms(&realm, clients.values())
            .into_iter()
            .filter(|alg| !stored.iter().any(|k| k.active && k.alg == *alg))
            .collect();
        if !missing.is_empty() {
            let fresh = crate::keys::generate(missing, self.clock.now(), &self.master)
                .await
                .map_err(StoreError::Corrupt)?;
            for k in fresh {
                tracing::info!(realm = %realm.name, alg = %k.alg, kid = %k.kid, "generated a signing key the realm's settings ask for");
                self.store.add_key(&realm.id, k).await?;
            }
            stored = self.store.realm_keys(&realm.id).await?;
        }
        let keys = load_keys(stored, longest + 60, self.clock.now(), &self.master)?;
        let all: Vec<&Client> = clients.values().map(Arc::as_ref).collect();
        let model = RealmModel::build(&realm.access, &all)
            .map_err(|e| StoreError::Corrupt(format!("realm '{}': {e}", realm.name)))?;
        let ctx = Arc::new(RealmContext {
            loaded: std::time::Instant::now(),
            model,
            realm,
            keys,
            clients,
            issuer: issuer(),
        });
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), ctx.clone());
        Ok(Some(ctx))
    }
}

/// The signing algorithms of a realm's tokens: its default and each client's choices.
fn needed_algorithms<'a>(
    realm: &Realm,
    clients: impl Iterator<Item = &'a Arc<Client>>,
) -> Vec<String> {
    let mut out = vec![realm.default_signature_algorithm.to_string()];
    for c in clients {
        for key in [
            "access.token.signed.response.alg",
            "id.token.signed.response.alg",
            "user.info.response.signature.alg",
        ] {
            if let Some(a) = c.attribute(key).and_then(|a| a.parse::<SigningAlg>().ok()) {
                if !out.contains(&a.to_string()) {
                    out.push(a.to_string());
                }
            }
        }
    }
    out
}

/// Parses the stored keys. The newest key of each algorithm signs; an older one is kept (for
/// verification and in the JWKS) until `retention` seconds after its successor was created.
fn load_keys(
    stored: Vec<latchkey_storage::StoredKey>,
    retention: i64,
    now: i64,
    master: &MasterKey,
) -> Result<RealmKeys, StoreError> {
    let mut successor_created: HashMap<String, i64> = HashMap::new();
    let stored: Vec<_> = {
        // Keys arrive oldest first; a key's successor is the next key of the same algorithm.
        let mut kept = Vec::new();
        for k in stored.iter().rev() {
            let succ = successor_created.get(&k.alg).copied();
            successor_created.insert(k.alg.clone(), k.created_at);
            let retired_out = k.alg != "HS512" && succ.is_some_and(|t| now > t + retention);
            if !retired_out {
                kept.push(k.clone());
            }
        }
        kept.reverse();
        kept
    };
    let mut active = HashMap::new();
    let mut all = Vec::new();
    let mut hmac_all: Vec<Arc<HmacKey>> = Vec::new();
    // A key made ahead of its time is published (it verifies) but signs only from then.
    let mut hmac_active = None;
    let mut next_activation: Option<i64> = None;
    let mut encryption = Vec::new();
    for k in stored {
        let material = crate::keys::open(master, &k)?;
        let in_force = k.created_at <= now;
        if !in_force && k.active {
            next_activation = Some(next_activation.map_or(k.created_at, |t| t.min(k.created_at)));
        }
        if k.alg == crate::keys::HMAC_ALG {
            let key = Arc::new(HmacKey::from_secret(k.kid, &material));
            if in_force || hmac_active.is_none() {
                hmac_active = Some(key.clone());
            }
            hmac_all.push(key);
            continue;
        }
        let corrupt = |e: latchkey_crypto::KeyError| StoreError::Corrupt(e.to_string());
        if k.alg == crate::keys::ENCRYPTION_ALG {
            let key = SigningKey::from_pkcs8(SigningAlg::RS256, &material).map_err(corrupt)?;
            encryption.push(Arc::new(key.with_kid(k.kid).for_encryption(&k.alg)));
            continue;
        }
        let alg: SigningAlg = k.alg.parse().map_err(StoreError::Corrupt)?;
        let key = Arc::new(
            SigningKey::from_pkcs8(alg, &material)
                .map_err(corrupt)?
                .with_kid(k.kid),
        );
        if k.active && (in_force || !active.contains_key(&alg)) {
            // Stored oldest first: the newest active key in force of each algorithm wins.
            active.insert(alg, key.clone());
        }
        all.push(key);
    }
    let hmac_active =
        hmac_active.ok_or_else(|| StoreError::Corrupt("realm has no HMAC key".into()))?;
    Ok(RealmKeys {
        active,
        all,
        encryption,
        hmac_active,
        hmac_all,
        next_activation,
    })
}
