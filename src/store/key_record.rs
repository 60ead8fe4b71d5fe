//! The key record in `ml_meta`: the Argon2id salt and costs, the key check and the database
//! id. It is data from the file, so it is read field by field and validated before any of it
//! is used: costs are bounded before hashing, and a damaged record is an error that names the
//! field, never a reason to create a new key over existing models.

use super::crypto::KdfParams;
use super::tables;
use crate::models::SCHEMA_VERSION;
use crate::{Error, Result};
use rusqlite::types::{Value as V, ValueRef};
use rusqlite::{Connection, params};
use std::collections::HashMap;

/// Length of the Argon2 salt sqlml writes.
pub(super) const SALT_LEN: usize = 16;
/// Length of the database id.
pub(super) const DB_ID_LEN: usize = 16;
/// Length of the key check: nonce (24) ‖ ciphertext of [`super::keys::CHECK_PLAINTEXT`] ‖ tag (16).
pub(super) const CHECK_LEN: usize = 24 + super::keys::CHECK_PLAINTEXT.len() + 16;

/// Every field of the key record. A database holds either all of them or none.
const FIELDS: &[&str] =
    &["format", "kdf", "kdf_m_cost", "kdf_t_cost", "kdf_p_cost", "kdf_salt", "key_check", "db_id"];

/// A validated key record.
#[derive(Clone, Debug)]
pub(super) struct Meta {
    pub salt: Vec<u8>,
    pub kdf: KdfParams,
    pub check: Vec<u8>,
    pub db_id: Vec<u8>,
}

/// What the database holds.
#[derive(Debug)]
pub(super) enum KeyRecord {
    /// No key record and no models: a key may be created.
    Absent,
    /// A complete, valid key record.
    Present(Meta),
}

fn damaged(message: impl std::fmt::Display) -> Error {
    Error::Damaged(format!(
        "the key record in ml_meta is damaged: {message} (nothing was changed; restore ml_meta from a backup of this database)"
    ))
}

fn type_name(v: &V) -> &'static str {
    match v {
        V::Null => "NULL",
        V::Integer(_) => "an integer",
        V::Real(_) => "a real",
        V::Text(_) => "text",
        V::Blob(_) => "a blob",
    }
}

/// Reads and validates the key record. A record that is missing while `ml_models` holds rows,
/// incomplete, of the wrong types or out of range is an [`Error::Damaged`] naming the field.
pub(super) fn read(conn: &Connection) -> Result<KeyRecord> {
    tables::check_shape(conn)?;
    let mut map: HashMap<String, V> = HashMap::new();
    if tables::exists(conn, "ml_meta")? {
        let mut stmt = conn.prepare("SELECT key, value FROM main.ml_meta")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            // Only sqlml's own keys are read; anything else in the table is left alone.
            let ValueRef::Text(k) = row.get_ref(0)? else { continue };
            let Some(k) = FIELDS.iter().find(|f| f.as_bytes() == k) else { continue };
            if map.contains_key(*k) {
                return Err(damaged(format_args!("field '{k}' appears twice")));
            }
            // Text is kept as bytes turned into a string lossily: it is only ever compared
            // or named in an error, and invalid UTF-8 in the file must not stop that.
            let value = match row.get_ref(1)? {
                ValueRef::Null => V::Null,
                ValueRef::Integer(i) => V::Integer(i),
                ValueRef::Real(r) => V::Real(r),
                ValueRef::Text(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => V::Blob(b.to_vec()),
            };
            map.insert(k.to_string(), value);
        }
    }
    if map.is_empty() {
        let models = tables::model_rows(conn)?;
        if models > 0 {
            return Err(Error::Damaged(format!(
                "ml_meta holds no key record but ml_models holds {models} model version(s); a new key is never created over existing models, since they could not be decrypted with it (nothing was changed; restore ml_meta from a backup of this database)"
            )));
        }
        return Ok(KeyRecord::Absent);
    }
    if let Some(missing) = FIELDS.iter().find(|f| !map.contains_key(**f)) {
        return Err(damaged(format_args!("field '{missing}' is missing")));
    }
    let blob = |k: &str, len: usize| match &map[k] {
        V::Blob(b) if b.len() == len => Ok(b.clone()),
        V::Blob(b) => {
            Err(damaged(format_args!("field '{k}' must be a {len}-byte blob, got {} bytes", b.len())))
        }
        other => {
            Err(damaged(format_args!("field '{k}' must be a {len}-byte blob, got {}", type_name(other))))
        }
    };
    let int = |k: &str| match &map[k] {
        V::Integer(i) => Ok(*i),
        other => Err(damaged(format_args!("field '{k}' must be an integer, got {}", type_name(other)))),
    };
    match &map["kdf"] {
        V::Text(t) if t == "argon2id" => {}
        V::Text(t) => {
            return Err(damaged(format_args!(
                "field 'kdf' must be 'argon2id', got '{}'",
                crate::error::clip(t)
            )));
        }
        other => {
            return Err(damaged(format_args!("field 'kdf' must be 'argon2id', got {}", type_name(other))));
        }
    }
    let format = int("format")?;
    if !(1..=i64::from(u32::MAX)).contains(&format) {
        return Err(damaged(format_args!("field 'format' must be a positive integer, got {format}")));
    }
    let cost = |k: &str| -> Result<u32> {
        let v = int(k)?;
        u32::try_from(v).map_err(|_| damaged(format_args!("field '{k}' is out of range, got {v}")))
    };
    let kdf =
        KdfParams { m_cost: cost("kdf_m_cost")?, t_cost: cost("kdf_t_cost")?, p_cost: cost("kdf_p_cost")? };
    kdf.check().map_err(damaged)?;
    Ok(KeyRecord::Present(Meta {
        salt: blob("kdf_salt", SALT_LEN)?,
        kdf,
        check: blob("key_check", CHECK_LEN)?,
        db_id: blob("db_id", DB_ID_LEN)?,
    }))
}

/// Writes (or replaces) the key record.
pub(super) fn write(conn: &Connection, meta: &Meta) -> Result<()> {
    tables::check_writable(conn)?;
    let mut stmt = conn.prepare("INSERT OR REPLACE INTO main.ml_meta(key, value) VALUES (?1, ?2)")?;
    stmt.execute(params!["format", i64::from(SCHEMA_VERSION)])?;
    stmt.execute(params!["kdf", "argon2id"])?;
    stmt.execute(params!["kdf_m_cost", meta.kdf.m_cost])?;
    stmt.execute(params!["kdf_t_cost", meta.kdf.t_cost])?;
    stmt.execute(params!["kdf_p_cost", meta.kdf.p_cost])?;
    stmt.execute(params!["kdf_salt", meta.salt])?;
    stmt.execute(params!["key_check", meta.check])?;
    stmt.execute(params!["db_id", meta.db_id])?;
    drop(stmt);
    // Verify the effect: what is read back must be exactly what was written.
    match read(conn)? {
        KeyRecord::Present(m) if m.salt == meta.salt && m.check == meta.check && m.db_id == meta.db_id => {
            Ok(())
        }
        _ => Err(Error::Damaged(
            "the key record read back from ml_meta differs from what was written (nothing was changed)"
                .into(),
        )),
    }
}
