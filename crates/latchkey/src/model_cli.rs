//! `latchkey role …` and `latchkey group …`: roles, role mappings and groups through the admin
//! API of a running server (the same paths python-keycloak calls).

use crate::admin_cli::{done, enc, print, Api, Conn};
use anyhow::{anyhow, Result};
use clap::Subcommand;
use hyper::Method;
use serde_json::json;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum RoleCmd {
    /// The realm's roles, or a client's with --client.
    List {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        client: Option<String>,
    },
    Create {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        client: Option<String>,
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    Delete {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        client: Option<String>,
        name: String,
    },
    /// Make ROLE a composite that includes INCLUDED (a realm role, or CLIENT's with --of).
    Include {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        client: Option<String>,
        role: String,
        included: String,
        /// The client whose role INCLUDED is.
        #[arg(long)]
        of: Option<String>,
    },
    /// Give USER (username or id) the role.
    Grant {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        client: Option<String>,
        user: String,
        name: String,
    },
    /// Take the role from USER.
    Revoke {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        client: Option<String>,
        user: String,
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum GroupCmd {
    List {
        #[arg(long)]
        realm: String,
    },
    /// Create a group; with --parent (a path), a sub-group.
    Create {
        #[arg(long)]
        realm: String,
        name: String,
        #[arg(long)]
        parent: Option<String>,
    },
    /// Delete the group at PATH (and its sub-groups).
    Delete {
        #[arg(long)]
        realm: String,
        path: String,
    },
    /// Add USER to the group at PATH.
    Join {
        #[arg(long)]
        realm: String,
        user: String,
        path: String,
    },
    /// Remove USER from the group at PATH.
    Leave {
        #[arg(long)]
        realm: String,
        user: String,
        path: String,
    },
    /// Give the group at PATH a role (a realm role, or CLIENT's with --client).
    Grant {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        client: Option<String>,
        path: String,
        name: String,
    },
}

/// `/admin/realms/R/roles` or `/admin/realms/R/clients/{id}/roles`, and the mapping suffix.
async fn roles_base(api: &Api, realm: &str, client: Option<&str>) -> Result<(String, String)> {
    Ok(match client {
        None => (
            format!("/admin/realms/{}/roles", enc(realm)),
            "realm".into(),
        ),
        Some(c) => {
            let id = api.client_id(realm, c).await?;
            (
                format!("/admin/realms/{}/clients/{}/roles", enc(realm), enc(&id)),
                format!("clients/{}", enc(&id)),
            )
        }
    })
}

pub async fn role(c: Conn, cmd: RoleCmd) -> Result<ExitCode> {
    let api = Api::connect(&c).await?;
    match cmd {
        RoleCmd::List { realm, client } => {
            let (base, _) = roles_base(&api, &realm, client.as_deref()).await?;
            print(
                &c,
                &api.get(&base).await?,
                &["name", "composite", "description"],
            );
        }
        RoleCmd::Create {
            realm,
            client,
            name,
            description,
        } => {
            let (base, _) = roles_base(&api, &realm, client.as_deref()).await?;
            let body = json!({"name": name, "description": description});
            let (_, loc, _) = api.call(Method::POST, &base, Some(body)).await?;
            done(&c, format!("created role {name}"), loc);
        }
        RoleCmd::Delete {
            realm,
            client,
            name,
        } => {
            let (base, _) = roles_base(&api, &realm, client.as_deref()).await?;
            api.call(Method::DELETE, &format!("{base}/{}", enc(&name)), None)
                .await?;
            done(&c, format!("deleted role {name}"), None);
        }
        RoleCmd::Include {
            realm,
            client,
            role,
            included,
            of,
        } => {
            let (base, _) = roles_base(&api, &realm, client.as_deref()).await?;
            let (inc_base, _) = roles_base(&api, &realm, of.as_deref()).await?;
            let rep = api.get(&format!("{inc_base}/{}", enc(&included))).await?;
            api.call(
                Method::POST,
                &format!("{base}/{}/composites", enc(&role)),
                Some(json!([rep])),
            )
            .await?;
            done(&c, format!("role {role} now includes {included}"), None);
        }
        RoleCmd::Grant {
            realm,
            client,
            user,
            name,
        } => {
            map_role(&api, &realm, client.as_deref(), &user, &name, Method::POST).await?;
            done(&c, format!("gave {user} the role {name}"), None);
        }
        RoleCmd::Revoke {
            realm,
            client,
            user,
            name,
        } => {
            map_role(
                &api,
                &realm,
                client.as_deref(),
                &user,
                &name,
                Method::DELETE,
            )
            .await?;
            done(&c, format!("took the role {name} from {user}"), None);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn map_role(
    api: &Api,
    realm: &str,
    client: Option<&str>,
    user: &str,
    name: &str,
    method: Method,
) -> Result<()> {
    let (base, mapping) = roles_base(api, realm, client).await?;
    let rep = api.get(&format!("{base}/{}", enc(name))).await?;
    let uid = api.user_id(realm, user).await?;
    let path = format!(
        "/admin/realms/{}/users/{}/role-mappings/{mapping}",
        enc(realm),
        enc(&uid)
    );
    api.call(method, &path, Some(json!([rep]))).await?;
    Ok(())
}

/// The id of the group at `path`.
async fn group_id(api: &Api, realm: &str, path: &str) -> Result<String> {
    let g = api
        .get(&format!(
            "/admin/realms/{}/group-by-path/{}",
            enc(realm),
            path.trim_matches('/')
                .split('/')
                .map(enc)
                .collect::<Vec<_>>()
                .join("/")
        ))
        .await?;
    g["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("group '{path}' not found"))
}

pub async fn group(c: Conn, cmd: GroupCmd) -> Result<ExitCode> {
    let api = Api::connect(&c).await?;
    let base = |realm: &str| format!("/admin/realms/{}", enc(realm));
    match cmd {
        GroupCmd::List { realm } => {
            print(
                &c,
                &api.get(&format!("{}/groups", base(&realm))).await?,
                &["path", "id", "subGroupCount"],
            );
        }
        GroupCmd::Create {
            realm,
            name,
            parent,
        } => {
            let path = match parent {
                None => format!("{}/groups", base(&realm)),
                Some(p) => format!(
                    "{}/groups/{}/children",
                    base(&realm),
                    enc(&group_id(&api, &realm, &p).await?)
                ),
            };
            let (_, loc, _) = api
                .call(Method::POST, &path, Some(json!({"name": name})))
                .await?;
            done(&c, format!("created group {name}"), loc);
        }
        GroupCmd::Delete { realm, path } => {
            let id = group_id(&api, &realm, &path).await?;
            api.call(
                Method::DELETE,
                &format!("{}/groups/{}", base(&realm), enc(&id)),
                None,
            )
            .await?;
            done(&c, format!("deleted group {path}"), None);
        }
        GroupCmd::Join { realm, user, path } => {
            membership(&api, &realm, &user, &path, Method::PUT).await?;
            done(&c, format!("{user} joined {path}"), None);
        }
        GroupCmd::Leave { realm, user, path } => {
            membership(&api, &realm, &user, &path, Method::DELETE).await?;
            done(&c, format!("{user} left {path}"), None);
        }
        GroupCmd::Grant {
            realm,
            client,
            path,
            name,
        } => {
            let id = group_id(&api, &realm, &path).await?;
            let (roles, mapping) = roles_base(&api, &realm, client.as_deref()).await?;
            let rep = api.get(&format!("{roles}/{}", enc(&name))).await?;
            let url = format!(
                "{}/groups/{}/role-mappings/{mapping}",
                base(&realm),
                enc(&id)
            );
            api.call(Method::POST, &url, Some(json!([rep]))).await?;
            done(&c, format!("group {path} now has the role {name}"), None);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn membership(api: &Api, realm: &str, user: &str, path: &str, method: Method) -> Result<()> {
    let gid = group_id(api, realm, path).await?;
    let uid = api.user_id(realm, user).await?;
    let url = format!(
        "/admin/realms/{}/users/{}/groups/{}",
        enc(realm),
        enc(&uid),
        enc(&gid)
    );
    api.call(method, &url, None).await?;
    Ok(())
}
