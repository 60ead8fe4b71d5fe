//! Model rows of `ml_models`: inserting a new version (encrypted, verified), loading one
//! (decrypted, decoded, cached per connection), activating and dropping versions.

use super::envelope;
use super::key_record::{self, KeyRecord};
use super::keys::WriteKey;
use super::{Session, atomically, ensure_schema, lock, tables};
use crate::error::clip;
use crate::models::memory;
use crate::models::stored::Plaintext;
use crate::models::{EpochLog, Model, SCHEMA_VERSION, StoredModel};
use crate::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::Arc;

const CACHE_CAPACITY: usize = 16;

/// Models of at least this many bytes (about 0.7 ms of sealing) are sealed on a second thread
/// while the row is made ready for them ([`Session::insert_model`]); smaller ones are sealed
/// first, as starting a thread would cost more than it saves.
const SEAL_ASIDE_FROM: usize = 1 << 20;

/// An active previous version whose blob is smaller than this is deactivated while the new model
/// is sealed; a larger one once the new model is stored and given back ([`Session::insert_model`]).
const DEACTIVATE_BESIDE_BELOW: i64 = 16 << 20;

#[cfg(test)]
thread_local! {
    /// [`DEACTIVATE_BESIDE_BELOW`] on this thread, when set (tests).
    pub(super) static DEACTIVATE_BESIDE: std::cell::Cell<Option<i64>> = const { std::cell::Cell::new(None) };
}

