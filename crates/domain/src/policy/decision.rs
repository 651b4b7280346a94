//! The refresh decision: given the stored state of a presented refresh token, issue a
//! successor, hand back the one issued moments ago, or refuse, naming the rule that refused.
//! Pure: the store reads the state and applies the decision in one transaction.

use super::{deadlines, refresh_token_expiry, Limit, RefreshPolicy};
use crate::{Client, ClientSession, OAuthError, Realm, RefreshRecord, Session, Timestamp, User};

/// Everything the refresh decision looks at, read inside one store transaction.
#[derive(Debug, Clone)]
pub struct RefreshState {
    pub record: RefreshRecord,
    pub session: Session,
    pub client_session: ClientSession,
    /// The record of the family's current token, when it is not `record` itself.
    pub current: Option<RefreshRecord>,
    /// The session's user, read in the same statement; `None` once deleted.
    pub user: Option<User>,
}

/// What the store must do.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshDecision {
    /// Issue `successor` (insert it, make it current); when rotating, mark the presented token
    /// rotated into it. Slide the session's and client session's idle windows to `now`.
    Issue {
        successor: RefreshRecord,
        rotate_presented: bool,
    },
    /// The presented token was rotated moments ago: hand back the same successor.
    Replay { successor: RefreshRecord },
    /// Refuse; revoke the whole family first when the rejection says so.
    Reject(Rejection),
}

/// The rule of the refresh decision that refused a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshCheck {
    /// The user the token was issued to was deleted.
    UserGone,
    /// The user is disabled (RFC 6749 §10.4: the grant ends with the user's access).
    UserDisabled,
    /// The client the token was issued to is disabled.
    ClientDisabled,
    /// The (offline) session was logged out or ended by an administrator.
    SessionEnded,
    /// Every token of this login was revoked (reuse detected, revocation, code replay).
    FamilyRevoked,
    /// A session limit (idle or max, SSO, client or offline) has passed.
    SessionLimit(Limit),
    /// The token's own `exp` has passed.
    TokenExpired,
    /// Never used, but a newer token of the login was issued after it.
    Superseded,
    /// Rotated, and the token it was rotated into has been rotated too: not the immediate
    /// predecessor of the current token.
    NotImmediatePredecessor,
    /// The immediate predecessor, but the current token has been used since.
    SuccessorUsed,
    /// The immediate predecessor, presented after its grace period (or with none).
    GracePeriodOver,
    /// The immediate predecessor, reused more often than `refreshTokenMaxReuse` allows.
    MaxReuseExceeded,
}

impl RefreshCheck {
    /// A stable name for logs and events.
    pub fn name(self) -> &'static str {
        match self {
            RefreshCheck::UserGone => "user_not_found",
            RefreshCheck::UserDisabled => "user_disabled",
            RefreshCheck::ClientDisabled => "client_disabled",
            RefreshCheck::SessionEnded => "session_ended",
            RefreshCheck::FamilyRevoked => "login_revoked",
            RefreshCheck::SessionLimit(l) => l.name(),
            RefreshCheck::TokenExpired => "token_expired",
            RefreshCheck::Superseded => "superseded",
            RefreshCheck::NotImmediatePredecessor => "not_immediate_predecessor",
            RefreshCheck::SuccessorUsed => "successor_used",
            RefreshCheck::GracePeriodOver => "grace_period_over",
            RefreshCheck::MaxReuseExceeded => "max_reuse_exceeded",
        }
    }
}

/// A refused refresh: the rule that refused it, in words, and whether the login is revoked.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub check: RefreshCheck,
    /// What failed, in words a developer can act on (without the consequence).
    pub reason: String,
    /// Set when the whole family is revoked: the reason recorded on it.
    pub revoke_family: Option<String>,
}

impl Rejection {
    fn new(check: RefreshCheck, reason: String) -> Rejection {
        Rejection {
            check,
            reason,
            revoke_family: None,
        }
    }

