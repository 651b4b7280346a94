//! `latchkey migrate`: copies every table of one store into another (SQLite → PostgreSQL, or
//! back), in one transaction on the target, tables in foreign-key order.

use crate::sql::{Columns, Statement, Value};
use crate::{postgres, sqlite, Result, StoreError};

#[derive(Clone, Copy)]
enum Kind {
    Text,
    OptText,
    Int,
    OptInt,
    Bool,
    Blob,
    OptBlob,
}
use Kind::*;

type Table = (&'static str, &'static [(&'static str, Kind)]);

const TABLES: &[Table] = &[
    (
        "realms",
        &[
            ("id", Text),
            ("name", Text),
            ("representation", Text),
            ("created_at", Int),
        ],
    ),
    (
        "realm_keys",
        &[
            ("kid", Text),
            ("realm_id", Text),
            ("alg", Text),
            ("material", Blob),
            ("created_at", Int),
            ("active", Bool),
            ("sealed", Bool),
        ],
    ),
    (
        "clients",
        &[
            ("id", Text),
            ("realm_id", Text),
            ("client_id", Text),
            ("representation", Text),
            ("roles", Text),
            ("secret_digest", OptBlob),
            ("secret_sealed", OptBlob),
        ],
    ),
    (
        "users",
        &[
            ("id", Text),
            ("realm_id", Text),
            ("username", Text),
            ("email", OptText),
            ("representation", Text),
            ("password_hash", OptText),
        ],
    ),
    (
        "sessions",
        &[
            ("id", Text),
            ("realm_id", Text),
            ("user_id", Text),
            ("offline", Bool),
            ("started_at", Int),
            ("auth_time", Int),
            ("last_refresh", Int),
            ("ended_at", OptInt),
            ("end_reason", OptText),
        ],
    ),
    (
        "client_sessions",
        &[
            ("id", Text),
            ("session_id", Text),
            ("client_id", Text),
            ("started_at", Int),
            ("last_refresh", Int),
            ("current_jti", OptText),
            ("revoked_at", OptInt),
            ("revoke_reason", OptText),
        ],
    ),
    (
        "refresh_tokens",
        &[
            ("jti", Text),
            ("client_session_id", Text),
            ("parent_jti", OptText),
            ("issued_at", Int),
            ("expires_at", OptInt),
            ("scope", Text),
            ("offline", Bool),
            ("rotated_at", OptInt),
            ("successor_jti", OptText),
            ("use_count", Int),
        ],
    ),
    ("revoked_tokens", &[("jti", Text), ("expires_at", Int)]),
    ("server_clock", &[("id", Int), ("alive_at", Int)]),
    ("outages", &[("started_at", Int), ("ended_at", Int)]),
    (
        "events",
        &[
            ("realm_id", OptText),
            ("at", Int),
            ("kind", Text),
            ("detail", Text),
        ],
    ),
    (
        "user_events",
        &[
            ("id", Text),
            ("realm_id", Text),
            ("time", Int),
            ("type", Text),
            ("client_id", OptText),
            ("user_id", OptText),
            ("session_id", OptText),
            ("ip_address", OptText),
            ("error", OptText),
            ("details", OptText),
        ],
    ),
    (
        "admin_events",
        &[
            ("id", Text),
            ("realm_id", Text),
            ("time", Int),
            ("operation_type", Text),
            ("resource_type", Text),
            ("resource_path", Text),
            ("auth_realm_id", OptText),
            ("auth_client_id", OptText),
            ("auth_user_id", OptText),
            ("auth_ip_address", OptText),
            ("representation", OptText),
            ("error", OptText),
        ],
    ),
    (
        "auth_codes",
        &[
            ("code_hash", Text),
            ("realm_id", Text),
            ("client_id", Text),
            ("redirect_uri", Text),
            ("redirect_uri_sent", Bool),
            ("scope", Text),
            ("nonce", OptText),
            ("code_challenge", OptText),
            ("session_id", Text),
            ("user_id", Text),
            ("auth_time", Int),
            ("expires_at", Int),
            ("used_at", OptInt),
            ("family_id", OptText),
        ],
    ),
];

/// Every table's rows, in `TABLES` order.
pub(crate) type Dump = Vec<(&'static str, Vec<Vec<Value>>)>;

fn select_sql(table: &str, cols: &[(&str, Kind)]) -> String {
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    format!("SELECT {} FROM {table}", names.join(", "))
}

fn insert_sql(table: &str, cols: &[(&str, Kind)]) -> String {
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        marks.join(", ")
    )
}

/// One row as values, read by the columns' kinds.
fn row(r: &impl Columns, cols: &[(&str, Kind)]) -> Result<Vec<Value>> {
    cols.iter()
        .enumerate()
        .map(|(i, (_, k))| {
            Ok(match k {
                Text => Value::Text(r.text(i)?),
                OptText => r.opt_text(i)?.into(),
                Int => Value::Int(r.int(i)?),
                OptInt => r.opt_int(i)?.into(),
                Bool => Value::Bool(r.flag(i)?),
                Blob => Value::Bytes(r.bytes(i)?),
                OptBlob => r.opt_bytes(i)?.into(),
            })
        })
        .collect()
}

/// Every row of the dump as one plan of INSERTs, tables in foreign-key order.
fn inserts(data: &Dump) -> Vec<Statement> {
    let mut plan = Vec::new();
    for ((table, cols), (_, rows)) in TABLES.iter().zip(data) {
        let sql = insert_sql(table, cols);
        plan.extend(rows.iter().map(|r| Statement {
            sql: sql.clone().into(),
            params: r.clone(),
            names: None,
        }));
    }
    plan
}

fn not_empty() -> StoreError {
    StoreError::Conflict("the target store already has realms; migrate into an empty store".into())
}

const COUNT_REALMS: &str = "SELECT count(*) FROM realms";

pub(crate) fn read_sqlite(path: &str) -> Result<Dump> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::Backend(format!("cannot open {path}: {e}")))?;
    TABLES
        .iter()
        .map(|(table, cols)| {
            let rows = sqlite::exec::query(&conn, &select_sql(table, cols), &[], |r| row(r, cols))?;
            Ok((*table, rows))
        })
        .collect()
}

/// Every table as of one moment: read in one repeatable-read transaction, so that a store in
/// use is copied consistently.
pub(crate) async fn read_postgres(url: &str) -> Result<Dump> {
    let store = crate::postgres::PgStore::open(url).await?;
    let client = store.client().await?;
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(postgres::backend)?;
    let mut out = Vec::new();
    for (table, cols) in TABLES {
        let rows =
            postgres::exec::query(&client, &select_sql(table, cols), &[], |r| row(r, cols)).await;
        match rows {
            Ok(rows) => out.push((*table, rows)),
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(e);
            }
        }
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(postgres::backend)?;
    Ok(out)
}

/// Deletes every row of every table, children first: what `restore --replace` does before
/// writing the backup in, in the same transaction.
fn clear_all() -> Vec<Statement> {
    TABLES
        .iter()
        .rev()
        .map(|(table, _)| Statement {
            sql: format!("DELETE FROM {table}").into(),
            params: Vec::new(),
            names: None,
        })
        .collect()
}

/// Writes `data` into the store at `url` in one transaction: into an empty store, or with
/// `replace` in place of everything it holds.
pub(crate) async fn write_postgres(url: &str, data: &Dump, replace: bool) -> Result<()> {
    // Opening the store applies the migrations.
    let store = crate::postgres::PgStore::open(url).await?;
    let client = store.client().await?;
    let existing = postgres::exec::query_opt(&client, COUNT_REALMS, &[], |r| r.int(0)).await?;
    if existing.unwrap_or(0) > 0 && !replace {
        return Err(not_empty());
    }
    let mut plan = if replace { clear_all() } else { Vec::new() };
    plan.extend(inserts(data));
    postgres::exec::transact(&client, &plan).await.map(drop)
}

pub(crate) async fn write_sqlite(path: &str, data: &Dump, replace: bool) -> Result<()> {
    drop(crate::sqlite::SqliteStore::open(path).await?);
    let mut conn = rusqlite::Connection::open(path).map_err(sqlite::backend)?;
    let tx = conn.transaction().map_err(sqlite::backend)?;
    let existing = sqlite::exec::query_opt(&tx, COUNT_REALMS, &[], |r| r.int(0))?;
    if existing.unwrap_or(0) > 0 && !replace {
        return Err(not_empty());
    }
    if replace {
        sqlite::exec::run(&tx, &clear_all())?;
    }
    sqlite::exec::run(&tx, &inserts(data))?;
    tx.commit().map_err(sqlite::backend)
}

/// Writes `data` into the store a URL names.
pub(crate) async fn write(to: &str, data: &Dump, replace: bool) -> Result<()> {
    if let Some(p) = to.strip_prefix("sqlite://") {
        write_sqlite(p, data, replace).await
    } else if to.starts_with("postgres") {
        write_postgres(to, data, replace).await
    } else {
        Err(StoreError::Backend(format!("unsupported store URL '{to}'")))
    }
}

/// Copies everything from `from` to `to` (an empty store). Returns rows copied per table.
pub async fn migrate(from: &str, to: &str) -> Result<Vec<(&'static str, usize)>> {
    let data = if let Some(p) = from.strip_prefix("sqlite://") {
        let p = p.to_string();
        tokio::task::spawn_blocking(move || read_sqlite(&p))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))??
    } else if from.starts_with("postgres") {
        read_postgres(from).await?
    } else {
        return Err(StoreError::Backend(format!(
            "--from: unsupported URL '{from}'"
        )));
    };
    write(to, &data, false).await?;
    Ok(data.iter().map(|(t, rows)| (*t, rows.len())).collect())
}

#[cfg(test)]
mod tests {
    use super::TABLES;

    /// A column added by a migration and forgotten here would be lost by `migrate`.
    #[tokio::test]
    async fn every_stored_column_is_copied() {
        let path = crate::conformance::temp_db();
        drop(crate::sqlite::SqliteStore::open(&path).await.unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        let tables: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for table in tables {
            let copied = TABLES
                .iter()
                .find(|(t, _)| *t == table)
                .unwrap_or_else(|| panic!("table {table} is not copied by migrate"));
            let mut st = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .unwrap();
            let columns: Vec<String> = st
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            // Assigned anew by the target (an autoincrement key).
            for c in columns
                .into_iter()
                .filter(|c| format!("{table}.{c}") != "events.id")
            {
                assert!(
                    copied.1.iter().any(|(name, _)| *name == c),
                    "column {table}.{c} is not copied by migrate"
                );
            }
        }
    }
}
