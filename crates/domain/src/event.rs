//! Audit events: what happened, to which realm, when, with typed details. The store writes an
//! event in the same transaction as the change it records.

use crate::policy::RefreshState;
use crate::Timestamp;
use serde_json::{json, Value};

/// What an event records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A rotated refresh token was presented again; its family was revoked.
    RefreshTokenReuse,
    /// An authorization code was presented twice; what its first exchange issued was revoked.
    CodeReuse,
    /// A session was ended by its client or by the browser's RP-initiated logout.
    Logout,
    /// A client revoked a grant at the revocation endpoint (RFC 7009).
    RevokeGrant,
    /// An administrator ended a session (`latchkey sessions revoke`).
    SessionRevoked,
    /// An administrator changed a resource through the admin API.
    Admin(AdminOperation),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOperation {
    Create,
    Update,
    Delete,
    Logout,
    LogoutAll,
    ReadSecret,
    RegenerateSecret,
    ResetPassword,
    ClearLoginFailures,
}

impl EventKind {
    /// The name stored and shown.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::RefreshTokenReuse => "REFRESH_TOKEN_REUSE",
            EventKind::CodeReuse => "CODE_REUSE",
            EventKind::Logout => "LOGOUT",
            EventKind::RevokeGrant => "REVOKE_GRANT",
            EventKind::SessionRevoked => "SESSION_REVOKED",
            EventKind::Admin(AdminOperation::Create) => "ADMIN_CREATE",
            EventKind::Admin(AdminOperation::Update) => "ADMIN_UPDATE",
            EventKind::Admin(AdminOperation::Delete) => "ADMIN_DELETE",
            EventKind::Admin(AdminOperation::Logout) => "ADMIN_LOGOUT",
            EventKind::Admin(AdminOperation::LogoutAll) => "ADMIN_LOGOUT_ALL",
            EventKind::Admin(AdminOperation::ReadSecret) => "ADMIN_READ_SECRET",
            EventKind::Admin(AdminOperation::RegenerateSecret) => "ADMIN_REGENERATE_SECRET",
            EventKind::Admin(AdminOperation::ResetPassword) => "ADMIN_RESET_PASSWORD",
            EventKind::Admin(AdminOperation::ClearLoginFailures) => "ADMIN_CLEAR_LOGIN_FAILURES",
        }
    }
}

/// An audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub realm_id: Option<String>,
    pub at: Timestamp,
    /// [`EventKind::name`] of what happened (as stored: events read back keep their name).
    pub kind: String,
    pub detail: Value,
}

impl Event {
    pub fn new(kind: EventKind, realm_id: &str, at: Timestamp, detail: Value) -> Event {
        Event {
            realm_id: Some(realm_id.to_string()),
            at,
            kind: kind.name().to_string(),
            detail,
        }
    }

    /// A family revoked because one of its rotated tokens came back.
    pub fn refresh_token_reuse(state: &RefreshState, at: Timestamp, reason: &str) -> Event {
        let (s, cs) = (&state.session, &state.client_session);
        let detail = json!({
            "jti": state.record.jti, "sid": s.id, "client_id": cs.client_id,
            "user_id": s.user_id, "family": cs.id, "reason": reason,
        });
        Event::new(EventKind::RefreshTokenReuse, &s.realm_id, at, detail)
    }

    /// A replayed code's family revoked.
    pub fn code_reuse(
        realm_id: &str,
        at: Timestamp,
        client_id: &str,
        family: &str,
        sid: &str,
    ) -> Event {
        let detail = json!({"client_id": client_id, "family": family, "sid": sid});
        Event::new(EventKind::CodeReuse, realm_id, at, detail)
    }
}
