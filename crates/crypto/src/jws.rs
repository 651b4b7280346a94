//! Compact JWS (RFC 7515) for latchkey's own tokens: sign, parse, verify.

use crate::{b64url_decode, HmacKey, KeyError, SigningKey};
use base64::Engine;
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    #[error("token is not a JWT: expected three base64url parts separated by '.'")]
    Malformed,
    #[error("token header is not valid base64url JSON")]
    BadHeader,
    #[error("token payload is not valid base64url JSON")]
    BadPayload,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token is signed with algorithm '{0}', which this token type does not use")]
    WrongAlgorithm(String),
    #[error("token was signed with key '{0}', which this realm does not have")]
    UnknownKey(String),
}

/// The parts of a compact JWS, before verification.
#[derive(Debug)]
pub struct Parsed<'a> {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// A token whose signature has been verified.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
}

impl Parsed<'_> {
    pub fn alg(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
    pub fn verify_asym(self, key: &SigningKey) -> Result<VerifiedToken, JwsError> {
        if self.alg() != key.alg.as_str() {
            return Err(JwsError::WrongAlgorithm(self.alg().to_string()));
        }
        if !key.verify(self.signing_input.as_bytes(), &self.signature) {
            return Err(JwsError::BadSignature);
        }
        Ok(VerifiedToken {
            kid: self.kid().map(str::to_string),
            claims: self.claims,
        })
    }
    pub fn verify_hmac(self, key: &HmacKey) -> Result<VerifiedToken, JwsError> {
        if self.alg() != "HS512" {
            return Err(JwsError::WrongAlgorithm(self.alg().to_string()));
        }
        if !key.verify(self.signing_input.as_bytes(), &self.signature) {
            return Err(JwsError::BadSignature);
        }
        Ok(VerifiedToken {
            kid: self.kid().map(str::to_string),
            claims: self.claims,
        })
    }
}

/// Splits and decodes a compact JWS without checking its signature.
pub fn parse(token: &str) -> Result<Parsed<'_>, JwsError> {
    if token.len() > 16 * 1024 {
        return Err(JwsError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let header: Map<String, Value> = b64url_decode(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwsError::BadHeader)?;
    let claims: Map<String, Value> = b64url_decode(p)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwsError::BadPayload)?;
    let signature = b64url_decode(s).ok_or(JwsError::Malformed)?;
    Ok(Parsed {
        header,
        claims,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature,
    })
}

fn signing_input(header: &str, claims: &Map<String, Value>) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    // Room for the header, the payload and the signature, each base64url-encoded in place.
    let mut out = String::with_capacity((header.len() + payload.len() + 512) * 4 / 3 + 2);
    B64.encode_string(header, &mut out);
    out.push('.');
    B64.encode_string(payload, &mut out);
    out
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Signs `claims` with an asymmetric realm key. `typ` is the JOSE header's `typ`.
pub fn sign(key: &SigningKey, typ: &str, claims: &Map<String, Value>) -> Result<String, KeyError> {
    let header = format!(
        r#"{{"alg":"{}","typ":"{}","kid":"{}"}}"#,
        key.alg, typ, key.kid
    );
    let mut out = signing_input(&header, claims);
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    B64.encode_string(sig, &mut out);
    Ok(out)
}

/// Signs `claims` with the realm's HS512 key (refresh tokens). Deterministic.
pub fn sign_hmac(key: &HmacKey, claims: &Map<String, Value>) -> String {
    let header = format!(r#"{{"alg":"HS512","typ":"JWT","kid":"{}"}}"#, key.kid);
    let mut out = signing_input(&header, claims);
    let tag = key.sign(out.as_bytes());
    out.push('.');
    B64.encode_string(tag, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_domain::realm::SigningAlg;
    use serde_json::json;

    fn claims() -> Map<String, Value> {
        json!({"sub": "u", "n": 1}).as_object().unwrap().clone()
    }

    #[test]
    fn asym_round_trip_and_tamper() {
        let (k, _) = SigningKey::generate(SigningAlg::ES256).unwrap();
        let t = sign(&k, "JWT", &claims()).unwrap();
        let v = parse(&t).unwrap().verify_asym(&k).unwrap();
        assert_eq!(v.claims["sub"], "u");
        assert_eq!(v.kid.as_deref(), Some(k.kid.as_str()));
        // Tamper with the payload.
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            crate::b64url(br#"{"sub":"admin","n":1}"#),
            parts[2]
        );
        assert_eq!(
            parse(&forged).unwrap().verify_asym(&k).unwrap_err(),
            JwsError::BadSignature
        );
    }

    #[test]
    fn hmac_is_deterministic() {
        let (k, _) = HmacKey::generate();
        assert_eq!(sign_hmac(&k, &claims()), sign_hmac(&k, &claims()));
        let t = sign_hmac(&k, &claims());
        assert!(parse(&t).unwrap().verify_hmac(&k).is_ok());
    }

    #[test]
    fn alg_confusion_is_refused() {
        let (hk, _) = HmacKey::generate();
        let (k, _) = SigningKey::generate(SigningAlg::RS256).unwrap();
        let t = sign_hmac(&hk, &claims());
        assert!(matches!(
            parse(&t).unwrap().verify_asym(&k),
            Err(JwsError::WrongAlgorithm(_))
        ));
        let t = sign(&k, "JWT", &claims()).unwrap();
        assert!(matches!(
            parse(&t).unwrap().verify_hmac(&hk),
            Err(JwsError::WrongAlgorithm(_))
        ));
    }

    #[test]
    fn garbage_is_malformed() {
        for g in ["", "a", "a.b", "a.b.c.d", "!!!.###.$$$", "e30.e30.!!"] {
            assert!(parse(g).is_err(), "{g}");
        }
    }
}
