//! A new realm from Keycloak's representation, as Keycloak imports one: older exports are
//! migrated, what latchkey does not serve is skipped and reported (never the whole realm), the
//! built-in clients are added when missing, the keys in `components` are kept.

use super::{client, new_id, service_account_user, user, MASKED_SECRET};
use crate::hashing::PasswordPool;
use latchkey_crypto::secrets::MasterKey;
use latchkey_domain::keycloak::{ClientRepresentation, RealmRepresentation, UserRepresentation};
use latchkey_domain::model::{builtin, mappers::Mapper, migrate, RealmModel};
use latchkey_domain::{Client, Realm};
use latchkey_storage::NewRealm;
use std::collections::HashSet;

/// A realm ready to store, and what its import changed or left out, a line each.
pub struct Provisioned {
    pub new: NewRealm,
    /// What Keycloak's import migrations added.
    pub migrated: Vec<String>,
    /// What latchkey does not serve and left out, with why.
    pub skipped: Vec<String>,
    /// How many of `new.keys` (the first ones) came from the export's key providers.
    pub imported_keys: usize,
}

/// Everything a new realm starts with, from its representation.
pub async fn realm(
    rep: &RealmRepresentation,
    master: &MasterKey,
    passwords: &PasswordPool,
    now: i64,
) -> Result<Provisioned, String> {
    let mut rep = rep.clone();
    let migrated = migrate::import(&mut rep);
    let mut skipped = Vec::new();
    let id = rep
        .id
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(new_id);
    let realm = Realm::from_representation(id, &rep)?;
    let mut clients = Vec::new();
    let mut seen = HashSet::new();
    for (i, c) in rep.clients.iter().flatten().enumerate() {
        if !seen.insert(c.client_id.clone()) {
            return Err(format!(
                "clients[{i}]: clientId '{}' appears twice",
                c.client_id
            ));
        }
        if let Some(p) = c.protocol.as_deref().filter(|p| *p != "openid-connect") {
            skipped.push(format!(
                "client '{}': protocol '{p}' (latchkey speaks OpenID Connect only)",
                c.client_id
            ));
            continue;
        }
        report_client(c, &mut skipped);
        let roles = client_roles(&realm, &c.client_id);
        clients.push(
            client(&realm, c, roles, master)
                .map_err(|e| format!("clients[{i}] ('{}'): {e}", c.client_id))?,
        );
    }
    for builtin_rep in builtin_clients(&realm) {
        if seen.insert(builtin_rep.client_id.clone()) {
            let roles = client_roles(&realm, &builtin_rep.client_id);
            clients.push(client(&realm, &builtin_rep, roles, master)?);
        }
    }
    for s in &realm.access.client_scopes {
        if !s.is_oidc() {
            skipped.push(format!(
                "client scope '{}': protocol '{}'",
                s.name,
                s.protocol.as_deref().unwrap_or_default()
            ));
            continue;
        }
        for m in s.protocol_mappers.iter().flatten() {
            if let Err(e) = Mapper::compile(m) {
                skipped.push(format!("client scope '{}': {e}", s.name));
            }
        }
    }
    let refs: Vec<&Client> = clients.iter().collect();
    RealmModel::build(&realm.access, &refs)?;
    let mut users = Vec::new();
    let mut names = HashSet::new();
    let from_keycloak = migrate::version(&rep).is_some();
    for (i, u) in rep.users.iter().flatten().enumerate() {
        // Keycloak imports a user whose `enabled` is absent as disabled; a realm file written
        // by hand (no `keycloakVersion`) keeps latchkey's default, enabled.
        let u = &match (from_keycloak, u.enabled) {
            (true, None) => UserRepresentation {
                enabled: Some(false),
                ..u.clone()
            },
            _ => u.clone(),
        };
        let mut built = user(&realm, u, passwords, now)
            .await
            .map_err(|e| format!("users[{i}] ('{}'): {e}", u.username))?;
        if !names.insert(built.user.username.clone()) {
            return Err(format!(
                "users[{i}]: username '{}' appears twice",
                built.user.username
            ));
        }
        let model_groups = latchkey_domain::model::groups::Groups::build(
            &realm.access.groups,
            &RealmModel::build(&realm.access, &refs)?.roles,
        )?;
        built.user.groups.retain(|p| {
            let known = model_groups.by_path(p).is_some();
            if !known {
                skipped.push(format!(
                    "user '{}': membership of group '{p}', which the export does not define",
                    built.user.username
                ));
            }
            known
        });
        users.push(built);
    }
    for c in clients.iter().filter(|c| c.service_accounts_enabled) {
        let has = users.iter().any(|u| {
            u.user.service_account_client_id.as_deref() == Some(c.client_id.as_str())
                || u.user.username == c.service_account_username()
        });
        if !has {
            users.push(service_account_user(&realm, c, now));
        }
    }
    report_realm(&rep, &mut skipped);
    let (keys, key_notes, imported_keys) = crate::keys::from_components(&rep, now, master).await?;
    skipped.extend(key_notes);
    Ok(Provisioned {
        new: NewRealm {
            realm,
            keys,
            clients,
            users,
        },
        migrated,
        skipped,
        imported_keys,
    })
}

