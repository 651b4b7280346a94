//! A small map whose entries expire: verified tokens by hash, introspection answers, grant
//! results. Bounded, so that a flood of distinct tokens cannot grow it without limit.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

pub struct TtlCache<K, V> {
    inner: Mutex<HashMap<K, (V, Instant)>>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> TtlCache<K, V> {
        TtlCache {
            inner: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live value for `key`, if any.
    pub fn get(&self, key: &K, now: Instant) -> Option<V> {
        let mut map = self.lock();
        match map.get(key) {
            Some((v, until)) if *until > now => Some(v.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` until `until`. When full, expired entries go first; if none had expired,
    /// everything does (the entries are cheap to compute again).
    pub fn insert(&self, key: K, value: V, until: Instant, now: Instant) {
        if until <= now {
            return;
        }
        let mut map = self.lock();
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.retain(|_, (_, u)| *u > now);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(key, (value, until));
    }

    pub fn remove(&self, key: &K) {
        self.lock().remove(key);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_expire_and_the_map_stays_bounded() {
        let c = TtlCache::new(2);
        let t0 = Instant::now();
        c.insert(1, "a", t0 + Duration::from_secs(1), t0);
        assert_eq!(c.get(&1, t0), Some("a"));
        assert_eq!(c.get(&1, t0 + Duration::from_secs(2)), None);
        c.insert(2, "b", t0 + Duration::from_secs(10), t0);
        c.insert(3, "c", t0 + Duration::from_secs(10), t0);
        c.insert(4, "d", t0 + Duration::from_secs(10), t0);
        assert!(c.len() <= 2);
        assert_eq!(c.get(&4, t0), Some("d"));
        c.insert(5, "e", t0, t0);
        assert_eq!(c.get(&5, t0), None, "already expired is not kept");
    }
}