    /// The error the client gets once the decision has been applied.
    pub fn error(&self) -> OAuthError {
        OAuthError::invalid_grant(if self.revoke_family.is_some() {
            format!(
                "{}: refresh token reuse detected, so every token of this login has been revoked; sign in again",
                self.reason
            )
        } else {
            self.reason.clone()
        })
        .check(self.check.name())
        .event_error(crate::event::types::error::INVALID_TOKEN)
    }

    /// What presenting the token would do, said before anything has happened.
    pub fn prospect(&self) -> String {
        if self.revoke_family.is_some() {
            format!(
                "{}; presenting it would count as refresh token reuse and revoke every token of this login",
                self.reason
            )
        } else {
            self.reason.clone()
        }
    }
}

/// Inputs of a refresh that are not stored state.
#[derive(Debug, Clone)]
pub struct RefreshRequest<'a> {
    pub realm: &'a Realm,
    pub client: &'a Client,
    pub now: Timestamp,
    pub new_jti: String,
    /// The scope the new refresh token keeps (always the presented token's: RFC 6749 §6).
    pub scope: String,
    /// When no server was running, oldest first: the grace period's clock stops then.
    pub outages: &'a [super::Outage],
}

fn fmt_ts(ts: Timestamp) -> String {
    crate::claims::format_timestamp(ts)
}

