//! The model store: tables, keys, encryption and the per-connection model cache.
//!
//! Every model version is a row of `ml_models` whose `model` column is an encrypted envelope
//! ([`envelope`]). The key comes from `ml_unlock(passphrase)` or the `SQLML_KEY` environment
//! variable, goes through Argon2id once per connection ([`crypto`]), and stays in zeroizing
//! memory in the connection's [`Session`].

pub mod bundle;
pub mod crypto;
pub mod envelope;
mod key_record;
mod retention;
pub mod schema;
pub mod tables;

use crate::error::clip;
use crate::models::stored::Plaintext;
use crate::models::{EpochLog, Model, SCHEMA_VERSION, StoredModel};
use crate::{Error, Result};
use crypto::{KdfParams, MasterKey, random};
use envelope::Binding;
use key_record::{KeyRecord, Meta};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
pub use tables::atomically;

/// Environment variable holding the passphrase when `ml_unlock` was not called.
pub const KEY_ENV: &str = "SQLML_KEY";
const CHECK_INFO: &[u8] = b"sqlml/key-check/v1";
const CHECK_PLAINTEXT: &[u8] = b"sqlml key check";
const CACHE_CAPACITY: usize = 16;

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

/// An unlocked key, valid for the database whose salt it was derived with.
#[derive(Clone, Debug)]
pub struct Unlocked {
    key: MasterKey,
    salt: Vec<u8>,
    db_id: Vec<u8>,
}

impl Unlocked {
    fn binding<'a>(&'a self, name: &'a str, kind: &'a str, version: i64) -> Binding<'a> {
        Binding { name, kind, version, db_id: &self.db_id }
    }
}

/// The key for a write, from [`Session::write_key`]: this database's, or a new one that is
/// stored together with the write.
#[derive(Debug)]
pub struct WriteKey(Pending);

#[derive(Debug)]
enum Pending {
    Existing(Unlocked),
    Create { pass: zeroize::Zeroizing<String>, fresh: Unlocked, meta: Meta },
}

impl From<Unlocked> for WriteKey {
    fn from(k: Unlocked) -> Self {
        WriteKey(Pending::Existing(k))
    }
}

/// A decoded model with the row it came from.
#[derive(Debug)]
pub struct LoadedModel {
    /// `ml_models.id` (reused only after a rollback; the cache checks the blob's nonce too).
    pub id: i64,
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: i64,
    /// The decoded model.
    pub model: Model,
    /// The nonce of the blob it was decoded from (tells two blobs of one row id apart).
    nonce: [u8; envelope::NONCE_LEN],
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

fn key_check(key: &MasterKey, salt: &[u8]) -> Vec<u8> {
    let nonce = random::<24>();
    let mut out = nonce.to_vec();
    out.extend(key.seal(salt, CHECK_INFO, &nonce, b"", CHECK_PLAINTEXT));
    out
}

/// The key for an existing record: derived (costs already bounded by the record's reader) and
/// checked against the key check.
fn open_key(passphrase: &[u8], meta: Meta) -> Result<Unlocked> {
    let key = MasterKey::derive(passphrase, &meta.salt, meta.kdf).map_err(Error::argument)?;
    if !verify_check(&key, &meta) {
        return Err(Error::WrongPassphrase);
    }
    Ok(Unlocked { key, salt: meta.salt, db_id: meta.db_id })
}

fn verify_check(key: &MasterKey, meta: &Meta) -> bool {
    let Some((nonce, sealed)) = meta.check.split_first_chunk::<24>() else { return false };
    key.open(&meta.salt, CHECK_INFO, nonce, b"", sealed).is_some_and(|p| p.as_slice() == CHECK_PLAINTEXT)
}

/// The longest model name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Checks a new model's name (at most [`MAX_NAME_LEN`] bytes). Callers that work before they
/// store (training) check it first, so a bad name costs no fit.
pub fn check_name(name: &str) -> Result<()> {
    if name.len() > MAX_NAME_LEN {
        return Err(Error::argument(format!(
            "argument 'name' must be at most {MAX_NAME_LEN} bytes, got {} bytes",
            name.len()
        )));
    }
    Ok(())
}

/// One version of a model to be written by [`Session::insert_model`].
#[derive(Debug)]
pub struct NewModel<'a> {
    /// Model name.
    pub name: &'a str,
    /// Kind name.
    pub kind: &'a str,
    /// Algorithm name.
    pub algorithm: &'a str,
    /// Training rows read from the source.
    pub rows: usize,
    /// The training parameters (JSON text).
    pub params: &'a str,
    /// Scalar held-out metrics (JSON text).
    pub metrics: &'a str,
    /// The encoded model.
    pub model: Model,
    /// Its per-epoch training log, for `ml_training_log`.
    pub log: &'a [EpochLog],
    /// Whether it becomes the active version (else it is stored inactive and the active
    /// version stays).
    pub activate: bool,
}

