//! Building a realm from Keycloak's representation: its keys, its clients (with Keycloak's
//! built-in `admin-cli`), its users and the service-account users of its clients.
//! Used by `--import-realm`, the bootstrap admin and the admin API alike.

use crate::hashing::PasswordPool;
use latchkey_crypto::secrets::{self, MasterKey};
use latchkey_domain::client::StoredSecret;
use latchkey_domain::keycloak::{ClientRepresentation, UserRepresentation};
use latchkey_domain::{Client, Realm, User};
use latchkey_storage::{StoreError, UserRepository, UserWithCredential};

mod realm;
pub mod report;
pub use realm::{realm, Provisioned};

/// A new identifier for a stored record: a UUIDv7, whose time-ordered prefix makes every new
/// row land at the right edge of its index, so a batch of refreshes dirties a handful of pages
/// instead of one random page each (it mattered: random v4 keys doubled the WAL written per
/// commit). The 74 random bits keep it unguessable enough for an identifier (it is never a secret).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Keycloak refuses a role mapping to a realm role the realm does not define.
pub fn roles_defined(realm: &Realm, user: &User) -> Result<(), String> {
    match user
        .realm_roles
        .iter()
        .find(|r| !realm.realm_roles.contains(r))
    {
        Some(r) => Err(format!(
            "realmRoles: realm '{}' has no role '{r}': define it under the realm's roles.realm first",
            realm.name
        )),
        None => Ok(()),
    }
}

/// What Keycloak gives a new client its representation leaves out: the realm's default and
/// optional OpenID Connect client scopes (a service-account client the `service_account` scope
/// too), and web origins from its `http(s)` redirect URIs.
pub fn with_realm_scopes(realm: &Realm, rep: &ClientRepresentation) -> ClientRepresentation {
    let mut rep = rep.clone();
    let a = &realm.access;
    let oidc = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .filter(|n| a.client_scopes.iter().any(|s| &s.name == *n && s.is_oidc()))
            .cloned()
            .collect()
    };
    if rep.web_origins.is_none() {
        let mut origins: Vec<String> = Vec::new();
        for uri in rep.redirect_uris.iter().flatten() {
            let http = uri.starts_with("http://") || uri.starts_with("https://");
            if let Some(o) = latchkey_domain::client::origin_of(uri).filter(|_| http) {
                if !origins.contains(&o) {
                    origins.push(o);
                }
            }
        }
        if !origins.is_empty() {
            rep.web_origins = Some(origins);
        }
    }
    if rep.default_client_scopes.is_none() {
        let mut list = oidc(&a.default_default_client_scopes);
        let sa = "service_account";
        if rep.service_accounts_enabled == Some(true)
            && a.client_scopes.iter().any(|s| s.name == sa)
            && !list.iter().any(|s| s == sa)
        {
            list.push(sa.to_string());
        }
        rep.default_client_scopes = Some(list);
    }
    if rep.optional_client_scopes.is_none() {
        rep.optional_client_scopes = Some(oidc(&a.default_optional_client_scopes));
    }
    rep
}

/// Gives a user the realm's default role, as Keycloak does to every user it creates (but not
/// to users it imports).
pub fn grant_default_role(realm: &Realm, user: &mut User) {
    let role = realm.default_role();
    if !user.realm_roles.contains(&role) {
        user.realm_roles.insert(0, role);
    }
}

/// How Keycloak's partial export writes every client secret.
pub const MASKED_SECRET: &str = "**********";

/// A client from its representation, with its secret sealed. Returns the plain secret when
/// one was generated.
pub fn client(
    realm: &Realm,
    rep: &ClientRepresentation,
    roles: Vec<String>,
    master: &MasterKey,
) -> Result<Client, String> {
    let id = rep
        .id
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(new_id);
    let rep = &with_realm_scopes(realm, rep);
    let mut c = Client::from_representation(id, realm.id.clone(), rep, roles)?;
    if c.is_confidential() {
        // A partial export from Keycloak masks every secret; the mask is nobody's secret (the
        // import's report says so).
        let masked = rep.secret.as_deref() == Some(MASKED_SECRET);
        let secret = rep
            .secret
            .clone()
            .filter(|s| !s.is_empty() && !masked)
            .unwrap_or_else(secrets::generate);
        c.secret = Some(StoredSecret {
            digest: secrets::digest(&secret),
            encrypted: master.encrypt(secret.as_bytes()),
        });
    }
    Ok(c)
}

/// A user from its representation, with its password hashed (or Keycloak's hash imported).
pub async fn user(
    realm: &Realm,
    rep: &UserRepresentation,
    passwords: &PasswordPool,
    now: i64,
) -> Result<UserWithCredential, String> {
    let id = rep
        .id
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(new_id);
    let user = User::from_representation(id, realm.id.clone(), rep, now)?;
    roles_defined(realm, &user)?;
    let mut password_hash = None;
    for (i, cred) in rep.credentials.iter().flatten().enumerate() {
        match cred.kind.as_deref().unwrap_or("password") {
            "password" => {}
            other => {
                tracing::warn!(user = %user.username, "credentials[{i}]: type '{other}' is not supported; ignored");
                continue;
            }
        }
        if let Some(v) = cred.value.as_deref() {
            password_hash = Some(
                passwords
                    .hash(v.to_string())
                    .await
                    .map_err(|e| format!("credentials[{i}]: {e}"))?,
            );
        } else if let (Some(s), Some(c)) =
            (cred.secret_data.as_deref(), cred.credential_data.as_deref())
        {
            password_hash = Some(
                latchkey_crypto::password::import_keycloak(s, c)
                    .map_err(|e| format!("credentials[{i}]: {e}"))?,
            );
        } else {
            return Err(format!("credentials[{i}]: a password credential needs 'value' or 'secretData' and 'credentialData'"));
        }
    }
    Ok(UserWithCredential {
        user,
        password_hash,
    })
}

/// The `service-account-<clientId>` user Keycloak creates with a service-account client.
pub fn service_account_user(realm: &Realm, c: &Client, now: i64) -> UserWithCredential {
    let rep = UserRepresentation {
        username: c.service_account_username(),
        enabled: Some(true),
        service_account_client_id: Some(c.client_id.clone()),
        ..Default::default()
    };
    let mut user = User::from_representation(new_id(), realm.id.clone(), &rep, now)
        .expect("valid service account user");
    grant_default_role(realm, &mut user);
    UserWithCredential {
        user,
        password_hash: None,
    }
}

/// A client's service-account user: the stored one, else created now (`shape` adjusts it
/// first, e.g. an admin client's roles). Clients that switched service accounts on after their
/// creation get theirs at first use; two nodes creating it at once end with the one stored.
/// The flag says whether this call created it.
pub async fn ensure_service_account(
    store: &dyn UserRepository,
    realm: &Realm,
    client: &Client,
    now: i64,
    shape: impl FnOnce(&mut User),
) -> Result<(User, bool), StoreError> {
    let username = client.service_account_username();
    if let Some(found) = store.user_by_username(&realm.id, &username).await? {
        return Ok((found.user, false));
    }
    let mut account = service_account_user(realm, client, now);
    shape(&mut account.user);
    let created = match store.create_user(account.clone()).await {
        Ok(()) => true,
        Err(StoreError::Conflict(_)) => false,
        Err(e) => return Err(e),
    };
    let stored = store.user_by_username(&realm.id, &username).await?;
    Ok((stored.map_or(account.user, |u| u.user), created))
}
