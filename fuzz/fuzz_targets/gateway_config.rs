//! The gateway's declarative configuration, in YAML and in JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |name: &str| (name == "SECRET").then(|| "s3cret".to_string());
    let _ = latchkey_gateway::config::parse(Path::new("kong.yml"), text, &env);
    let _ = latchkey_gateway::config::parse(Path::new("kong.json"), text, &env);
});