impl Session {
    /// A session with the given settings.
    pub fn new(config: Config) -> Self {
        Session { config, keys: Mutex::default(), cache: Mutex::default() }
    }

    /// `ml_unlock`: derives the key from `passphrase`. On a database without a key record and
    /// without models, this creates the tables and the key; otherwise the passphrase must
    /// match the key check. A damaged key record is an error and nothing is written. Returns
    /// whether a new key was created.
    pub fn unlock(&self, conn: &Connection, passphrase: &[u8]) -> Result<bool> {
        if passphrase.is_empty() {
            return Err(Error::argument("argument 'passphrase' must be a non-empty text"));
        }
        let (unlocked, created) = match key_record::read(conn)? {
            KeyRecord::Present(meta) => (open_key(passphrase, meta)?, false),
            // Decided again inside the write transaction: another connection may have created
            // the key in between.
            KeyRecord::Absent => atomically(conn, "ml_unlock", || match key_record::read(conn)? {
                KeyRecord::Absent => Ok((self.create_key(conn, passphrase)?, true)),
                KeyRecord::Present(meta) => Ok((open_key(passphrase, meta)?, false)),
            })?,
        };
        self.remember(unlocked);
        Ok(created)
    }

    /// A new key record for `passphrase`, with fresh salt and database id, written to
    /// `ml_meta` (replacing any record there: the caller decides that it may).
    fn create_key(&self, conn: &Connection, passphrase: &[u8]) -> Result<Unlocked> {
        let (unlocked, meta) = self.new_key(passphrase)?;
        ensure_schema(conn)?;
        key_record::write(conn, &meta)?;
        Ok(unlocked)
    }

    /// A new key for `passphrase` (fresh salt and database id) and its record, not written.
    fn new_key(&self, passphrase: &[u8]) -> Result<(Unlocked, Meta)> {
        let salt = random::<{ key_record::SALT_LEN }>().to_vec();
        let key = MasterKey::derive(passphrase, &salt, self.config.kdf).map_err(Error::argument)?;
        let meta = Meta {
            check: key_check(&key, &salt),
            salt,
            kdf: self.config.kdf,
            db_id: random::<{ key_record::DB_ID_LEN }>().to_vec(),
        };
        Ok((Unlocked { key, salt: meta.salt.clone(), db_id: meta.db_id.clone() }, meta))
    }

    /// The key a write ([`Session::insert_model`]) will use, found before the work that
    /// leads to the write, so that a call without a key fails early: this database's key, or,
    /// on a database without one, a new key from `SQLML_KEY` that is written to `ml_meta` in
    /// the same transaction as the model (a failed call then leaves no key record behind).
    pub fn write_key(&self, conn: &Connection) -> Result<WriteKey> {
        match self.key(conn) {
            Ok(k) => return Ok(WriteKey(Pending::Existing(k))),
            Err(Error::Locked) => {}
            Err(e) => return Err(e),
        }
        if !matches!(key_record::read(conn)?, KeyRecord::Absent) {
            return Err(Error::Locked);
        }
        let pass = match std::env::var(KEY_ENV) {
            Ok(p) if !p.is_empty() => zeroize::Zeroizing::new(p),
            _ => return Err(Error::Locked),
        };
        let (fresh, meta) = self.new_key(pass.as_bytes())?;
        Ok(WriteKey(Pending::Create { pass, fresh, meta }))
    }

