//! `--import-realm`: Keycloak realm-export JSON, a file or a folder of `*.json` files. Realms
//! that already exist are left as they are. Unknown fields are ignored with a warning; a
//! malformed file stops the start with a message naming the file and the field.

use anyhow::{anyhow, bail, Context, Result};
use latchkey_application::provision::Provisioned;
use latchkey_application::App;
use latchkey_domain::keycloak::RealmRepresentation;
use latchkey_storage::StoreError;
use std::path::{Path, PathBuf};

/// Parses one realm file, returning the representation and the paths of ignored fields.
pub fn parse(file: &Path, text: &str) -> Result<(RealmRepresentation, Vec<String>)> {
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
        anyhow!("{}: field '{}': {}", file.display(), field, e.inner())
    })?;
    json.end().map_err(|e| {
        anyhow!(
            "{}: trailing characters after the realm: {e}",
            file.display()
        )
    })?;
    Ok((rep, ignored))
}

fn files(path: &Path) -> Result<Vec<PathBuf>> {
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

/// What an import changed and left out, for the log and for `import --dry-run`.
pub struct Report {
    pub migrated: Vec<String>,
    pub skipped: Vec<String>,
}

impl Report {
    pub fn new(p: &Provisioned, ignored: &[String]) -> Report {
        let mut skipped = p.skipped.clone();
        skipped.extend(unserved_fields(ignored));
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

/// Fields of the export latchkey does not read, grouped, with why for the ones that matter.
pub fn unserved_fields(ignored: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut other: Vec<String> = Vec::new();
    for path in ignored {
        // `clients.?.3.authorizationSettings.x` (an element of an optional list) →
        // `clients[].authorizationSettings`.
        let parts: Vec<&str> = path.split('.').filter(|p| *p != "?").collect();
        let field = match parts.as_slice() {
            [top, i, f, ..] if i.parse::<usize>().is_ok() => format!("{top}[].{f}"),
            [top, ..] => top.to_string(),
            [] => continue,
        };
        let why = match field.as_str() {
            "identityProviders" | "identityProviderMappers" => {
                Some("identity brokering (sign-in through another IdP) is not served")
            }
            "authenticationFlows" | "authenticatorConfig" | "browserFlow" | "directGrantFlow"
            | "registrationFlow" | "resetCredentialsFlow" | "clientAuthenticationFlow"
            | "dockerAuthenticationFlow" | "firstBrokerLoginFlow" => {
                Some("authentication flows are not served: sign-in is username (or email) and password")
            }
            "requiredActions" => Some("required actions are not served"),
            "userFederationProviders" | "userFederationMappers" => {
                Some("user federation (LDAP) is not served: import the users")
            }
            "clients[].authorizationSettings" | "clients[].authorizationServicesEnabled" => {
                Some("authorization services (UMA, policies) are not served")
            }
            "clientTemplates" | "clients[].clientTemplate" => {
                Some("client templates (Keycloak 3) are not served; Keycloak 4 replaced them with client scopes")
            }
            _ => None,
        };
        match why {
            Some(w) => {
                let line = format!("{field}: {w}");
                if !out.contains(&line) {
                    out.push(line);
                }
            }
            None => {
                if !other.contains(&field) {
                    other.push(field);
                }
            }
        }
    }
    if !other.is_empty() {
        out.push(format!("settings not used: {}", other.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_listed_grouped_with_reasons() {
        let (rep, ignored) = parse(
            Path::new("x.json"),
            r#"{"realm":"a","smtpServer":{},"identityProviders":[{"alias":"g"}],
                "clients":[{"clientId":"c","authorizationSettings":{"x":1}},
                           {"clientId":"d","authorizationSettings":{}, "surrogateAuthRequired":false}]}"#,
        )
        .unwrap();
        assert_eq!(rep.realm, "a");
        let lines = unserved_fields(&ignored);
        assert_eq!(lines.len(), 3, "{lines:?} from {ignored:?}");
        assert!(
            lines[0].starts_with("identityProviders: identity brokering"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("clients[].authorizationSettings: "),
            "{lines:?}"
        );
        assert_eq!(
            lines[2],
            "settings not used: smtpServer, clients[].surrogateAuthRequired"
        );
    }

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
