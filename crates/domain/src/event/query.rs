//! The query parameters of Keycloak's `GET /admin/realms/{realm}/events` and `/admin-events`,
//! read with Keycloak's rules (dates as `yyyy-MM-dd` in UTC, `dateTo` taking in its whole day,
//! or epoch milliseconds; newest first; 100 at most unless told) and its 400 messages.

use super::types;

/// Which user events to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserEventQuery {
    pub realm_id: String,
    /// Any of these types; empty for all.
    pub types: Vec<String>,
    pub client: Option<String>,
    pub user: Option<String>,
    pub ip_address: Option<String>,
    pub page: Page,
}

/// Which admin events to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdminEventQuery {
    pub realm_id: String,
    pub operation_types: Vec<String>,
    pub resource_types: Vec<String>,
    /// A path where `*` stands for anything (Keycloak's rule).
    pub resource_path: Option<String>,
    pub auth_realm: Option<String>,
    pub auth_client: Option<String>,
    pub auth_user: Option<String>,
    pub auth_ip_address: Option<String>,
    pub page: Page,
}

/// The time window, order and page every listing shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Epoch milliseconds, inclusive.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub first: i64,
    pub max: i64,
    pub ascending: bool,
}

impl Default for Page {
    fn default() -> Page {
        Page {
            from: None,
            to: None,
            first: 0,
            max: DEFAULT_MAX,
            ascending: false,
        }
    }
}

/// Keycloak's `max` when none is given.
pub const DEFAULT_MAX: i64 = 100;

type Pairs<'a> = &'a [(String, String)];

fn one<'a>(pairs: Pairs<'a>, key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn all(pairs: Pairs<'_>, key: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, v)| k == key && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect()
}

fn text(pairs: Pairs<'_>, key: &str) -> Option<String> {
    one(pairs, key)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// `GET …/events`'s parameters.
pub fn user_query(realm_id: &str, pairs: Pairs<'_>) -> Result<UserEventQuery, String> {
    let types = all(pairs, "type");
    if let Some(bad) = types.iter().find(|t| !types::is_known(t)) {
        return Err(format!(
            "Invalid value for 'type': '{}' is not an event type",
            crate::sanitize(bad)
        ));
    }
    Ok(UserEventQuery {
        realm_id: realm_id.to_string(),
        types,
        client: text(pairs, "client"),
        user: text(pairs, "user"),
        ip_address: text(pairs, "ipAddress"),
        page: page(pairs)?,
    })
}

/// `GET …/admin-events`'s parameters.
pub fn admin_query(realm_id: &str, pairs: Pairs<'_>) -> Result<AdminEventQuery, String> {
    let check = |key: &str, known: &[&str]| -> Result<Vec<String>, String> {
        let values = all(pairs, key);
        match values.iter().find(|v| !known.contains(&v.as_str())) {
            Some(bad) => Err(format!(
                "Invalid value for '{key}': '{}' (expected one of {})",
                crate::sanitize(bad),
                known.join(", ")
            )),
            None => Ok(values),
        }
    };
    Ok(AdminEventQuery {
        realm_id: realm_id.to_string(),
        operation_types: check("operationTypes", types::OPERATION_TYPES)?,
        resource_types: check("resourceTypes", types::RESOURCE_TYPES)?,
        resource_path: text(pairs, "resourcePath"),
        auth_realm: text(pairs, "authRealm"),
        auth_client: text(pairs, "authClient"),
        auth_user: text(pairs, "authUser"),
        auth_ip_address: text(pairs, "authIpAddress"),
        page: page(pairs)?,
    })
}

fn page(pairs: Pairs<'_>) -> Result<Page, String> {
    let count = |key: &str, default: i64| -> Result<i64, String> {
        match one(pairs, key).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 0 => Ok(n),
                _ => Err(format!(
                    "Invalid value for '{key}': '{}' (a number, 0 or more)",
                    crate::sanitize(v)
                )),
            },
        }
    };
    let ascending = match one(pairs, "direction").filter(|v| !v.is_empty()) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => {
            return Err("Invalid value for sortDirection, expected value is asc or desc".into())
        }
    };
    Ok(Page {
        from: date(pairs, "dateFrom", false)?,
        to: date(pairs, "dateTo", true)?,
        first: count("first", 0)?,
        max: count("max", DEFAULT_MAX)?,
        ascending,
    })
}

