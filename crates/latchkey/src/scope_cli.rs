//! `latchkey scope …` and `latchkey mapper …`: client scopes, which clients get them, and the
//! protocol mappers of client scopes and clients, through the admin API of a running server
//! (the same paths python-keycloak calls).

use crate::admin_cli::{done, enc, print, Api, Conn};
use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use hyper::Method;
use serde_json::{json, Map, Value};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ScopeCmd {
    /// The realm's client scopes.
    List {
        #[arg(long)]
        realm: String,
    },
    /// Create an openid-connect client scope.
    Create {
        #[arg(long)]
        realm: String,
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// Leave the scope's name out of the token's `scope` claim
        /// (`include.in.token.scope: false`).
        #[arg(long)]
        not_in_token_scope: bool,
    },
    /// Delete a client scope (it is taken off every client and realm list first).
    Delete {
        #[arg(long)]
        realm: String,
        name: String,
    },
    /// Give CLIENT the scope as a default (always applied) or, with --optional, an optional one
    /// (applied when the request's `scope` names it); without --client, every client created
    /// from now on gets it (the realm's default or optional client scopes).
    Attach {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        client: Option<String>,
        name: String,
        #[arg(long)]
        optional: bool,
    },
    /// Take the scope off CLIENT (or off the realm's lists without --client).
    Detach {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        client: Option<String>,
        name: String,
    },
    /// The scopes CLIENT gets: its default and optional client scopes.
    Of {
        #[arg(long)]
        realm: String,
        client: String,
    },
}

/// Whose mappers: a client scope's (--scope) or a client's (--client).
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct Owner {
    /// The client scope, by name.
    #[arg(long)]
    scope: Option<String>,
    /// The client, by clientId.
    #[arg(long)]
    client: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum MapperCmd {
    /// The protocol mappers of a client scope or of a client.
    List {
        #[arg(long)]
        realm: String,
        #[command(flatten)]
        owner: Owner,
    },
    /// Add a protocol mapper of Keycloak's TYPE, e.g.
    /// `mapper add --realm R --scope S dept --type oidc-usermodel-attribute-mapper
    /// --config user.attribute=department --config claim.name=dept --config access.token.claim=true`.
    Add {
        #[arg(long)]
        realm: String,
        #[command(flatten)]
        owner: Owner,
        name: String,
        /// The mapper type (`protocolMapper`), e.g. oidc-audience-mapper, oidc-hardcoded-claim-mapper.
        #[arg(long = "type")]
        kind: String,
        /// A config entry KEY=VALUE, repeated.
        #[arg(long, value_name = "KEY=VALUE")]
        config: Vec<String>,
    },
    /// Delete a protocol mapper, by name.
    Delete {
        #[arg(long)]
        realm: String,
        #[command(flatten)]
        owner: Owner,
        name: String,
    },
}

fn realm_path(realm: &str) -> String {
    format!("/admin/realms/{}", enc(realm))
}

/// The id of the client scope named `name`.
async fn scope_id(api: &Api, realm: &str, name: &str) -> Result<String> {
    let all = api
        .get(&format!("{}/client-scopes", realm_path(realm)))
        .await?;
    all.as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == name)
        .and_then(|s| s["id"].as_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("realm '{realm}' has no client scope named '{name}'"))
}

/// Where a scope is attached: a client's lists, or the realm's.
async fn lists(api: &Api, realm: &str, client: Option<&str>) -> Result<[String; 2]> {
    Ok(match client {
        Some(c) => {
            let base = format!(
                "{}/clients/{}",
                realm_path(realm),
                enc(&api.client_id(realm, c).await?)
            );
            [
                format!("{base}/default-client-scopes"),
                format!("{base}/optional-client-scopes"),
            ]
        }
        None => [
            format!("{}/default-default-client-scopes", realm_path(realm)),
            format!("{}/default-optional-client-scopes", realm_path(realm)),
        ],
    })
}

/// "client C" or "realm R": whose lists a scope is attached to, in messages.
fn owner_name(realm: &str, client: Option<&str>) -> String {
    client.map_or_else(|| format!("realm {realm}"), |c| format!("client {c}"))
}

