//! Keys as a Keycloak export carries them in its key-provider components: base64 DER without
//! PEM armour — RSA private keys as PKCS#1 (what Keycloak writes) or PKCS#8, EC and EdDSA keys
//! as PKCS#8 — turned into the PKCS#8 documents latchkey stores.

use crate::keys::{KeyError, SigningKey};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::RsaKeyPair;
use base64::Engine;
use latchkey_domain::realm::SigningAlg;

fn der(text: &str) -> Result<Vec<u8>, String> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|e| format!("not base64: {e}"))
}

/// A key provider's private key as a PKCS#8 document and the parsed key under Keycloak's
/// `kid` (or the configured one).
pub fn private_key(
    alg: SigningAlg,
    text: &str,
    kid: Option<&str>,
) -> Result<(Vec<u8>, SigningKey), KeyError> {
    let err = |reason: String| KeyError::Parse {
        alg: alg.to_string(),
        reason,
    };
    let bytes = der(text).map_err(err)?;
    let pkcs8 = match alg {
        SigningAlg::RS256 => match RsaKeyPair::from_pkcs8(&bytes) {
            Ok(_) => bytes,
            Err(_) => {
                let kp = RsaKeyPair::from_der(&bytes)
                    .map_err(|e| err(format!("neither PKCS#8 nor PKCS#1 RSA: {e}")))?;
                let doc: Pkcs8V1Der = kp.as_der().map_err(|e| err(e.to_string()))?;
                doc.as_ref().to_vec()
            }
        },
        _ => bytes,
    };
    let key = SigningKey::from_pkcs8(alg, &pkcs8)?;
    let kid = match kid {
        Some(k) => k.to_string(),
        None => key
            .keycloak_kid()
            .ok_or_else(|| err("no public key".into()))?,
    };
    Ok((pkcs8, key.with_kid(kid)))
}

/// A base64url (or base64) HMAC secret.
pub fn secret(text: &str) -> Option<Vec<u8>> {
    let t = text.trim().trim_end_matches('=');
    crate::b64url_decode(t).or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(t)
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs1_and_pkcs8_rsa_keys_give_one_key_with_keycloaks_kid() {
        let (_, pkcs8) = SigningKey::generate(SigningAlg::RS256).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&pkcs8);
        let (stored, key) = private_key(SigningAlg::RS256, &b64, None).unwrap();
        assert_eq!(stored, pkcs8);
        let spki = key.public_key_spki_der().unwrap();
        assert_eq!(key.kid, crate::b64url(crate::sha256(&spki)));
        assert_eq!(key.public_jwk()["kid"], key.kid.as_str());
        // The same key as PKCS#1, armoured and wrapped, as Keycloak writes it.
        let kp = RsaKeyPair::from_pkcs8(&pkcs8).unwrap();
        let pkcs1 = pkcs1_of(&kp);
        let pem = format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
            base64::engine::general_purpose::STANDARD.encode(&pkcs1)
        );
        let (_, again) = private_key(SigningAlg::RS256, &pem, None).unwrap();
        assert_eq!(again.kid, key.kid);
        let msg = b"m";
        assert!(key.verify(msg, &again.sign(msg).unwrap()));
        let (_, named) = private_key(SigningAlg::RS256, &b64, Some("k1")).unwrap();
        assert_eq!(named.kid, "k1");
        assert!(private_key(SigningAlg::RS256, "bm90IGEga2V5", None).is_err());
    }

    /// The PKCS#1 body inside a PKCS#8 document (its last OCTET STRING).
    fn pkcs1_of(kp: &RsaKeyPair) -> Vec<u8> {
        let doc: Pkcs8V1Der = kp.as_der().unwrap();
        let d = doc.as_ref();
        // SEQUENCE(4) { INTEGER 0 (3), SEQUENCE { rsaEncryption, NULL } (15),
        // OCTET STRING (4-byte header) { RSAPrivateKey } }.
        assert_eq!(&d[22..24], &[0x04, 0x82]);
        d[26..].to_vec()
    }

    #[test]
    fn secrets_are_base64url() {
        assert_eq!(secret("AAEC").unwrap(), vec![0, 1, 2]);
        assert_eq!(secret("-_8").unwrap(), vec![0xfb, 0xff]);
    }
}
