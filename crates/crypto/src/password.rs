//! Password hashing: argon2id for everything latchkey writes; Keycloak's exported pbkdf2-sha256,
//! pbkdf2-sha512 and argon2 hashes verify too, and are re-hashed at the next successful login.
//! These functions are CPU-bound and synchronous: callers run them in a bounded blocking pool.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use serde_json::Value;
use std::num::NonZeroU32;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// argon2's working memory (19 MiB at the default cost), kept from one hash to the next.
///
/// Fresh memory costs a page fault per 4 KiB on first touch — thousands per hash, a
/// noticeable share of a login on a VM (docs/performance.md). A caller that runs hashes back to back
/// (the password pool under a burst of logins) hands the same `Scratch` to each; dropping it
/// wipes it first. Every block is written before argon2 reads it, so reuse needs no clearing.
#[derive(Default)]
pub struct Scratch(Vec<Block>);

impl Scratch {
    fn blocks(&mut self, n: usize) -> &mut [Block] {
        if self.0.len() < n {
            self.0.resize(n, Block::default());
        }
        &mut self.0[..n]
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(Zeroize::zeroize);
    }
}

/// argon2id cost parameters (OWASP minimum by default: m=19 MiB, t=2, p=1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Match { needs_rehash: bool },
    Mismatch,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("stored password hash is unreadable: {0}")]
    Unreadable(String),
    #[error("hashing failed: {0}")]
    Hash(String),
}

fn argon2(params: HashParams) -> Result<Argon2<'static>, PasswordError> {
    let p = Params::new(params.m_kib, params.t, params.p, None)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
}

/// Hashes a password to a PHC string (`$argon2id$v=19$m=…`).
pub fn hash(password: &str, params: HashParams) -> Result<String, PasswordError> {
    hash_with(&mut Scratch::default(), password, params)
}

/// [`hash`] in `scratch`'s memory (see [`Scratch`]).
pub fn hash_with(
    scratch: &mut Scratch,
    password: &str,
    params: HashParams,
) -> Result<String, PasswordError> {
    let err = |e: &dyn std::fmt::Display| PasswordError::Hash(e.to_string());
    let a = argon2(params)?;
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| PasswordError::Hash("no randomness".into()))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    a.hash_password_into_with_memory(
        password.as_bytes(),
        &salt,
        &mut out,
        scratch.blocks(a.params().block_count()),
    )
    .map_err(|e| err(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(a.params()).map_err(|e| err(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| err(&e))?),
        hash: Some(Output::new(&out).map_err(|e| err(&e))?),
    };
    Ok(phc.to_string())
}

/// Verifies `password` against a stored hash of any supported kind.
pub fn verify(
    password: &str,
    stored: &str,
    params: HashParams,
) -> Result<Verification, PasswordError> {
    verify_with(&mut Scratch::default(), password, stored, params)
}

/// [`verify`] in `scratch`'s memory (see [`Scratch`]).
pub fn verify_with(
    scratch: &mut Scratch,
    password: &str,
    stored: &str,
    params: HashParams,
) -> Result<Verification, PasswordError> {
    if let Some(rest) = stored.strip_prefix("$kc-pbkdf2-") {
        return verify_pbkdf2(password, rest);
    }
    let parsed = PasswordHash::new(stored).map_err(|e| PasswordError::Unreadable(e.to_string()))?;
    if !argon2_matches(scratch, password, &parsed)? {
        return Ok(Verification::Mismatch);
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed)
            .map(|p| p.m_cost() == params.m_kib && p.t_cost() == params.t && p.p_cost() == params.p)
            .unwrap_or(false);
    Ok(Verification::Match {
        needs_rehash: !current,
    })
}

