//! The connection's keys: `ml_unlock`, the key from `SQLML_KEY`, the key a write creates,
//! and `ml_rekey`. The key record they check is read by `key_record`.

use super::crypto::{MasterKey, random};
use super::envelope::{self, Binding};
use super::key_record::{self, KeyRecord, Meta};
use super::rows::{blob_of, stored};
use super::{Session, atomically, ensure_schema, lock};
use crate::{Error, Result};
use rusqlite::Connection;
use rusqlite::params;

/// Environment variable holding the passphrase when `ml_unlock` was not called.
pub const KEY_ENV: &str = "SQLML_KEY";
const CHECK_INFO: &[u8] = b"sqlml/key-check/v1";
/// What the key check encrypts.
pub(super) const CHECK_PLAINTEXT: &[u8] = b"sqlml key check";

/// An unlocked key, valid for the database whose salt it was derived with.
#[derive(Clone, Debug)]
pub struct Unlocked {
    pub(super) key: MasterKey,
    pub(super) salt: Vec<u8>,
    pub(super) db_id: Vec<u8>,
}

impl Unlocked {
    pub(super) fn binding<'a>(&'a self, name: &'a str, kind: &'a str, version: i64) -> Binding<'a> {
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

impl WriteKey {
    /// Whether the write creates this database's key.
    pub(super) fn creates(&self) -> bool {
        matches!(self.0, Pending::Create { .. })
    }
}

impl From<Unlocked> for WriteKey {
    fn from(k: Unlocked) -> Self {
        WriteKey(Pending::Existing(k))
    }
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

impl Session {
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
    pub(super) fn settle(&self, conn: &Connection, key: &WriteKey) -> Result<Unlocked> {
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
        // Unlocked here before, under a key the database no longer has: say so.
        let stale = || match &record {
            KeyRecord::Present(_) if !lock(&self.keys).is_empty() => Error::KeyChanged,
            _ => Error::Locked,
        };
        let Ok(pass) = std::env::var(KEY_ENV) else { return Err(stale()) };
        let pass = zeroize::Zeroizing::new(pass);
        if pass.is_empty() {
            return Err(stale());
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
                KeyRecord::Present(_) => return Err(Error::KeyChanged),
                KeyRecord::Absent => return Err(Error::Locked),
            }
            let mut rows = Vec::new();
            {
                let mut stmt =
                    conn.prepare("SELECT id, name, kind, version, model FROM main.ml_models ORDER BY id")?;
                let mut q = stmt.query([])?;
                while let Some(r) = q.next()? {
                    // (A value of another type than sqlml stores is said as what it is.)
                    let typed = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, String, String, i64)> {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    };
                    let (id, name, kind, version) = typed(r).map_err(stored)?;
                    rows.push((id, name, kind, version, blob_of(r, 4)?));
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

    /// Keeps `key` as the newest key, with at most one older one.
    pub(super) fn remember(&self, key: Unlocked) {
        let mut keys = lock(&self.keys);
        keys.retain(|k| k.salt != key.salt);
        keys.insert(0, key);
        keys.truncate(2);
    }
}
