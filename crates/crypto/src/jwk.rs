//! Public keys of other issuers, read from their JWKS (RFC 7517 / 7518), parsed once, and
//! JWS signatures verified with them. Only asymmetric algorithms: `none` and the HMAC family
//! are never accepted from a JWKS.

use crate::b64url_decode;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents, VerificationAlgorithm};
use serde_json::Value;
use std::collections::HashMap;

/// A JWS algorithm a JWKS key may verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwsAlg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

impl JwsAlg {
    pub const ALL: [JwsAlg; 10] = [
        JwsAlg::RS256,
        JwsAlg::RS384,
        JwsAlg::RS512,
        JwsAlg::PS256,
        JwsAlg::PS384,
        JwsAlg::PS512,
        JwsAlg::ES256,
        JwsAlg::ES384,
        JwsAlg::ES512,
        JwsAlg::EdDSA,
    ];

    pub fn parse(name: &str) -> Option<JwsAlg> {
        JwsAlg::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            JwsAlg::RS256 => "RS256",
            JwsAlg::RS384 => "RS384",
            JwsAlg::RS512 => "RS512",
            JwsAlg::PS256 => "PS256",
            JwsAlg::PS384 => "PS384",
            JwsAlg::PS512 => "PS512",
            JwsAlg::ES256 => "ES256",
            JwsAlg::ES384 => "ES384",
            JwsAlg::ES512 => "ES512",
            JwsAlg::EdDSA => "EdDSA",
        }
    }

    fn rsa_params(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            JwsAlg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            JwsAlg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            JwsAlg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            JwsAlg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            JwsAlg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            JwsAlg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    /// The curve (`crv`) and verification algorithm of an EC or OKP algorithm.
    fn curve(self) -> Option<(&'static str, &'static dyn VerificationAlgorithm)> {
        Some(match self {
            JwsAlg::ES256 => ("P-256", &signature::ECDSA_P256_SHA256_FIXED),
            JwsAlg::ES384 => ("P-384", &signature::ECDSA_P384_SHA384_FIXED),
            JwsAlg::ES512 => ("P-521", &signature::ECDSA_P521_SHA512_FIXED),
            JwsAlg::EdDSA => ("Ed25519", &signature::ED25519),
            _ => return None,
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwkError {
    #[error("key has no 'kty'")]
    NoKeyType,
    #[error("key type '{0}' cannot verify signatures here (RSA, EC and OKP can)")]
    UnsupportedKeyType(String),
    #[error("key member '{0}' is missing or not base64url")]
    BadMember(&'static str),
    #[error("key declares algorithm '{0}', which it cannot verify or latchkey does not accept")]
    UnsupportedAlgorithm(String),
    #[error("key is not usable for signatures (use '{0}')")]
    NotForSignatures(String),
    #[error("key material is invalid: {0}")]
    Invalid(String),
}

/// One verification key of a JWKS, parsed for every algorithm it may verify.
pub struct PublicJwk {
    pub kid: Option<String>,
    keys: HashMap<JwsAlg, ParsedPublicKey>,
}

impl std::fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut algs: Vec<&str> = self.keys.keys().map(|a| a.name()).collect();
        algs.sort_unstable();
        f.debug_struct("PublicJwk")
            .field("kid", &self.kid)
            .field("algs", &algs)
            .finish()
    }
}

fn member(jwk: &Value, name: &'static str) -> Result<Vec<u8>, JwkError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .and_then(b64url_decode)
        .filter(|b| !b.is_empty())
        .ok_or(JwkError::BadMember(name))
}

impl PublicJwk {
    /// Parses one JWK. A declared `alg` limits the key to that algorithm; without one, the key
    /// verifies every algorithm of its type (RSA: RS* and PS*).
    pub fn from_jwk(jwk: &Value) -> Result<PublicJwk, JwkError> {
        let kty = jwk
            .get("kty")
            .and_then(Value::as_str)
            .ok_or(JwkError::NoKeyType)?;
        if let Some(u) = jwk.get("use").and_then(Value::as_str) {
            if u != "sig" {
                return Err(JwkError::NotForSignatures(u.to_string()));
            }
        }
        let declared = match jwk.get("alg").and_then(Value::as_str) {
            Some(a) => {
                Some(JwsAlg::parse(a).ok_or_else(|| JwkError::UnsupportedAlgorithm(a.into()))?)
            }
            None => None,
        };
        let wanted = |alg: JwsAlg| declared.is_none_or(|d| d == alg);
        let mut keys = HashMap::new();
        match kty {
            "RSA" => {
                let strip = |mut v: Vec<u8>| {
                    let zeros = v.iter().take_while(|b| **b == 0).count();
                    v.drain(..zeros.min(v.len().saturating_sub(1)));
                    v
                };
                let n = strip(member(jwk, "n")?);
                let e = strip(member(jwk, "e")?);
                let components = RsaPublicKeyComponents { n: &n, e: &e };
                for alg in JwsAlg::ALL.into_iter().filter(|a| wanted(*a)) {
                    if let Some(params) = alg.rsa_params() {
                        let parsed = components
                            .to_parsed_public_key(params)
                            .map_err(|e| JwkError::Invalid(e.to_string()))?;
                        keys.insert(alg, parsed);
                    }
                }
            }
            "EC" | "OKP" => {
                let crv = jwk
                    .get("crv")
                    .and_then(Value::as_str)
                    .ok_or(JwkError::BadMember("crv"))?;
                let x = member(jwk, "x")?;
                for alg in JwsAlg::ALL.into_iter().filter(|a| wanted(*a)) {
                    let Some((curve, verification)) = alg.curve() else {
                        continue;
                    };
                    if curve != crv || (kty == "OKP") != (alg == JwsAlg::EdDSA) {
                        continue;
                    }
                    let bytes = if kty == "EC" {
                        // The uncompressed point: 0x04 || x || y.
                        let y = member(jwk, "y")?;
                        let mut p = Vec::with_capacity(1 + x.len() + y.len());
                        p.push(4);
                        p.extend_from_slice(&x);
                        p.extend_from_slice(&y);
                        p
                    } else {
                        x.clone()
                    };
                    let parsed = ParsedPublicKey::new(verification, bytes)
                        .map_err(|e| JwkError::Invalid(e.to_string()))?;
                    keys.insert(alg, parsed);
                }
            }
            other => return Err(JwkError::UnsupportedKeyType(other.to_string())),
        }
        if keys.is_empty() {
            return Err(JwkError::UnsupportedAlgorithm(format!(
                "{} on a {kty} key",
                declared.map(JwsAlg::name).unwrap_or("(any)")
            )));
        }
        Ok(PublicJwk {
            kid: jwk.get("kid").and_then(Value::as_str).map(str::to_string),
            keys,
        })
    }

    /// Whether this key can verify `alg` at all.
    pub fn supports(&self, alg: JwsAlg) -> bool {
        self.keys.contains_key(&alg)
    }

    /// Verifies `sig` over `msg` with `alg`; false for an algorithm this key does not verify.
    pub fn verify(&self, alg: JwsAlg, msg: &[u8], sig: &[u8]) -> bool {
        self.keys
            .get(&alg)
            .is_some_and(|k| k.verify_sig(msg, sig).is_ok())
    }
}

/// Every usable key of a JWKS document, with the reasons the others were skipped.
pub fn parse_jwks(doc: &Value) -> (Vec<PublicJwk>, Vec<String>) {
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    for (i, k) in doc
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        match PublicJwk::from_jwk(k) {
            Ok(key) => keys.push(key),
            Err(e) => skipped.push(format!(
                "keys[{i}]{}: {e}",
                k.get("kid")
                    .and_then(Value::as_str)
                    .map(|kid| format!(" ('{kid}')"))
                    .unwrap_or_default()
            )),
        }
    }
    (keys, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;
    use latchkey_domain::realm::SigningAlg;

    fn roundtrip(alg: SigningAlg, jws: JwsAlg) {
        let (key, _) = SigningKey::generate(alg).unwrap();
        let jwk = PublicJwk::from_jwk(key.public_jwk()).unwrap();
        let sig = key.sign(b"message").unwrap();
        assert!(jwk.verify(jws, b"message", &sig), "{alg:?}");
        assert!(!jwk.verify(jws, b"messagf", &sig), "{alg:?}");
        assert_eq!(jwk.kid.as_deref(), Some(key.kid.as_str()));
    }

    #[test]
    fn latchkeys_own_keys_verify_through_their_jwk() {
        roundtrip(SigningAlg::RS256, JwsAlg::RS256);
        roundtrip(SigningAlg::ES256, JwsAlg::ES256);
        roundtrip(SigningAlg::EdDSA, JwsAlg::EdDSA);
    }

    #[test]
    fn a_declared_algorithm_limits_the_key() {
        let (key, _) = SigningKey::generate(SigningAlg::RS256).unwrap();
        let jwk = PublicJwk::from_jwk(key.public_jwk()).unwrap();
        assert!(jwk.supports(JwsAlg::RS256) && !jwk.supports(JwsAlg::PS256));
        let mut undeclared = key.public_jwk().clone();
        undeclared.as_object_mut().unwrap().remove("alg");
        let any = PublicJwk::from_jwk(&undeclared).unwrap();
        assert!(any.supports(JwsAlg::PS256) && any.supports(JwsAlg::RS512));
        assert!(!any.supports(JwsAlg::ES256));
    }

    #[test]
    fn unusable_keys_are_refused_with_a_reason() {
        let cases = [
            (
                serde_json::json!({"kty": "oct", "k": "c2VjcmV0"}),
                "key type 'oct'",
            ),
            (
                serde_json::json!({"kty": "RSA", "alg": "HS256", "n": "AQAB", "e": "AQAB"}),
                "HS256",
            ),
            (
                serde_json::json!({"kty": "RSA", "alg": "none", "n": "AQAB", "e": "AQAB"}),
                "none",
            ),
            (
                serde_json::json!({"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}),
                "use 'enc'",
            ),
            (
                serde_json::json!({"kty": "EC", "crv": "P-256", "x": "AQAB"}),
                "'y'",
            ),
            (
                serde_json::json!({"kty": "EC", "crv": "P-256", "x": "AQAB", "y": "AQAB"}),
                "invalid",
            ),
            (serde_json::json!({"n": "AQAB"}), "no 'kty'"),
        ];
        for (jwk, want) in cases {
            let e = PublicJwk::from_jwk(&jwk).unwrap_err().to_string();
            assert!(e.contains(want), "{jwk}: {e}");
        }
        let (keys, skipped) =
            parse_jwks(&serde_json::json!({"keys": [{"kty": "oct", "kid": "h"}]}));
        assert!(
            keys.is_empty() && skipped[0].contains("('h')"),
            "{skipped:?}"
        );
    }
}