    /// The key of `key`, inside the write's transaction: a pending new key is written now,
    /// unless another connection created one meanwhile, which the passphrase must then open.
    fn settle(&self, conn: &Connection, key: &WriteKey) -> Result<Unlocked> {
        match &key.0 {
            Pending::Existing(k) => Ok(k.clone()),
            Pending::Create { pass, fresh, meta } => match key_record::read(conn)? {
                KeyRecord::Absent => {
                    ensure_schema(conn)?;
                    key_record::write(conn, meta)?;
                    Ok(fresh.clone())
                }
                KeyRecord::Present(meta) => open_key(pass.as_bytes(), meta).map_err(|e| match e {
                    Error::WrongPassphrase => Error::argument(format!(
                        "the passphrase in the environment variable {KEY_ENV} does not match this database's key"
                    )),
                    other => other,
                }),
            },
        }
    }

    /// The key for this database: the one from `ml_unlock`, else derived from `SQLML_KEY`.
    /// A database without a key record is [`Error::Locked`] (writes get a new key through
    /// [`Session::write_key`]).
    pub fn key(&self, conn: &Connection) -> Result<Unlocked> {
        let record = key_record::read(conn)?;
        if let KeyRecord::Present(m) = &record
            && let Some(k) = lock(&self.keys).iter().find(|k| k.salt == m.salt && k.db_id == m.db_id)
        {
            return Ok(k.clone());
        }
        let Ok(pass) = std::env::var(KEY_ENV) else { return Err(Error::Locked) };
        let pass = zeroize::Zeroizing::new(pass);
        if pass.is_empty() {
            return Err(Error::Locked);
        }
        match record {
            KeyRecord::Present(_) => {
                self.unlock(conn, pass.as_bytes()).map_err(|e| match e {
                    Error::WrongPassphrase => Error::argument(format!(
                        "the passphrase in the environment variable {KEY_ENV} does not match this database's key"
                    )),
                    other => other,
                })?;
            }
            KeyRecord::Absent => return Err(Error::Locked),
        }
        lock(&self.keys).first().cloned().ok_or(Error::Locked)
    }

    /// `ml_rekey`: re-encrypts every model under a key derived from `new_passphrase`, in one
    /// transaction. Returns the number of models re-encrypted.
    pub fn rekey(&self, conn: &Connection, new_passphrase: &[u8]) -> Result<usize> {
        if new_passphrase.is_empty() {
            return Err(Error::argument("argument 'new_passphrase' must be a non-empty text"));
        }
        let old = self.key(conn)?;
        let new = atomically(conn, "ml_rekey", || {
            // The key read above must still be this database's, inside the transaction.
            match key_record::read(conn)? {
                KeyRecord::Present(m) if m.salt == old.salt && m.db_id == old.db_id => {}
                _ => return Err(Error::Locked),
            }
            let mut rows = Vec::new();
            {
                let mut stmt =
                    conn.prepare("SELECT id, name, kind, version, model FROM main.ml_models ORDER BY id")?;
                let mut q = stmt.query([])?;
                while let Some(r) = q.next()? {
                    rows.push((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get(3)?,
                        blob_of(r, 4)?,
                    ));
                }
            }
            let plain: Vec<_> = rows
                .iter()
                .map(|(_, name, kind, version, blob)| {
                    envelope::open(&old.key, &old.binding(name, kind, *version), blob)
                })
                .collect::<Result<_>>()?;
            let new = self.create_key(conn, new_passphrase)?;
            let mut update = conn.prepare("UPDATE main.ml_models SET model = ?1 WHERE id = ?2")?;
            for ((id, name, kind, version, _), p) in rows.iter().zip(&plain) {
                let blob = envelope::seal(&new.key, &new.binding(name, kind, *version), p)?;
                if update.execute(params![blob, id])? != 1 {
                    return Err(Error::Damaged(format!(
                        "re-encrypting model '{}' version {version} changed no row (nothing was changed)",
                        crate::error::clip(name)
                    )));
                }
            }
            Ok((new, rows.len()))
        })?;
        self.remember(new.0);
        Ok(new.1)
    }

