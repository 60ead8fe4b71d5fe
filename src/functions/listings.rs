//! The table-valued functions themselves: `ml_top_tokens`, `ml_recommend`, `ml_similar_items`.

use super::args::{self, sql_value as sql};
use super::tables::{self, Output, TableFn};
use crate::models::{Budget, Input, Model, Value};
use crate::store::Session;
use crate::{Error, Result};
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use std::ffi::CStr;
use std::sync::Arc;

/// Default `k` when neither an argument nor a `LIMIT` gives one.
const DEFAULT_K: usize = 10;

/// Memory of one `ml_top_tokens` row while the table is built (the model's tuple, then the SQL
/// values with their heap parts).
const TOKEN_ROW_BYTES: f64 = 256.0;

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

/// Argument `v` (position `position` of the table-valued function) as a model input.
fn input(v: &Option<SqlValue>, position: usize) -> Result<Input<'_>> {
    match v {
        None => Ok(Input::Null),
        Some(v) => args::input(v.into(), position),
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

    fn rows(session: &Session, conn: &Connection, args: &[Option<SqlValue>]) -> Result<Output> {
        let name = name_arg(&args[0])?;
        let k = k_arg(&args[1])?;
        let loaded = session.load_active(conn, &name)?;
        let Model::Text(m) = &loaded.model else {
            return Err(wrong_kind(&name, &loaded.model, "text"));
        };
        // `k` is capped by the vocabulary; what remains is materialised, so it must fit.
        let rows = m.top_tokens_len(k);
        Budget::for_queries()?.check_argument(
            "k",
            &format!(
                "{rows} rows ({} classes × {} tokens)",
                m.classes().len(),
                rows / m.classes().len().max(1)
            ),
            rows as f64 * TOKEN_ROW_BYTES,
        )?;
        let rows: Vec<Vec<SqlValue>> = m
            .top_tokens(k)
            .into_iter()
            .map(|(label, token, score)| vec![sql(label), SqlValue::Text(token), SqlValue::Real(score)])
            .collect();
        Ok(rows.into())
    }
}

fn recommender<'m>(name: &str, model: &'m Model) -> Result<&'m crate::models::recommender::Recommender> {
    match model {
        Model::Recommender(r) => Ok(r),
        other => Err(wrong_kind(name, other, "recommender")),
    }
}

fn scored(rows: Vec<(Value, f64)>) -> Vec<Vec<SqlValue>> {
    rows.into_iter().map(|(item, score)| vec![sql(item), SqlValue::Real(score)]).collect()
}

/// `ml_recommend(name, user [, k [, include_rated]])` → (item, score): the user's top-k items.
pub struct Recommend;

impl TableFn for Recommend {
    const NAME: &'static str = "ml_recommend";
    const SCHEMA: &'static CStr =
        c"CREATE TABLE x(item, score REAL, name HIDDEN, user HIDDEN, k HIDDEN, include_rated HIDDEN)";
    const VISIBLE: usize = 2;
    const ARGS: &'static [&'static str] = &["name", "user", "k", "include_rated"];
    const REQUIRED: usize = 2;
    const LIMIT_ARG: Option<usize> = Some(2);

    fn rows(session: &Session, conn: &Connection, args: &[Option<SqlValue>]) -> Result<Output> {
        let name = name_arg(&args[0])?;
        let k = k_arg(&args[2])?;
        let include_rated = match &args[3] {
            None | Some(SqlValue::Null) | Some(SqlValue::Integer(0)) => false,
            Some(SqlValue::Integer(1)) => true,
            Some(other) => {
                return Err(Error::argument(format!(
                    "argument 'include_rated' must be 0 or 1, got {}",
                    show(other)
                )));
            }
        };
        let loaded = session.load_active(conn, &name)?;
        let model = recommender(&name, &loaded.model)?;
        Ok(scored(model.recommend(input(&args[1], 2)?, k, include_rated)?).into())
    }
}

/// `ml_similar_items(name, item [, k])` → (item, similarity).
pub struct SimilarItems;

impl TableFn for SimilarItems {
    const NAME: &'static str = "ml_similar_items";
    const SCHEMA: &'static CStr =
        c"CREATE TABLE x(item, similarity REAL, name HIDDEN, of_item HIDDEN, k HIDDEN)";
    const VISIBLE: usize = 2;
    const ARGS: &'static [&'static str] = &["name", "item", "k"];
    const REQUIRED: usize = 2;
    const LIMIT_ARG: Option<usize> = Some(2);

    fn rows(session: &Session, conn: &Connection, args: &[Option<SqlValue>]) -> Result<Output> {
        let name = name_arg(&args[0])?;
        let k = k_arg(&args[2])?;
        let loaded = session.load_active(conn, &name)?;
        let model = recommender(&name, &loaded.model)?;
        Ok(scored(model.similar_items(input(&args[1], 2)?, k)?).into())
    }
}

/// Registers every table-valued function.
pub fn register(conn: &Connection, session: &Arc<Session>) -> rusqlite::Result<()> {
    tables::register::<TopTokens>(conn, session)?;
    tables::register::<Recommend>(conn, session)?;
    tables::register::<SimilarItems>(conn, session)?;
    tables::register::<super::predict_table::PredictTable>(conn, session)?;
    Ok(())
}
