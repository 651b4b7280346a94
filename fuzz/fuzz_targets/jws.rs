//! Compact JWS parsing and verification (header, claims, signature) with each kind of key.
#![no_main]
use latchkey_crypto::{HmacKey, SigningKey};
use latchkey_domain::realm::SigningAlg;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn keys() -> &'static (Vec<SigningKey>, HmacKey) {
    static KEYS: OnceLock<(Vec<SigningKey>, HmacKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let signing = SigningAlg::ALL
            .iter()
            .map(|alg| SigningKey::generate(*alg).expect("key").0)
            .collect();
        // A key drawn now: no seed or input can have been signed with it.
        (signing, HmacKey::generate().0)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let (signing, hmac) = keys();
    for key in signing {
        if let Ok(parsed) = latchkey_crypto::jws::parse(token) {
            let _ = (parsed.alg(), parsed.kid(), parsed.typ());
            assert!(parsed.verify_asym(key).is_err(), "a forged token verified");
        }
    }
    if let Ok(parsed) = latchkey_crypto::jws::parse(token) {
        assert!(parsed.verify_hmac(hmac).is_err(), "a forged token verified");
    }
});
