//! Signing keys on a schedule: a realm with the attribute `latchkey.keyRotationPeriod`
//! (seconds) gets, for each algorithm it signs with, a new key every period. Each new key is
//! published in the JWKS `latchkey.keyPublishAhead` seconds (default a tenth of the period, at
//! most a day) before it starts signing, so that relying parties that cache the JWKS know it
//! before they meet it; an old key stays published until the last token it signed has
//! expired (the realm cache retires it then).

use crate::Realm;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub period: i64,
    pub ahead: i64,
}

impl Schedule {
    /// The realm's schedule, if it has one (a period of at least one second).
    pub fn of(realm: &Realm) -> Option<Schedule> {
        let seconds = |key: &str| {
            realm
                .attribute(key)
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        let period = seconds("latchkey.keyRotationPeriod").filter(|p| *p > 0)?;
        let ahead = seconds("latchkey.keyPublishAhead")
            .filter(|a| *a >= 0)
            .unwrap_or((period / 10).min(86_400))
            .min(period);
        Some(Schedule { period, ahead })
    }
}

/// A stored key as the schedule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStamp {
    pub alg: String,
    /// When it signs from (a key made ahead of its time has this in the future).
    pub created_at: i64,
    pub active: bool,
}

/// The keys to make now, as (algorithm, the moment it starts signing): for each algorithm of
/// the active keys whose newest key is due for a successor to be published. The successor
/// signs one period after its predecessor began, and never sooner than `ahead` from now.
pub fn due(s: Schedule, keys: &[KeyStamp], signing_algs: &[&str], now: i64) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for alg in signing_algs {
        let Some(newest) = keys
            .iter()
            .filter(|k| k.active && k.alg == *alg)
            .map(|k| k.created_at)
            .max()
        else {
            continue;
        };
        let starts = newest.saturating_add(s.period);
        if now >= starts.saturating_sub(s.ahead) {
            out.push((alg.to_string(), starts.max(now.saturating_add(s.ahead))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(alg: &str, created_at: i64) -> KeyStamp {
        KeyStamp {
            alg: alg.into(),
            created_at,
            active: true,
        }
    }

    #[test]
    fn a_successor_is_published_ahead_of_the_period_end() {
        let s = Schedule {
            period: 100,
            ahead: 10,
        };
        let keys = [key("RS256", 0), key("HS512", 0)];
        assert!(due(s, &keys, &["RS256", "HS512"], 89).is_empty());
        assert_eq!(
            due(s, &keys, &["RS256", "HS512"], 90),
            [("RS256".to_string(), 100), ("HS512".to_string(), 100)]
        );
        // Once the successor exists, nothing more is due until its own period ends.
        let keys = [key("RS256", 0), key("RS256", 100)];
        assert!(due(s, &keys, &["RS256"], 95).is_empty());
        // A schedule set on an old key: the successor still gets its time ahead.
        assert_eq!(
            due(s, &[key("RS256", 0)], &["RS256"], 5000),
            [("RS256".to_string(), 5010)]
        );
    }

    #[test]
    fn the_schedule_is_read_from_the_realm_attributes() {
        let mut rep = crate::keycloak::RealmRepresentation {
            realm: "r".into(),
            ..Default::default()
        };
        let realm = |rep: &crate::keycloak::RealmRepresentation| {
            Realm::from_representation("id".into(), rep).unwrap()
        };
        assert_eq!(Schedule::of(&realm(&rep)), None);
        rep.attributes
            .insert("latchkey.keyRotationPeriod".into(), "2592000".into());
        assert_eq!(
            Schedule::of(&realm(&rep)),
            Some(Schedule {
                period: 2_592_000,
                ahead: 86_400
            })
        );
        rep.attributes
            .insert("latchkey.keyPublishAhead".into(), "60".into());
        assert_eq!(Schedule::of(&realm(&rep)).unwrap().ahead, 60);
        rep.attributes
            .insert("latchkey.keyRotationPeriod".into(), "soon".into());
        assert_eq!(Schedule::of(&realm(&rep)), None);
    }
}