/// [`DEACTIVATE_BESIDE_BELOW`], or the tests' value.
fn deactivate_beside_below() -> i64 {
    #[cfg(test)]
    if let Some(bytes) = DEACTIVATE_BESIDE.with(std::cell::Cell::get) {
        return bytes;
    }
    DEACTIVATE_BESIDE_BELOW
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
    /// Encrypts and inserts a model as the next version of its name with its training log,
    /// makes it the active one (unless `m.activate` is false), and returns the version. A
    /// pending new key ([`Session::write_key`]) is written in the same change. All or nothing
    /// (its own transaction or savepoint); call it inside the caller's [`atomically`] to make
    /// it part of a larger change. The write is verified: exactly one new row, found again by
    /// name and version.
    pub fn insert_model(&self, conn: &Connection, key: &WriteKey, m: NewModel<'_>) -> Result<i64> {
        check_name(m.name)?;
        let model = StoredModel { schema_version: SCHEMA_VERSION, model: m.model };
        let codec = |e: postcard::Error| Error::Codec(e.to_string());
        // Serialized straight into the blob after its header and encrypted there. The exact
        // size is measured first, so the buffer never grows: a grown buffer would leave a
        // copy of the plaintext behind in freed memory, unwiped.
        let size = postcard::experimental::serialized_size(&Plaintext::new(&model)).map_err(codec)?;
        // One transaction (or savepoint) from choosing the version to the last write: two
        // connections training the same name must not both pick version n+1, and a failure
        // between the deactivation and the last blob write leaves the previous version active.
        let (version, settled) = atomically(conn, "sqlml_insert_model", move || {
            let stored = Plaintext::new(&model);
            let key = self.settle(conn, key)?;
            ensure_schema(conn)?;
            // The key must still be this database's (another connection may have re-keyed).
            match key_record::read(conn)? {
                KeyRecord::Present(r) if r.salt == key.salt && r.db_id == key.db_id => {}
                KeyRecord::Present(_) => return Err(Error::KeyChanged),
                KeyRecord::Absent => return Err(Error::Locked),
            }
            check_same_kind(conn, m.name, m.kind)?;
            let version = next_version(conn, m.name)?;
            // Log rows of this version are of none stored (its row deleted by hand, or a
            // hostile file's): they would make the log's insert fail after every training.
            conn.execute(
                "DELETE FROM main.ml_training_log WHERE name = ?1 COLLATE BINARY AND version = ?2",
                params![m.name, version],
            )?;
            let binding = key.binding(m.name, m.kind, version);
            let seal = || {
                envelope::seal_with(&key.key, &binding, size, |buf| {
                    postcard::to_io(&stored, buf).map(|_| ()).map_err(codec)
                })
            };
            // Deactivating the previous version makes SQLite rewrite its row, blob and all, and
            // hold two copies of that blob while it does (a 200 MB blob took 394 MB). A small
            // one is deactivated while the new model is sealed; a large one only once the new
            // model and its sealed copy are given back, so that retraining a large model does
            // not hold both models at once, plus those copies (10M ratings, a 104 MB model:
            // 498 MB at the peak of retraining, against 341 MB for the first training).
            let previous: i64 = if m.activate {
                conn.query_row(
                    "SELECT coalesce(max(length(model)), 0) FROM main.ml_models WHERE name = ?1 COLLATE BINARY AND active = 1",
                    [m.name],
                    |r| r.get(0),
                )?
            } else {
                0
            };
            let deactivate_first = m.activate && previous < deactivate_beside_below();
            // (The new version, once inserted, stays active.)
            let deactivate = || -> Result<()> {
                conn.execute(
                    "UPDATE main.ml_models SET active = 0 WHERE name = ?1 COLLATE BINARY AND active = 1 AND version != ?2",
                    params![m.name, version],
                )?;
                Ok(())
            };
            // Written active at once (after deactivating the previous version, or before it
            // when that is large) rather than by `activate`: an UPDATE of the new row would
            // copy its whole blob again.
            // The row is inserted with a zero blob of the right size, which the blob is then
            // written into (incremental blob I/O): binding the blob would copy it twice more
            // (SQLite's transient copy of the parameter, then the record), which took 1 ms for
            // a 1.5 MB model against 0.35 ms this way. `main.` names the table the blob handle
            // opens; the row id comes from `last_insert_rowid` (`RETURNING` needs SQLite 3.35,
            // the extension supports 3.34.1), checked against the row found by name and
            // version.
            let make_room = |blob_len: usize| -> Result<i64> {
                let rows_before = tables::model_rows(conn)?;
                if deactivate_first {
                    deactivate()?;
                }
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
                        blob_len as i64,
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
                Ok(rowid)
            };
            let blob_len = envelope::sealed_len(size)
                .ok_or_else(|| memory::refused(size as f64, "the encrypted model"))?;
            // A large model is sealed on a second thread while this one makes room for it:
            // deactivating the previous version copies that version's whole blob (SQLite
            // rewrites a row to change a column), then the new row is inserted.
            let (rowid, blob) = if size >= SEAL_ASIDE_FROM {
                std::thread::scope(|scope| {
                    let sealing =
                        std::thread::Builder::new().name("sqlml-seal".into()).spawn_scoped(scope, seal);
                    let room = make_room(blob_len);
                    let blob = match sealing {
                        Ok(handle) => {
                            handle.join().map_err(|p| Error::panicked("the thread sealing the model", p))?
                        }
                        Err(_) => seal(),
                    };
                    room.and_then(|rowid| blob.map(|blob| (rowid, blob)))
                })
            } else {
                seal().and_then(|blob| make_room(blob_len).map(|rowid| (rowid, blob)))
            }?;
            if blob.len() != blob_len {
                return Err(Error::Internal(format!(
                    "the sealed model has {} bytes where {blob_len} were expected; nothing was changed",
                    blob.len()
                )));
            }
            let mut handle = conn.blob_open(rusqlite::MAIN_DB, "ml_models", "model", rowid, false)?;
            handle.write_at(&blob, 0)?;
            handle.close()?;
            if m.activate && !deactivate_first {
                drop(blob);
                drop(stored);
                drop(model);
                deactivate()?;
            }
            let mut log = conn.prepare(
                "INSERT INTO main.ml_training_log(name, version, epoch, loss, val_loss, metric, seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for e in m.log {
                log.execute(params![m.name, version, e.epoch, e.loss, e.val_loss, e.metric, e.seconds])?;
            }
            Ok((version, key))
        })?;
        if key.creates() {
            self.remember(settled);
        }
        Ok(version)
    }

    /// The active version of `name`, decrypted and decoded, from the cache when possible.
    pub fn load_active(&self, conn: &Connection, name: &str) -> Result<Arc<LoadedModel>> {
        self.load(conn, name, None)
    }

    /// The active version of `name`, from the cache when it is there, else decrypted and
    /// decoded without being kept in the cache (a look at it: its memory goes with the `Arc`).
    pub fn peek_active(&self, conn: &Connection, name: &str) -> Result<Arc<LoadedModel>> {
        self.load_with(conn, name, None, false)
    }

    /// Loads `name` at `version` (or the active version).
    pub fn load(&self, conn: &Connection, name: &str, version: Option<i64>) -> Result<Arc<LoadedModel>> {
        self.load_with(conn, name, version, true)
    }

    /// [`Session::load`]; a model decoded is kept in the cache only where `keep`.
    fn load_with(
        &self,
        conn: &Connection,
        name: &str,
        version: Option<i64>,
        keep: bool,
    ) -> Result<Arc<LoadedModel>> {
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
                .optional()
                .map_err(stored)?,
            Some(v) => conn
                .query_row(
                    "SELECT id, version, kind FROM main.ml_models WHERE name = ?1 COLLATE BINARY AND version = ?2",
                    params![name, v],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(stored)?,
        };
        let (id, version, kind) = match row {
            Some(row) => row,
            None => find_or_diagnose(conn, name, version)?,
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
        if self.config.cache_models && keep {
            let mut cache = lock(&self.cache);
            // One version of a name: the one served by name is the last loaded (a retrained
            // model's earlier versions, each as large, would stay otherwise).
            cache.retain(|_, m| m.name != name);
            if cache.len() >= CACHE_CAPACITY
                && let Some(&oldest) = cache.keys().min()
            {
                cache.remove(&oldest);
            }
            cache.insert(id, loaded.clone());
        }
        Ok(loaded)
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
pub(super) fn blob_of(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Vec<u8>> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(idx)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
        _ => Vec::new(),
    })
}

pub(crate) fn missing(conn: &Connection, name: &str, version: Option<i64>) -> Result<Error> {
    if !tables::exists(conn, "ml_models")? {
        return Ok(Error::NoModel(clip(name).into_owned()));
    }
    let versions: i64 =
        conn.query_row("SELECT count(*) FROM main.ml_models WHERE name = ?1 COLLATE BINARY", [name], |r| {
            r.get(0)
        })?;
    Ok(not_found(name, version, versions > 0))
}

/// Looks `name` at `version` (or its active version) up again after a miss, in one statement
/// that also tells an unknown model from one without that version. Two statements (the lookup,
/// then a count) could straddle another connection's commit, and a model trained between them
/// would read as having "no active version"; here a row committed since the miss is found.
fn find_or_diagnose(conn: &Connection, name: &str, version: Option<i64>) -> Result<(i64, i64, String)> {
    let row: Option<(i64, i64, String, bool)> = conn
        .query_row(
            "SELECT id, version, kind, \
             coalesce(CASE WHEN ?2 IS NULL THEN active = 1 ELSE version = ?2 END, 0) AS hit \
             FROM main.ml_models WHERE name = ?1 COLLATE BINARY ORDER BY hit DESC LIMIT 1",
            params![name, version],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(stored)?;
    match row {
        Some((id, version, kind, true)) => Ok((id, version, kind)),
        Some(_) => Err(not_found(name, version, true)),
        None => Err(not_found(name, version, false)),
    }
}

/// The error for `name` at `version` (or its active version) not found, when the model has
/// other versions (`has_versions`) or none.
fn not_found(name: &str, version: Option<i64>, has_versions: bool) -> Error {
    let name = clip(name);
    match version {
        Some(v) if has_versions => Error::NoVersion { name: name.into_owned(), version: v },
        None if has_versions => Error::argument(format!(
            "model '{name}' has no active version (activate one with: SELECT ml_activate('{name}', version))"
        )),
        _ => Error::NoModel(name.into_owned()),
    }
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
        DecodeError::Unsupported(why) => {
            Error::Unsupported(format!("this build cannot use model '{}': {why}", clip(name)))
        }
    })
}