pub async fn scope(c: Conn, cmd: ScopeCmd) -> Result<ExitCode> {
    let api = Api::connect(&c).await?;
    match cmd {
        ScopeCmd::List { realm } => {
            let all = api
                .get(&format!("{}/client-scopes", realm_path(&realm)))
                .await?;
            print(&c, &all, &["name", "protocol", "id"]);
        }
        ScopeCmd::Create {
            realm,
            name,
            description,
            not_in_token_scope,
        } => {
            let body = json!({
                "name": name, "description": description, "protocol": "openid-connect",
                "attributes": {"include.in.token.scope": (!not_in_token_scope).to_string()},
            });
            let url = format!("{}/client-scopes", realm_path(&realm));
            let (_, loc, _) = api.call(Method::POST, &url, Some(body)).await?;
            done(&c, format!("created client scope {name}"), loc);
        }
        ScopeCmd::Delete { realm, name } => {
            let id = scope_id(&api, &realm, &name).await?;
            let url = format!("{}/client-scopes/{}", realm_path(&realm), enc(&id));
            api.call(Method::DELETE, &url, None).await?;
            done(&c, format!("deleted client scope {name}"), None);
        }
        ScopeCmd::Attach {
            realm,
            client,
            name,
            optional,
        } => {
            let id = scope_id(&api, &realm, &name).await?;
            let [default, opt] = lists(&api, &realm, client.as_deref()).await?;
            let list = if optional { opt } else { default };
            api.call(Method::PUT, &format!("{list}/{}", enc(&id)), None)
                .await?;
            let kind = if optional { "optional" } else { "default" };
            let whose = owner_name(&realm, client.as_deref());
            done(&c, format!("{name} is now a {kind} scope of {whose}"), None);
        }
        ScopeCmd::Detach {
            realm,
            client,
            name,
        } => {
            let id = scope_id(&api, &realm, &name).await?;
            let mut found = false;
            for list in lists(&api, &realm, client.as_deref()).await? {
                let attached = api.get(&list).await?;
                if attached
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| s["id"] == id)
                {
                    api.call(Method::DELETE, &format!("{list}/{}", enc(&id)), None)
                        .await?;
                    found = true;
                }
            }
            let whose = owner_name(&realm, client.as_deref());
            if !found {
                bail!("{name} is not a default or optional scope of {whose}");
            }
            done(&c, format!("took {name} off {whose}"), None);
        }
        ScopeCmd::Of { realm, client } => {
            let [default, optional] = lists(&api, &realm, Some(&client)).await?;
            let mut rows = Vec::new();
            for (list, kind) in [(default, "default"), (optional, "optional")] {
                for s in api.get(&list).await?.as_array().into_iter().flatten() {
                    rows.push(json!({"name": s["name"], "type": kind}));
                }
            }
            print(&c, &Value::Array(rows), &["name", "type"]);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `…/client-scopes/{id}/protocol-mappers/models` or `…/clients/{id}/protocol-mappers/models`.
async fn mappers_path(api: &Api, realm: &str, owner: &Owner) -> Result<String> {
    let owner_path = match (&owner.scope, &owner.client) {
        (Some(s), _) => format!("client-scopes/{}", enc(&scope_id(api, realm, s).await?)),
        (None, Some(c)) => format!("clients/{}", enc(&api.client_id(realm, c).await?)),
        (None, None) => bail!("name the mappers' owner with --scope or --client"),
    };
    Ok(format!(
        "{}/{owner_path}/protocol-mappers/models",
        realm_path(realm)
    ))
}

fn config_map(entries: &[String]) -> Result<Map<String, Value>> {
    entries
        .iter()
        .map(|e| {
            let (k, v) = e
                .split_once('=')
                .ok_or_else(|| anyhow!("--config '{e}' is not KEY=VALUE"))?;
            Ok((k.to_string(), Value::String(v.to_string())))
        })
        .collect()
}

pub async fn mapper(c: Conn, cmd: MapperCmd) -> Result<ExitCode> {
    let api = Api::connect(&c).await?;
    match cmd {
        MapperCmd::List { realm, owner } => {
            let all = api.get(&mappers_path(&api, &realm, &owner).await?).await?;
            print(&c, &all, &["name", "protocolMapper", "id"]);
        }
        MapperCmd::Add {
            realm,
            owner,
            name,
            kind,
            config,
        } => {
            let body = json!({
                "name": name, "protocol": "openid-connect", "protocolMapper": kind,
                "config": config_map(&config)?,
            });
            let url = mappers_path(&api, &realm, &owner).await?;
            let (_, loc, _) = api.call(Method::POST, &url, Some(body)).await?;
            done(&c, format!("added mapper {name}"), loc);
        }
        MapperCmd::Delete { realm, owner, name } => {
            let url = mappers_path(&api, &realm, &owner).await?;
            let all = api.get(&url).await?;
            let id = all
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| m["name"] == name)
                .and_then(|m| m["id"].as_str())
                .ok_or_else(|| anyhow!("no mapper named '{name}' there"))?
                .to_string();
            api.call(Method::DELETE, &format!("{url}/{}", enc(&id)), None)
                .await?;
            done(&c, format!("deleted mapper {name}"), None);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_entries_split_at_the_first_equals_sign() {
        let m = config_map(&["claim.name=a=b".into(), "multivalued=true".into()]).unwrap();
        assert_eq!(m["claim.name"], "a=b");
        assert_eq!(m["multivalued"], "true");
        let err = config_map(&["claim.name".into()]).unwrap_err().to_string();
        assert!(err.contains("not KEY=VALUE"), "{err}");
    }
}
