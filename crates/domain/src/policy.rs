//! Token policy: lifetimes and the refresh-token rules, as pure functions of the realm, the
//! client and the stored state. The store runs [`decide_refresh`] inside its transaction so
//! that check and rotation are one atomic step.

use crate::{Client, ClientSession, OAuthError, Realm, RefreshRecord, Session, Timestamp};
use std::fmt;

/// One of the limits that can end a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    SsoIdle,
    SsoMax,
    ClientIdle,
    ClientMax,
    OfflineIdle,
    OfflineMax,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::SsoIdle => "SSO session idle timeout (ssoSessionIdleTimeout)",
            Limit::SsoMax => "SSO session max lifespan (ssoSessionMaxLifespan)",
            Limit::ClientIdle => "client session idle timeout (clientSessionIdleTimeout / client.session.idle.timeout)",
            Limit::ClientMax => "client session max lifespan (clientSessionMaxLifespan / client.session.max.lifespan)",
            Limit::OfflineIdle => "offline session idle timeout (offlineSessionIdleTimeout)",
            Limit::OfflineMax => "offline session max lifespan (offlineSessionMaxLifespan)",
        })
    }
}

/// A deadline: when `limit` ends the family, measured from `since` plus `seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub limit: Limit,
    pub seconds: i64,
    pub at: Timestamp,
}

/// The access token lifespan: the client's `access.token.lifespan`, else the realm's.
pub fn access_token_lifespan(realm: &Realm, client: &Client) -> i64 {
    client
        .access_token_lifespan()
        .unwrap_or(realm.access_token_lifespan)
}

/// Every deadline that applies to a family, given its session and client session.
pub fn deadlines(
    realm: &Realm,
    client: &Client,
    session: &Session,
    cs: &ClientSession,
) -> Vec<Deadline> {
    let mut out = Vec::with_capacity(4);
    let mut push = |limit, since: Timestamp, seconds: i64| {
        if seconds > 0 {
            out.push(Deadline {
                limit,
                seconds,
                at: since.saturating_add(seconds),
            });
        }
    };
    if session.offline {
        let idle = client
            .offline_session_idle_timeout()
            .unwrap_or(realm.offline_session_idle_timeout);
        push(Limit::OfflineIdle, session.last_refresh, idle);
        if realm.offline_session_max_lifespan_enabled {
            let max = client
                .offline_session_max_lifespan()
                .unwrap_or(realm.offline_session_max_lifespan);
            push(Limit::OfflineMax, session.started_at, max);
        }
    } else {
        push(
            Limit::SsoIdle,
            session.last_refresh,
            realm.sso_session_idle_timeout,
        );
        push(
            Limit::SsoMax,
            session.started_at,
            realm.sso_session_max_lifespan,
        );
        let c_idle = client
            .client_session_idle_timeout()
            .unwrap_or(realm.client_session_idle_timeout);
        let c_max = client
            .client_session_max_lifespan()
            .unwrap_or(realm.client_session_max_lifespan);
        push(Limit::ClientIdle, cs.last_refresh, c_idle);
        push(Limit::ClientMax, cs.started_at, c_max);
    }
    out
}

/// The longest a session can go without use (`idle`) and can last at all (`max`), whichever
/// of the realm's clients it serves: a session past either, by every client's measure, can
/// never serve a request again. `None`: no such limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionBounds {
    pub idle: Option<i64>,
    pub max: Option<i64>,
}

/// [`SessionBounds`] of a realm's online or offline sessions, from the same limits
/// [`deadlines`] applies. Online sessions end by the realm's SSO limits (a client's own limits
/// end only its families). Offline sessions take the longest of the realm's and every
/// client's override; a client without a limit leaves the realm without one.
pub fn session_bounds(realm: &Realm, clients: &[Client], offline: bool) -> SessionBounds {
    let positive = |v: i64| (v > 0).then_some(v);
    if !offline {
        return SessionBounds {
            idle: positive(realm.sso_session_idle_timeout),
            max: positive(realm.sso_session_max_lifespan),
        };
    }
    // The longest of the realm's value and each client's effective one; any 0 means unlimited.
    let longest = |realm_value: i64, of_client: &dyn Fn(&Client) -> Option<i64>| {
        clients
            .iter()
            .map(|c| of_client(c).unwrap_or(realm_value))
            .chain([realm_value])
            .try_fold(0, |acc, v| positive(v).map(|v| acc.max(v)))
    };
    SessionBounds {
        idle: longest(
            realm.offline_session_idle_timeout,
            &Client::offline_session_idle_timeout,
        ),
        max: if realm.offline_session_max_lifespan_enabled {
            longest(
                realm.offline_session_max_lifespan,
                &Client::offline_session_max_lifespan,
            )
        } else {
            None
        },
    }
}

