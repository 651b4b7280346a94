//! The realm every store has and its first administrator, as Keycloak does it: realm `master`
//! (with the public client `admin-cli` and the roles `admin` and `create-realm`) exists from the
//! first start; `LATCHKEY_ADMIN_USERNAME` + `LATCHKEY_ADMIN_PASSWORD` at start, or
//! `latchkey bootstrap-admin` at any time, add an administrator to it.

use crate::store::DbArgs;
use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use latchkey_application::hashing::PasswordPool;
use latchkey_application::Clock as _;
use latchkey_crypto::password::HashParams;
use latchkey_crypto::secrets::MasterKey;
use latchkey_domain::keycloak::{
    ClientRepresentation, CredentialRepresentation, RealmRepresentation, RoleRepresentation,
    RolesRepresentation, UserRepresentation,
};
use latchkey_domain::Realm;
use latchkey_storage::{Store, UserQuery};
use std::process::ExitCode;

/// The roles an administrator holds in `master`.
const ADMIN_ROLES: [&str; 2] = ["admin", "create-realm"];

/// What creating the realm or an administrator needs.
pub struct Provisioning<'a> {
    pub store: &'a dyn Store,
    pub master_key: &'a MasterKey,
    pub passwords: &'a PasswordPool,
}

/// The bootstrap administrator named by the environment.
pub struct AdminCredentials {
    pub username: String,
    pub password: String,
}

/// `LATCHKEY_ADMIN_USERNAME` and `LATCHKEY_ADMIN_PASSWORD` (or their flags): both, or neither.
pub fn credentials(
    username: Option<String>,
    password: Option<String>,
) -> Result<Option<AdminCredentials>> {
    match (username, password) {
        (Some(username), Some(password)) => Ok(Some(AdminCredentials { username, password })),
        (None, None) => Ok(None),
        (Some(_), None) => bail!(
            "LATCHKEY_ADMIN_USERNAME is set but LATCHKEY_ADMIN_PASSWORD is not: set both to create the bootstrap admin user, or neither"
        ),
        (None, Some(_)) => bail!(
            "LATCHKEY_ADMIN_PASSWORD is set but LATCHKEY_ADMIN_USERNAME is not: set both to create the bootstrap admin user, or neither"
        ),
    }
}

/// The one line a server without an administrator logs at start.
pub const NO_ADMIN_HINT: &str = "realm 'master' has no admin user: restart with LATCHKEY_ADMIN_USERNAME and LATCHKEY_ADMIN_PASSWORD set, or run `latchkey bootstrap-admin user --username NAME` (password from LATCHKEY_ADMIN_PASSWORD or standard input)";

/// Realm `master`, created with `admin-cli` and the administrator roles if the store has none.
/// Returns the realm and whether it was created now.
pub async fn ensure_master(p: &Provisioning<'_>) -> Result<(Realm, bool)> {
    if let Some(realm) = p.store.realm_by_name("master").await.map_err(err)? {
        return Ok((realm, false));
    }
    let role = |n: &str| RoleRepresentation::named(n);
    let rep = RealmRepresentation {
        realm: "master".into(),
        display_name: Some("Keycloak".into()),
        roles: Some(RolesRepresentation {
            realm: ADMIN_ROLES.iter().map(|r| role(r)).collect(),
            client: Default::default(),
        }),
        ..Default::default()
    };
    let new = latchkey_application::provision::realm(
        &rep,
        p.master_key,
        p.passwords,
        latchkey_application::SystemClock.now(),
    )
    .await
    .map_err(|e| anyhow!("creating realm 'master': {e}"))?;
    let realm = new.new.realm.clone();
    match p.store.create_realm(new.new).await {
        Ok(()) => Ok((realm, true)),
        // Another node of a cluster created it at the same moment.
        Err(latchkey_storage::StoreError::Conflict(_)) => {
            let realm = p.store.realm_by_name("master").await.map_err(err)?;
            Ok((
                realm.ok_or_else(|| anyhow!("realm 'master' vanished"))?,
                false,
            ))
        }
        Err(e) => Err(anyhow!("creating realm 'master': {e}")),
    }
}

