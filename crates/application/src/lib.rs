//! latchkey's use cases, between the HTTP adapters (`latchkey-protocol`), the CLI and the layers
//! below (`domain` rules, `storage`, `crypto`). Each grant reads state, asks the domain for a
//! pure decision and applies its effects in one store transaction; token issuing and reading,
//! sign-in, realm provisioning and the realm cache live here once, for every caller.

pub mod access;
pub mod actions;
pub mod app;
pub mod clock;
pub mod error;
pub mod events;
pub mod grants;
pub mod hashing;
pub mod ids;
pub mod issued;
pub mod keys;
pub mod metrics;
pub mod params;
pub mod provision;
pub mod realm_model;
pub mod realms;
pub mod sign_in;
pub mod throttle;
pub mod tokens;

pub use app::App;
pub use clock::{Clock, SystemClock};
pub use error::{Error, Result};
pub use ids::{Ids, UuidIds};
pub use params::Params;