/// The earliest deadline, if any; `None` means the family lives until revoked.
pub fn first_deadline(deadlines: &[Deadline]) -> Option<Deadline> {
    deadlines.iter().copied().min_by_key(|d| d.at)
}

/// The refresh-token expiry reported to clients: an offline token without a maximum lifespan
/// carries no `exp` and `refresh_expires_in` 0, as Keycloak does; its idle limit still applies.
pub fn refresh_token_expiry(
    realm: &Realm,
    client: &Client,
    session: &Session,
    cs: &ClientSession,
) -> Option<Timestamp> {
    let ds = deadlines(realm, client, session, cs);
    if session.offline && !ds.iter().any(|d| d.limit == Limit::OfflineMax) {
        return None;
    }
    first_deadline(&ds).map(|d| d.at)
}

/// The rotation policy for one client: realm settings, overridden by client attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    pub rotate: bool,
    pub max_reuse: i64,
    pub grace_seconds: i64,
    pub reuse_detection: bool,
}

impl RefreshPolicy {
    pub fn for_client(realm: &Realm, client: &Client) -> RefreshPolicy {
        let attr = |key: &str| {
            client
                .attribute(key)
                .or_else(|| realm.attribute(key))
                .filter(|v| !v.is_empty())
        };
        let rotate = match client.attribute("latchkey.revokeRefreshToken") {
            Some("true") => true,
            Some("false") => false,
            _ => realm.revoke_refresh_token,
        };
        let max_reuse = client
            .attribute("latchkey.refreshTokenMaxReuse")
            .and_then(|v| v.parse().ok())
            .unwrap_or(realm.refresh_token_max_reuse)
            .max(0);
        let grace_seconds = attr("latchkey.refreshTokenGracePeriod")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(crate::realm::defaults::REFRESH_TOKEN_GRACE_PERIOD)
            .max(0);
        let reuse_detection = attr("latchkey.refreshTokenReuseDetection")
            .map(|v| v != "false")
            .unwrap_or(true);
        RefreshPolicy {
            rotate,
            max_reuse,
            grace_seconds,
            reuse_detection,
        }
    }
}

/// Everything the refresh decision looks at, read inside one store transaction.
#[derive(Debug, Clone)]
pub struct RefreshState {
    pub record: RefreshRecord,
    pub session: Session,
    pub client_session: ClientSession,
    /// The record of the family's current token, when it is not `record` itself.
    pub current: Option<RefreshRecord>,
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
    /// Refuse. When `revoke_family` is set, revoke the whole family (and record the event).
    Reject {
        error: OAuthError,
        revoke_family: Option<String>,
    },
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
}

fn fmt_ts(ts: Timestamp) -> String {
    crate::claims::format_timestamp(ts)
}