/// A date parameter in epoch milliseconds: `yyyy-MM-dd` is the day's start in UTC, or its last
/// millisecond for the end of a window; anything without `-` is epoch milliseconds.
fn date(pairs: Pairs<'_>, key: &str, end_of_day: bool) -> Result<Option<i64>, String> {
    let Some(v) = one(pairs, key).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        format!("Invalid value for '{key}', expected format is yyyy-MM-dd or an Epoch timestamp")
    };
    if v.contains('-') {
        let day = parse_day(v).ok_or_else(bad)?;
        let start = day * 86_400_000;
        Ok(Some(if end_of_day {
            start + 86_399_999
        } else {
            start
        }))
    } else {
        v.parse::<i64>().map(Some).map_err(|_| bad())
    }
}

/// Days since 1970-01-01 of a `yyyy-MM-dd` date, if it is one.
fn parse_day(s: &str) -> Option<i64> {
    let mut it = s.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y) && digits(m) && digits(d)) {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month[(m - 1) as usize] {
        return None;
    }
    // Days from the civil date (the proleptic Gregorian calendar), era by era of 400 years.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn days_count_from_the_epoch() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2000-03-01"), Some(11_017));
        assert_eq!(parse_day("2024-02-29"), Some(19_782));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "2024-01-01-",
            "yyyy-MM-dd",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_date_window_takes_in_the_whole_last_day() {
        let q = user_query(
            "r",
            &pairs(&[("dateFrom", "2024-01-02"), ("dateTo", "2024-01-02")]),
        )
        .unwrap();
        assert_eq!(q.page.from, Some(1_704_153_600_000));
        assert_eq!(q.page.to, Some(1_704_153_600_000 + 86_399_999));
        let q = user_query("r", &pairs(&[("dateFrom", "1704153600123")])).unwrap();
        assert_eq!(q.page.from, Some(1_704_153_600_123));
    }

    #[test]
    fn keycloak_messages_for_bad_values() {
        let e = user_query("r", &pairs(&[("dateFrom", "02/01/2024")])).unwrap_err();
        assert_eq!(
            e,
            "Invalid value for 'dateFrom', expected format is yyyy-MM-dd or an Epoch timestamp"
        );
        let e = user_query("r", &pairs(&[("dateTo", "2024-02-30")])).unwrap_err();
        assert!(e.starts_with("Invalid value for 'dateTo'"), "{e}");
        let e = user_query("r", &pairs(&[("direction", "up")])).unwrap_err();
        assert_eq!(
            e,
            "Invalid value for sortDirection, expected value is asc or desc"
        );
        let e = user_query("r", &pairs(&[("type", "LOGN")])).unwrap_err();
        assert!(e.contains("'LOGN'"), "{e}");
        let e = user_query("r", &pairs(&[("max", "-1")])).unwrap_err();
        assert!(e.contains("'max'"), "{e}");
        let e = admin_query("r", &pairs(&[("operationTypes", "MOVE")])).unwrap_err();
        assert!(e.contains("operationTypes") && e.contains("CREATE"), "{e}");
    }

    #[test]
    fn defaults_are_newest_first_and_a_hundred() {
        let q = user_query(
            "r",
            &pairs(&[("type", "LOGIN"), ("type", "LOGOUT"), ("client", "")]),
        )
        .unwrap();
        assert_eq!(q.types, ["LOGIN", "LOGOUT"]);
        assert_eq!(q.client, None);
        assert_eq!(q.page, Page::default());
        assert!(!q.page.ascending && q.page.max == 100);
    }
}
