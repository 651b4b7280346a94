//! User and admin events: their inserts (alone, or only while the row a change is about is
//! still unchanged), the listings with Keycloak's filters, clearing, and expiry.

use super::{corrupt, stmt, Columns, Statement, Value};
use crate::Result;
use latchkey_domain::event::query::{AdminEventQuery, Page, UserEventQuery};
use latchkey_domain::{AdminEvent, AuthDetails, Event, UserEvent};
use std::borrow::Cow;

const USER_COLUMNS: &str =
    "id, realm_id, time, type, client_id, user_id, session_id, ip_address, error, details";
const ADMIN_COLUMNS: &str = "id, realm_id, time, operation_type, resource_type, resource_path, auth_realm_id, auth_client_id, auth_user_id, auth_ip_address, representation, error";

const INSERT_USER: &str = "INSERT INTO user_events (id, realm_id, time, type, client_id, user_id, session_id, ip_address, error, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const INSERT_ADMIN: &str = "INSERT INTO admin_events (id, realm_id, time, operation_type, resource_type, resource_path, auth_realm_id, auth_client_id, auth_user_id, auth_ip_address, representation, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
/// A user event written only while the session `$11` is active (just before it is ended).
const INSERT_USER_IF_ACTIVE: &str = "INSERT INTO user_events (id, realm_id, time, type, client_id, user_id, session_id, ip_address, error, details)
     SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS BIGINT), CAST($4 AS TEXT), CAST($5 AS TEXT), CAST($6 AS TEXT), CAST($7 AS TEXT), CAST($8 AS TEXT), CAST($9 AS TEXT), CAST($10 AS TEXT)
     WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $11 AND ended_at IS NULL)";
/// A user event written only while the family `$11` is not revoked (just before it is).
const INSERT_USER_IF_UNREVOKED: &str = "INSERT INTO user_events (id, realm_id, time, type, client_id, user_id, session_id, ip_address, error, details)
     SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS BIGINT), CAST($4 AS TEXT), CAST($5 AS TEXT), CAST($6 AS TEXT), CAST($7 AS TEXT), CAST($8 AS TEXT), CAST($9 AS TEXT), CAST($10 AS TEXT)
     WHERE EXISTS (SELECT 1 FROM client_sessions WHERE id = $11 AND revoked_at IS NULL)";
const CLEAR_USER: &str = "DELETE FROM user_events WHERE realm_id = $1";
// (The expiry below deletes by (realm_id, time): the table's own order.)
const CLEAR_ADMIN: &str = "DELETE FROM admin_events WHERE realm_id = $1";

/// Every fixed statement, for the tests.
#[cfg(test)]
pub const ALL: &[&str] = &[
    INSERT_USER,
    INSERT_ADMIN,
    INSERT_USER_IF_ACTIVE,
    INSERT_USER_IF_UNREVOKED,
    CLEAR_USER,
    CLEAR_ADMIN,
];

fn details_json(e: &UserEvent) -> Option<String> {
    (!e.details.is_empty()).then(|| serde_json::to_string(&e.details).expect("a string map"))
}

fn user_values(e: &UserEvent) -> Vec<Value> {
    vec![
        e.id.as_str().into(),
        e.realm_id.as_str().into(),
        e.time.into(),
        e.kind.as_str().into(),
        (&e.client_id).into(),
        (&e.user_id).into(),
        (&e.session_id).into(),
        (&e.ip_address).into(),
        (&e.error).into(),
        details_json(e).into(),
    ]
}

/// Records an event.
pub fn insert(e: &Event) -> Statement {
    match e {
        Event::User(u) => Statement {
            sql: Cow::Borrowed(INSERT_USER),
            params: user_values(u),
            names: None,
        },
        Event::Admin(a) => {
            let d = &a.auth_details;
            stmt!(
                INSERT_ADMIN,
                &a.id,
                &a.realm_id,
                a.time,
                &a.operation_type,
                &a.resource_type,
                &a.resource_path,
                &d.realm_id,
                &d.client_id,
                &d.user_id,
                &d.ip_address,
                &a.representation,
                &a.error
            )
        }
    }
}

