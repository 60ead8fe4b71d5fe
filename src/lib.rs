//! sqlml: machine learning inside SQLite.
//!
//! Call [`register`] on a rusqlite connection to add the `ml_*` SQL functions, or load the
//! `sqlml0` loadable extension into any SQLite host. See `sql/reference.md` for the SQL surface
//! and `README.md` for the security model.
//!
//! ```
//! let conn = sqlml::rusqlite::Connection::open_in_memory()?;
//! sqlml::register(&conn)?;
//! let v: String = conn.query_row("SELECT ml_version()", [], |r| r.get(0))?;
//! assert!(v.starts_with('v'));
//! # Ok::<(), sqlml::rusqlite::Error>(())
//! ```

#![warn(missing_docs)]

pub mod error;
mod functions;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod models;
pub mod params;
mod source;
pub mod store;

pub use error::{Error, Result};
pub use functions::{FUNCTIONS, MODULES};
pub use rusqlite;
pub use store::Config;

/// Adds every sqlml SQL function and table-valued function to `conn`.
pub fn register(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    functions::register_with(conn, Config::default())
}

/// Like [`register`], with explicit settings (e.g. model caching off, for benchmarks).
pub fn register_with(conn: &rusqlite::Connection, config: Config) -> rusqlite::Result<()> {
    functions::register_with(conn, config)
}
