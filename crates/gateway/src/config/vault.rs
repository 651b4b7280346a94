//! Kong's secret references in the environment vault: a string value `{vault://env/NAME}` is
//! the environment variable `NAME` (upper-cased, `-` read as `_`, as Kong does), and
//! `{vault://env/NAME/KEY}` is the member `KEY` of the JSON object that variable holds.

use super::reader::FieldError;
use serde_json::Value;

/// Replaces every reference in `doc`; a reference to a missing variable is an error naming
/// where it stands.
pub fn resolve(doc: &mut Value, env: &dyn Fn(&str) -> Option<String>) -> Result<(), FieldError> {
    walk(doc, &mut Vec::new(), env)
}

fn walk(
    v: &mut Value,
    path: &mut Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), FieldError> {
    match v {
        Value::String(s) => {
            if let Some(found) = reference(s, env).map_err(|message| error(path, message))? {
                *s = found;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(format!("[{i}]"));
                walk(item, path, env)?;
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                path.push(k.clone());
                walk(item, path, env)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

fn error(path: &[String], message: String) -> FieldError {
    // The entity is the path to the object holding the key; array indexes stay with their key.
    let mut key_start = path.len();
    while key_start > 0 && path[key_start - 1].starts_with('[') {
        key_start -= 1;
    }
    let key_start = key_start.saturating_sub(1);
    let join = |parts: &[String]| {
        let mut out = String::new();
        for p in parts {
            if !out.is_empty() && !p.starts_with('[') {
                out.push('.');
            }
            out.push_str(p);
        }
        out
    };
    FieldError {
        entity: if key_start == 0 {
            "(top level)".into()
        } else {
            join(&path[..key_start])
        },
        key: join(&path[key_start..]),
        message,
    }
}

/// The value of a reference, `None` when `s` is not one.
fn reference(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, String> {
    let Some(inner) = s
        .strip_prefix("{vault://")
        .and_then(|r| r.strip_suffix('}'))
    else {
        return Ok(None);
    };
    let Some(rest) = inner.strip_prefix("env/") else {
        return Err(format!(
            "'{s}': only the environment vault ({{vault://env/NAME}}) is supported"
        ));
    };
    let (name, key) = match rest.split_once('/') {
        Some((n, k)) => (n, Some(k)),
        None => (rest, None),
    };
    if name.is_empty() {
        return Err(format!("'{s}' names no variable"));
    }
    let var = name.replace('-', "_").to_uppercase();
    let value = env(&var).ok_or_else(|| {
        format!("'{s}' refers to the environment variable {var}, which is not set")
    })?;
    let Some(key) = key else {
        return Ok(Some(value));
    };
    let obj: Value = serde_json::from_str(&value)
        .map_err(|_| format!("'{s}': {var} does not hold a JSON object to take '{key}' from"))?;
    match obj.get(key) {
        Some(Value::String(v)) => Ok(Some(v.clone())),
        Some(other) => Ok(Some(other.to_string())),
        None => Err(format!(
            "'{s}': the JSON object in {var} has no member '{key}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Option<String> {
        match name {
            "OIDC_SECRET" => Some("s3cret".into()),
            "BUNDLE" => Some(r#"{"id": "gw", "n": 5}"#.into()),
            _ => None,
        }
    }

    #[test]
    fn references_are_replaced() {
        let mut doc = json!({"plugins": [{"config": {
            "client_secret": ["{vault://env/oidc-secret}"],
            "client_id": "{vault://env/bundle/id}",
            "x": "{vault://env/bundle/n}",
            "plain": "{vault is not a reference}"
        }}]});
        resolve(&mut doc, &env).unwrap();
        let c = &doc["plugins"][0]["config"];
        assert_eq!(c["client_secret"][0], "s3cret");
        assert_eq!(c["client_id"], "gw");
        assert_eq!(c["x"], "5");
        assert_eq!(c["plain"], "{vault is not a reference}");
    }

    #[test]
    fn a_missing_variable_names_where_it_stands() {
        let mut doc = json!({"services": [{"plugins": [{"config": {"client_secret": ["{vault://env/nope}"]}}]}]});
        let e = resolve(&mut doc, &env).unwrap_err();
        assert_eq!(e.entity, "services[0].plugins[0].config");
        assert_eq!(e.key, "client_secret[0]");
        assert!(
            e.message.contains("NOPE, which is not set"),
            "{}",
            e.message
        );
        let mut doc = json!({"a": "{vault://aws/x}"});
        assert!(resolve(&mut doc, &env)
            .unwrap_err()
            .message
            .contains("only the environment vault"));
    }
}
