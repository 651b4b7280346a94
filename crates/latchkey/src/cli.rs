//! Commands and options. Every option can also come from the environment.

use crate::bootstrap::BootstrapAdminCommand;
use crate::serve::ServeArgs;
use crate::store::DbArgs;
use anyhow::Result;
use clap::{Args, CommandFactory, Parser, Subcommand};
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
    /// How log lines are written to standard error: `text` for people, `json` (one object per
    /// line) for log collectors.
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_LOG_FORMAT",
        default_value = "text",
        value_parser = ["text", "json"],
        value_name = "FORMAT"
    )]
    pub log_format: String,
    /// One log line per request (target `latchkey::access`): route, status, latency, realm,
    /// client and the check that failed. Off by default, as Keycloak's access log: a line per
    /// request costs a busy server a few percent.
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_HTTP_ACCESS_LOG_ENABLED",
        default_value_t = false,
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub http_access_log_enabled: bool,
    /// A TOML file of settings, keyed by their long flag names (`listen = "…"`, `db = "…"`);
    /// flags win over the environment, which wins over the file.
    #[arg(long, global = true, env = "LATCHKEY_CONFIG_FILE", value_name = "PATH")]
    pub config_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
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
    /// Roles and role mappings through the admin API of a running server.
    Role {
        #[command(flatten)]
        conn: crate::admin_cli::Conn,
        #[command(subcommand)]
        command: crate::model_cli::RoleCmd,
    },
    /// Groups and memberships through the admin API of a running server.
    Group {
        #[command(flatten)]
        conn: crate::admin_cli::Conn,
        #[command(subcommand)]
        command: crate::model_cli::GroupCmd,
    },
    /// Client scopes and the clients that get them, through the admin API of a running server.
    Scope {
        #[command(flatten)]
        conn: crate::admin_cli::Conn,
        #[command(subcommand)]
        command: crate::scope_cli::ScopeCmd,
    },
    /// Protocol mappers of client scopes and clients, through the admin API of a running server.
    Mapper {
        #[command(flatten)]
        conn: crate::admin_cli::Conn,
        #[command(subcommand)]
        command: crate::scope_cli::MapperCmd,
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
    /// Import Keycloak realm exports into the store (a file, or a folder of `*.json`); with
    /// `--dry-run`, only say what the import would do and the tokens a user would get.
    Import {
        /// The realm export (or a folder of them).
        path: std::path::PathBuf,
        /// Change nothing: report what would be imported, migrated and skipped, and a sample
        /// of the claims a user of the realm would get.
        #[arg(long)]
        dry_run: bool,
        /// The user of the sample tokens (default: the first enabled user).
        #[arg(long, requires = "dry_run")]
        user: Option<String>,
        /// The client of the sample tokens (default: the first that is not built in).
        #[arg(long, requires = "dry_run")]
        client: Option<String>,
        /// Print the report as JSON.
        #[arg(long, requires = "dry_run")]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Ask a server whether it is ready (exit 0) or not (exit 1, saying why): a container's
    /// health check, with no store opened and nothing written.
    Health {
        /// The URL to ask; default: /health/ready on the management listener
        /// (LATCHKEY_MANAGEMENT_LISTEN, or 127.0.0.1:9000).
        #[arg(long)]
        url: Option<String>,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3.0)]
        timeout: f64,
    },
    /// Write a consistent copy of the store to a new file while servers run on it (a SQLite
    /// file, whatever the store). The master key is not in it: keep it apart.
    Backup {
        /// The new file.
        #[arg(long)]
        to: std::path::PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Write a backup into the store `--db` names, in one transaction: into an empty store, or
    /// with --replace in place of everything in it. Stop the servers of the store first.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: std::path::PathBuf,
        /// Replace whatever the store holds.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// The effective configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Stored user and admin events.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
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
pub enum KeysCommand {
    /// New signing keys (RS256, ES256, EdDSA, and the refresh-token HMAC key) start signing; the
    /// old ones stay published until the last token they signed has expired.
    Rotate {
        #[arg(long)]
        realm: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// A realm's keys, oldest first: kid, algorithm, whether it signs or is only published (for
    /// the tokens it signed), when it was made, and whether it is sealed under the master key.
    List {
        #[arg(long)]
        realm: String,
        /// text or json.
        #[arg(long, default_value = "text")]
        output: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print every setting of `latchkey serve` with its value and where it comes from (flag
    /// file, environment or default), secrets masked.
    Show,
}

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Print a realm's last events, oldest first, then follow new ones as they are recorded
    /// (user events unless `--admin`). Events are stored only where the realm enables them
    /// (`eventsEnabled`, `adminEventsEnabled`).
    Tail {
        #[arg(long)]
        realm: String,
        /// Admin events instead of user events.
        #[arg(long)]
        admin: bool,
        /// How many of the last events to print first.
        #[arg(long, short = 'n', default_value_t = 10, value_parser = clap::value_parser!(i64).range(0..=10_000))]
        lines: i64,
        /// Print the last events and stop.
        #[arg(long)]
        no_follow: bool,
        /// text or json (one Keycloak event representation per line).
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        output: String,
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

pub async fn run(cli: Cli, config: crate::config_file::Applied) -> Result<ExitCode> {
    match cli.command {
        Command::Config {
            command: ConfigCommand::Show,
        } => crate::config_file::show(&config),
        Command::Backup { to, db } => crate::backup_cli::backup(&db, &to).await,
        Command::Restore { from, replace, db } => {
            crate::backup_cli::restore(&db, &from, replace).await
        }
        Command::Serve(args) => crate::serve::serve(args).await,
        Command::Gateway(args) => gateway(args).await,
        Command::Realm { conn, command } => crate::admin_cli::realm(conn, command).await,
        Command::Client { conn, command } => crate::admin_cli::client(conn, command).await,
        Command::User { conn, command } => crate::admin_cli::user(conn, command).await,
        Command::Role { conn, command } => crate::model_cli::role(conn, command).await,
        Command::Group { conn, command } => crate::model_cli::group(conn, command).await,
        Command::Scope { conn, command } => crate::scope_cli::scope(conn, command).await,
        Command::Mapper { conn, command } => crate::scope_cli::mapper(conn, command).await,
        Command::Import {
            path,
            dry_run: true,
            user,
            client,
            json,
            ..
        } => crate::import::dry_run(&path, user.as_deref(), client.as_deref(), json).await,
        Command::Import { path, db, .. } => {
            let master = std::sync::Arc::new(db.master_key()?);
            let store = db.open().await?;
            let state = latchkey_application::App::new(
                store,
                master,
                latchkey_application::hashing::PasswordPool::new(
                    2,
                    latchkey_crypto::password::HashParams::default(),
                ),
                String::new(),
            );
            crate::import::import(&state, &path).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            realm,
            include_secrets,
            file,
            db,
        } => {
            let master = if include_secrets {
                Some(db.master_key()?)
            } else {
                None
            };
            let store = db.open().await?;
            let rep = crate::export::realm(store.as_ref(), master.as_ref(), &realm).await?;
            let text = serde_json::to_string_pretty(&rep)?;
            match file {
                Some(f) => std::fs::write(&f, text + "\n")?,
                None => println!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command } => crate::keys_cli::run(command).await,
        Command::Health { url, timeout } => {
            let url = url.unwrap_or_else(|| {
                crate::health::default_url(
                    &std::env::var("LATCHKEY_MANAGEMENT_LISTEN")
                        .unwrap_or_else(|_| "127.0.0.1:9000".into()),
                )
            });
            let timeout = std::time::Duration::try_from_secs_f64(timeout)
                .map_err(|_| anyhow::anyhow!("--timeout must be a positive number of seconds"))?;
            crate::health::probe(&url, timeout).await
        }
        Command::Events {
            command:
                EventsCommand::Tail {
                    realm,
                    admin,
                    lines,
                    no_follow,
                    output,
                    db,
                },
        } => {
            crate::events_cli::tail(crate::events_cli::Tail {
                realm,
                admin,
                lines,
                json: output == "json",
                follow: !no_follow,
                db,
            })
            .await
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
            print!("{}", crate::settings::reference(&Cli::command()));
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
