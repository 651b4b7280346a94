//! What both backends share: every statement about sessions, families, refresh tokens, codes
//! and events is written here once, with `$n` placeholders that SQLite and PostgreSQL both
//! read, together with the row mappers and the write plans (the statements a change of state
//! consists of). `sqlite` and `postgres` only run them: SQLite on its writer thread inside a
//! group commit, PostgreSQL pipelined on one connection.
//!
//! A placeholder's first appearance must come in ascending order (`$1` before `$2`): SQLite
//! numbers named parameters by first appearance. The tests below check every statement.

pub mod config;
pub mod events;
pub mod rows;
pub mod schema;
pub mod sessions;
pub mod uptime;

use crate::{Result, StoreError};

/// A bound value, in the few types the schema uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Bytes(v.to_vec())
    }
}
impl From<&Vec<u8>> for Value {
    fn from(v: &Vec<u8>) -> Value {
        Value::Bytes(v.clone())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}
impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Value {
        v.as_deref().map_or(Value::Null, Value::from)
    }
}
impl From<&Option<i64>> for Value {
    fn from(v: &Option<i64>) -> Value {
        v.map_or(Value::Null, Value::Int)
    }
}

/// One statement with its values: the unit of every write plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: std::borrow::Cow<'static, str>,
    pub params: Vec<Value>,
    /// What a unique-key violation of this statement means ("realm 'x'"), for the
    /// `Conflict` error; `None` leaves the database's own words.
    pub names: Option<String>,
}

impl Statement {
    /// Names what a unique-key violation of this statement means.
    pub fn naming(mut self, what: String) -> Statement {
        self.names = Some(what);
        self
    }

    /// The error of running it: a unique-key violation says what already exists.
    pub fn failed(&self, e: StoreError) -> StoreError {
        match (e, &self.names) {
            (StoreError::Conflict(_), Some(what)) => StoreError::Conflict(what.clone()),
            (e, _) => e,
        }
    }
}

/// An update or delete that must have found its row: `NotFound(what)` otherwise.
pub fn found(rows: u64, what: impl FnOnce() -> String) -> Result<()> {
    if rows == 0 {
        return Err(StoreError::NotFound(what()));
    }
    Ok(())
}

/// `stmt!(SQL, a, b, …)`: a [`Statement`] binding `a` to `$1`, `b` to `$2`, ….
macro_rules! stmt {
    ($sql:expr $(, $p:expr)* $(,)?) => {
        $crate::sql::Statement {
            sql: ::std::borrow::Cow::Borrowed($sql),
            params: vec![$($crate::sql::Value::from($p)),*],
            names: None,
        }
    };
}
pub(crate) use stmt;

/// Reading a result row's columns by position, whichever backend produced it.
pub trait Columns {
    fn text(&self, i: usize) -> Result<String>;
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    fn int(&self, i: usize) -> Result<i64>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
    fn flag(&self, i: usize) -> Result<bool>;
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>>;
    fn bytes(&self, i: usize) -> Result<Vec<u8>> {
        self.opt_bytes(i)?.ok_or_else(|| corrupt(i, "NULL"))
    }
}

pub(crate) fn corrupt(i: usize, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {i}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shared statement prepares on SQLite with `$n` numbered as written.
    #[test]
    fn placeholders_number_as_written_on_sqlite() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for m in schema::MIGRATIONS {
            conn.execute_batch(m.sqlite).unwrap();
        }
        for sql in sessions::ALL.iter().chain(config::ALL).chain(events::ALL) {
            let st = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            for n in 1..=st.parameter_count() {
                assert_eq!(
                    st.parameter_index(&format!("${n}")).unwrap(),
                    Some(n),
                    "{sql}"
                );
            }
        }
    }
}
