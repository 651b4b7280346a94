//! Compact JWS (RFC 7515) for latchkey's own tokens: sign, parse, verify.

use crate::{b64url_decode, HmacKey, KeyError, SigningKey};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
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

/// The JOSE header members latchkey reads. A member of another type counts as absent (the
/// token is then refused for its algorithm or key, not as unreadable).
#[derive(Debug, Default, Deserialize)]
pub struct Header {
    #[serde(default, deserialize_with = "string_or_absent")]
    alg: Option<String>,
    #[serde(default, deserialize_with = "string_or_absent")]
    kid: Option<String>,
    #[serde(default, deserialize_with = "string_or_absent")]
    typ: Option<String>,
}

/// For `#[serde(deserialize_with)]`: a JSON string, or `None` for any other value (a claim of
/// the wrong type is read as absent rather than making the whole token unreadable).
pub fn string_or_absent<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// The parts of a compact JWS, before verification. `C` is what the payload is read as: any
/// JSON object by default, or the claims one kind of token has.
#[derive(Debug)]
pub struct Parsed<'a, C = Map<String, Value>> {
    header: Header,
    pub claims: C,
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// A token whose signature has been verified.
#[derive(Debug, Clone)]
pub struct VerifiedToken<C = Map<String, Value>> {
    pub kid: Option<String>,
    pub claims: C,
}

impl<C> Parsed<'_, C> {
    pub fn alg(&self) -> &str {
        self.header.alg.as_deref().unwrap_or("")
    }
    pub fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }
    /// The header's `typ` (`JWT`, `at+jwt`, …), if any.
    pub fn typ(&self) -> Option<&str> {
        self.header.typ.as_deref()
    }
    /// Verifies with another issuer's key from its JWKS; only asymmetric algorithms the key
    /// was published for are accepted.
    pub fn verify_jwk(self, key: &crate::jwk::PublicJwk) -> Result<VerifiedToken<C>, JwsError> {
        let alg = crate::jwk::JwsAlg::parse(self.alg())
            .filter(|a| key.supports(*a))
            .ok_or_else(|| JwsError::WrongAlgorithm(self.alg().to_string()))?;
        if !key.verify(alg, self.signing_input.as_bytes(), &self.signature) {
            return Err(JwsError::BadSignature);
        }
        Ok(VerifiedToken {
            kid: self.header.kid,
            claims: self.claims,
        })
    }
    pub fn verify_asym(self, key: &SigningKey) -> Result<VerifiedToken<C>, JwsError> {
        if self.alg() != key.alg.as_str() {
            return Err(JwsError::WrongAlgorithm(self.alg().to_string()));
        }
        if !key.verify(self.signing_input.as_bytes(), &self.signature) {
            return Err(JwsError::BadSignature);
        }
        Ok(VerifiedToken {
            kid: self.header.kid,
            claims: self.claims,
        })
    }
    pub fn verify_hmac(self, key: &HmacKey) -> Result<VerifiedToken<C>, JwsError> {
        if self.alg() != "HS512" {
            return Err(JwsError::WrongAlgorithm(self.alg().to_string()));
        }
        if !key.verify(self.signing_input.as_bytes(), &self.signature) {
            return Err(JwsError::BadSignature);
        }
        Ok(VerifiedToken {
            kid: self.header.kid,
            claims: self.claims,
        })
    }
}

/// Splits and decodes a compact JWS without checking its signature.
pub fn parse(token: &str) -> Result<Parsed<'_>, JwsError> {
    parse_as(token)
}

/// [`parse`], reading the payload as `C` (a payload that is not a `C` is [`JwsError::BadPayload`]).
pub fn parse_as<C: DeserializeOwned>(token: &str) -> Result<Parsed<'_, C>, JwsError> {
    if token.len() > 16 * 1024 {
        return Err(JwsError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let header: Header = b64url_decode(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwsError::BadHeader)?;
    let claims: C = b64url_decode(p)
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

/// `header.payload`, each base64url-encoded, with room left for the signature.
fn signing_input<C: Serialize + ?Sized>(header_b64: &str, claims: &C) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let mut out = String::with_capacity(header_b64.len() + 2 + (payload.len() + 512) * 4 / 3);
    out.push_str(header_b64);
    out.push('.');
    B64.encode_string(payload, &mut out);
    out
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The base64url JOSE header `{"alg":…,"typ":…,"kid":…}`.
/// The `kid`s are thumbprints and random base64url strings: nothing in them needs escaping.
pub(crate) fn header_b64(alg: &str, typ: &str, kid: &str) -> String {
    B64.encode(format!(r#"{{"alg":"{alg}","typ":"{typ}","kid":"{kid}"}}"#))
}

/// Signs `claims` with an asymmetric realm key. `typ` is the JOSE header's `typ`.
pub fn sign<C: Serialize + ?Sized>(
    key: &SigningKey,
    typ: &str,
    claims: &C,
) -> Result<String, KeyError> {
    let mut out = if typ == "JWT" {
        signing_input(key.jwt_header(), claims)
    } else {
        signing_input(&header_b64(key.alg.as_str(), typ, &key.kid), claims)
    };
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    B64.encode_string(sig, &mut out);
    Ok(out)
}

/// Signs `claims` with the realm's HS512 key (refresh tokens). Deterministic.
pub fn sign_hmac<C: Serialize + ?Sized>(key: &HmacKey, claims: &C) -> String {
    let mut out = signing_input(key.jwt_header(), claims);
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

    /// A header member of the wrong type reads as absent: the token is refused for its
    /// algorithm, not as unreadable.
    #[test]
    fn odd_header_members_read_as_absent() {
        let (hk, _) = HmacKey::generate();
        let t = format!(
            "{}.{}.c2ln",
            crate::b64url(br#"{"alg":512,"kid":["x"],"typ":"JWT"}"#),
            crate::b64url(br#"{"sub":"u"}"#)
        );
        let p = parse(&t).unwrap();
        assert_eq!((p.alg(), p.kid()), ("", None));
        assert_eq!(
            p.verify_hmac(&hk).unwrap_err(),
            JwsError::WrongAlgorithm(String::new())
        );
        // A payload that is not a JSON object is unreadable.
        let t = format!(
            "{}.{}.c2ln",
            crate::b64url(br#"{"alg":"HS512"}"#),
            crate::b64url(b"[1]")
        );
        assert_eq!(parse(&t).unwrap_err(), JwsError::BadPayload);
    }
}