/// The names of the roles the realm defines for a client.
fn client_roles(realm: &Realm, client_id: &str) -> Vec<String> {
    realm
        .access
        .roles
        .client
        .get(client_id)
        .map(|r| r.iter().map(|r| r.name.clone()).collect())
        .unwrap_or_default()
}

/// The clients Keycloak creates with every realm: `admin-cli`, and those whose roles tokens
/// carry: `account`, `broker` and, outside `master`, `realm-management`. Latchkey serves no
/// account console; these hold roles (and are audiences) only.
fn builtin_clients(realm: &Realm) -> Vec<ClientRepresentation> {
    let holder = |id: &str, name: &str, bearer: bool| ClientRepresentation {
        client_id: id.into(),
        name: Some(name.into()),
        enabled: Some(true),
        public_client: Some(!bearer),
        bearer_only: Some(bearer),
        standard_flow_enabled: Some(false),
        direct_access_grants_enabled: Some(false),
        ..Default::default()
    };
    let mut out = vec![
        Client::admin_cli_representation(),
        holder(builtin::ACCOUNT, "${client_account}", false),
        holder(builtin::BROKER, "${client_broker}", true),
    ];
    if realm.name != "master" {
        out.push(holder(
            builtin::REALM_MANAGEMENT,
            "${client_realm-management}",
            true,
        ));
    }
    out
}

fn report_client(c: &ClientRepresentation, skipped: &mut Vec<String>) {
    if c.implicit_flow_enabled == Some(true) {
        skipped.push(format!(
            "client '{}': implicitFlowEnabled (the implicit flow is not served: OAuth 2.0 Security BCP)",
            c.client_id
        ));
    }
    if c.secret.as_deref() == Some(MASKED_SECRET) {
        skipped.push(format!(
            "client '{}': its secret is masked in the export ({MASKED_SECRET}); it has no usable secret until an administrator sets one (admin API client-secret)",
            c.client_id
        ));
    }
    for m in c.protocol_mappers.iter().flatten() {
        if let Err(e) = Mapper::compile(m) {
            skipped.push(format!("client '{}': {e}", c.client_id));
        }
    }
}

/// What a realm export may hold that latchkey does not serve.
fn report_realm(rep: &RealmRepresentation, skipped: &mut Vec<String>) {
    for (kind, list) in rep.components.iter().flatten() {
        if kind == latchkey_domain::keycloak::access::KEY_PROVIDER
            || kind == latchkey_domain::model::USER_PROFILE
        {
            continue;
        }
        let what = match kind.as_str() {
            "org.keycloak.storage.UserStorageProvider" => {
                "user federation (LDAP, Kerberos): users must be imported into the realm"
            }
            "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy" => {
                "client registration policies (dynamic registration is not served)"
            }
            _ => "not served",
        };
        for c in list {
            skipped.push(format!(
                "component '{}' ({kind}): {what}",
                c.name.as_deref().unwrap_or("?")
            ));
        }
    }
}
