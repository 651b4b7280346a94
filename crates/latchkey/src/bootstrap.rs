//! Keycloak's bootstrap admin: on a store with no `master` realm, `LATCHKEY_ADMIN_USERNAME` and
//! `LATCHKEY_ADMIN_PASSWORD` create realm `master`, that user (with the `admin` role) and the
//! public client `admin-cli`.

use anyhow::{anyhow, Result};
use latchkey_domain::keycloak::{
    CredentialRepresentation, RealmRepresentation, RoleRepresentation, RolesRepresentation,
    UserRepresentation,
};
use latchkey_protocol::AppState;

pub async fn admin(state: &AppState) -> Result<()> {
    let user = std::env::var("LATCHKEY_ADMIN_USERNAME")
        .ok()
        .filter(|s| !s.is_empty());
    let password = std::env::var("LATCHKEY_ADMIN_PASSWORD")
        .ok()
        .filter(|s| !s.is_empty());
    let (Some(username), Some(password)) = (user, password) else {
        return Ok(());
    };
    if state
        .store
        .realm_by_name("master")
        .await
        .map_err(|e| anyhow!("{e}"))?
        .is_some()
    {
        return Ok(());
    }
    let role = |n: &str| RoleRepresentation {
        name: n.into(),
        description: None,
    };
    let rep = RealmRepresentation {
        realm: "master".into(),
        display_name: Some("Keycloak".into()),
        roles: Some(RolesRepresentation {
            realm: vec![role("admin"), role("create-realm")],
            client: Default::default(),
        }),
        users: Some(vec![UserRepresentation {
            username: username.clone(),
            enabled: Some(true),
            credentials: Some(vec![CredentialRepresentation {
                kind: Some("password".into()),
                value: Some(password),
                ..Default::default()
            }]),
            realm_roles: Some(vec!["admin".into(), "create-realm".into()]),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let new = latchkey_protocol::provision::realm(
        &rep,
        &state.master_key,
        &state.passwords,
        latchkey_protocol::now(),
    )
    .await
    .map_err(|e| anyhow!("bootstrap admin: {e}"))?;
    state
        .store
        .create_realm(new)
        .await
        .map_err(|e| anyhow!("bootstrap admin: {e}"))?;
    tracing::info!(user = %username, "created realm 'master' with the bootstrap admin user and client 'admin-cli'");
    Ok(())
}
