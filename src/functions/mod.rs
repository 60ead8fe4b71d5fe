//! The SQL surface: argument parsing, error text and registration. The only layer that knows
//! SQL function names.

mod args;
mod evaluate;
mod keys;
mod lifecycle;
mod listings;
mod manage;
mod meta;
mod origin;
mod predict;
mod predict_table;
mod tables;
mod train;

use crate::store::{Config, Session};
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use std::sync::Arc;

/// Every scalar function sqlml adds, with its arities (-1 = variadic). The surface test pins
/// this list against `pragma_function_list`.
pub const FUNCTIONS: &[(&str, i32)] = &[
    ("ml_version", 0),
    ("ml_debug", 0),
    ("ml_unlock", 1),
    ("ml_rekey", 1),
    ("ml_train", 4),
    ("ml_train", 5),
    ("ml_predict", -1),
    ("ml_predict_proba", -1),
    ("ml_explain", -1),
    ("ml_evaluate", 2),
    ("ml_activate", 2),
    ("ml_drop", 1),
    ("ml_drop", 2),
    ("ml_prune", 2),
    ("ml_export", 2),
    ("ml_export", 3),
    ("ml_import", 3),
];

/// Every table-valued function (eponymous virtual table) sqlml adds.
pub const MODULES: &[&str] = &["ml_predict_table", "ml_recommend", "ml_similar_items", "ml_top_tokens"];

/// Flags of pure functions (same answer for the same arguments, no side effects).
pub(crate) fn pure() -> FunctionFlags {
    FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS
}

/// Flags of everything that reads models or keys or writes: never from views, triggers or
/// schema expressions, and never DETERMINISTIC (models change).
pub(crate) fn direct_only() -> FunctionFlags {
    FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY
}

/// Registers all sqlml functions and table-valued functions on `conn` with `config`.
pub fn register_with(conn: &Connection, config: Config) -> rusqlite::Result<()> {
    let session = Arc::new(Session::new(config));
    meta::register(conn)?;
    keys::register(conn, &session)?;
    train::register(conn, &session)?;
    predict::register(conn, &session)?;
    manage::register(conn, &session)?;
    lifecycle::register(conn, &session)?;
    listings::register(conn, &session)?;
    Ok(())
}
