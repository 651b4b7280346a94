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

/// An authorization code (RFC 6749 §4.1.2): single-use, short-lived, bound to its client,
/// redirect URI and PKCE challenge. Stored by the SHA-256 of the code, never the code itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub code_hash: String,
    pub realm_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_sent: bool,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub session_id: String,
    pub user_id: String,
    pub auth_time: Timestamp,
    pub expires_at: Timestamp,
    /// When it was exchanged; a second exchange finds this set.
    pub used_at: Option<Timestamp>,
    /// The family its exchange created, revoked if the code is replayed.
    pub family_id: Option<String>,
}
