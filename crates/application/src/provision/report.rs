//! What importing a realm export would do, said before it is done (`latchkey import --dry-run`,
//! `POST /admin/realms?dryRun=true`): what is imported, what Keycloak's migrations add, what is
//! skipped and why, and a sample of the tokens a user of the realm would get.

use super::{realm, Provisioned};
use crate::hashing::PasswordPool;
use latchkey_crypto::secrets::MasterKey;
use latchkey_domain::claims::{self, TokenContext};
use latchkey_domain::keycloak::RealmRepresentation;
use latchkey_domain::model::{apply::Notes, RealmModel};
use latchkey_domain::{scope, Client, User};
use serde::Serialize;
use serde_json::Value;

/// Parses a realm export, returning it and the paths of the fields latchkey does not read.
/// An error names the field (`clients[0].enabled: invalid type …`).
pub fn parse_export(text: &str) -> Result<(RealmRepresentation, Vec<String>), String> {
    let mut ignored = Vec::new();
    let mut json = serde_json::Deserializer::from_str(text);
    let mut record = |path: serde_ignored::Path<'_>| ignored.push(path.to_string());
    let de = serde_ignored::Deserializer::new(&mut json, &mut record);
    let rep: RealmRepresentation = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "(top level)".to_string()
        } else {
            path
        };
        format!("field '{field}': {}", e.inner())
    })?;
    json.end()
        .map_err(|e| format!("trailing characters after the realm: {e}"))?;
    Ok((rep, ignored))
}

/// Fields of the export latchkey does not read, grouped, with why for the ones that matter.
pub fn unserved_fields(ignored: &[String]) -> Vec<String> {
    // (field prefix, why): the features an export carries that latchkey does not serve.
    const WHY: [(&[&str], &str); 6] = [
        (
            &["identityProviders", "identityProviderMappers"],
            "identity brokering (sign-in through another IdP) is not served",
        ),
        (
            &[
                "authenticationFlows",
                "authenticatorConfig",
                "browserFlow",
                "directGrantFlow",
                "registrationFlow",
                "resetCredentialsFlow",
                "clientAuthenticationFlow",
                "dockerAuthenticationFlow",
                "firstBrokerLoginFlow",
                "clients[].authenticationFlowBindingOverrides",
            ],
            "authentication flows are not served: sign-in is a username (or email) and password",
        ),
        (&["requiredActions"], "required actions are not served"),
        (
            &["userFederationProviders", "userFederationMappers"],
            "user federation (LDAP) is not served: import the users",
        ),
        (
            &["clients[].authorizationSettings", "clients[].authorizationServicesEnabled"],
            "authorization services (UMA, policies) are not served",
        ),
        (
            &["clientTemplates", "clients[].clientTemplate"],
            "client templates (Keycloak 3) are not served; Keycloak 4 replaced them with client scopes",
        ),
    ];
    let mut grouped: Vec<(Vec<String>, &str)> = Vec::new();
    let mut other: Vec<String> = Vec::new();
    for path in ignored {
        let field = field_of(path);
        // Components are reported one by one by the import itself.
        if field.is_empty() || field.starts_with("components") {
            continue;
        }
        let why = WHY
            .iter()
            .find(|(prefixes, _)| {
                prefixes.iter().any(|p| {
                    field == *p
                        || field.starts_with(&format!("{p}."))
                        || field.starts_with(&format!("{p}["))
                })
            })
            .map(|(_, w)| *w);
        match why {
            Some(w) => {
                let head = WHY
                    .iter()
                    .find(|(_, x)| *x == w)
                    .and_then(|(p, _)| p.iter().find(|p| field.starts_with(*p)))
                    .map_or(field.clone(), |p| p.to_string());
                match grouped.iter_mut().find(|(_, x)| *x == w) {
                    Some((fields, _)) if !fields.contains(&head) => fields.push(head),
                    Some(_) => {}
                    None => grouped.push((vec![head], w)),
                }
            }
            None => {
                if !other.contains(&field) {
                    other.push(field);
                }
            }
        }
    }
    let mut out: Vec<String> = grouped
        .into_iter()
        .map(|(fields, why)| format!("{}: {why}", fields.join(", ")))
        .collect();
    if !other.is_empty() {
        out.push(format!("settings not used: {}", other.join(", ")));
    }
    out
}

/// `users.?.0.credentials.?.1.userLabel` (serde_ignored's path) → `users[].credentials[].userLabel`,
/// at most three names deep.
fn field_of(path: &str) -> String {
    let mut out = String::new();
    let mut names = 0;
    for seg in path.split('.').filter(|p| *p != "?") {
        if seg.parse::<usize>().is_ok() {
            out.push_str("[]");
            continue;
        }
        if names == 3 {
            break;
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(seg);
        names += 1;
    }
    out
}

/// The report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    pub realm: String,
    pub keycloak_version: Option<String>,
    pub clients: Vec<String>,
    pub users: usize,
    pub groups: usize,
    pub realm_roles: usize,
    pub client_scopes: Vec<String>,
    /// `alg kid (imported|generated)`.
    pub keys: Vec<String>,
    pub migrated: Vec<String>,
    pub skipped: Vec<String>,
    pub sample: Option<Sample>,
}