/// The row a conditional event waits on.
pub enum While<'a> {
    SessionActive(&'a str),
    FamilyUnrevoked(&'a str),
}

/// Records a user event only while `cond` holds (run just before the change that ends it).
pub fn insert_while(e: &Event, cond: While<'_>) -> Statement {
    let Event::User(u) = e else {
        return insert(e);
    };
    let (sql, id) = match cond {
        While::SessionActive(id) => (INSERT_USER_IF_ACTIVE, id),
        While::FamilyUnrevoked(id) => (INSERT_USER_IF_UNREVOKED, id),
    };
    let mut params = user_values(u);
    params.push(id.into());
    Statement {
        sql: Cow::Borrowed(sql),
        params,
        names: None,
    }
}

/// Deletes every user (or admin) event of a realm.
pub fn clear(realm_id: &str, admin: bool) -> Statement {
    stmt!(if admin { CLEAR_ADMIN } else { CLEAR_USER }, realm_id)
}

/// Deletes up to `limit` events of a realm older than `before` (epoch ms).
pub fn expire(realm_id: &str, admin: bool, before: i64, limit: i64) -> Statement {
    let table = if admin { "admin_events" } else { "user_events" };
    Statement {
        sql: Cow::Owned(format!(
            "DELETE FROM {table} WHERE realm_id = $1 AND time < $2 AND id IN (SELECT id FROM {table} WHERE realm_id = $1 AND time < $2 ORDER BY time LIMIT $3)"
        )),
        params: vec![realm_id.into(), before.into(), limit.into()],
        names: None,
    }
}

/// A query built filter by filter, its placeholders numbered as they are added.
struct Select {
    sql: String,
    params: Vec<Value>,
}

impl Select {
    fn new(columns: &str, table: &str, realm_id: &str) -> Select {
        Select {
            sql: format!("SELECT {columns} FROM {table} WHERE realm_id = $1"),
            params: vec![realm_id.into()],
        }
    }

    fn mark(&mut self, v: Value) -> String {
        self.params.push(v);
        format!("${}", self.params.len())
    }

    fn eq(&mut self, column: &str, v: &Option<String>) {
        if let Some(v) = v {
            let m = self.mark(v.as_str().into());
            self.sql += &format!(" AND {column} = {m}");
        }
    }

    fn any_of(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let marks: Vec<String> = values
            .iter()
            .map(|v| self.mark(v.as_str().into()))
            .collect();
        self.sql += &format!(" AND {column} IN ({})", marks.join(", "));
    }

    fn page(mut self, p: &Page) -> (String, Vec<Value>) {
        if let Some(from) = p.from {
            let m = self.mark(from.into());
            self.sql += &format!(" AND time >= {m}");
        }
        if let Some(to) = p.to {
            let m = self.mark(to.into());
            self.sql += &format!(" AND time <= {m}");
        }
        let dir = if p.ascending { "ASC" } else { "DESC" };
        let limit = self.mark(p.max.into());
        let offset = self.mark(p.first.into());
        self.sql += &format!(" ORDER BY time {dir}, id {dir} LIMIT {limit} OFFSET {offset}");
        (self.sql, self.params)
    }
}

/// The user events `q` asks for: its SQL and values.
pub fn user_query(q: &UserEventQuery) -> (String, Vec<Value>) {
    let mut s = Select::new(USER_COLUMNS, "user_events", &q.realm_id);
    s.any_of("type", &q.types);
    s.eq("client_id", &q.client);
    s.eq("user_id", &q.user);
    s.eq("ip_address", &q.ip_address);
    s.page(&q.page)
}

/// The admin events `q` asks for: its SQL and values.
pub fn admin_query(q: &AdminEventQuery) -> (String, Vec<Value>) {
    let mut s = Select::new(ADMIN_COLUMNS, "admin_events", &q.realm_id);
    s.any_of("operation_type", &q.operation_types);
    s.any_of("resource_type", &q.resource_types);
    s.eq("auth_realm_id", &q.auth_realm);
    s.eq("auth_client_id", &q.auth_client);
    s.eq("auth_user_id", &q.auth_user);
    s.eq("auth_ip_address", &q.auth_ip_address);
    if let Some(path) = &q.resource_path {
        let m = s.mark(path.replace('*', "%").into());
        s.sql += &format!(" AND resource_path LIKE {m}");
    }
    s.page(&q.page)
}

pub fn user_row(r: &impl Columns) -> Result<UserEvent> {
    let details = match r.opt_text(9)? {
        Some(d) => serde_json::from_str(&d).map_err(|e| corrupt(9, e))?,
        None => Default::default(),
    };
    Ok(UserEvent {
        id: r.text(0)?,
        realm_id: r.text(1)?,
        time: r.int(2)?,
        kind: r.text(3)?,
        client_id: r.opt_text(4)?,
        user_id: r.opt_text(5)?,
        session_id: r.opt_text(6)?,
        ip_address: r.opt_text(7)?,
        error: r.opt_text(8)?,
        details,
    })
}

pub fn admin_row(r: &impl Columns) -> Result<AdminEvent> {
    Ok(AdminEvent {
        id: r.text(0)?,
        realm_id: r.text(1)?,
        time: r.int(2)?,
        operation_type: r.text(3)?,
        resource_type: r.text(4)?,
        resource_path: r.text(5)?,
        auth_details: AuthDetails {
            realm_id: r.opt_text(6)?,
            client_id: r.opt_text(7)?,
            user_id: r.opt_text(8)?,
            ip_address: r.opt_text(9)?,
        },
        representation: r.opt_text(10)?,
        error: r.opt_text(11)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_domain::event::query;

    #[test]
    fn filters_number_their_placeholders_in_order() {
        let pairs: Vec<(String, String)> = [
            ("type", "LOGIN"),
            ("type", "LOGOUT"),
            ("user", "u1"),
            ("dateFrom", "5"),
            ("direction", "asc"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (sql, params) = user_query(&query::user_query("r1", &pairs).unwrap());
        assert!(sql.contains("type IN ($2, $3) AND user_id = $4 AND time >= $5 ORDER BY time ASC, id ASC LIMIT $6 OFFSET $7"), "{sql}");
        assert_eq!(params.len(), 7);
        let q = query::admin_query("r1", &[("resourcePath".into(), "users/*".into())]).unwrap();
        let (sql, params) = admin_query(&q);
        assert!(sql.contains("resource_path LIKE $2"), "{sql}");
        assert_eq!(params[1], Value::Text("users/%".into()));
    }
}
