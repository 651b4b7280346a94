//! Where the gateway finds a refresh token or credentials in a body: a form or a JSON object.
#![no_main]
use latchkey_gateway::auth::request::{parse_params, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for form in [true, false] {
        match parse_params(form, data) {
            Parsed::Form(pairs) => {
                let _ = pairs.iter().find(|(k, _)| k == "refresh_token");
            }
            Parsed::Json(m) => {
                let _ = m.get("refresh_token").and_then(|v| v.as_str());
            }
            Parsed::Neither => {}
        }
    }
});