/// Recomputes an argon2 hash with the stored hash's own algorithm, version, parameters and salt
/// and compares the outputs in constant time (what `PasswordVerifier` does, in our memory).
fn argon2_matches(
    scratch: &mut Scratch,
    password: &str,
    stored: &PasswordHash,
) -> Result<bool, PasswordError> {
    let bad = |e: &dyn std::fmt::Display| PasswordError::Unreadable(e.to_string());
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return Err(PasswordError::Unreadable(
            "argon2 hash without salt or output".into(),
        ));
    };
    let algorithm = Algorithm::try_from(stored.algorithm.as_str()).map_err(|e| bad(&e))?;
    let version = match stored.version {
        Some(v) => Version::try_from(v).map_err(|e| bad(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(stored).map_err(|e| bad(&e))?;
    let blocks = params.block_count();
    let a = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    a.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, scratch.blocks(blocks))
        .map_err(|e| bad(&e))?;
    Ok(out.ct_eq(expected.as_bytes()).into())
}

fn verify_pbkdf2(password: &str, rest: &str) -> Result<Verification, PasswordError> {
    // sha256$<iterations>$<salt b64>$<hash b64>
    let bad = || PasswordError::Unreadable("malformed pbkdf2 hash".into());
    let mut it = rest.split('$');
    let (Some(alg), Some(iter), Some(salt), Some(hash), None) =
        (it.next(), it.next(), it.next(), it.next(), it.next())
    else {
        return Err(bad());
    };
    let algorithm = match alg {
        "sha256" => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        "sha512" => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA512,
        _ => return Err(bad()),
    };
    let iterations: NonZeroU32 = iter.parse().map_err(|_| bad())?;
    let std = base64::engine::general_purpose::STANDARD;
    let salt = std.decode(salt).map_err(|_| bad())?;
    let expected = std.decode(hash).map_err(|_| bad())?;
    let ok =
        aws_lc_rs::pbkdf2::verify(algorithm, iterations, &salt, password.as_bytes(), &expected)
            .is_ok();
    Ok(if ok {
        Verification::Match { needs_rehash: true }
    } else {
        Verification::Mismatch
    })
}

/// Converts a credential from a Keycloak realm export (`secretData` and `credentialData`, both
/// JSON documents in strings) into a stored hash this module verifies.
pub fn import_keycloak(secret_data: &str, credential_data: &str) -> Result<String, String> {
    let secret: Value =
        serde_json::from_str(secret_data).map_err(|e| format!("secretData is not JSON: {e}"))?;
    let cred: Value = serde_json::from_str(credential_data)
        .map_err(|e| format!("credentialData is not JSON: {e}"))?;
    let value = secret["value"]
        .as_str()
        .ok_or("secretData.value is missing")?;
    let salt = secret["salt"]
        .as_str()
        .ok_or("secretData.salt is missing")?;
    let std = base64::engine::general_purpose::STANDARD;
    let salt_bytes = std
        .decode(salt)
        .map_err(|_| "secretData.salt is not base64")?;
    let hash_bytes = std
        .decode(value)
        .map_err(|_| "secretData.value is not base64")?;
    let iterations = cred["hashIterations"]
        .as_i64()
        .ok_or("credentialData.hashIterations is missing")?;
    if iterations <= 0 {
        return Err("credentialData.hashIterations must be positive".into());
    }
    let algorithm = cred["algorithm"]
        .as_str()
        .ok_or("credentialData.algorithm is missing")?;
    match algorithm {
        "pbkdf2-sha256" | "pbkdf2-sha512" => {
            let short = &algorithm["pbkdf2-".len()..];
            Ok(format!("$kc-pbkdf2-{short}${iterations}${}${}", std.encode(salt_bytes), std.encode(hash_bytes)))
        }
        "argon2" => {
            let params = &cred["additionalParameters"];
            let first = |k: &str, default: &str| -> String {
                params[k].get(0).and_then(Value::as_str).unwrap_or(default).to_string()
            };
            let kind = match first("type", "id").as_str() {
                "id" => "argon2id",
                "i" => "argon2i",
                "d" => "argon2d",
                other => return Err(format!("credentialData: unknown argon2 type '{other}'")),
            };
            let version = match first("version", "1.3").as_str() {
                "1.3" => 19,
                "1.0" => 16,
                other => return Err(format!("credentialData: unknown argon2 version '{other}'")),
            };
            let memory: u32 = first("memory", "7168").parse().map_err(|_| "credentialData: argon2 memory")?;
            let parallelism: u32 = first("parallelism", "1").parse().map_err(|_| "credentialData: argon2 parallelism")?;
            let nopad = base64::engine::general_purpose::STANDARD_NO_PAD;
            let phc = format!(
                "${kind}$v={version}$m={memory},t={iterations},p={parallelism}${}${}",
                nopad.encode(salt_bytes),
                nopad.encode(hash_bytes)
            );
            PasswordHash::new(&phc).map_err(|e| format!("credentialData: argon2 parameters rejected: {e}"))?;
            Ok(phc)
        }
        other => Err(format!(
            "credentialData.algorithm '{other}' is not supported (pbkdf2-sha256, pbkdf2-sha512 or argon2)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: HashParams = HashParams {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    #[test]
    fn argon2id_round_trip() {
        let h = hash("s3cret", FAST).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(
            verify("s3cret", &h, FAST).unwrap(),
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(verify("wrong", &h, FAST).unwrap(), Verification::Mismatch);
        // Other parameters: still verifies, asks for a re-hash.
        assert_eq!(
            verify(
                "s3cret",
                &h,
                HashParams {
                    m_kib: 128,
                    t: 1,
                    p: 1
                }
            )
            .unwrap(),
            Verification::Match { needs_rehash: true }
        );
    }

    fn pbkdf2_export(alg: aws_lc_rs::pbkdf2::Algorithm, name: &str, pw: &str) -> (String, String) {
        let salt = b"0123456789abcdef";
        let mut out = [0u8; 64];
        aws_lc_rs::pbkdf2::derive(
            alg,
            NonZeroU32::new(1000).unwrap(),
            salt,
            pw.as_bytes(),
            &mut out,
        );
        let std = base64::engine::general_purpose::STANDARD;
        (
            format!(
                r#"{{"value":"{}","salt":"{}","additionalParameters":{{}}}}"#,
                std.encode(out),
                std.encode(salt)
            ),
            format!(
                r#"{{"hashIterations":1000,"algorithm":"{name}","additionalParameters":{{}}}}"#
            ),
        )
    }

    #[test]
    fn keycloak_pbkdf2_verifies_and_asks_for_rehash() {
        for (alg, name) in [
            (aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256, "pbkdf2-sha256"),
            (aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA512, "pbkdf2-sha512"),
        ] {
            let (s, c) = pbkdf2_export(alg, name, "pw");
            let stored = import_keycloak(&s, &c).unwrap();
            assert_eq!(
                verify("pw", &stored, FAST).unwrap(),
                Verification::Match { needs_rehash: true },
                "{name}"
            );
            assert_eq!(verify("px", &stored, FAST).unwrap(), Verification::Mismatch);
        }
    }

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_verifier_and_scratch_is_reusable() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash("s3cret", FAST).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"s3cret", &parsed)
            .is_ok());
        // The crate's hash (argon2i, other costs) verifies here, in memory that held a larger
        // hash a moment ago, then a smaller one, then the first again.
        let p = Params::new(256, 2, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2i, Version::V0x13, p)
            .hash_password(b"other")
            .unwrap()
            .to_string();
        let mut scratch = Scratch::default();
        for _ in 0..2 {
            assert!(matches!(
                verify_with(&mut scratch, "other", &theirs, FAST).unwrap(),
                Verification::Match { needs_rehash: true }
            ));
            assert_eq!(
                verify_with(&mut scratch, "s3cret", &ours, FAST).unwrap(),
                Verification::Match {
                    needs_rehash: false
                }
            );
            assert_eq!(
                verify_with(&mut scratch, "s3cre", &ours, FAST).unwrap(),
                Verification::Mismatch
            );
        }
        // A hash written in reused memory is still a valid, salted hash.
        let again = hash_with(&mut scratch, "s3cret", FAST).unwrap();
        assert_ne!(again, ours, "a fresh salt every time");
        assert!(Argon2::default()
            .verify_password(b"s3cret", &PasswordHash::new(&again).unwrap())
            .is_ok());
    }

    #[test]
    fn keycloak_argon2_verifies() {
        let salt = b"saltsaltsaltsalt";
        let mut out = [0u8; 32];
        let p = Params::new(64, 3, 1, Some(32)).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
            .hash_password_into(b"pw", salt, &mut out)
            .unwrap();
        let std = base64::engine::general_purpose::STANDARD;
        let s = format!(
            r#"{{"value":"{}","salt":"{}","additionalParameters":{{}}}}"#,
            std.encode(out),
            std.encode(salt)
        );
        let c = r#"{"hashIterations":3,"algorithm":"argon2","additionalParameters":{"hashLength":["32"],"memory":["64"],"type":["id"],"version":["1.3"],"parallelism":["1"]}}"#;
        let stored = import_keycloak(&s, c).unwrap();
        assert_eq!(
            verify("pw", &stored, FAST).unwrap(),
            Verification::Match { needs_rehash: true }
        );
        assert_eq!(
            verify("nope", &stored, FAST).unwrap(),
            Verification::Mismatch
        );
    }

    #[test]
    fn bad_exports_name_the_field() {
        assert!(import_keycloak("{}", "{}")
            .unwrap_err()
            .contains("secretData.value"));
        let e = import_keycloak(
            r#"{"value":"AA==","salt":"AA=="}"#,
            r#"{"hashIterations":1,"algorithm":"md5"}"#,
        )
        .unwrap_err();
        assert!(e.contains("algorithm"), "{e}");
    }

    #[test]
    fn unreadable_hash_is_an_error_not_a_panic() {
        assert!(verify("x", "garbage", FAST).is_err());
        assert!(verify("x", "$kc-pbkdf2-sha256$x$y", FAST).is_err());
    }
}

/// The inverse of [`import_keycloak`]: a stored hash as Keycloak's `secretData` and
/// `credentialData`, so an export can be imported by latchkey or Keycloak.
pub fn export_keycloak(stored: &str) -> Option<(String, String)> {
    let std = base64::engine::general_purpose::STANDARD;
    if let Some(rest) = stored.strip_prefix("$kc-pbkdf2-") {
        let mut it = rest.split('$');
        let (alg, iter, salt, hash) = (it.next()?, it.next()?, it.next()?, it.next()?);
        let secret = serde_json::json!({"value": hash, "salt": salt, "additionalParameters": {}});
        let cred = serde_json::json!({"hashIterations": iter.parse::<i64>().ok()?, "algorithm": format!("pbkdf2-{alg}"), "additionalParameters": {}});
        return Some((secret.to_string(), cred.to_string()));
    }
    let parsed = PasswordHash::new(stored).ok()?;
    let params = Params::try_from(&parsed).ok()?;
    let kind = parsed
        .algorithm
        .as_str()
        .strip_prefix("argon2")?
        .to_string();
    let salt = parsed.salt?;
    let salt_bytes: &[u8] = salt.as_ref();
    let hash = parsed.hash?;
    let version = if parsed.version == Some(16) {
        "1.0"
    } else {
        "1.3"
    };
    let secret = serde_json::json!({"value": std.encode(hash.as_bytes()), "salt": std.encode(salt_bytes), "additionalParameters": {}});
    let cred = serde_json::json!({
        "hashIterations": params.t_cost(),
        "algorithm": "argon2",
        "additionalParameters": {
            "hashLength": [hash.len().to_string()],
            "memory": [params.m_cost().to_string()],
            "type": [kind],
            "version": [version],
            "parallelism": [params.p_cost().to_string()],
        }
    });
    Some((secret.to_string(), cred.to_string()))
}

#[cfg(test)]
mod export_tests {
    use super::*;

    #[test]
    fn export_then_import_verifies() {
        let params = HashParams {
            m_kib: 64,
            t: 1,
            p: 1,
        };
        let stored = hash("pw", params).unwrap();
        let (s, c) = export_keycloak(&stored).unwrap();
        let back = import_keycloak(&s, &c).unwrap();
        assert!(matches!(
            verify("pw", &back, params).unwrap(),
            Verification::Match { .. }
        ));
        assert_eq!(verify("px", &back, params).unwrap(), Verification::Mismatch);
        let kc = import_keycloak(
            &format!(
                r#"{{"value":"{}","salt":"{}"}}"#,
                base64::engine::general_purpose::STANDARD.encode([1u8; 64]),
                base64::engine::general_purpose::STANDARD.encode([2u8; 16])
            ),
            r#"{"hashIterations":1000,"algorithm":"pbkdf2-sha256"}"#,
        )
        .unwrap();
        let (s, c) = export_keycloak(&kc).unwrap();
        assert_eq!(import_keycloak(&s, &c).unwrap(), kc);
    }
}
