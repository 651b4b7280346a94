//! `latchkey realm|client|user …`: the admin API from the command line, against a running
//! server. Signs in to realm `master` through `admin-cli` with the admin's password.

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::process::ExitCode;

#[derive(Args, Debug, Clone)]
pub struct Conn {
    /// Base URL of the running server.
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// Admin user in realm `master`.
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_ADMIN_USERNAME",
        default_value = "admin"
    )]
    pub admin_user: String,
    /// The admin's password.
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    pub admin_password: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_parser = ["text", "json"], default_value = "text")]
    pub output: String,
}

#[derive(Subcommand, Debug)]
pub enum RealmCmd {
    List,
    Get {
        realm: String,
    },
    /// Create from a realm JSON file (the full import representation).
    Create {
        #[arg(long)]
        file: std::path::PathBuf,
    },
    /// Update from a JSON file (fields present replace).
    Update {
        realm: String,
        #[arg(long)]
        file: std::path::PathBuf,
    },
    Delete {
        realm: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClientCmd {
    List {
        #[arg(long)]
        realm: String,
    },
    /// CLIENT is the clientId or the internal id.
    Get {
        #[arg(long)]
        realm: String,
        client: String,
    },
    Create {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        file: std::path::PathBuf,
    },
    Update {
        #[arg(long)]
        realm: String,
        client: String,
        #[arg(long)]
        file: std::path::PathBuf,
    },
    Delete {
        #[arg(long)]
        realm: String,
        client: String,
    },
    /// Show the client secret, or make a new one with --regenerate.
    Secret {
        #[arg(long)]
        realm: String,
        client: String,
        #[arg(long)]
        regenerate: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    List {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        search: Option<String>,
    },
    /// USER is the username or the id.
    Get {
        #[arg(long)]
        realm: String,
        user: String,
    },
    /// Create from --file, or from --username (and --password).
    Create {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    Update {
        #[arg(long)]
        realm: String,
        user: String,
        #[arg(long)]
        file: std::path::PathBuf,
    },
    Delete {
        #[arg(long)]
        realm: String,
        user: String,
    },
    ResetPassword {
        #[arg(long)]
        realm: String,
        user: String,
        #[arg(long)]
        password: String,
    },
    Logout {
        #[arg(long)]
        realm: String,
        user: String,
    },
    Sessions {
        #[arg(long)]
        realm: String,
        user: String,
    },
}

pub(crate) struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    token: String,
}

pub(crate) fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Api {
    pub(crate) async fn connect(c: &Conn) -> Result<Api> {
        let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        let base = c.server.trim_end_matches('/').to_string();
        let password = c
            .admin_password
            .clone()
            .ok_or_else(|| anyhow!("set --admin-password or LATCHKEY_ADMIN_PASSWORD"))?;
        let form = format!(
            "grant_type=password&client_id=admin-cli&username={}&password={}",
            enc(&c.admin_user),
            enc(&password)
        );
        let req = Request::post(format!(
            "{base}/realms/master/protocol/openid-connect/token"
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))?;
        let resp = client
            .request(req)
            .await
            .with_context(|| format!("cannot reach {base}"))?;
        let status = resp.status();
        let body: Value = serde_json::from_slice(&resp.into_body().collect().await?.to_bytes())
            .unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "admin sign-in failed ({status}): {}",
                body["error_description"]
                    .as_str()
                    .unwrap_or("no description")
            );
        }
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("no access_token in the sign-in response"))?
            .to_string();
        Ok(Api {
            client,
            base,
            token,
        })
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Option<String>, Value)> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token));
        let payload = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        let resp = self.client.request(req.body(Full::new(payload))?).await?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.into_body().collect().await?.to_bytes();
        let v: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if status >= 400 {
            bail!(
                "{status}: {}",
                v["errorMessage"]
                    .as_str()
                    .or(v["error_description"].as_str())
                    .unwrap_or("request failed")
            );
        }
        Ok((status, location, v))
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value> {
        Ok(self.call(Method::GET, path, None).await?.2)
    }

    /// A client's internal id from its clientId or id.
    pub(crate) async fn client_id(&self, realm: &str, client: &str) -> Result<String> {
        let found = self
            .get(&format!(
                "/admin/realms/{}/clients?clientId={}",
                enc(realm),
                enc(client)
            ))
            .await?;
        if let Some(id) = found.get(0).and_then(|c| c["id"].as_str()) {
            return Ok(id.to_string());
        }
        Ok(client.to_string())
    }

    pub(crate) async fn user_id(&self, realm: &str, user: &str) -> Result<String> {
        let found = self
            .get(&format!(
                "/admin/realms/{}/users?username={}&exact=true",
                enc(realm),
                enc(user)
            ))
            .await?;
        if let Some(id) = found.get(0).and_then(|u| u["id"].as_str()) {
            return Ok(id.to_string());
        }
        Ok(user.to_string())
    }
}

