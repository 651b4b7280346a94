//! Commands and options. Every option can also come from the environment.

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use latchkey_application::Clock as _;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "latchkey",
    version,
    about = "A Keycloak-compatible OAuth 2.0 / OpenID Connect server"
)]
pub struct Cli {
    /// What to log: a tracing filter such as `info`, `latchkey=debug` or `warn`.
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_LOG",
        default_value = "info",
        value_name = "FILTER"
    )]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// Store: sqlite://PATH (relative sqlite://./x.db or absolute sqlite:///var/x.db, created on
    /// first start) or postgres://...
    #[arg(
        long = "db",
        env = "LATCHKEY_DB",
        value_name = "URL",
        default_value = "sqlite://./data/latchkey.db"
    )]
    pub db: String,
    /// Connections to PostgreSQL per process.
    #[arg(long, env = "LATCHKEY_DB_POOL", value_name = "N", default_value_t = latchkey_storage::DEFAULT_POOL_SIZE)]
    pub db_pool: usize,
    /// Key that encrypts client secrets at rest: 32 bytes in base64, or any passphrase.
    /// Default: the file `latchkey.master.key` in the SQLite store's folder, created on first
    /// start. Required with PostgreSQL, and the same on every node.
    #[arg(
        long,
        env = "LATCHKEY_MASTER_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub master_key: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to bind (host:port).
    #[arg(
        long,
        env = "LATCHKEY_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: String,
    #[command(flatten)]
    pub db: DbArgs,
    /// Base of every issuer: {public-url}/realms/{realm}. Default: http:// + the listen address.
    #[arg(long, env = "LATCHKEY_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// A realm JSON file, or a folder of them, in Keycloak's export format; realms that do not
    /// exist yet are created at start.
    #[arg(long, env = "LATCHKEY_IMPORT_REALM", value_name = "PATH")]
    pub import_realm: Option<std::path::PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "LATCHKEY_BODY_LIMIT", value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// How many password hashes may run at once (default: the number of CPUs).
    #[arg(long, env = "LATCHKEY_HASH_WORKERS", value_name = "N")]
    pub hash_workers: Option<usize>,
    /// Seconds between sweeps that delete expired refresh-token records, long-ended sessions,
    /// sessions that idled out or reached their maximum lifespan, expired revocations and
    /// codes (in small batches); 0 turns the sweep off.
    #[arg(
        long,
        env = "LATCHKEY_PURGE_INTERVAL",
        value_name = "SECONDS",
        default_value_t = 60
    )]
    pub purge_interval: u64,
    /// With --bootstrap-admin-password: add this admin user to realm 'master' at start when
    /// 'master' has no admin yet, as Keycloak's bootstrap admin.
    #[arg(long, env = "LATCHKEY_ADMIN_USERNAME", value_name = "NAME")]
    pub bootstrap_admin_username: Option<String>,
    /// The bootstrap admin user's password (prefer the environment variable to the flag).
    #[arg(
        long,
        env = "LATCHKEY_ADMIN_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub bootstrap_admin_password: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct GatewayArgs {
    /// Kong declarative configuration (services, routes, the openid-connect plugin), YAML or
    /// JSON.
    #[arg(long, env = "LATCHKEY_GATEWAY_CONFIG", value_name = "PATH")]
    pub config: std::path::PathBuf,
    /// The proxy's address (Kong's proxy port).
    #[arg(
        long,
        env = "LATCHKEY_GATEWAY_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8000"
    )]
    pub listen: String,
    /// The status listener: /health/live, /health/ready and /metrics.
    #[arg(
        long,
        env = "LATCHKEY_GATEWAY_STATUS_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8100"
    )]
    pub status_listen: String,
    /// Check the configuration and exit: 0 when it is good, else a message naming the file,
    /// the entity and the key.
    #[arg(long)]
    pub check: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run the token gateway: a reverse proxy in the role of Kong's openid-connect plugin.
    Gateway(GatewayArgs),
    /// Say in plain words whether a token latchkey issued is valid now, and if not, why.
    Explain {
        /// The token (access, ID or refresh token); a leading "Bearer " is ignored.
        token: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage realms through the admin API of a running server.
    Realm {
        #[command(flatten)]
        conn: crate::admin_cli::Conn,
        #[command(subcommand)]
        command: crate::admin_cli::RealmCmd,
    },
    /// Manage clients through the admin API of a running server.
    Client {
        #[command(flatten)]
        conn: crate::admin_cli::Conn,
        #[command(subcommand)]
        command: crate::admin_cli::ClientCmd,
    },
    /// Manage users through the admin API of a running server.
    User {
        #[command(flatten)]
        conn: crate::admin_cli::Conn,
        #[command(subcommand)]
        command: crate::admin_cli::UserCmd,
    },
    /// Write a realm as Keycloak realm-export JSON (from the store; server running or not).
    Export {
        #[arg(long)]
        realm: String,
        /// Include client secrets (decrypted with the master key).
        #[arg(long)]
        include_secrets: bool,
        /// Write to this file instead of standard output.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Copy everything from one store into another (empty) one, e.g. SQLite to PostgreSQL.
    Migrate {
        /// Source store URL.
        #[arg(long)]
        from: String,
        /// Target store URL (must hold no realm yet).
        #[arg(long)]
        to: String,
    },
    /// See and end sessions and offline sessions.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Print the README's settings reference (Markdown) from this command line's definition.
    #[command(hide = true)]
    SettingsReference,
    /// Add an administrator to realm 'master', as Keycloak's `kc.sh bootstrap-admin` (against
    /// the store; server running or not).
    BootstrapAdmin {
        #[command(subcommand)]
        command: BootstrapAdminCommand,
    },
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

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// New signing keys (RS256, ES256, EdDSA, and the refresh-token HMAC key) start signing; the
    /// old ones stay published until the last token they signed has expired.
    Rotate {
        #[arg(long)]
        realm: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum SessionsCommand {
    /// List active sessions of a realm.
    List {
        #[arg(long)]
        realm: String,
        /// Only offline sessions.
        #[arg(long, conflicts_with = "online")]
        offline: bool,
        /// Only online (browser or direct-grant) sessions.
        #[arg(long)]
        online: bool,
        /// Only this user's sessions.
        #[arg(long)]
        user: Option<String>,
        /// Also list sessions with nothing left alive (every token revoked, idled out, past
        /// their maximum lifespan), marked as such; the purge deletes them in time.
        #[arg(long)]
        all: bool,
        /// Output format.
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        output: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// End sessions: their refresh tokens stop working at once.
    Revoke {
        #[arg(long)]
        realm: String,
        /// The session id (`sid`) to end.
        id: Option<String>,
        /// End every session of this user.
        #[arg(long)]
        user: Option<String>,
        /// End every session of the realm.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => crate::serve::serve(args).await,
        Command::Gateway(args) => gateway(args).await,
        Command::Realm { conn, command } => crate::admin_cli::realm(conn, command).await,
        Command::Client { conn, command } => crate::admin_cli::client(conn, command).await,
        Command::User { conn, command } => crate::admin_cli::user(conn, command).await,
        Command::Export {
            realm,
            include_secrets,
            file,
            db,
        } => {
            let store = db.open().await?;
            let master = if include_secrets {
                Some(db.master_key()?)
            } else {
                None
            };
            let rep = crate::export::realm(store.as_ref(), master.as_ref(), &realm).await?;
            let text = serde_json::to_string_pretty(&rep)?;
            match file {
                Some(f) => std::fs::write(&f, text + "\n")?,
                None => println!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys {
            command: KeysCommand::Rotate { realm, db },
        } => {
            let store = db.open().await?;
            let r = store
                .realm_by_name(&realm)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("realm '{realm}' does not exist"))?;
            let keys = latchkey_application::provision::generate_keys(
                latchkey_application::SystemClock.now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
            for k in keys {
                println!("new {} key {}", k.alg, k.kid);
                store
                    .add_key(&r.id, k)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            println!("realm '{realm}' now signs with the new keys (servers on SQLite pick them up within 30 s)");
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { from, to } => {
            let counts = latchkey_storage::migrate::migrate(&from, &to)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for (table, n) in counts {
                println!("{table:16} {n} rows");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::SettingsReference => {
            print!("{}", crate::settings::reference());
            Ok(ExitCode::SUCCESS)
        }
        Command::BootstrapAdmin { command } => crate::bootstrap::command(command).await,
        Command::Explain { token, db } => crate::explain::explain(&db, &token).await,
        Command::Sessions { command } => match command {
            SessionsCommand::List {
                realm,
                offline,
                online,
                user,
                all,
                output,
                db,
            } => {
                let kind = if offline {
                    Some(true)
                } else if online {
                    Some(false)
                } else {
                    None
                };
                crate::sessions::list(&db, &realm, kind, user.as_deref(), all, output == "json")
                    .await
            }
            SessionsCommand::Revoke {
                realm,
                id,
                user,
                all,
                db,
            } => crate::sessions::revoke(&db, &realm, id.as_deref(), user.as_deref(), all).await,
        },
    }
}

async fn gateway(args: GatewayArgs) -> Result<ExitCode> {
    if args.check {
        return match latchkey_gateway::load(&args.config) {
            Ok(c) => {
                println!("{}", latchkey_gateway::summary(&c));
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("latchkey gateway: {e}");
                Ok(ExitCode::from(2))
            }
        };
    }
    latchkey_gateway::run(latchkey_gateway::Options {
        config: args.config,
        listen: args.listen,
        status_listen: args.status_listen,
    })
    .await
    .map_err(|e| anyhow::anyhow!(e))?;
    Ok(ExitCode::SUCCESS)
}