/// The active version of `name`, if it has one.
pub fn active_version(conn: &Connection, name: &str) -> Result<Option<i64>> {
    if !tables::exists(conn, "ml_models")? {
        return Ok(None);
    }
    conn.query_row(
        "SELECT version FROM main.ml_models WHERE name = ?1 COLLATE BINARY AND active = 1",
        [name],
        |r| r.get(0),
    )
    .optional()
    .map_err(stored)
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

/// A value of sqlml's tables of another type than sqlml stores there (`Invalid column type Text
/// at index: 1, name: version`), said as what it is: the file was changed outside sqlml. Every
/// typed read of `ml_models` maps its error through this (an id, the `INTEGER PRIMARY KEY`, and
/// SQL aggregates need not).
pub(crate) fn stored(e: rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::InvalidColumnType(_, column, ty) => Error::data(format!(
            "ml_models holds a '{}' of type {ty} that sqlml does not store there: the table was changed outside sqlml; delete or mend that row",
            crate::error::clip(&column)
        )),
        other => Error::from(other),
    }
}

/// The error of a version of `kind` for `name` when its stored versions are of another kind:
/// every caller of the name would get another kind's answers (or errors), and activating or
/// rolling back would move between kinds.
pub fn check_same_kind(conn: &Connection, name: &str, kind: &str) -> Result<()> {
    if !tables::exists(conn, "ml_models")? {
        return Ok(());
    }
    let other: Option<rusqlite::types::Value> = conn
        .query_row(
            "SELECT kind FROM main.ml_models WHERE name = ?1 COLLATE BINARY AND kind IS NOT ?2 LIMIT 1",
            params![name, kind],
            |r| r.get(0),
        )
        .optional()?;
    let Some(other) = other else { return Ok(()) };
    let other = match other {
        rusqlite::types::Value::Text(k) => k,
        v => format!("{v:?}"),
    };
    let name = crate::error::clip(name);
    Err(Error::argument(format!(
        "model '{name}' is a {} model, not a {kind} one: a version of another kind would change what every caller of '{name}' gets; use another name, or drop '{name}' first (ml_drop)",
        crate::error::clip(&other)
    )))
}

/// The version after the last of `name` in `ml_models` (1 for the first). The last one must be a
/// whole number, from 0 to below 2⁶³ − 1: the file may have been changed outside sqlml.
fn next_version(conn: &Connection, name: &str) -> Result<i64> {
    let last: rusqlite::types::Value = conn.query_row(
        "SELECT max(version) FROM main.ml_models WHERE name = ?1 COLLATE BINARY",
        [name],
        |r| r.get(0),
    )?;
    match last {
        rusqlite::types::Value::Null => Ok(1),
        rusqlite::types::Value::Integer(v) if (0..i64::MAX).contains(&v) => Ok(v + 1),
        other => Err(Error::data(format!(
            "ml_models holds a version of '{}' that is not a whole number from 0 to 2^63 - 2 ({}): the table was changed outside sqlml; delete or mend that row",
            crate::error::clip(name),
            crate::error::clip(&format!("{other:?}"))
        ))),
    }
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