/// Whether `master` has an enabled user holding the `admin` role.
pub async fn has_admin(store: &dyn Store, master: &Realm) -> Result<bool> {
    let users = store
        .users(
            &master.id,
            UserQuery {
                max: 10_000,
                service_accounts: true,
                ..Default::default()
            },
        )
        .await
        .map_err(err)?;
    Ok(users
        .iter()
        .any(|u| u.enabled && u.realm_roles.iter().any(|r| r == "admin")))
}

/// What asking for an administrator did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    Created,
    /// A user or client of that name exists already; it was left as it is.
    Exists,
}

/// Adds the administrator `username` to `master` with `password`, unless a user of that
/// name exists (its password is never changed here).
pub async fn add_admin_user(
    p: &Provisioning<'_>,
    master: &Realm,
    username: &str,
    password: &str,
) -> Result<Added> {
    if p.store
        .user_by_username(&master.id, username)
        .await
        .map_err(err)?
        .is_some()
    {
        return Ok(Added::Exists);
    }
    let rep = UserRepresentation {
        username: username.to_string(),
        enabled: Some(true),
        credentials: Some(vec![CredentialRepresentation {
            kind: Some("password".into()),
            value: Some(password.to_string()),
            ..Default::default()
        }]),
        realm_roles: Some(ADMIN_ROLES.iter().map(|r| r.to_string()).collect()),
        ..Default::default()
    };
    let user = latchkey_application::provision::user(
        master,
        &rep,
        p.passwords,
        latchkey_application::SystemClock.now(),
    )
    .await
    .map_err(|e| anyhow!("admin user '{username}': {e}"))?;
    p.store.create_user(user).await.map_err(err)?;
    Ok(Added::Created)
}

/// Adds the confidential client `client_id` to `master` with a service account holding the
/// administrator roles (Keycloak's `bootstrap-admin service`), unless the client exists.
pub async fn add_admin_service(
    p: &Provisioning<'_>,
    master: &Realm,
    client_id: &str,
    secret: &str,
) -> Result<Added> {
    let existing = p
        .store
        .client_by_client_id(&master.id, client_id)
        .await
        .map_err(err)?;
    let client = match existing {
        Some(c) => c,
        None => {
            let rep = ClientRepresentation {
                client_id: client_id.to_string(),
                public_client: Some(false),
                secret: Some(secret.to_string()),
                service_accounts_enabled: Some(true),
                standard_flow_enabled: Some(false),
                ..Default::default()
            };
            let client =
                latchkey_application::provision::client(master, &rep, vec![], p.master_key)
                    .map_err(|e| anyhow!("client '{client_id}': {e}"))?;
            if let Added::Exists = created(p.store.create_client(client.clone()).await)? {
                return Ok(Added::Exists);
            }
            client
        }
    };
    // The service account, also for a client an interrupted earlier run left without one.
    let (_, created) = latchkey_application::provision::ensure_service_account(
        p.store,
        master,
        &client,
        latchkey_application::SystemClock.now(),
        |u| u.realm_roles = ADMIN_ROLES.iter().map(|r| r.to_string()).collect(),
    )
    .await
    .map_err(err)?;
    Ok(if created {
        Added::Created
    } else {
        Added::Exists
    })
}

/// A create that another process (a cluster node starting at the same moment) beat to it.
fn created(r: latchkey_storage::Result<()>) -> Result<Added> {
    match r {
        Ok(()) => Ok(Added::Created),
        Err(latchkey_storage::StoreError::Conflict(_)) => Ok(Added::Exists),
        Err(e) => Err(err(e)),
    }
}

/// At start: `master` exists; the administrator of the environment is added; a server left
/// without any administrator says in one line how to create one.
pub async fn at_start(p: &Provisioning<'_>, admin: Option<AdminCredentials>) -> Result<()> {
    let (master, created) = ensure_master(p).await?;
    if created {
        tracing::info!("created realm 'master' with client 'admin-cli'");
    }
    // As Keycloak: the bootstrap admin is for a master without one. Once an admin exists,
    // variables left in a deployment's environment do not bring a deleted account back.
    if has_admin(p.store, &master).await? {
        if let Some(c) = admin {
            tracing::debug!(user = %c.username, "realm 'master' has an admin; the bootstrap admin variables are not used");
        }
        return Ok(());
    }
    match admin {
        Some(c) => match add_admin_user(p, &master, &c.username, &c.password).await? {
            Added::Created => {
                tracing::info!(user = %c.username, "created admin user in realm 'master'")
            }
            Added::Exists => tracing::warn!(
                user = %c.username,
                "user exists in realm 'master' without the admin role; it was left as it is. {NO_ADMIN_HINT}"
            ),
        },
        None => tracing::warn!("{NO_ADMIN_HINT}"),
    }
    Ok(())
}

