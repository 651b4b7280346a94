//! Reading one entity of the declarative configuration: typed fields with Kong's defaults, and
//! an error naming the entity and the key for anything wrong, unknown keys included.

use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// A configuration error: which entity, which key, what is wrong. The file is added by the
/// loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub entity: String,
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.entity, self.message)
        } else {
            write!(f, "{}: key '{}': {}", self.entity, self.key, self.message)
        }
    }
}

pub type Result<T> = std::result::Result<T, FieldError>;

/// The fields of one entity (a service, a route, a plugin's `config`), read once each.
pub struct Fields<'a> {
    entity: String,
    map: &'a Map<String, Value>,
    read: BTreeSet<&'a str>,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Fields<'a> {
    pub fn new(entity: impl Into<String>, value: &'a Value) -> Result<Fields<'a>> {
        let entity = entity.into();
        match value {
            Value::Object(map) => Ok(Fields {
                entity,
                map,
                read: BTreeSet::new(),
            }),
            other => Err(FieldError {
                entity,
                key: String::new(),
                message: format!("must be an object, not {}", kind(other)),
            }),
        }
    }

    pub fn entity(&self) -> &str {
        &self.entity
    }

    pub fn error(&self, key: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            entity: self.entity.clone(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// The raw value of `key`; `null` counts as absent, as in Kong.
    pub fn raw(&mut self, key: &'a str) -> Option<&'a Value> {
        self.read.insert(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    pub fn opt_str(&mut self, key: &'a str) -> Result<Option<String>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.error(key, format!("must be a string, not {}", kind(other)))),
        }
    }

    pub fn str_or(&mut self, key: &'a str, default: &str) -> Result<String> {
        Ok(self.opt_str(key)?.unwrap_or_else(|| default.to_string()))
    }

    pub fn required_str(&mut self, key: &'a str) -> Result<String> {
        match self.opt_str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(self.error(key, "is required")),
        }
    }

    pub fn bool_or(&mut self, key: &'a str, default: bool) -> Result<bool> {
        match self.raw(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.error(key, format!("must be a boolean, not {}", kind(other)))),
        }
    }

    pub fn int_or(&mut self, key: &'a str, default: i64, min: i64, max: i64) -> Result<i64> {
        let v = match self.raw(key) {
            None => return Ok(default),
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(other) => {
                return Err(self.error(key, format!("must be a number, not {}", kind(other))))
            }
        };
        if v.fract() != 0.0 || v < min as f64 || v > max as f64 {
            return Err(self.error(key, format!("must be a whole number from {min} to {max}")));
        }
        Ok(v as i64)
    }

    pub fn float_or(&mut self, key: &'a str, default: f64, min: f64, max: f64) -> Result<f64> {
        match self.raw(key) {
            None => Ok(default),
            Some(Value::Number(n)) => {
                let v = n.as_f64().unwrap_or(f64::NAN);
                if !(min..=max).contains(&v) {
                    return Err(self.error(key, format!("must be from {min} to {max}")));
                }
                Ok(v)
            }
            Some(other) => Err(self.error(key, format!("must be a number, not {}", kind(other)))),
        }
    }

    /// An array of strings; a lone string is read as a one-element array, as Kong does.
    pub fn opt_list(&mut self, key: &'a str) -> Result<Option<Vec<String>>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.error(
                        key,
                        format!("element {i} must be a string, not {}", kind(other)),
                    )),
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(other) => Err(self.error(
                key,
                format!("must be an array of strings, not {}", kind(other)),
            )),
        }
    }

    pub fn list_or(&mut self, key: &'a str, default: &[&str]) -> Result<Vec<String>> {
        Ok(self
            .opt_list(key)?
            .unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect()))
    }

    /// A list whose every element is one of `allowed`.
    pub fn choices_or(
        &mut self,
        key: &'a str,
        allowed: &[&str],
        default: &[&str],
    ) -> Result<Vec<String>> {
        let list = self.list_or(key, default)?;
        for v in &list {
            if !allowed.contains(&v.as_str()) {
                return Err(self.error(key, format!("'{v}' is not one of {}", allowed.join(", "))));
            }
        }
        Ok(list)
    }

    pub fn choice_or(&mut self, key: &'a str, allowed: &[&str], default: &str) -> Result<String> {
        let v = self.str_or(key, default)?;
        if !allowed.contains(&v.as_str()) {
            return Err(self.error(key, format!("'{v}' is not one of {}", allowed.join(", "))));
        }
        Ok(v)
    }

    /// Keys Kong knows that change nothing here: read and accepted.
    pub fn accept(&mut self, keys: &[&'a str]) {
        for k in keys {
            self.read.insert(k);
        }
    }

    /// Fails on the first key that was never read.
    pub fn finish(self, what_is_known: &str) -> Result<()> {
        match self.map.keys().find(|k| !self.read.contains(k.as_str())) {
            None => Ok(()),
            Some(k) => Err(FieldError {
                entity: self.entity,
                key: k.clone(),
                message: format!("unknown key ({what_is_known})"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_reads_name_the_entity_and_key() {
        let v = json!({"a": "x", "b": 3, "c": ["p", 1], "d": true, "e": null});
        let mut f = Fields::new("services[0] 'api'", &v).unwrap();
        assert_eq!(f.opt_str("a").unwrap().as_deref(), Some("x"));
        let e = f.opt_str("b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "services[0] 'api': key 'b': must be a string, not a number"
        );
        assert!(f.opt_list("c").unwrap_err().message.contains("element 1"));
        assert!(f.bool_or("d", false).unwrap());
        assert_eq!(f.int_or("e", 7, 0, 10).unwrap(), 7, "null is absent");
        assert_eq!(
            f.list_or("a", &[]).unwrap(),
            vec!["x"],
            "a lone string is a list"
        );
        assert!(f.int_or("b", 0, 0, 2).is_err());
        f.finish("").unwrap();
    }

    #[test]
    fn unknown_keys_are_errors() {
        let v = json!({"name": "x", "colour": "red"});
        let mut f = Fields::new("routes[0]", &v).unwrap();
        f.opt_str("name").unwrap();
        let e = f.finish("see the README").unwrap_err();
        assert_eq!(e.key, "colour");
        assert!(Fields::new("x", &json!([1])).is_err());
    }
}