    /// Encrypts and inserts a model as the next version of its name with its training log,
    /// makes it the active one (unless `m.activate` is false), and returns the version. A
    /// pending new key ([`Session::write_key`]) is written in the same change. All or nothing
    /// (its own transaction or savepoint); call it inside the caller's [`atomically`] to make
    /// it part of a larger change. The write is verified: exactly one new row, found again by
    /// name and version.
    pub fn insert_model(&self, conn: &Connection, key: &WriteKey, m: NewModel<'_>) -> Result<i64> {
        check_name(m.name)?;
        let stored = StoredModel { schema_version: SCHEMA_VERSION, model: m.model };
        let stored = Plaintext::new(&stored);
        let codec = |e: postcard::Error| Error::Codec(e.to_string());
        // Serialized straight into the blob after its header and encrypted there. The exact
        // size is measured first, so the buffer never grows: a grown buffer would leave a
        // copy of the plaintext behind in freed memory, unwiped.
        let size = postcard::experimental::serialized_size(&stored).map_err(codec)?;
        // One transaction (or savepoint) from choosing the version to the last write: two
        // connections training the same name must not both pick version n+1, and a failure
        // between the deactivation and the last blob write leaves the previous version active.
        let (version, settled) = atomically(conn, "sqlml_insert_model", || {
            let key = self.settle(conn, key)?;
            ensure_schema(conn)?;
            // The key must still be this database's (another connection may have re-keyed).
            match key_record::read(conn)? {
                KeyRecord::Present(r) if r.salt == key.salt && r.db_id == key.db_id => {}
                _ => return Err(Error::Locked),
            }
            let version: i64 = conn.query_row(
                "SELECT coalesce(max(version), 0) + 1 FROM main.ml_models WHERE name = ?1 COLLATE BINARY",
                [m.name],
                |r| r.get(0),
            )?;
            let blob = envelope::seal_with(&key.key, &key.binding(m.name, m.kind, version), size, |buf| {
                postcard::to_io(&stored, buf).map(|_| ()).map_err(codec)
            })?;
            let rows_before = tables::model_rows(conn)?;
            // Written active at once (after deactivating the previous version) rather than by
            // `activate`: an UPDATE of the new row would copy its whole blob again.
            if m.activate {
                conn.execute(
                    "UPDATE main.ml_models SET active = 0 WHERE name = ?1 COLLATE BINARY AND active = 1",
                    [m.name],
                )?;
            }
            // The row is inserted with a zero blob of the right size, which the blob is then
            // written into (incremental blob I/O): binding the blob would copy it twice more
            // (SQLite's transient copy of the parameter, then the record), which took 1 ms for
            // a 1.5 MB model against 0.35 ms this way. `main.` names the table the blob handle
            // opens; the row id comes from `last_insert_rowid` (`RETURNING` needs SQLite 3.35,
            // the extension supports 3.34.1), checked against the row found by name and
            // version.
            let inserted = conn.execute(
                "INSERT INTO main.ml_models(name, version, kind, algorithm, created_at, rows, params, metrics, active, size, model)
                 VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?5, ?6, ?7, ?9, ?8, zeroblob(?8))",
                params![
                    m.name,
                    version,
                    m.kind,
                    m.algorithm,
                    m.rows as i64,
                    m.params,
                    m.metrics,
                    blob.len() as i64,
                    m.activate
                ],
            )?;
            let rowid = conn.last_insert_rowid();
            let found: Vec<(i64, Option<i64>)> = conn
                .prepare(
                    "SELECT rowid, id FROM main.ml_models WHERE name = ?1 COLLATE BINARY AND version = ?2",
                )?
                .query_map(params![m.name, version], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            if inserted != 1
                || found != [(rowid, Some(rowid))]
                || tables::model_rows(conn)? != rows_before + 1
            {
                return Err(Error::Damaged(
                    "the new model row could not be verified after the insert (ml_models is not as sqlml created it); nothing was changed".into(),
                ));
            }
            let mut handle = conn.blob_open(rusqlite::MAIN_DB, "ml_models", "model", rowid, false)?;
            handle.write_at(&blob, 0)?;
            handle.close()?;
            let mut log = conn.prepare(
                "INSERT INTO main.ml_training_log(name, version, epoch, loss, val_loss, metric, seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for e in m.log {
                log.execute(params![m.name, version, e.epoch, e.loss, e.val_loss, e.metric, e.seconds])?;
            }
            Ok((version, key))
        })?;
        if matches!(key.0, Pending::Create { .. }) {
            self.remember(settled);
        }
        Ok(version)
    }

