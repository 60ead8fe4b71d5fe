//! The model store: tables, keys, encryption and the per-connection model cache.
//!
//! Every model version is a row of `ml_models` whose `model` column is an encrypted envelope
//! ([`envelope`]). The key comes from `ml_unlock(passphrase)` or the `SQLML_KEY` environment
//! variable, goes through Argon2id once per connection ([`crypto`]), and stays in zeroizing
//! memory in the connection's [`Session`].
//!
//! | module | holds |
//! |---|---|
//! | `keys` | the connection's keys: unlocking, creating, re-keying |
//! | `key_record` | the key record in `ml_meta`, validated field by field |
//! | `rows` | model rows: inserting, loading (with the cache), activating, dropping |
//! | `retention` | pruning old versions |
//! | [`bundle`] | export and import bundles |
//! | [`envelope`], [`crypto`] | the encrypted blob format and its primitives |
//! | [`schema`], [`tables`] | sqlml's tables, their checks, and atomic changes |

pub mod bundle;
pub mod crypto;
pub mod envelope;
mod key_record;
mod keys;
mod retention;
mod rows;
pub mod schema;
pub mod tables;

use crate::Result;
use crypto::KdfParams;
pub use keys::{KEY_ENV, Unlocked, WriteKey};
pub use rows::{
    LoadedModel, MAX_NAME_LEN, NewModel, activate, active_version, check_name, check_same_kind, drop_model,
};
pub(crate) use rows::{decode, missing};
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
pub use tables::atomically;

/// Settings of one registration of sqlml on a connection.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Keep decoded models for reuse (per statement and per connection). Turning it off makes
    /// every prediction decrypt and decode its model: only for benchmarks of that cost.
    pub cache_models: bool,
    /// Argon2id cost for new keys.
    pub kdf: KdfParams,
}

impl Default for Config {
    fn default() -> Self {
        Config { cache_models: true, kdf: KdfParams::default() }
    }
}

/// Per-connection state shared by all sqlml functions on that connection.
#[derive(Debug, Default)]
pub struct Session {
    config: Config,
    /// The keys this connection holds, newest first: after `ml_rekey` inside a transaction
    /// that is rolled back, the record in the file is the old one again, and so is the key.
    keys: Mutex<Vec<Unlocked>>,
    cache: Mutex<HashMap<i64, Arc<LoadedModel>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Creates the sqlml tables if they are missing, after checking that the ones present are
/// tables sqlml may write (no views, no triggers).
pub fn ensure_schema(conn: &Connection) -> Result<()> {
    tables::check_writable(conn)?;
    conn.execute_batch(schema::SCHEMA)?;
    Ok(())
}

impl Session {
    /// A session with the given settings.
    pub fn new(config: Config) -> Self {
        Session { config, keys: Mutex::default(), cache: Mutex::default() }
    }

    /// Whether decoded models may be kept between rows and statements.
    pub fn caches_models(&self) -> bool {
        self.config.cache_models
    }

    /// Forgets cached models of `name` (after a drop).
    pub fn forget(&self, name: &str) {
        lock(&self.cache).retain(|_, m| m.name != name);
    }
}
