//! Realm signing keys. A key pair is parsed from PKCS#8 once, when the realm is loaded, and
//! kept; signing never re-parses it.

use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey,
};
use aws_lc_rs::{encoding::AsDer, hmac};
use latchkey_domain::realm::SigningAlg;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generate,
    #[error("stored {alg} key could not be parsed: {reason}")]
    Parse { alg: String, reason: String },
    #[error("signing failed")]
    Sign,
}

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// An asymmetric signing key with its public JWK.
pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    inner: Inner,
    public_der: Vec<u8>,
    jwk: Value,
    /// The base64url JOSE header of a JWT this key signs (made once, not per token).
    jwt_header: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a new key; returns it and its PKCS#8 document for storage.
    pub fn generate(alg: SigningAlg) -> Result<(SigningKey, Vec<u8>), KeyError> {
        let pkcs8 = match alg {
            SigningAlg::RS256 => {
                let kp = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
                kp.as_der()
                    .map_err(|_| KeyError::Generate)?
                    .as_ref()
                    .to_vec()
            }
            SigningAlg::ES256 => {
                let kp = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| KeyError::Generate)?;
                kp.to_pkcs8v1()
                    .map_err(|_| KeyError::Generate)?
                    .as_ref()
                    .to_vec()
            }
            SigningAlg::EdDSA => {
                let kp = Ed25519KeyPair::generate().map_err(|_| KeyError::Generate)?;
                kp.to_pkcs8v1()
                    .map_err(|_| KeyError::Generate)?
                    .as_ref()
                    .to_vec()
            }
        };
        Ok((Self::from_pkcs8(alg, &pkcs8)?, pkcs8))
    }

    /// Parses a stored key. The `kid` is the RFC 7638 thumbprint of the public key.
    pub fn from_pkcs8(alg: SigningAlg, pkcs8: &[u8]) -> Result<SigningKey, KeyError> {
        let err = |e: String| KeyError::Parse {
            alg: alg.to_string(),
            reason: e,
        };
        let (inner, public_der, mut jwk) = match alg {
            SigningAlg::RS256 => {
                let kp = RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| err(e.to_string()))?;
                let comps: PublicKeyComponents<Vec<u8>> = kp.public_key().into();
                let der = kp.public_key().as_ref().to_vec();
                let jwk = json!({"kty": "RSA", "e": crate::b64url(&comps.e), "n": crate::b64url(&comps.n)});
                (Inner::Rsa(kp), der, jwk)
            }
            SigningAlg::ES256 => {
                let kp =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                        .map_err(|e| err(e.to_string()))?;
                let point = kp.public_key().as_ref().to_vec();
                if point.len() != 65 || point[0] != 4 {
                    return Err(err("unexpected EC public key encoding".into()));
                }
                let jwk = json!({"kty": "EC", "crv": "P-256", "x": crate::b64url(&point[1..33]), "y": crate::b64url(&point[33..65])});
                (Inner::Ec(kp), point, jwk)
            }
            SigningAlg::EdDSA => {
                let kp = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|e| err(e.to_string()))?;
                let pk = kp.public_key().as_ref().to_vec();
                let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": crate::b64url(&pk)});
                (Inner::Ed(kp), pk, jwk)
            }
        };
        let kid = thumbprint(&jwk);
        let obj = jwk.as_object_mut().expect("object");
        obj.insert("kid".into(), json!(kid));
        obj.insert("alg".into(), json!(alg.as_str()));
        obj.insert("use".into(), json!("sig"));
        Ok(SigningKey {
            jwt_header: crate::jws::header_b64(alg.as_str(), "JWT", &kid),
            kid,
            alg,
            inner,
            public_der,
            jwk,
        })
    }

    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.inner {
            Inner::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                let rng = aws_lc_rs::rand::SystemRandom::new();
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|_| KeyError::Sign)?;
                Ok(sig)
            }
            Inner::Ec(kp) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                Ok(kp
                    .sign(&rng, msg)
                    .map_err(|_| KeyError::Sign)?
                    .as_ref()
                    .to_vec())
            }
            Inner::Ed(kp) => Ok(kp.sign(msg).as_ref().to_vec()),
        }
    }

    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let alg: &dyn signature::VerificationAlgorithm = match self.alg {
            SigningAlg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SigningAlg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            SigningAlg::EdDSA => &signature::ED25519,
        };
        UnparsedPublicKey::new(alg, &self.public_der)
            .verify(msg, sig)
            .is_ok()
    }

    /// The key under another `kid` (a stored key keeps the one it was published with).
    pub fn with_kid(mut self, kid: String) -> SigningKey {
        if kid == self.kid {
            return self;
        }
        self.jwt_header = crate::jws::header_b64(self.alg.as_str(), "JWT", &kid);
        if let Some(o) = self.jwk.as_object_mut() {
            o.insert("kid".into(), json!(kid));
        }
        self.kid = kid;
        self
    }

    /// The key published for encryption (`use: enc`) under `alg` (Keycloak's `rsa-enc`
    /// provider publishes one); latchkey never signs with such a key.
    pub fn for_encryption(mut self, alg: &str) -> SigningKey {
        if let Some(o) = self.jwk.as_object_mut() {
            o.insert("alg".into(), json!(alg));
            o.insert("use".into(), json!("enc"));
        }
        self
    }

    /// Keycloak's `kid`: base64url of the SHA-256 of the public key's SubjectPublicKeyInfo.
    pub fn keycloak_kid(&self) -> Option<String> {
        let spki = match &self.inner {
            Inner::Rsa(kp) => kp.public_key().as_der().ok()?.as_ref().to_vec(),
            Inner::Ec(kp) => kp.public_key().as_der().ok()?.as_ref().to_vec(),
            Inner::Ed(kp) => kp.public_key().as_der().ok()?.as_ref().to_vec(),
        };
        Some(crate::b64url(crate::sha256(spki)))
    }

    /// The public key as X.509 SubjectPublicKeyInfo DER (Keycloak's realm `public_key`), for RSA.
    pub fn public_key_spki_der(&self) -> Option<Vec<u8>> {
        match &self.inner {
            Inner::Rsa(kp) => kp.public_key().as_der().ok().map(|d| d.as_ref().to_vec()),
            _ => None,
        }
    }

    /// The base64url JOSE header of the JWTs this key signs.
    pub fn jwt_header(&self) -> &str {
        &self.jwt_header
    }

    /// The public JWK (`kty`, key material, `kid`, `alg`, `use`).
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// `at_hash` (OIDC Core §3.1.3.6): the left half of the hash the ID token's algorithm uses
    /// — SHA-256 for RS256 and ES256, SHA-512 for EdDSA with Ed25519 (as strict relying parties,
    /// openid-client and node-oidc-provider among them, compute it).
    pub fn at_hash(&self, access_token: &str) -> String {
        match self.alg {
            SigningAlg::EdDSA => {
                let d =
                    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, access_token.as_bytes());
                crate::b64url(&d.as_ref()[..32])
            }
            _ => {
                let d = crate::sha256(access_token.as_bytes());
                crate::b64url(&d[..16])
            }
        }
    }
}