/// `latchkey bootstrap-admin user|service`.
pub async fn command(cmd: BootstrapAdminCommand) -> Result<ExitCode> {
    let (db, secret_var) = match &cmd {
        BootstrapAdminCommand::User {
            db, password_env, ..
        } => (db, password_env),
        BootstrapAdminCommand::Service {
            db,
            client_secret_env,
            ..
        } => (db, client_secret_env),
    };
    let secret = secret_from(secret_var)?;
    let master_key = db.master_key()?;
    let store = db.open().await?;
    let passwords = PasswordPool::new(1, HashParams::default());
    let p = Provisioning {
        store: store.as_ref(),
        master_key: &master_key,
        passwords: &passwords,
    };
    let (master, _) = ensure_master(&p).await?;
    let (what, added) = match &cmd {
        BootstrapAdminCommand::User { username, .. } => (
            format!("admin user '{username}'"),
            add_admin_user(&p, &master, username, &secret).await?,
        ),
        BootstrapAdminCommand::Service { client_id, .. } => (
            format!("admin client '{client_id}'"),
            add_admin_service(&p, &master, client_id, &secret).await?,
        ),
    };
    match added {
        Added::Created => {
            println!("created {what} in realm 'master' of {}", db.db);
            if matches!(cmd, BootstrapAdminCommand::Service { .. }) {
                println!("(a server already running on this SQLite store serves new clients within 30 s)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Added::Exists => bail!("{what} exists already in realm 'master'; it was left as it is"),
    }
}

/// A password or secret: from the environment variable `var`, else the first line of stdin.
fn secret_from(var: &str) -> Result<String> {
    if let Some(v) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
        return Ok(v);
    }
    let line = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        // Typed at a terminal: not echoed (rpassword).
        rpassword::prompt_password(format!("{var} is not set; type it and press Enter: "))?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if line.is_empty() {
        bail!("no password given: set {var} or write it on standard input");
    }
    Ok(line)
}

fn err(e: latchkey_storage::StoreError) -> anyhow::Error {
    anyhow!("{e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_set_variables_name_the_missing_one() {
        let e = credentials(Some("admin".into()), None).err().unwrap();
        assert!(e
            .to_string()
            .starts_with("LATCHKEY_ADMIN_USERNAME is set but LATCHKEY_ADMIN_PASSWORD is not"));
        let e = credentials(None, Some("pw".into())).err().unwrap();
        assert!(e
            .to_string()
            .starts_with("LATCHKEY_ADMIN_PASSWORD is set but LATCHKEY_ADMIN_USERNAME is not"));
        assert!(credentials(None, None).unwrap().is_none());
        assert!(credentials(Some("a".into()), Some("b".into()))
            .unwrap()
            .is_some());
    }
}

#[derive(Subcommand, Debug)]
pub enum BootstrapAdminCommand {
    /// An admin user who signs in with a password (through `admin-cli`, or the login page).
    User {
        /// The new user's name (an existing user of that name is left as it is).
        #[arg(long, default_value = "admin")]
        username: String,
        /// The environment variable holding the password; when it is not set, the password is
        /// the first line of standard input.
        #[arg(long, value_name = "VAR", default_value = "LATCHKEY_ADMIN_PASSWORD")]
        password_env: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// A confidential client whose service account is an administrator (client_credentials).
    Service {
        /// The new client's clientId (an existing client of that id is left as it is).
        #[arg(long, default_value = "admin-service")]
        client_id: String,
        /// The environment variable holding the client secret; when it is not set, the secret
        /// is the first line of standard input.
        #[arg(
            long,
            value_name = "VAR",
            default_value = "LATCHKEY_ADMIN_CLIENT_SECRET"
        )]
        client_secret_env: String,
        #[command(flatten)]
        db: DbArgs,
    },
}
