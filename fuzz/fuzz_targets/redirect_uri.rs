//! Redirect-URI matching: a registered URI (exact, or Keycloak's trailing wildcard) against a
//! requested one.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (registered, requested) = text.split_once('\n').unwrap_or((text, text));
    let matched = latchkey_domain::authorize::redirect_uri_matches(registered, requested);
    // A browser is never sent to a script or data URI, whatever was registered.
    let lower = requested.trim_start().to_ascii_lowercase();
    if lower.starts_with("javascript:") || lower.starts_with("data:") {
        assert!(!matched, "{requested:?} matched {registered:?}");
    }
});
