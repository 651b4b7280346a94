//! Sessions and refresh-token families.
//!
//! A *session* is one sign-in of a user (`sid`); offline sessions are separate rows that
//! survive the browser session's logout. A *client session* is what one client holds in a
//! session: it is the refresh-token family (Keycloak keeps its refresh state there too).
//! Each refresh token ever issued has a [`RefreshRecord`], linked to its parent and successor,
//! so that rotation, grace, reuse detection and `latchkey explain` can reason about it.

use crate::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub realm_id: String,
    pub user_id: String,
    pub offline: bool,
    pub started_at: Timestamp,
    pub auth_time: Timestamp,
    pub last_refresh: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub end_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSession {
    pub id: String,
    pub session_id: String,
    /// The client's `clientId`.
    pub client_id: String,
    pub started_at: Timestamp,
    pub last_refresh: Timestamp,
    /// The newest refresh token of the family (rotation keeps exactly one current).
    pub current_jti: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub revoke_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub jti: String,
    pub client_session_id: String,
    pub parent_jti: Option<String>,
    pub issued_at: Timestamp,
    /// `None` for an offline token without a maximum lifespan.
    pub expires_at: Option<Timestamp>,
    pub scope: String,
    pub offline: bool,
    /// When it was first exchanged under rotation, and for which successor.
    pub rotated_at: Option<Timestamp>,
    pub successor_jti: Option<String>,
    pub use_count: i64,
}

impl Session {
    pub fn is_active(&self) -> bool {
        self.ended_at.is_none()
    }
}

impl ClientSession {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}
