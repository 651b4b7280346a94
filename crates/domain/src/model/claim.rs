//! Writing a mapper's value into a token's claims as Keycloak does: nested claim names
//! (`a.b.c`, `\.` for a literal dot), `jsonType.label` conversions, multivalued lists.

use serde_json::{Map, Value};

/// A claim name split into its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(pub Vec<String>);

impl ClaimPath {
    pub fn parse(name: &str) -> ClaimPath {
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut chars = name.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&'.') => {
                    cur.push('.');
                    chars.next();
                }
                '.' => parts.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        parts.push(cur);
        ClaimPath(parts)
    }

    pub fn first(&self) -> &str {
        &self.0[0]
    }
}

/// `jsonType.label`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    String,
    Long,
    Int,
    Boolean,
    Json,
}

impl JsonType {
    pub fn parse(label: Option<&str>) -> JsonType {
        match label.map(str::to_ascii_lowercase).as_deref() {
            Some("long") => JsonType::Long,
            Some("int") => JsonType::Int,
            Some("boolean") => JsonType::Boolean,
            Some("json") => JsonType::Json,
            _ => JsonType::String,
        }
    }

    /// The value as this type, or `None` when it cannot be one (the claim is then left out).
    pub fn convert(self, v: &str) -> Option<Value> {
        match self {
            JsonType::String => Some(Value::String(v.to_string())),
            JsonType::Long | JsonType::Int => v.trim().parse::<i64>().ok().map(Value::from),
            JsonType::Boolean => Some(Value::Bool(v.trim().eq_ignore_ascii_case("true"))),
            JsonType::Json => serde_json::from_str(v).ok(),
        }
    }
}

/// Sets `value` at `path`, creating objects on the way. A multivalued claim adds to a list
/// already there (two role mappers writing one claim); otherwise the last writer wins.
pub fn set(claims: &mut Map<String, Value>, path: &ClaimPath, value: Value, multivalued: bool) {
    let (last, parents) = path.0.split_last().expect("a claim path is never empty");
    let mut at = claims;
    for p in parents {
        let slot = at
            .entry(p.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        at = slot.as_object_mut().expect("just made an object");
    }
    match (at.get_mut(last), value) {
        (Some(Value::Array(have)), Value::Array(more)) if multivalued => {
            for v in more {
                if !have.contains(&v) {
                    have.push(v);
                }
            }
        }
        (_, value) => {
            at.insert(last.clone(), value);
        }
    }
}

/// The value of a list of strings under `ty`: a list when multivalued, else the first.
pub fn values(ty: JsonType, vals: &[&str], multivalued: bool) -> Option<Value> {
    if multivalued {
        let list: Vec<Value> = vals.iter().filter_map(|v| ty.convert(v)).collect();
        return Some(Value::Array(list));
    }
    vals.first().and_then(|v| ty.convert(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_names_and_escaped_dots() {
        assert_eq!(ClaimPath::parse("a.b.c").0, vec!["a", "b", "c"]);
        assert_eq!(ClaimPath::parse(r"x\.y.z").0, vec!["x.y", "z"]);
        let mut m = Map::new();
        set(&mut m, &ClaimPath::parse("a.b.c"), json!(1), false);
        set(&mut m, &ClaimPath::parse("a.d"), json!("x"), false);
        assert_eq!(Value::Object(m), json!({"a": {"b": {"c": 1}, "d": "x"}}));
    }

    #[test]
    fn multivalued_claims_merge() {
        let mut m = Map::new();
        let p = ClaimPath::parse("realm_access.roles");
        set(&mut m, &p, json!(["a", "b"]), true);
        set(&mut m, &p, json!(["b", "c"]), true);
        assert_eq!(m["realm_access"]["roles"], json!(["a", "b", "c"]));
    }

    #[test]
    fn json_types() {
        assert_eq!(JsonType::parse(Some("long")).convert("42"), Some(json!(42)));
        assert_eq!(JsonType::parse(Some("long")).convert("x"), None);
        assert_eq!(
            JsonType::parse(Some("boolean")).convert("TRUE"),
            Some(json!(true))
        );
        assert_eq!(
            JsonType::parse(Some("JSON")).convert(r#"{"k":[1]}"#),
            Some(json!({"k": [1]}))
        );
        assert_eq!(JsonType::parse(None).convert("s"), Some(json!("s")));
        assert_eq!(
            values(JsonType::Int, &["1", "x", "3"], true),
            Some(json!([1, 3]))
        );
        assert_eq!(values(JsonType::String, &[], false), None);
    }
}
