//! `--config-file latchkey.toml`: every setting of `latchkey serve` by its long flag name
//! (`listen = "0.0.0.0:8080"`, `db = "postgres://…"`, `purge-interval = 60`), as Keycloak's
//! `conf/keycloak.conf`. A value from the file goes into the setting's environment variable
//! when that is not set, before the command line is parsed: so a flag wins over the
//! environment, which wins over the file. `latchkey config show` prints what results.

use anyhow::{anyhow, bail, Context, Result};
use clap::CommandFactory;
use std::ffi::OsString;
use std::path::PathBuf;

/// What the file set: its path and the environment variables it filled.
#[derive(Debug, Default, Clone)]
pub struct Applied {
    pub file: Option<PathBuf>,
    pub from_file: Vec<String>,
}

/// The settings a file may hold for `command` (`serve` or `gateway`): its own and the global
/// ones, as (long name, env name, secret).
pub fn settings(command: &str) -> Vec<(String, String, bool)> {
    let cli = crate::cli::Cli::command();
    let serve = cli
        .find_subcommand(command)
        .expect("a command with settings")
        .clone();
    cli.get_arguments()
        .chain(serve.get_arguments())
        .filter_map(|a| {
            let long = a.get_long()?.to_string();
            let env = a.get_env()?.to_string_lossy().into_owned();
            Some((long, env, a.is_hide_env_values_set()))
        })
        .filter(|(long, _, _)| long != "config-file")
        .collect()
}

/// The config file the command line or the environment names, if any.
fn named(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        if a == "--config-file" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--config-file=") {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os("LATCHKEY_CONFIG_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Reads the config file, if one is named, into the environment (called before the runtime
/// starts, while the process has one thread).
pub fn apply(args: &[OsString]) -> Result<Applied> {
    let Some(path) = named(args) else {
        return Ok(Applied::default());
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("--config-file {}", path.display()))?;
    let command = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy())
        .find(|a| a == "serve" || a == "gateway")
        .map_or("serve".to_string(), |a| a.into_owned());
    let values =
        parse(&text, &command).with_context(|| format!("--config-file {}", path.display()))?;
    let mut from_file = Vec::new();
    for (env, value) in values {
        if std::env::var_os(&env).is_none() {
            std::env::set_var(&env, value);
            from_file.push(env);
        }
    }
    Ok(Applied {
        file: Some(path),
        from_file,
    })
}

/// The file's settings as (environment variable, value), or what is wrong with it.
fn parse(text: &str, command: &str) -> Result<Vec<(String, String)>> {
    let table: toml::Table = text.parse().map_err(|e| anyhow!("{e}"))?;
    let known = settings(command);
    let mut out = Vec::new();
    for (key, value) in table {
        let Some((_, env, _)) = known.iter().find(|(long, _, _)| *long == key) else {
            bail!(
                "'{key}' is not a setting of `latchkey {command}`: the keys are the long names of its flags (listen, db, public-url, …; `latchkey config show` lists serve's)"
            );
        };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    toml::Value::String(s) => Ok(s.clone()),
                    toml::Value::Integer(n) => Ok(n.to_string()),
                    _ => Err(anyhow!("'{key}': a list holds strings or numbers")),
                })
                .collect::<Result<Vec<_>>>()?
                .join(","),
            _ => bail!("'{key}': expected a string, number, boolean or list"),
        };
        out.push((env.clone(), value));
    }
    Ok(out)
}

/// `latchkey config show`: every setting of `serve` with its value and where it came from,
/// secrets masked.
pub fn show(applied: &Applied) -> Result<std::process::ExitCode> {
    if let Some(f) = &applied.file {
        println!("# config file: {}", f.display());
    }
    let serve = crate::cli::Cli::command();
    let serve = serve.find_subcommand("serve").expect("serve").clone();
    let default_of = |long: &str| {
        serve
            .get_arguments()
            .chain(crate::cli::Cli::command().get_arguments())
            .find(|a| a.get_long() == Some(long))
            .and_then(|a| a.get_default_values().first().cloned())
            .map(|v| v.to_string_lossy().into_owned())
    };
    for (long, env, secret) in settings("serve") {
        let (value, source) = match std::env::var(&env) {
            Ok(v) if applied.from_file.contains(&env) => (Some(v), "file"),
            Ok(v) => (Some(v), "env"),
            _ => (default_of(&long), "default"),
        };
        let Some(value) = value else {
            println!("# {long} (not set)");
            continue;
        };
        let shown = if secret || long.contains("password") || long.contains("master-key") {
            "********".to_string()
        } else {
            value
        };
        println!(
            "{long} = {}  # {source}{}",
            toml::Value::String(shown),
            if source == "env" {
                format!(" {env}")
            } else {
                String::new()
            }
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_flag_names_and_values_any_toml_scalar() {
        let v = parse(
            "listen = \"0.0.0.0:8080\"\npurge-interval = 30\nlog-format = \"json\"\n",
            "serve",
        )
        .unwrap();
        assert!(v.contains(&("LATCHKEY_LISTEN".into(), "0.0.0.0:8080".into())));
        assert!(v.contains(&("LATCHKEY_PURGE_INTERVAL".into(), "30".into())));
        assert!(v.contains(&("LATCHKEY_LOG_FORMAT".into(), "json".into())));
    }

    #[test]
    fn unknown_keys_and_bad_toml_are_named() {
        let e = parse("lisen = \"x\"", "serve").unwrap_err().to_string();
        assert!(e.contains("'lisen' is not a setting"), "{e}");
        let g = parse("status-listen = \"127.0.0.1:1\"", "gateway").unwrap();
        assert_eq!(
            g,
            [(
                "LATCHKEY_GATEWAY_STATUS_LISTEN".to_string(),
                "127.0.0.1:1".to_string()
            )]
        );
        assert!(parse("listen = ", "serve").is_err());
        let e = parse("[serve]\nlisten = 1", "serve")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'serve'"), "{e}");
    }

    #[test]
    fn the_file_is_named_by_flag_or_environment() {
        let args: Vec<OsString> = ["latchkey", "serve", "--config-file", "a.toml"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(named(&args), Some(PathBuf::from("a.toml")));
        let args: Vec<OsString> = ["latchkey", "--config-file=b.toml"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(named(&args), Some(PathBuf::from("b.toml")));
    }
}
