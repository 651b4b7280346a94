//! Brute-force protection for password checks (login page and password grant): after
//! `failure_factor` consecutive failures a user is locked for a wait that grows by
//! `wait_increment` per further failure (capped), and a source address that fails too often in
//! a minute is throttled. Kept in memory per node, like Keycloak's default.

use latchkey_domain::Realm;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub enabled: bool,
    pub failure_factor: u32,
    pub wait_increment: u64,
    pub max_wait: u64,
    pub per_address_per_minute: u32,
}

impl Settings {
    /// Keycloak's realm fields where they exist (`bruteForceProtected`, `failureFactor`,
    /// `waitIncrementSeconds`, `maxFailureWaitSeconds` in attributes), latchkey's otherwise.
    pub fn for_realm(realm: &Realm) -> Settings {
        let num = |k: &str, d: u64| realm.attribute(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        Settings {
            enabled: realm
                .attribute("bruteForceProtected")
                .map(|v| v != "false")
                .unwrap_or(true),
            failure_factor: num("failureFactor", 30) as u32,
            wait_increment: num("waitIncrementSeconds", 60),
            max_wait: num("maxFailureWaitSeconds", 900),
            per_address_per_minute: num("latchkey.bruteForce.addressFailuresPerMinute", 100) as u32,
        }
    }
}

#[derive(Default)]
struct UserState {
    failures: u32,
    locked_until: Option<Instant>,
}

#[derive(Default)]
struct AddrState {
    window_start: Option<Instant>,
    failures: u32,
}

#[derive(Default)]
pub struct Throttle {
    users: Mutex<HashMap<(String, String), UserState>>,
    addrs: Mutex<HashMap<IpAddr, AddrState>>,
}

/// Why a check may not proceed now.
#[derive(Debug, Clone, PartialEq)]
pub struct Locked {
    pub retry_after: u64,
    pub by_address: bool,
}

impl Locked {
    pub fn message(&self) -> String {
        if self.by_address {
            format!(
                "too many failed sign-ins from your address: try again in {} s",
                self.retry_after
            )
        } else {
            format!(
                "too many failed sign-ins for this account: it is locked for {} s",
                self.retry_after
            )
        }
    }
}

impl Throttle {
    pub fn check(
        &self,
        s: &Settings,
        realm: &str,
        username: &str,
        addr: Option<IpAddr>,
    ) -> Result<(), Locked> {
        if !s.enabled {
            return Ok(());
        }
        let now = Instant::now();
        if let Some(ip) = addr {
            let addrs = self.addrs.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(a) = addrs.get(&ip) {
                if let Some(start) = a.window_start {
                    let elapsed = now.duration_since(start);
                    if elapsed < Duration::from_secs(60) && a.failures >= s.per_address_per_minute {
                        return Err(Locked {
                            retry_after: 60 - elapsed.as_secs(),
                            by_address: true,
                        });
                    }
                }
            }
        }
        let users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(u) = users.get(&(
            realm.to_string(),
            latchkey_domain::user::canonical_username(username),
        )) {
            if let Some(until) = u.locked_until {
                if until > now {
                    return Err(Locked {
                        retry_after: (until - now).as_secs().max(1),
                        by_address: false,
                    });
                }
            }
        }
        Ok(())
    }

    pub fn failure(&self, s: &Settings, realm: &str, username: &str, addr: Option<IpAddr>) {
        if !s.enabled {
            return;
        }
        let now = Instant::now();
        if let Some(ip) = addr {
            let mut addrs = self.addrs.lock().unwrap_or_else(|p| p.into_inner());
            if addrs.len() > 100_000 {
                addrs.retain(|_, a| {
                    a.window_start
                        .is_some_and(|w| now.duration_since(w) < Duration::from_secs(60))
                });
            }
            let a = addrs.entry(ip).or_default();
            match a.window_start {
                Some(w) if now.duration_since(w) < Duration::from_secs(60) => a.failures += 1,
                _ => {
                    a.window_start = Some(now);
                    a.failures = 1;
                }
            }
        }
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        let u = users
            .entry((
                realm.to_string(),
                latchkey_domain::user::canonical_username(username),
            ))
            .or_default();
        u.failures += 1;
        if u.failures >= s.failure_factor {
            let over = (u.failures - s.failure_factor + 1) as u64;
            let wait = (s.wait_increment * over).min(s.max_wait);
            u.locked_until = Some(now + Duration::from_secs(wait));
        }
    }

    pub fn success(&self, realm: &str, username: &str) {
        self.users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(
                realm.to_string(),
                latchkey_domain::user::canonical_username(username),
            ));
    }

    /// Clears every user's failures in a realm.
    pub fn reset_realm(&self, realm: &str) {
        self.users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(r, _), _| r != realm);
    }

    /// For the admin API: is this user locked now, and how many failures?
    pub fn status(&self, realm: &str, username: &str) -> (u32, bool) {
        let users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        match users.get(&(
            realm.to_string(),
            latchkey_domain::user::canonical_username(username),
        )) {
            Some(u) => (
                u.failures,
                u.locked_until.is_some_and(|t| t > Instant::now()),
            ),
            None => (0, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            enabled: true,
            failure_factor: 3,
            wait_increment: 60,
            max_wait: 900,
            per_address_per_minute: 5,
        }
    }

    #[test]
    fn user_locks_after_failure_factor_and_success_resets() {
        let t = Throttle::default();
        let s = settings();
        for _ in 0..2 {
            t.failure(&s, "r", "Alice", None);
        }
        assert!(t.check(&s, "r", "alice", None).is_ok());
        t.failure(&s, "r", "alice", None);
        let e = t.check(&s, "r", "ALICE", None).unwrap_err();
        assert!(!e.by_address && e.retry_after > 50);
        t.success("r", "alice");
        assert!(t.check(&s, "r", "alice", None).is_ok());
    }

    #[test]
    fn address_throttles_across_users() {
        let t = Throttle::default();
        let s = settings();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..5 {
            t.failure(&s, "r", &format!("u{i}"), Some(ip));
        }
        assert!(
            t.check(&s, "r", "someone-else", Some(ip))
                .unwrap_err()
                .by_address
        );
        assert!(t
            .check(&s, "r", "someone-else", Some("10.0.0.2".parse().unwrap()))
            .is_ok());
    }
}