fn read_json(path: &std::path::Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// Fields that hold epoch milliseconds, shown as ISO 8601 dates.
const TIME_FIELDS: [&str; 3] = ["start", "lastAccess", "createdTimestamp"];

/// One cell of a text table: times as dates, objects by their values, absent as `-`.
fn cell(key: &str, v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) if TIME_FIELDS.contains(&key) => n
            .as_i64()
            .map(|ms| latchkey_domain::claims::format_timestamp(ms.div_euclid(1000)))
            .unwrap_or_else(|| n.to_string()),
        Value::Object(m) => m
            .values()
            .map(|v| cell("", v))
            .collect::<Vec<_>>()
            .join(","),
        Value::Array(a) => a.iter().map(|v| cell("", v)).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// A text table of `columns` with a header row (JSON as it came with `--output json`). A
/// single column prints bare values, for scripts.
pub(crate) fn print(c: &Conn, v: &Value, columns: &[&str]) {
    if c.output == "json" {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        return;
    }
    let rows: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => return,
        other => vec![other],
    };
    print!("{}", table(&rows, columns));
}

fn table(rows: &[&Value], columns: &[&str]) -> String {
    let cells = rows
        .iter()
        .map(|r| columns.iter().map(|k| cell(k, &r[*k])).collect::<Vec<_>>());
    if columns.len() == 1 {
        return cells.map(|r| r[0].clone() + "\n").collect();
    }
    let header = columns.iter().map(|k| k.to_string()).collect();
    let table: Vec<Vec<String>> = std::iter::once(header).chain(cells).collect();
    let mut out = crate::table::render(&table);
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    out
}

pub(crate) fn done(c: &Conn, what: String, location: Option<String>) {
    if c.output == "json" {
        println!("{}", json!({"result": what, "location": location}));
    } else {
        println!(
            "{what}{}",
            location.map(|l| format!(" ({l})")).unwrap_or_default()
        );
    }
}

