//! latchkey's cryptography: signing keys and JWS, password hashing, client-secret digests and
//! the master-key box. Every primitive comes from aws-lc-rs or the argon2 crate; key pairs are
//! parsed once and cached by their owners, never per signature.

pub mod jwk;
pub mod jws;
pub mod keycloak_keys;
pub mod keys;
pub mod password;
pub mod secrets;

pub use jws::{JwsError, VerifiedToken};
pub use keys::{HmacKey, KeyError, SigningKey};

use base64::Engine;

pub fn b64url(data: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

pub fn b64url_decode(data: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(data)
        .ok()
}

/// `n` bytes from the system CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut buf).expect("system random source failed");
    buf
}

/// A random base64url string carrying `n` bytes of entropy.
pub fn random_token(n: usize) -> String {
    b64url(random_bytes(n))
}

pub fn sha256(data: impl AsRef<[u8]>) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data.as_ref())
        .as_ref()
        .to_vec()
}

/// SHA-256 of several parts, each followed by a NUL (so that parts cannot run into each
/// other), without joining them first.
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(p);
        ctx.update(&[0]);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Constant-time equality.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