/// The refresh-token rules. Pure: the caller reads `state` and applies the decision atomically.
pub fn decide_refresh(req: &RefreshRequest<'_>, state: &RefreshState) -> RefreshDecision {
    let reject = |check: RefreshCheck, reason: String| {
        RefreshDecision::Reject(Rejection::new(check, reason))
    };
    let (realm, client, now) = (req.realm, req.client, req.now);
    let rec = &state.record;
    let cs = &state.client_session;
    let session = &state.session;
    let kind = if session.offline {
        "offline session"
    } else {
        "session"
    };
    match &state.user {
        None => {
            return reject(
                RefreshCheck::UserGone,
                "the user this refresh token was issued to no longer exists".into(),
            )
        }
        Some(u) if !u.enabled => {
            return reject(
                RefreshCheck::UserDisabled,
                format!(
                    "user '{}' is disabled in realm '{}'",
                    u.username, realm.name
                ),
            )
        }
        Some(_) => {}
    }
    if !client.enabled {
        return reject(
            RefreshCheck::ClientDisabled,
            format!(
                "client '{}' is disabled in realm '{}'",
                client.client_id, realm.name
            ),
        );
    }
    if let Some(at) = session.ended_at {
        return reject(
            RefreshCheck::SessionEnded,
            format!(
                "{kind} {} ended at {} ({}): sign in again",
                session.id,
                fmt_ts(at),
                session.end_reason.as_deref().unwrap_or("logged out")
            ),
        );
    }
    if let Some(at) = cs.revoked_at {
        return reject(
            RefreshCheck::FamilyRevoked,
            format!(
                "refresh token belongs to a login whose tokens were all revoked at {} ({}): sign in again",
                fmt_ts(at),
                cs.revoke_reason.as_deref().unwrap_or("revoked")
            ),
        );
    }
    let ds = deadlines(realm, client, session, cs);
    if let Some(d) = ds.iter().filter(|d| d.at <= now).min_by_key(|d| d.at) {
        return reject(
            RefreshCheck::SessionLimit(d.limit),
            format!(
                "refresh token expired: the {} of {} s ended this {kind} at {}",
                d.limit,
                d.seconds,
                fmt_ts(d.at)
            ),
        );
    }
    if let Some(exp) = rec.expires_at.filter(|&exp| exp <= now) {
        return reject(
            RefreshCheck::TokenExpired,
            format!("refresh token expired at {} (its exp claim)", fmt_ts(exp)),
        );
    }
    let policy = RefreshPolicy::for_client(realm, client);
    let successor = || {
        // The successor's lifetime: the session's windows slid to now, capped by every max.
        let mut s = session.clone();
        s.last_refresh = now;
        let mut c = cs.clone();
        c.last_refresh = now;
        RefreshRecord {
            jti: req.new_jti.clone(),
            client_session_id: cs.id.clone(),
            parent_jti: Some(rec.jti.clone()),
            issued_at: now,
            expires_at: refresh_token_expiry(realm, client, &s, &c),
            scope: req.scope.clone(),
            offline: rec.offline,
            rotated_at: None,
            successor_jti: None,
            use_count: 0,
        }
    };
    let issue = |rotate_presented: bool| RefreshDecision::Issue {
        successor: successor(),
        rotate_presented,
    };
    if !policy.rotate {
        return issue(false);
    }
    let current_jti = cs.current_jti.as_deref();
    let Some(rotated_at) = rec.rotated_at else {
        if current_jti.is_none() || current_jti == Some(rec.jti.as_str()) {
            return issue(true);
        }
        // Never used, yet no longer current: a newer token of this login was issued since.
        return reject(
            RefreshCheck::Superseded,
            format!(
                "refresh token was superseded: a newer refresh token of this login ({}) was issued after it; use the newest refresh token",
                current_jti.unwrap_or("unknown")
            ),
        );
    };
    // The presented token was rotated out. Only the immediate predecessor of the current
    // token, while the current one is unused, gets a grace period or a reuse allowance.
    let successor_jti = rec.successor_jti.as_deref().unwrap_or("a newer token");
    let used = format!(
        "refresh token was already used at {} (rotated into {successor_jti})",
        fmt_ts(rotated_at)
    );
    let predecessor = rec.successor_jti.is_some() && rec.successor_jti.as_deref() == current_jti;
    let current_unused = state
        .current
        .as_ref()
        .is_some_and(|c| c.rotated_at.is_none());
    let (grace_end, paused) =
        super::outage::paused_end(rotated_at, policy.grace_seconds, req.outages, now);
    let mut rejection = if !predecessor {
        Rejection::new(
            RefreshCheck::NotImmediatePredecessor,
            format!(
                "{used}, and {successor_jti} has been rotated since (the login's current refresh token is {}): it is not the immediate predecessor of the current token, so no grace period applies",
                current_jti.unwrap_or("unknown")
            ),
        )
    } else if !current_unused {
        Rejection::new(
            RefreshCheck::SuccessorUsed,
            if state.current.is_some() {
                format!("{used}, and {successor_jti} has been used since")
            } else {
                format!("{used}, and no record of {successor_jti} is left")
            },
        )
    } else if now < grace_end {
        let current = state.current.clone().expect("current_unused checked it");
        return RefreshDecision::Replay { successor: current };
    } else if rec.use_count <= policy.max_reuse {
        return issue(true);
    } else if policy.max_reuse > 0 {
        Rejection::new(
            RefreshCheck::MaxReuseExceeded,
            format!(
                "{used}{}; maximum allowed refresh token reuse ({}) exceeded",
                grace_ended(policy.grace_seconds, grace_end, paused),
                policy.max_reuse
            ),
        )
    } else if policy.grace_seconds > 0 {
        Rejection::new(
            RefreshCheck::GracePeriodOver,
            format!(
                "{used}{}",
                grace_ended(policy.grace_seconds, grace_end, paused)
            ),
        )
    } else {
        Rejection::new(
            RefreshCheck::GracePeriodOver,
            format!("{used}, and this client has no grace period (latchkey.refreshTokenGracePeriod is 0)"),
        )
    };
    if policy.reuse_detection && rejection.check != RefreshCheck::MaxReuseExceeded {
        rejection.revoke_family = Some(format!(
            "refresh token reuse detected: {} presented after rotation ({})",
            rec.jti,
            rejection.check.name()
        ));
    } else {
        rejection.reason.push_str("; use the newest refresh token");
    }
    RefreshDecision::Reject(rejection)
}

fn grace_ended(seconds: i64, end: Timestamp, paused: i64) -> String {
    match (seconds > 0, paused > 0) {
        (false, _) => String::new(),
        (true, false) => format!(" and its {seconds} s grace period ended at {}", fmt_ts(end)),
        (true, true) => format!(
            " and its {seconds} s grace period (paused for the {paused} s no server was running) ended at {}",
            fmt_ts(end)
        ),
    }
}
