//! The gateway's configuration: Kong's declarative format (`_format_version: "3.0"`), YAML or
//! JSON, with `services`, their `routes` and the `openid-connect` plugin. Loaded whole and
//! checked whole: the gateway starts, or reloads, only on a configuration without a fault.

mod entities;
pub mod oidc;
mod reader;
mod vault;

pub use entities::{PathHandling, PathMatch, Route, Service};
pub use oidc::OidcConfig;
pub use reader::FieldError;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A fault in a configuration file, naming the file, the entity and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read it: {reason}")]
    Read { file: PathBuf, reason: String },
    #[error("{file}: not valid {format}: {reason}")]
    Syntax {
        file: PathBuf,
        format: &'static str,
        reason: String,
    },
    #[error("{file}: {error}")]
    Field { file: PathBuf, error: FieldError },
}

/// A loaded configuration: services, their routes (in match order), the plugin instances.
#[derive(Debug)]
pub struct Config {
    pub file: PathBuf,
    pub services: Vec<Service>,
    pub routes: Vec<Route>,
    pub plugins: Vec<Arc<OidcConfig>>,
}

/// Reads and checks a configuration file; `env` resolves `{vault://env/NAME}` references.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        file: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    parse(path, &text, env)
}

/// [`load`] of a text already read; `path` names it in errors and chooses JSON for `.json`.
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let json = path.extension().is_some_and(|e| e == "json");
    let mut doc: Value = if json {
        serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
            file: path.to_path_buf(),
            format: "JSON",
            reason: e.to_string(),
        })?
    } else {
        yaml(text).map_err(|reason| ConfigError::Syntax {
            file: path.to_path_buf(),
            format: "YAML",
            reason,
        })?
    };
    let field = |error| ConfigError::Field {
        file: path.to_path_buf(),
        error,
    };
    vault::resolve(&mut doc, env).map_err(field)?;
    let (services, routes, plugins) = entities::read(&doc).map_err(field)?;
    Ok(Config {
        file: path.to_path_buf(),
        services,
        routes,
        plugins,
    })
}

/// YAML into a JSON value. serde-saphyr: pure Rust, panic-free on any input, with limits on
/// alias expansion (serde_yaml is archived, and its successors wrap a C parser).
fn yaml(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Err("the file is empty".into());
    }
    serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
