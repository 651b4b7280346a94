//! Client secrets: a SHA-256 digest to check against (secrets are high-entropy, so a fast
//! digest is enough and no password hash is spent per request), and an AES-256-GCM copy under
//! the master key so that an admin can read the secret back, as Keycloak allows.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

/// The digest stored for a client secret.
pub fn digest(secret: &str) -> Vec<u8> {
    crate::sha256(secret.as_bytes())
}

/// Constant-time check of a presented secret against its stored digest.
pub fn matches(presented: &str, stored_digest: &[u8]) -> bool {
    crate::ct_eq(&digest(presented), stored_digest)
}

/// A new client secret: 32 random bytes, base64url (Keycloak's are 32 characters).
pub fn generate() -> String {
    crate::random_token(24)
}

/// Encrypts and decrypts small values under the master key.
pub struct MasterKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// From 32 key bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, String> {
        if bytes.len() != 32 {
            return Err(format!("master key must be 32 bytes, got {}", bytes.len()));
        }
        let key =
            UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| "master key rejected".to_string())?;
        Ok(MasterKey {
            key: LessSafeKey::new(key),
        })
    }

    /// Parses `LATCHKEY_MASTER_KEY`: 32 bytes in base64 or base64url; any other string is
    /// stretched with SHA-256 so that a passphrase works too.
    pub fn from_setting(value: &str) -> MasterKey {
        use base64::Engine;
        let v = value.trim();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(v)
            .ok()
            .or_else(|| crate::b64url_decode(v))
            .filter(|b| b.len() == 32)
            .unwrap_or_else(|| crate::sha256(v.as_bytes()));
        MasterKey::from_bytes(&decoded).expect("32 bytes")
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes = crate::random_bytes(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&nonce_bytes).expect("nonce length");
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(nonce, Aad::empty(), &mut buf)
            .expect("seal");
        let mut out = nonce_bytes;
        out.extend_from_slice(&buf);
        out
    }

    pub fn decrypt(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (n, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(n).ok()?;
        let mut buf = ct.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::empty(), &mut buf).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_only_the_secret() {
        let d = digest("abc");
        assert!(matches("abc", &d));
        assert!(!matches("abd", &d));
        assert!(!matches("", &d));
    }

    #[test]
    fn master_key_round_trip_and_tamper() {
        let k = MasterKey::from_setting("correct horse battery staple");
        let sealed = k.encrypt(b"secret");
        assert_eq!(k.decrypt(&sealed).unwrap(), b"secret");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(k.decrypt(&bad).is_none());
        let other = MasterKey::from_setting("another");
        assert!(other.decrypt(&sealed).is_none());
    }

    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(a.len() >= 32);
    }
}
