//! Commands and options. Every option can also come from the environment.

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "latchkey",
    version,
    about = "A Keycloak-compatible OAuth 2.0 / OpenID Connect server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// Store: sqlite://PATH (relative sqlite://./x.db or absolute sqlite:///var/x.db) or postgres://...
    #[arg(
        long = "db",
        env = "LATCHKEY_DB",
        default_value = "sqlite://./data/latchkey.db"
    )]
    pub db: String,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to bind.
    #[arg(long, env = "LATCHKEY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub db: DbArgs,
    /// Base of every issuer: {public-url}/realms/{realm}. Default: http:// + the listen address.
    #[arg(long, env = "LATCHKEY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A realm JSON file, or a folder of them, in Keycloak's export format; realms that do not
    /// exist yet are created at start.
    #[arg(long, env = "LATCHKEY_IMPORT_REALM")]
    pub import_realm: Option<std::path::PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "LATCHKEY_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// How many password hashes may run at once (default: the number of CPUs).
    #[arg(long, env = "LATCHKEY_HASH_WORKERS")]
    pub hash_workers: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => crate::serve::serve(args).await,
    }
}
