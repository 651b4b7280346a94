//! `latchkey export --realm X`: the realm as Keycloak realm-export JSON, read from the store
//! (server running or not). `--import-realm` reads it back unchanged: ids are kept, password
//! hashes travel as Keycloak credentials, client secrets only with `--include-secrets`.

use anyhow::{anyhow, Result};
use latchkey_crypto::secrets::MasterKey;
use latchkey_domain::keycloak::access::KEY_PROVIDER;
use latchkey_domain::keycloak::{
    ComponentRepresentation, CredentialRepresentation, RealmRepresentation, RoleRepresentation,
};
use latchkey_storage::{Store, UserQuery};

/// The realm's keys as Keycloak's key providers, with their material (PKCS#8, base64) and
/// `kid`s, so that an import elsewhere signs with the same keys. Later keys get higher
/// priorities: the import makes the last active key of each algorithm the signing one.
async fn key_providers(
    store: &dyn Store,
    master: &MasterKey,
    realm_id: &str,
) -> Result<Vec<ComponentRepresentation>> {
    use base64::Engine;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let mut out = Vec::new();
    for (i, k) in store
        .realm_keys(realm_id)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .into_iter()
        .enumerate()
    {
        let material = latchkey_application::keys::open(master, &k).map_err(|e| anyhow!("{e}"))?;
        let (provider, field, extra): (&str, &str, &[(&str, &str)]) = match k.alg.as_str() {
            "RS256" => ("rsa", "privateKey", &[]),
            "RSA-OAEP" => ("rsa-enc", "privateKey", &[("keyUse", "enc")]),
            "ES256" => (
                "ecdsa-generated",
                "ecdsaPrivateKey",
                &[("ecdsaEllipticCurveKey", "P-256")],
            ),
            "EdDSA" => (
                "eddsa-generated",
                "eddsaPrivateKey",
                &[("eddsaEllipticCurveKey", "Ed25519")],
            ),
            _ => ("hmac-generated-hs512", "secret", &[]),
        };
        let value = if provider.starts_with("hmac") {
            latchkey_crypto::b64url(&material)
        } else {
            b64(&material)
        };
        let mut config: std::collections::BTreeMap<String, Vec<String>> = [
            (field, value),
            ("kid", k.kid.clone()),
            ("algorithm", k.alg.clone()),
            ("priority", (100 + i).to_string()),
            ("active", k.active.to_string()),
            ("enabled", "true".to_string()),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), vec![b]))
        .collect();
        for (a, b) in extra {
            config.insert(a.to_string(), vec![b.to_string()]);
        }
        out.push(ComponentRepresentation {
            name: Some(format!("{provider}-{}", i + 1)),
            provider_id: Some(provider.to_string()),
            config,
            ..Default::default()
        });
    }
    Ok(out)
}

pub async fn realm(
    store: &dyn Store,
    master: Option<&MasterKey>,
    name: &str,
) -> Result<RealmRepresentation> {
    let realm = store
        .realm_by_name(name)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("realm '{name}' does not exist"))?;
    let mut rep = realm.to_representation();
    let clients = store.clients(&realm.id).await.map_err(|e| anyhow!("{e}"))?;
    let mut roles = rep.roles.take().unwrap_or_default();
    let mut client_reps = Vec::new();
    for c in &clients {
        // Roles stored with the client before roles carried composites.
        let defs = roles.client.entry(c.client_id.clone()).or_default();
        for r in &c.client_roles {
            if !defs.iter().any(|d| &d.name == r) {
                defs.push(RoleRepresentation::named(r));
            }
        }
        let mut cr = c.to_representation();
        if let (Some(master), Some(secret)) = (master, &c.secret) {
            cr.secret = master
                .decrypt(&secret.encrypted)
                .and_then(|b| String::from_utf8(b).ok());
            if cr.secret.is_none() {
                return Err(anyhow!(
                    "the secret of client '{}' cannot be decrypted with this master key",
                    c.client_id
                ));
            }
        }
        client_reps.push(cr);
    }
    let q = UserQuery {
        max: i64::MAX / 2,
        service_accounts: true,
        ..Default::default()
    };
    let mut user_reps = Vec::new();
    for u in store
        .users(&realm.id, q)
        .await
        .map_err(|e| anyhow!("{e}"))?
    {
        let mut ur = u.to_representation();
        let hash = store
            .user_by_username(&realm.id, &u.username)
            .await
            .map_err(|e| anyhow!("{e}"))?
            .and_then(|w| w.password_hash);
        if let Some((secret_data, credential_data)) = hash
            .as_deref()
            .and_then(latchkey_crypto::password::export_keycloak)
        {
            ur.credentials = Some(vec![CredentialRepresentation {
                kind: Some("password".into()),
                secret_data: Some(secret_data),
                credential_data: Some(credential_data),
                ..Default::default()
            }]);
        }
        user_reps.push(ur);
    }
    roles.client.retain(|_, defs| !defs.is_empty());
    rep.roles = Some(roles);
    if let Some(master) = master {
        let keys = key_providers(store, master, &realm.id).await?;
        rep.components
            .get_or_insert_with(Default::default)
            .insert(KEY_PROVIDER.to_string(), keys);
    }
    rep.clients = Some(client_reps);
    rep.users = Some(user_reps);
    Ok(rep)
}
