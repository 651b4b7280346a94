//! `--import-realm`: Keycloak realm-export JSON, a file or a folder of `*.json` files. Realms
//! that already exist are left as they are. Unknown fields are ignored with a warning; a
//! malformed file stops the start with a message naming the file and the field.

use anyhow::{anyhow, bail, Context, Result};
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
        if !ignored.is_empty() {
            tracing::warn!(
                file = %file.display(),
                count = ignored.len(),
                fields = %ignored.join(", "),
                "ignoring fields latchkey does not use"
            );
        }
        parsed.push((file, rep));
    }
    for (file, rep) in parsed {
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
        let (clients, users) = (new.clients.len(), new.users.len());
        match state.store.create_realm(new).await {
            Ok(()) => {
                tracing::info!(realm = %rep.realm, clients, users, file = %file.display(), "imported realm")
            }
            Err(StoreError::Conflict(what)) => bail!("{}: {what} already exists", file.display()),
            Err(e) => bail!("{}: {e}", file.display()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_listed() {
        let (rep, ignored) = parse(
            Path::new("x.json"),
            r#"{"realm":"a","smtpServer":{},"clients":[{"clientId":"c","protocolMappers":[]}]}"#,
        )
        .unwrap();
        assert_eq!(rep.realm, "a");
        assert!(ignored.contains(&"smtpServer".to_string()), "{ignored:?}");
        assert!(
            ignored.iter().any(|p| p.contains("protocolMappers")),
            "{ignored:?}"
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
