//! latchkey's HTTP face: Keycloak's endpoints, forms, JSON and errors. Each grant has its own
//! module under `grants/`, written to read like its RFC section.

pub mod access;
pub mod admin;
pub mod client_auth;
pub mod cookies;
pub mod cors;
pub mod endpoints;
pub mod error;
pub mod form;
pub mod grants;
pub mod hashing;
pub mod pages;
pub mod provision;
pub mod realms;
pub mod router;
pub mod sign_in;
pub mod state;
pub mod throttle;
pub mod tokens;

pub use router::router;
pub use state::{AppState, Config};

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
