//! Users looked up on every grant (the service account of client_credentials, the subject of
//! every refresh), kept in memory. The embedded store has one process writing users — this
//! one — so every user write clears the cache the moment it commits; a generation number
//! keeps a read that raced such a write from putting the old row back.

use crate::UserWithCredential;
use latchkey_domain::User;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Entries kept at most; past it the cache starts over (users are cheap to read again).
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub(crate) struct UserCache {
    generation: AtomicU64,
    inner: Mutex<Maps>,
}

#[derive(Default)]
struct Maps {
    by_name: HashMap<(String, String), UserWithCredential>,
    by_id: HashMap<(String, String), User>,
}

impl UserCache {
    /// The generation to hand back to `put_*` after reading the store.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn by_name(&self, realm_id: &str, username: &str) -> Option<UserWithCredential> {
        let maps = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        maps.by_name
            .get(&(realm_id.to_string(), username.to_lowercase()))
            .cloned()
    }

    pub fn by_id(&self, realm_id: &str, id: &str) -> Option<User> {
        let maps = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        maps.by_id
            .get(&(realm_id.to_string(), id.to_string()))
            .cloned()
    }

    pub fn put_by_name(&self, read_at: u64, realm_id: &str, u: &UserWithCredential) {
        self.put(read_at, |m| {
            m.by_name.insert(
                (realm_id.to_string(), u.user.username.to_lowercase()),
                u.clone(),
            );
        })
    }

    pub fn put_by_id(&self, read_at: u64, realm_id: &str, u: &User) {
        self.put(read_at, |m| {
            m.by_id
                .insert((realm_id.to_string(), u.id.clone()), u.clone());
        })
    }

    fn put(&self, read_at: u64, f: impl FnOnce(&mut Maps)) {
        let mut maps = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // A user write committed after our read began: what we read may be stale.
        if self.generation.load(Ordering::Acquire) != read_at {
            return;
        }
        if maps.by_name.len() + maps.by_id.len() >= CAPACITY {
            maps.by_name.clear();
            maps.by_id.clear();
        }
        f(&mut maps);
    }

    /// After any write that may change a user (or remove a realm's users).
    pub fn clear(&self) {
        let mut maps = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        maps.by_name.clear();
        maps.by_id.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str) -> User {
        let mut u = User::from_representation(
            id.into(),
            "r".into(),
            &serde_json::from_value(serde_json::json!({"username": name})).unwrap(),
            0,
        )
        .unwrap();
        u.id = id.into();
        u
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_cached() {
        let c = UserCache::default();
        let g = c.generation();
        c.clear(); // a write committed while we were reading
        c.put_by_id(g, "r", &user("1", "alice"));
        assert!(c.by_id("r", "1").is_none());
        let g = c.generation();
        c.put_by_id(g, "r", &user("1", "alice"));
        assert_eq!(c.by_id("r", "1").unwrap().username, "alice");
        c.clear();
        assert!(c.by_id("r", "1").is_none());
    }

    #[test]
    fn names_are_case_insensitive() {
        let c = UserCache::default();
        let u = UserWithCredential {
            user: user("1", "alice"),
            password_hash: None,
        };
        c.put_by_name(c.generation(), "r", &u);
        assert!(c.by_name("r", "ALICE").is_some());
        assert!(c.by_name("other", "alice").is_none());
    }
}
