//! Token policy: lifetimes and the refresh-token rules, as pure functions of the realm, the
//! client and the stored state. The store runs [`decide_refresh`] inside its transaction so
//! that check and rotation are one atomic step.

use crate::{Client, ClientSession, Realm, Session, Timestamp};
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

impl Limit {
    /// A stable name for logs and events.
    pub fn name(self) -> &'static str {
        match self {
            Limit::SsoIdle => "sso_session_idle",
            Limit::SsoMax => "sso_session_max",
            Limit::ClientIdle => "client_session_idle",
            Limit::ClientMax => "client_session_max",
            Limit::OfflineIdle => "offline_session_idle",
            Limit::OfflineMax => "offline_session_max",
        }
    }
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
    /// From the settings parsed when the realm was loaded: the client's value, else the
    /// realm's, else latchkey's default.
    pub fn for_client(realm: &Realm, client: &Client) -> RefreshPolicy {
        let c = &client.settings;
        RefreshPolicy {
            rotate: c.rotate.unwrap_or(realm.revoke_refresh_token),
            max_reuse: c.max_reuse.unwrap_or(realm.refresh_token_max_reuse).max(0),
            grace_seconds: c
                .grace_seconds
                .or(realm.refresh_token_grace_period)
                .unwrap_or(crate::realm::defaults::REFRESH_TOKEN_GRACE_PERIOD)
                .max(0),
            reuse_detection: c
                .reuse_detection
                .or(realm.refresh_token_reuse_detection)
                .unwrap_or(true),
        }
    }
}

mod decision;
pub mod outage;
pub use decision::{
    decide_refresh, RefreshCheck, RefreshDecision, RefreshRequest, RefreshState, Rejection,
};
pub use outage::Outage;

#[cfg(test)]
mod tests;
