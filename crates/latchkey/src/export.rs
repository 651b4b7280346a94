//! `latchkey export --realm X`: the realm as Keycloak realm-export JSON, read from the store
//! (server running or not). `--import-realm` reads it back unchanged: ids are kept, password
//! hashes travel as Keycloak credentials, client secrets only with `--include-secrets`.

use anyhow::{anyhow, Result};
use latchkey_crypto::secrets::MasterKey;
use latchkey_domain::keycloak::{
    CredentialRepresentation, RealmRepresentation, RoleRepresentation,
};
use latchkey_storage::{Store, UserQuery};

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
    rep.clients = Some(client_reps);
    rep.users = Some(user_reps);
    Ok(rep)
}