/// The tokens one user would get through one client (a password grant with `scope=openid`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    pub user: String,
    pub client: String,
    pub access_token: Value,
    pub id_token: Value,
}

/// Builds the realm as an import would, in memory only.
pub async fn dry_run(
    rep: &RealmRepresentation,
    ignored: &[String],
    passwords: &PasswordPool,
    now: i64,
    want_user: Option<&str>,
    want_client: Option<&str>,
) -> Result<DryRun, String> {
    // A throwaway master key: nothing is stored.
    let master = MasterKey::from_bytes(&latchkey_crypto::random_bytes(32))?;
    let Provisioned {
        new,
        migrated,
        mut skipped,
        imported_keys,
    } = realm(rep, &master, passwords, now).await?;
    skipped.extend(unserved_fields(ignored));
    let keys = new
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let from = if i < imported_keys {
                "from the export"
            } else {
                "generated"
            };
            format!("{} {} ({from})", k.alg, k.kid)
        })
        .collect();
    let refs: Vec<&Client> = new.clients.iter().collect();
    let model = RealmModel::build(&new.realm.access, &refs)?;
    let users: Vec<&User> = new.users.iter().map(|u| &u.user).collect();
    let sample = sample(
        &new.realm,
        &model,
        &new.clients,
        &users,
        want_user,
        want_client,
        now,
    )?;
    Ok(DryRun {
        realm: new.realm.name.clone(),
        keycloak_version: rep.keycloak_version.clone(),
        clients: new.clients.iter().map(|c| c.client_id.clone()).collect(),
        users: new.users.len(),
        groups: model.groups.all().len(),
        realm_roles: new.realm.realm_roles.len(),
        client_scopes: new
            .realm
            .access
            .client_scopes
            .iter()
            .map(|s| s.name.clone())
            .collect(),
        keys,
        migrated,
        skipped,
        sample,
    })
}

const BUILT_IN: [&str; 4] = ["admin-cli", "account", "broker", "realm-management"];

fn sample(
    realm: &latchkey_domain::Realm,
    model: &RealmModel,
    clients: &[Client],
    users: &[&User],
    want_user: Option<&str>,
    want_client: Option<&str>,
    now: i64,
) -> Result<Option<Sample>, String> {
    let client = match want_client {
        Some(id) => Some(
            clients
                .iter()
                .find(|c| c.client_id == id)
                .ok_or_else(|| format!("--client: the realm has no client '{id}'"))?,
        ),
        None => clients
            .iter()
            .find(|c| !c.bearer_only && !BUILT_IN.contains(&c.client_id.as_str())),
    };
    let user = match want_user {
        Some(name) => Some(
            *users
                .iter()
                .find(|u| u.username == latchkey_domain::user::canonical_username(name))
                .ok_or_else(|| format!("--user: the realm has no user '{name}'"))?,
        ),
        None => users
            .iter()
            .find(|u| u.service_account_client_id.is_none() && u.enabled)
            .copied(),
    };
    let (Some(client), Some(user)) = (client, user) else {
        return Ok(None);
    };
    let scopes = scope::resolve(client, Some("openid")).map_err(|e| e.description)?;
    let issuer = format!("{{public-url}}/realms/{}", realm.name);
    let ctx = TokenContext {
        issuer: &issuer,
        realm,
        model,
        client,
        user,
        sid: Some("{session}"),
        scopes: &scopes,
        now,
        auth_time: Some(now),
        nonce: None,
        notes: Notes::default(),
    };
    let roles = ctx.subject().token_roles();
    let exp = now + latchkey_domain::policy::access_token_lifespan(realm, client);
    let at = claims::access_token(&ctx, &roles, "{jti}", exp);
    let id = claims::id_token(&ctx, &roles, "{jti}", exp, "{at_hash}");
    Ok(Some(Sample {
        user: user.username.clone(),
        client: client.client_id.clone(),
        access_token: serde_json::to_value(at).map_err(|e| e.to_string())?,
        id_token: serde_json::to_value(id).map_err(|e| e.to_string())?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_listed_grouped_with_reasons() {
        let (rep, ignored) = parse_export(
            r#"{"realm":"a","smtpServer":{},"identityProviders":[{"alias":"g"}],
                "clients":[{"clientId":"c","authorizationSettings":{"x":1}},
                           {"clientId":"d","authorizationSettings":{}, "surrogateAuthRequired":false}]}"#,
        )
        .unwrap();
        assert_eq!(rep.realm, "a");
        let lines = unserved_fields(&ignored);
        assert_eq!(
            lines,
            [
                "identityProviders: identity brokering (sign-in through another IdP) is not served",
                "clients[].authorizationSettings: authorization services (UMA, policies) are not served",
                "settings not used: smtpServer, clients[].surrogateAuthRequired"
            ],
            "from {ignored:?}"
        );
        let (_, ignored) = parse_export(
            r#"{"realm":"a","browserFlow":"b","authenticationFlows":[{"alias":"x"}],
                "users":[{"username":"u","credentials":[{"type":"password","value":"p","userLabel":"l"}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            unserved_fields(&ignored),
            [
                "browserFlow, authenticationFlows: authentication flows are not served: sign-in is a username (or email) and password",
                "settings not used: users[].credentials[].userLabel"
            ]
        );
    }
}
