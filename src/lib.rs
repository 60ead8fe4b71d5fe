//! sqlml: machine learning inside SQLite.
//!
//! Call [`register`] on a rusqlite connection to add the `ml_*` SQL functions, or load the
//! `sqlml0` loadable extension into any SQLite host. See `sql/reference.md` for the SQL surface.

#![warn(missing_docs)]

pub mod error;
pub mod models;

pub use error::{Error, Result};
pub use rusqlite;
