//! Verifying a JWT of the issuer: the signature with a key of its JWKS (asymmetric algorithms
//! only; a header's `jwk`, `jku`, `x5u` or `x5c` is never followed), then `iss`, `exp` and
//! `nbf` with the configured leeway, and the token's type, so that an ID or refresh token is
//! never taken for an access token.

use crate::errors::Unavailable;
use crate::idp::issuer::Issuer;
use latchkey_crypto::jwk::JwsAlg;
use latchkey_crypto::jws;
use serde_json::{Map, Value};
use std::sync::Arc;

/// What a verified token says.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: Arc<Map<String, Value>>,
    pub exp: Option<i64>,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Invalid(String),
    Unavailable(Unavailable),
}

/// Which kind of token is expected.
pub enum Expect<'a> {
    Access,
    Id {
        client_id: &'a str,
        nonce: Option<&'a str>,
    },
}

fn invalid(m: impl Into<String>) -> Refusal {
    Refusal::Invalid(m.into())
}

/// Checks a token of `issuer`; `now` in seconds since the epoch.
pub async fn verify(
    issuer: &Issuer,
    token: &str,
    expect: Expect<'_>,
    now: i64,
    leeway: i64,
) -> Result<Verified, Refusal> {
    let parsed = jws::parse(token).map_err(|e| invalid(e.to_string()))?;
    let alg = JwsAlg::parse(parsed.alg()).ok_or_else(|| {
        invalid(format!(
            "algorithm '{}' is not accepted (an asymmetric JWS algorithm is required)",
            parsed.alg()
        ))
    })?;
    let typ_header = parsed.typ().map(str::to_ascii_lowercase);
    let kid = parsed.kid().map(str::to_string);
    let key = issuer
        .key(kid.as_deref(), alg)
        .await
        .map_err(Refusal::Unavailable)?
        .ok_or_else(|| {
            invalid(format!(
                "signed with key '{}' ({}), which the issuer does not publish",
                kid.as_deref().unwrap_or("(none)"),
                alg.name()
            ))
        })?;
    let verified = parsed
        .verify_jwk(&key)
        .map_err(|e| invalid(e.to_string()))?;
    let claims = verified.claims;
    let discovered = issuer.discovered().await.map_err(Refusal::Unavailable)?;
    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == discovered.issuer => {}
        Some(iss) => {
            return Err(invalid(format!(
                "issued by '{iss}', not by '{}'",
                discovered.issuer
            )))
        }
        None => return Err(invalid("no 'iss' claim")),
    }
    let exp = match claims.get("exp") {
        None => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| invalid("'exp' is not a number"))?),
    };
    if let Some(exp) = exp {
        if exp.saturating_add(leeway) <= now {
            return Err(invalid(format!("expired {} s ago", now - exp)));
        }
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf
            .as_i64()
            .ok_or_else(|| invalid("'nbf' is not a number"))?;
        if nbf.saturating_sub(leeway) > now {
            return Err(invalid("not valid yet ('nbf' is in the future)"));
        }
    }
    let typ_claim = claims
        .get("typ")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    match expect {
        Expect::Access => {
            // Keycloak marks its tokens with a `typ` claim; RFC 9068 with the header's `typ`.
            if typ_claim.as_deref().is_some_and(|t| t != "bearer") {
                return Err(invalid(format!(
                    "a '{}' token is not an access token",
                    claims.get("typ").and_then(Value::as_str).unwrap_or("")
                )));
            }
            if typ_header
                .as_deref()
                .is_some_and(|t| !["jwt", "at+jwt", "application/at+jwt"].contains(&t))
            {
                return Err(invalid(format!(
                    "header typ '{}' is not an access token's",
                    parsed_typ(&typ_header)
                )));
            }
        }
        Expect::Id { client_id, nonce } => {
            if typ_claim.as_deref().is_some_and(|t| t != "id") {
                return Err(invalid("not an ID token"));
            }
            let aud_ok = match claims.get("aud") {
                Some(Value::String(a)) => a == client_id,
                Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(client_id)),
                _ => false,
            };
            if !aud_ok {
                return Err(invalid(format!(
                    "the ID token's audience is not '{client_id}'"
                )));
            }
            if let Some(want) = nonce {
                if claims.get("nonce").and_then(Value::as_str) != Some(want) {
                    return Err(invalid("the ID token's nonce does not match the sign-in's"));
                }
            }
        }
    }
    Ok(Verified {
        claims: Arc::new(claims),
        exp,
    })
}

fn parsed_typ(t: &Option<String>) -> &str {
    t.as_deref().unwrap_or("")
}

/// Whether a string has a JWS's shape (three base64url parts), without decoding it.
pub fn looks_like_jwt(token: &str) -> bool {
    let mut dots = 0;
    for b in token.bytes() {
        match b {
            b'.' => dots += 1,
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => {}
            _ => return false,
        }
    }
    dots == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt("a.b.c"));
        assert!(looks_like_jwt("eyJ-_.eyJ.sig_-"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt("a b.c.d"));
        assert!(!looks_like_jwt("opaque-token"));
    }
}
