//! latchkey's domain: realms, clients, users, sessions, grants and token policy.
//!
//! Nothing in this crate performs I/O. Storage and HTTP live in their own crates and call
//! into the rules defined here.

pub mod admin_access;
pub mod authorize;
pub mod claims;
pub mod client;
pub mod error;
pub mod event;
pub mod key_schedule;
pub mod keycloak;
pub mod model;
pub mod policy;
pub mod realm;
pub mod scope;
pub mod session;
pub mod user;

pub use client::Client;
pub use error::{sanitize, ErrorCode, OAuthError};
pub use event::{AdminEvent, AuthDetails, Event, EventsConfig, UserEvent};
pub use realm::Realm;
pub use session::{AuthCode, ClientSession, RefreshRecord, Session};
pub use user::User;

/// Seconds since the Unix epoch.
pub type Timestamp = i64;