    /// The active version of `name`, decrypted and decoded, from the cache when possible.
    pub fn load_active(&self, conn: &Connection, name: &str) -> Result<Arc<LoadedModel>> {
        self.load(conn, name, None)
    }

    /// Loads `name` at `version` (or the active version).
    pub fn load(&self, conn: &Connection, name: &str, version: Option<i64>) -> Result<Arc<LoadedModel>> {
        if !tables::exists(conn, "ml_models")? {
            return Err(Error::NoModel(clip(name).into_owned()));
        }
        let row: Option<(i64, i64, String)> = match version {
            None => conn
                .query_row(
                    "SELECT id, version, kind FROM main.ml_models WHERE name = ?1 COLLATE BINARY AND active = 1",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?,
            Some(v) => conn
                .query_row(
                    "SELECT id, version, kind FROM main.ml_models WHERE name = ?1 COLLATE BINARY AND version = ?2",
                    params![name, v],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?,
        };
        let Some((id, version, kind)) = row else {
            return Err(missing(conn, name, version)?);
        };
        // A row id can come back after a rollback (the row and the AUTOINCREMENT counter roll
        // back together), so a cached model counts only if the row still holds the very blob
        // it was decoded from: same name and version, and the same random nonce.
        let nonce = if self.config.cache_models { blob_nonce(conn, id).ok() } else { None };
        if let Some(nonce) = &nonce
            && let Some(hit) = lock(&self.cache).get(&id)
            && hit.name == name
            && hit.version == version
            && &hit.nonce == nonce
        {
            return Ok(hit.clone());
        }
        let key = self.key(conn)?;
        let blob =
            conn.query_row("SELECT model FROM main.ml_models WHERE id = ?1", [id], |r| blob_of(r, 0))?;
        let plain = envelope::open(&key.key, &key.binding(name, &kind, version), &blob)?;
        let model = decode(name, &plain)?;
        let loaded = Arc::new(LoadedModel {
            id,
            name: name.to_string(),
            version,
            model,
            nonce: envelope::nonce(&blob).unwrap_or_default(),
        });
        if self.config.cache_models {
            let mut cache = lock(&self.cache);
            if cache.len() >= CACHE_CAPACITY
                && let Some(&oldest) = cache.keys().min()
            {
                cache.remove(&oldest);
            }
            cache.insert(id, loaded.clone());
        }
        Ok(loaded)
    }

    /// Keeps `key` as the newest key, with at most one older one.
    fn remember(&self, key: Unlocked) {
        let mut keys = lock(&self.keys);
        keys.retain(|k| k.salt != key.salt);
        keys.insert(0, key);
        keys.truncate(2);
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

/// The nonce of the blob in row `id`, read through incremental blob I/O (a few bytes, not the
/// whole blob).
fn blob_nonce(conn: &Connection, id: i64) -> Result<[u8; envelope::NONCE_LEN]> {
    let handle = conn.blob_open(rusqlite::MAIN_DB, "ml_models", "model", id, true)?;
    let mut nonce = [0u8; envelope::NONCE_LEN];
    let n = handle.read_at(&mut nonce, envelope::NONCE_OFFSET)?;
    if n != nonce.len() {
        return Err(Error::Decrypt(String::new()));
    }
    Ok(nonce)
}

/// The `model` column as bytes. A value that is not a blob (a row edited by hand) is returned
/// as its text bytes, so it fails authentication with the one fixed message.
fn blob_of(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Vec<u8>> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(idx)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
        _ => Vec::new(),
    })
}

fn missing(conn: &Connection, name: &str, version: Option<i64>) -> Result<Error> {
    if !tables::exists(conn, "ml_models")? {
        return Ok(Error::NoModel(clip(name).into_owned()));
    }
    let versions: i64 =
        conn.query_row("SELECT count(*) FROM main.ml_models WHERE name = ?1 COLLATE BINARY", [name], |r| {
            r.get(0)
        })?;
    let name = clip(name);
    Ok(match version {
        Some(v) if versions > 0 => Error::NoVersion { name: name.into_owned(), version: v },
        None if versions > 0 => Error::argument(format!(
            "model '{name}' has no active version (activate one with: SELECT ml_activate('{name}', version))"
        )),
        _ => Error::NoModel(name.into_owned()),
    })
}

pub(crate) fn decode(name: &str, plain: &[u8]) -> Result<Model> {
    use crate::models::stored::{self, DecodeError};
    stored::decode(plain).map_err(|e| match e {
        DecodeError::Unreadable => Error::Decrypt(name.to_string()),
        DecodeError::Newer(found) => {
            Error::FormatVersion { name: name.to_string(), found, supported: SCHEMA_VERSION }
        }
        DecodeError::Codec(m) => Error::Codec(m),
        DecodeError::Damaged(m) => Error::Codec(format!("model '{}' is damaged: {m}", clip(name))),
    })
}

/// The active version of `name`, if it has one.
pub fn active_version(conn: &Connection, name: &str) -> Result<Option<i64>> {
    if !tables::exists(conn, "ml_models")? {
        return Ok(None);
    }
    Ok(conn
        .query_row(
            "SELECT version FROM main.ml_models WHERE name = ?1 COLLATE BINARY AND active = 1",
            [name],
            |r| r.get(0),
        )
        .optional()?)
}

/// Makes `version` the active version of `name`.
pub fn activate(conn: &Connection, name: &str, version: i64) -> Result<()> {
    tables::check_writable(conn)?;
    let exists: Option<i64> = if tables::exists(conn, "ml_models")? {
        conn.query_row(
            "SELECT id FROM main.ml_models WHERE name = ?1 COLLATE BINARY AND version = ?2",
            params![name, version],
            |r| r.get(0),
        )
        .optional()?
    } else {
        None
    };
    if exists.is_none() {
        return Err(missing(conn, name, Some(version))?);
    }
    // Only the rows whose flag changes: rewriting a row copies its model blob, so updating
    // every version would cost time in proportion to all the versions kept.
    conn.execute(
        "UPDATE main.ml_models SET active = (version = ?2) WHERE name = ?1 COLLATE BINARY AND active != (version = ?2)",
        params![name, version],
    )?;
    Ok(())
}

/// Deletes one version (or all versions) of `name` and its training log; returns how many
/// versions were deleted. Dropping the active version leaves no version active.
pub fn drop_model(conn: &Connection, name: &str, version: Option<i64>) -> Result<usize> {
    tables::check_writable(conn)?;
    if !tables::exists(conn, "ml_models")? {
        return Err(missing(conn, name, version)?);
    }
    let n = match version {
        Some(v) => {
            conn.execute(
                "DELETE FROM main.ml_training_log WHERE name = ?1 COLLATE BINARY AND version = ?2",
                params![name, v],
            )?;
            conn.execute(
                "DELETE FROM main.ml_models WHERE name = ?1 COLLATE BINARY AND version = ?2",
                params![name, v],
            )?
        }
        None => {
            conn.execute("DELETE FROM main.ml_training_log WHERE name = ?1 COLLATE BINARY", [name])?;
            conn.execute("DELETE FROM main.ml_models WHERE name = ?1 COLLATE BINARY", [name])?
        }
    };
    if n == 0 {
        return Err(missing(conn, name, version)?);
    }
    Ok(n)
}