/// RFC 7638 JWK thumbprint over the required members in lexicographic order.
fn thumbprint(jwk: &Value) -> String {
    let canonical = match jwk["kty"].as_str() {
        Some("RSA") => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            jwk["e"].as_str().unwrap_or(""),
            jwk["n"].as_str().unwrap_or("")
        ),
        Some("EC") => format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap_or(""),
            jwk["y"].as_str().unwrap_or("")
        ),
        _ => format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            jwk["x"].as_str().unwrap_or("")
        ),
    };
    crate::b64url(crate::sha256(canonical.as_bytes()))
}

/// The realm's HMAC-SHA512 key for refresh tokens. Never published.
pub struct HmacKey {
    pub kid: String,
    key: hmac::Key,
    jwt_header: String,
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl HmacKey {
    /// A new random key; returns it with its secret bytes for storage.
    pub fn generate() -> (HmacKey, Vec<u8>) {
        let secret = crate::random_bytes(64);
        let kid = crate::random_token(16);
        (HmacKey::from_secret(kid, &secret), secret)
    }
    pub fn from_secret(kid: String, secret: &[u8]) -> HmacKey {
        HmacKey {
            jwt_header: crate::jws::header_b64("HS512", "JWT", &kid),
            kid,
            key: hmac::Key::new(hmac::HMAC_SHA512, secret),
        }
    }
    /// The base64url JOSE header of the refresh tokens this key signs.
    pub fn jwt_header(&self) -> &str {
        &self.jwt_header
    }
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        hmac::sign(&self.key, msg).as_ref().to_vec()
    }
    /// Constant-time check.
    pub fn verify(&self, msg: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.key, msg, tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_verifies_and_round_trips() {
        for alg in SigningAlg::ALL {
            let (k, der) = SigningKey::generate(alg).unwrap();
            let sig = k.sign(b"hello").unwrap();
            assert!(k.verify(b"hello", &sig), "{alg}");
            assert!(!k.verify(b"hellO", &sig), "{alg}");
            let k2 = SigningKey::from_pkcs8(alg, &der).unwrap();
            assert_eq!(k.kid, k2.kid);
            assert!(k2.verify(b"hello", &sig));
            let jwk = k.public_jwk();
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
            assert!(jwk.get("d").is_none(), "no private material in the JWK");
            assert_eq!(k.public_key_spki_der().is_some(), alg == SigningAlg::RS256);
        }
    }

    #[test]
    fn at_hash_uses_the_hash_of_the_algorithm() {
        // OIDC Core's example access token and at_hash (SHA-256, RS256).
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        let (rs, _) = SigningKey::generate(SigningAlg::RS256).unwrap();
        assert_eq!(rs.at_hash(token), "77QmUPtjPfzWtF2AnpK9RQ");
        // EdDSA (Ed25519): the left half of SHA-512, 32 bytes.
        let (ed, _) = SigningKey::generate(SigningAlg::EdDSA).unwrap();
        let full = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, token.as_bytes());
        assert_eq!(ed.at_hash(token), crate::b64url(&full.as_ref()[..32]));
        assert_eq!(ed.at_hash(token).len(), 43);
    }

    #[test]
    fn garbage_key_is_an_error() {
        assert!(SigningKey::from_pkcs8(SigningAlg::RS256, b"nope").is_err());
    }

    #[test]
    fn hmac_verifies() {
        let (k, secret) = HmacKey::generate();
        let t = k.sign(b"m");
        assert!(k.verify(b"m", &t));
        assert!(!k.verify(b"n", &t));
        let k2 = HmacKey::from_secret(k.kid.clone(), &secret);
        assert!(k2.verify(b"m", &t));
    }
}