/// The refresh-token rules. Pure: the caller reads `state` and applies the decision atomically.
pub fn decide_refresh(req: &RefreshRequest<'_>, state: &RefreshState) -> RefreshDecision {
    let reject = |error: OAuthError| RefreshDecision::Reject {
        error,
        revoke_family: None,
    };
    let (realm, client, now) = (req.realm, req.client, req.now);
    let rec = &state.record;
    let cs = &state.client_session;
    let session = &state.session;
    if let Some(at) = session.ended_at {
        let kind = if session.offline {
            "offline session"
        } else {
            "session"
        };
        return reject(OAuthError::invalid_grant(format!(
            "{kind} {} ended at {} ({}): sign in again",
            session.id,
            fmt_ts(at),
            session.end_reason.as_deref().unwrap_or("logged out")
        )));
    }
    if let Some(at) = cs.revoked_at {
        return reject(OAuthError::invalid_grant(format!(
            "refresh token belongs to a login whose tokens were all revoked at {} ({}): sign in again",
            fmt_ts(at),
            cs.revoke_reason.as_deref().unwrap_or("revoked")
        )));
    }
    let ds = deadlines(realm, client, session, cs);
    if let Some(d) = ds.iter().filter(|d| d.at <= now).min_by_key(|d| d.at) {
        return reject(OAuthError::invalid_grant(format!(
            "refresh token expired: the {} of {} s ended this {} at {}",
            d.limit,
            d.seconds,
            if session.offline {
                "offline session"
            } else {
                "session"
            },
            fmt_ts(d.at)
        )));
    }
    if let Some(exp) = rec.expires_at {
        if exp <= now {
            return reject(OAuthError::invalid_grant(format!(
                "refresh token expired at {} (its exp claim)",
                fmt_ts(exp)
            )));
        }
    }
    let policy = RefreshPolicy::for_client(realm, client);
    let new_expiry = {
        // The successor's lifetime: the session's windows slid to now, capped by every max.
        let mut s = session.clone();
        s.last_refresh = now;
        let mut c = cs.clone();
        c.last_refresh = now;
        refresh_token_expiry(realm, client, &s, &c)
    };
    let successor = RefreshRecord {
        jti: req.new_jti.clone(),
        client_session_id: cs.id.clone(),
        parent_jti: Some(rec.jti.clone()),
        issued_at: now,
        expires_at: new_expiry,
        scope: req.scope.clone(),
        offline: rec.offline,
        rotated_at: None,
        successor_jti: None,
        use_count: 0,
    };
    if !policy.rotate {
        return RefreshDecision::Issue {
            successor,
            rotate_presented: false,
        };
    }
    let is_current =
        cs.current_jti.is_none() || cs.current_jti.as_deref() == Some(rec.jti.as_str());
    if rec.rotated_at.is_none() {
        if is_current {
            return RefreshDecision::Issue {
                successor,
                rotate_presented: true,
            };
        }
        // Never used, yet no longer current: a newer token of this login was issued since.
        return reject(OAuthError::invalid_grant(format!(
            "refresh token was superseded: a newer refresh token of this login ({}) was issued after it; use the newest refresh token",
            cs.current_jti.as_deref().unwrap_or("unknown")
        )));
    }
    // The presented token was rotated out. Is it the immediate predecessor of an unused current?
    let current_unused = state
        .current
        .as_ref()
        .is_some_and(|c| c.rotated_at.is_none());
    let predecessor_of_current = rec.successor_jti.is_some() && rec.successor_jti == cs.current_jti;
    if let (Some(rotated_at), true, true) = (rec.rotated_at, predecessor_of_current, current_unused)
    {
        if now - rotated_at < policy.grace_seconds {
            let current = state.current.clone().expect("checked above");
            return RefreshDecision::Replay { successor: current };
        }
        if rec.use_count <= policy.max_reuse {
            return RefreshDecision::Issue {
                successor,
                rotate_presented: true,
            };
        }
    }
    let when = rec
        .rotated_at
        .map(fmt_ts)
        .unwrap_or_else(|| "an earlier refresh".into());
    let grace = if policy.grace_seconds > 0 {
        format!(
            " and the {} s grace period has passed",
            policy.grace_seconds
        )
    } else {
        String::new()
    };
    let base = format!(
        "refresh token was already used at {when} (rotated into {}){grace}",
        rec.successor_jti.as_deref().unwrap_or("a newer token")
    );
    if policy.max_reuse > 0 && predecessor_of_current && current_unused {
        return reject(OAuthError::invalid_grant(format!(
            "{base}; maximum allowed refresh token reuse ({}) exceeded",
            policy.max_reuse
        )));
    }
    if policy.reuse_detection {
        RefreshDecision::Reject {
            error: OAuthError::invalid_grant(format!(
                "{base}: refresh token reuse detected, so every token of this login has been revoked; sign in again"
            )),
            revoke_family: Some(format!("refresh token reuse detected: {} presented after rotation", rec.jti)),
        }
    } else {
        reject(OAuthError::invalid_grant(format!(
            "{base}; use the newest refresh token"
        )))
    }
}

#[cfg(test)]
mod tests;