pub async fn realm(c: Conn, cmd: RealmCmd) -> Result<ExitCode> {
    let api = Api::connect(&c).await?;
    match cmd {
        RealmCmd::List => print(&c, &api.get("/admin/realms").await?, &["realm", "id"]),
        RealmCmd::Get { realm } => print(
            &c,
            &api.get(&format!("/admin/realms/{}", enc(&realm))).await?,
            &["realm", "id", "enabled"],
        ),
        RealmCmd::Create { file } => {
            let (_, loc, _) = api
                .call(Method::POST, "/admin/realms", Some(read_json(&file)?))
                .await?;
            done(&c, "created".into(), loc);
        }
        RealmCmd::Update { realm, file } => {
            api.call(
                Method::PUT,
                &format!("/admin/realms/{}", enc(&realm)),
                Some(read_json(&file)?),
            )
            .await?;
            done(&c, format!("updated realm {realm}"), None);
        }
        RealmCmd::Delete { realm } => {
            api.call(
                Method::DELETE,
                &format!("/admin/realms/{}", enc(&realm)),
                None,
            )
            .await?;
            done(&c, format!("deleted realm {realm}"), None);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn client(c: Conn, cmd: ClientCmd) -> Result<ExitCode> {
    let api = Api::connect(&c).await?;
    match cmd {
        ClientCmd::List { realm } => print(
            &c,
            &api.get(&format!("/admin/realms/{}/clients", enc(&realm)))
                .await?,
            &["clientId", "id"],
        ),
        ClientCmd::Get { realm, client } => {
            let id = api.client_id(&realm, &client).await?;
            print(
                &c,
                &api.get(&format!(
                    "/admin/realms/{}/clients/{}",
                    enc(&realm),
                    enc(&id)
                ))
                .await?,
                &["clientId", "id", "publicClient"],
            );
        }
        ClientCmd::Create { realm, file } => {
            let (_, loc, _) = api
                .call(
                    Method::POST,
                    &format!("/admin/realms/{}/clients", enc(&realm)),
                    Some(read_json(&file)?),
                )
                .await?;
            done(&c, "created".into(), loc);
        }
        ClientCmd::Update {
            realm,
            client,
            file,
        } => {
            let id = api.client_id(&realm, &client).await?;
            api.call(
                Method::PUT,
                &format!("/admin/realms/{}/clients/{}", enc(&realm), enc(&id)),
                Some(read_json(&file)?),
            )
            .await?;
            done(&c, format!("updated client {client}"), None);
        }
        ClientCmd::Delete { realm, client } => {
            let id = api.client_id(&realm, &client).await?;
            api.call(
                Method::DELETE,
                &format!("/admin/realms/{}/clients/{}", enc(&realm), enc(&id)),
                None,
            )
            .await?;
            done(&c, format!("deleted client {client}"), None);
        }
        ClientCmd::Secret {
            realm,
            client,
            regenerate,
        } => {
            let id = api.client_id(&realm, &client).await?;
            let method = if regenerate {
                Method::POST
            } else {
                Method::GET
            };
            let (_, _, v) = api
                .call(
                    method,
                    &format!(
                        "/admin/realms/{}/clients/{}/client-secret",
                        enc(&realm),
                        enc(&id)
                    ),
                    None,
                )
                .await?;
            print(&c, &v, &["value"]);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn user(c: Conn, cmd: UserCmd) -> Result<ExitCode> {
    let api = Api::connect(&c).await?;
    let base = |realm: &str| format!("/admin/realms/{}/users", enc(realm));
    match cmd {
        UserCmd::List { realm, search } => {
            let q = search
                .map(|s| format!("?search={}", enc(&s)))
                .unwrap_or_default();
            print(
                &c,
                &api.get(&format!("{}{q}", base(&realm))).await?,
                &["username", "id", "email"],
            );
        }
        UserCmd::Get { realm, user } => {
            let id = api.user_id(&realm, &user).await?;
            print(
                &c,
                &api.get(&format!("{}/{}", base(&realm), enc(&id))).await?,
                &["username", "id", "email", "enabled"],
            );
        }
        UserCmd::Create {
            realm,
            file,
            username,
            password,
            email,
        } => {
            let body = match (file, username) {
                (Some(f), _) => read_json(&f)?,
                (None, Some(u)) => {
                    let mut b = json!({"username": u, "enabled": true});
                    if let Some(e) = email {
                        b["email"] = json!(e);
                    }
                    if let Some(p) = password {
                        b["credentials"] =
                            json!([{"type": "password", "value": p, "temporary": false}]);
                    }
                    b
                }
                (None, None) => bail!("give --file or --username"),
            };
            let (_, loc, _) = api.call(Method::POST, &base(&realm), Some(body)).await?;
            done(&c, "created".into(), loc);
        }
        UserCmd::Update { realm, user, file } => {
            let id = api.user_id(&realm, &user).await?;
            api.call(
                Method::PUT,
                &format!("{}/{}", base(&realm), enc(&id)),
                Some(read_json(&file)?),
            )
            .await?;
            done(&c, format!("updated user {user}"), None);
        }
        UserCmd::Delete { realm, user } => {
            let id = api.user_id(&realm, &user).await?;
            api.call(
                Method::DELETE,
                &format!("{}/{}", base(&realm), enc(&id)),
                None,
            )
            .await?;
            done(&c, format!("deleted user {user}"), None);
        }
        UserCmd::ResetPassword {
            realm,
            user,
            password,
        } => {
            let id = api.user_id(&realm, &user).await?;
            let body = json!({"type": "password", "value": password, "temporary": false});
            api.call(
                Method::PUT,
                &format!("{}/{}/reset-password", base(&realm), enc(&id)),
                Some(body),
            )
            .await?;
            done(&c, format!("password of {user} reset"), None);
        }
        UserCmd::Logout { realm, user } => {
            let id = api.user_id(&realm, &user).await?;
            api.call(
                Method::POST,
                &format!("{}/{}/logout", base(&realm), enc(&id)),
                None,
            )
            .await?;
            done(&c, format!("sessions of {user} ended"), None);
        }
        UserCmd::Sessions { realm, user } => {
            let id = api.user_id(&realm, &user).await?;
            print(
                &c,
                &api.get(&format!("{}/{}/sessions", base(&realm), enc(&id)))
                    .await?,
                &[
                    "id",
                    "username",
                    "ipAddress",
                    "start",
                    "lastAccess",
                    "clients",
                ],
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_a_header_and_dates() {
        let v = json!({"id": "s1", "username": "alice", "start": 1_700_000_000_123_i64, "clients": {"u1": "spa"}});
        let t = table(&[&v], &["id", "username", "start", "clients"]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "id  username  start                 clients");
        assert_eq!(lines[1], "s1  alice     2023-11-14T22:13:20Z  spa");
        assert_eq!(table(&[], &["id", "username"]), "id  username\n(none)\n");
        assert_eq!(table(&[&json!({"value": "x"})], &["value"]), "x\n");
    }
}
