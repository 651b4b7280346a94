//! latchkey's HTTP face: Keycloak's endpoints, forms, JSON and errors, adapting requests to the
//! use cases of `latchkey-application` and their outcomes to responses.

pub mod admin;
pub mod authorization;
pub mod client_auth;
pub mod cookies;
pub mod cors;
pub mod endpoints;
pub mod error;
pub mod events;
pub mod form;
pub mod limits;
pub mod management;
pub mod pages;
pub mod router;
pub mod state;
pub mod telemetry;

pub use router::router;
pub use state::{AppState, Config};
