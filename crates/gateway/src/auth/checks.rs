//! `issuers_allowed`, `scopes_required`, `audience_required`, `roles_required` and
//! `groups_required`, as Kong judges them: each element of a requirement is an alternative
//! (OR), its space-separated values must all be present (AND); the claim is read from the
//! introspection answer, else the access token, at the configured path.

use crate::config::oidc::{OidcConfig, Requirement};
use crate::errors::Denial;
use crate::tokens::Tokens;
use serde_json::Value;

fn claim<'a>(tokens: &'a Tokens, path: &[String]) -> Option<&'a Value> {
    let root = match &tokens.introspection {
        Some(Value::Object(m)) => m,
        _ => &tokens.claims,
    };
    let (first, rest) = path.split_first()?;
    let mut v = root.get(first)?;
    for p in rest {
        v = v.get(p)?;
    }
    Some(v)
}

/// The values a claim holds: a string split on whitespace, an array's strings each split.
fn values(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => s.split_whitespace().collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .flat_map(str::split_whitespace)
            .collect(),
        _ => Vec::new(),
    }
}

fn met(req: &Requirement, tokens: &Tokens, name: &str) -> Result<(), String> {
    if req.any_of.is_empty() {
        return Ok(());
    }
    let Some(v) = claim(tokens, &req.claim) else {
        return Err(format!(
            "{name} required but no {name} found (claim '{}')",
            req.claim.join(".")
        ));
    };
    let have = values(v);
    if req
        .any_of
        .iter()
        .any(|all| all.iter().all(|want| have.contains(&want.as_str())))
    {
        Ok(())
    } else {
        Err(format!(
            "{name} required: none of the alternatives is present"
        ))
    }
}

pub fn check(cfg: &OidcConfig, tokens: &Tokens) -> Result<(), Denial> {
    if !cfg.issuers_allowed.is_empty() {
        let iss = tokens
            .claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !cfg.issuers_allowed.iter().any(|i| i == iss) {
            return Err(Denial::Unauthorized {
                reason: format!("issuer '{iss}' is not allowed"),
                presented: true,
            });
        }
    }
    for (req, name) in [
        (&cfg.scopes_required, "scopes"),
        (&cfg.audience_required, "audience"),
        (&cfg.groups_required, "groups"),
        (&cfg.roles_required, "roles"),
    ] {
        met(req, tokens, name).map_err(|reason| Denial::Forbidden { reason })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tokens(claims: Value) -> Tokens {
        Tokens {
            access_token: "t".into(),
            refresh_token: None,
            id_token: None,
            expires_at: None,
            claims: claims.as_object().unwrap().clone(),
            id_claims: None,
            introspection: None,
        }
    }

    fn req(any_of: &[&str], claim: &[&str]) -> Requirement {
        Requirement {
            any_of: any_of
                .iter()
                .map(|e| e.split_whitespace().map(str::to_string).collect())
                .collect(),
            claim: claim.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn within_an_element_and_between_elements_or() {
        let t =
            tokens(json!({"scope": "read write", "realm_access": {"roles": ["admin", "user"]}}));
        assert!(met(&req(&["read write"], &["scope"]), &t, "scopes").is_ok());
        assert!(met(&req(&["read delete"], &["scope"]), &t, "scopes").is_err());
        assert!(met(&req(&["read delete", "write"], &["scope"]), &t, "scopes").is_ok());
        assert!(met(&req(&["admin"], &["realm_access", "roles"]), &t, "roles").is_ok());
        let e = met(&req(&["x"], &["groups"]), &t, "groups").unwrap_err();
        assert!(e.contains("no groups found"), "{e}");
        assert!(
            met(&req(&[], &["scope"]), &t, "scopes").is_ok(),
            "no requirement"
        );
    }

    #[test]
    fn introspection_answers_win_over_token_claims() {
        let mut t = tokens(json!({"scope": "read"}));
        t.introspection = Some(json!({"active": true, "scope": "admin"}));
        assert!(met(&req(&["admin"], &["scope"]), &t, "scopes").is_ok());
        assert!(met(&req(&["read"], &["scope"]), &t, "scopes").is_err());
    }
}
