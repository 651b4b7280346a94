//! Form bodies (application/x-www-form-urlencoded) as every endpoint reads them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = latchkey_protocol::form::parse(data) {
        // Whatever was accepted reads back consistently.
        for key in [
            "grant_type",
            "client_id",
            "refresh_token",
            "scope",
            "redirect_uri",
        ] {
            let _ = params.get(key);
        }
    }
});
