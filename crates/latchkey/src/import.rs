//! `--import-realm`: Keycloak realm-export JSON, a file or a folder of `*.json` files. Realms
//! that already exist are left as they are. Unknown fields are ignored with a warning; a
//! malformed file stops the start with a message naming the file and the field.

use anyhow::{anyhow, bail, Context, Result};
use latchkey_application::provision::{report, Provisioned};
use latchkey_application::App;
use latchkey_domain::keycloak::RealmRepresentation;
use latchkey_storage::StoreError;
use std::path::{Path, PathBuf};

/// Parses one realm file, returning the representation and the paths of ignored fields.
pub fn parse(file: &Path, text: &str) -> Result<(RealmRepresentation, Vec<String>)> {
    report::parse_export(text).map_err(|e| anyhow!("{}: {e}", file.display()))
}

pub fn files(path: &Path) -> Result<Vec<PathBuf>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("--import-realm {}", path.display()))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
        .collect();
    out.sort();
    if out.is_empty() {
        tracing::warn!(folder = %path.display(), "no *.json realm files to import");
    }
    Ok(out)
}

pub async fn import(state: &App, path: &Path) -> Result<()> {
    let mut parsed = Vec::new();
    for file in files(path)? {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let (rep, ignored) = parse(&file, &text)?;
        parsed.push((file, rep, ignored));
    }
    for (file, rep, ignored) in parsed {
        if state
            .store
            .realm_by_name(&rep.realm)
            .await
            .map_err(|e| anyhow!("{e}"))?
            .is_some()
        {
            tracing::info!(realm = %rep.realm, file = %file.display(), "realm exists; not imported again");
            continue;
        }
        let new = latchkey_application::provision::realm(
            &rep,
            &state.master_key,
            &state.passwords,
            state.now(),
        )
        .await
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
        let report = Report::new(&new, &ignored);
        report.log(&rep.realm);
        let (clients, users) = (new.new.clients.len(), new.new.users.len());
        match state.store.create_realm(new.new).await {
            Ok(()) => {
                tracing::info!(realm = %rep.realm, clients, users, file = %file.display(), "imported realm")
            }
            Err(StoreError::Conflict(what)) => bail!("{}: {what} already exists", file.display()),
            Err(e) => bail!("{}: {e}", file.display()),
        }
    }
    Ok(())
}

/// `latchkey import --dry-run`: the report of each file, as text or JSON.
pub async fn dry_run(
    path: &Path,
    user: Option<&str>,
    client: Option<&str>,
    as_json: bool,
) -> Result<std::process::ExitCode> {
    use latchkey_application::hashing::PasswordPool;
    use latchkey_crypto::password::HashParams;
    let passwords = PasswordPool::new(2, HashParams::default());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut reports = Vec::new();
    for file in files(path)? {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let (rep, ignored) = parse(&file, &text)?;
        let r = report::dry_run(&rep, &ignored, &passwords, now, user, client)
            .await
            .map_err(|e| anyhow!("{}: {e}", file.display()))?;
        reports.push(r);
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    for r in &reports {
        print!("{}", text_report(r));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn text_report(r: &report::DryRun) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let by = r
        .keycloak_version
        .as_deref()
        .map(|v| format!(" (exported by Keycloak {v})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "realm '{}'{by}: nothing was changed (dry run)",
        r.realm
    );
    let _ = writeln!(
        out,
        "  would import: {} clients ({}), {} users, {} groups, {} realm roles",
        r.clients.len(),
        r.clients.join(", "),
        r.users,
        r.groups,
        r.realm_roles
    );
    let _ = writeln!(out, "  client scopes: {}", r.client_scopes.join(", "));
    let _ = writeln!(out, "  keys: {}", r.keys.join("; "));
    for (title, lines) in [("migrated", &r.migrated), ("skipped", &r.skipped)] {
        if lines.is_empty() {
            let _ = writeln!(out, "  {title}: nothing");
        }
        for (i, l) in lines.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {}{l}",
                if i == 0 {
                    format!("{title}: ")
                } else {
                    " ".repeat(title.len() + 2)
                }
            );
        }
    }
    match &r.sample {
        Some(s) => {
            let pretty = |v: &serde_json::Value| {
                serde_json::to_string_pretty(v)
                    .unwrap_or_default()
                    .replace('\n', "\n    ")
            };
            let _ = writeln!(
                out,
                "  user '{}' signing in through client '{}' (scope openid) would get\n  access token:\n    {}\n  ID token:\n    {}",
                s.user,
                s.client,
                pretty(&s.access_token),
                pretty(&s.id_token)
            );
        }
        None => {
            let _ = writeln!(out, "  (no user and client to show sample tokens for)");
        }
    }
    out
}

/// What an import changed and left out, for the log.
pub struct Report {
    pub migrated: Vec<String>,
    pub skipped: Vec<String>,
}

impl Report {
    pub fn new(p: &Provisioned, ignored: &[String]) -> Report {
        let mut skipped = p.skipped.clone();
        skipped.extend(report::unserved_fields(ignored));
        Report {
            migrated: p.migrated.clone(),
            skipped,
        }
    }

    /// One line for the migrations, one warning line for everything skipped.
    pub fn log(&self, realm: &str) {
        if !self.migrated.is_empty() {
            tracing::info!(realm, "import migrated: {}", self.migrated.join("; "));
        }
        if !self.skipped.is_empty() {
            tracing::warn!(
                realm,
                count = self.skipped.len(),
                "import skipped what latchkey does not serve: {}",
                self.skipped.join("; ")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_errors_name_file_and_field() {
        let e = parse(
            Path::new("x.json"),
            r#"{"realm":"a","accessTokenLifespan":"soon"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("x.json") && e.contains("accessTokenLifespan"),
            "{e}"
        );
        let e = parse(
            Path::new("x.json"),
            r#"{"realm":"a","clients":[{"clientId":"c","enabled":"yes"}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("clients[0].enabled"), "{e}");
        let e = parse(Path::new("x.json"), r#"{"realm": "#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.json"), "{e}");
    }
}
