//! The table-valued functions themselves: `ml_top_tokens`, `ml_recommend`, `ml_similar_items`.

use super::tables::{self, TableFn};
use crate::models::{Input, Model, Value};
use crate::store::Session;
use crate::{Error, Result};
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use std::ffi::CStr;
use std::sync::Arc;

/// Default `k` when neither an argument nor a `LIMIT` gives one.
const DEFAULT_K: usize = 10;

fn name_arg(v: &Option<SqlValue>) -> Result<String> {
    match v {
        Some(SqlValue::Text(s)) if !s.is_empty() => Ok(s.clone()),
        Some(other) => {
            Err(Error::argument(format!("argument 'name' must be a model name (text), got {}", show(other))))
        }
        None => Err(Error::argument("argument 'name' is required")),
    }
}

fn k_arg(v: &Option<SqlValue>) -> Result<usize> {
    match v {
        None | Some(SqlValue::Null) => Ok(DEFAULT_K),
        Some(SqlValue::Integer(k)) if *k >= 0 => Ok(*k as usize),
        Some(other) => {
            Err(Error::argument(format!("argument 'k' must be a non-negative integer, got {}", show(other))))
        }
    }
}

fn show(v: &SqlValue) -> String {
    match v {
        SqlValue::Null => "NULL".into(),
        SqlValue::Integer(i) => i.to_string(),
        SqlValue::Real(r) => r.to_string(),
        SqlValue::Text(t) => format!("'{t}'"),
        SqlValue::Blob(_) => "a blob".into(),
    }
}

fn input(v: &Option<SqlValue>) -> Input<'_> {
    match v {
        None | Some(SqlValue::Null) => Input::Null,
        Some(SqlValue::Integer(i)) => Input::Integer(*i),
        Some(SqlValue::Real(r)) => Input::Real(*r),
        Some(SqlValue::Text(t)) => Input::Text(t),
        Some(SqlValue::Blob(b)) => Input::Blob(b),
    }
}

fn sql(v: Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Integer(i) => SqlValue::Integer(i),
        Value::Real(r) => SqlValue::Real(r),
        Value::Text(t) => SqlValue::Text(t),
    }
}

fn wrong_kind(name: &str, model: &Model, wanted: &str) -> Error {
    Error::Unsupported(format!(
        "model '{name}' is a {} model; this function needs a {wanted} model",
        model.kind()
    ))
}

/// `ml_top_tokens(name [, k])` → (label, token, score).
pub struct TopTokens;

impl TableFn for TopTokens {
    const NAME: &'static str = "ml_top_tokens";
    const SCHEMA: &'static CStr = c"CREATE TABLE x(label, token TEXT, score REAL, name HIDDEN, k HIDDEN)";
    const VISIBLE: usize = 3;
    const ARGS: &'static [&'static str] = &["name", "k"];
    const REQUIRED: usize = 1;
    const LIMIT_ARG: Option<usize> = None;

    fn rows(session: &Session, conn: &Connection, args: &[Option<SqlValue>]) -> Result<Vec<Vec<SqlValue>>> {
        let name = name_arg(&args[0])?;
        let k = k_arg(&args[1])?;
        let loaded = session.load_active(conn, &name)?;
        let Model::Text(m) = &loaded.model else { return Err(wrong_kind(&name, &loaded.model, "text")) };
        Ok(m.top_tokens(k)
            .into_iter()
            .map(|(label, token, score)| vec![sql(label), SqlValue::Text(token), SqlValue::Real(score)])
            .collect())
    }
}

/// Registers every table-valued function.
pub fn register(conn: &Connection, session: &Arc<Session>) -> rusqlite::Result<()> {
    tables::register::<TopTokens>(conn, session)?;
    Ok(())
}
