//! Admin API bodies: the JSON reader that names the failing field, then the client and user
//! built from a representation.
#![no_main]
use latchkey_domain::keycloak::{ClientRepresentation, UserRepresentation};
use latchkey_domain::{Client, User};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = latchkey_protocol::admin::parse_json::<ClientRepresentation>(data) {
        if let Ok(client) = Client::from_representation("c".into(), "r".into(), &c, vec![]) {
            for uri in latchkey_domain::authorize::registered_redirects(&client) {
                let lower = uri.to_ascii_lowercase();
                assert!(
                    !lower.starts_with("javascript:") && !lower.starts_with("data:"),
                    "{uri}"
                );
            }
        }
    }
    if let Ok(u) = latchkey_protocol::admin::parse_json::<UserRepresentation>(data) {
        let _ = User::from_representation("u".into(), "r".into(), &u, 0);
    }
});
