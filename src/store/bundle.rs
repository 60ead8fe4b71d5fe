//! Model bundles: one model version sealed under a passphrase, to move between databases
//! (`ml_export` / `ml_import`).
//!
//! A stored blob is bound to its database (the database id is in its associated data), so it
//! cannot be copied elsewhere. A bundle is self-contained instead: its key comes from the
//! passphrase given to `ml_export` through the bundle's own Argon2id salt and costs, and it
//! carries what a new row needs (kind, algorithm, training parameters, metrics, training log).
//! `ml_import` stores the model as a new version under the importing database's own key,
//! through [`Session::insert_model`].
//!
//! Layout (little-endian), a 64-byte header followed by ciphertext ‖ 16-byte tag:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | magic `SQMB` |
//! | 4 | 1 | bundle version (1) |
//! | 5 | 1 | AEAD id (1 = XChaCha20-Poly1305) |
//! | 6 | 1 | KDF id (1 = Argon2id from the passphrase, then HKDF-SHA256) |
//! | 7 | 1 | codec id (1 = postcard model plaintext) |
//! | 8 | 4 | Argon2id memory, KiB (8 × lanes to 262144) |
//! | 12 | 4 | Argon2id passes (1 to 16) |
//! | 16 | 4 | Argon2id lanes (1 to 16) |
//! | 20 | 4 | model format: the plaintext's `schema_version` ([`SCHEMA_VERSION`] when written) |
//! | 24 | 16 | Argon2id salt (random), also the HKDF salt |
//! | 40 | 24 | nonce (random) |
//!
//! The whole header is the associated data. The plaintext is a 4-byte metadata length, the
//! metadata ([`BundleInfo`], postcard: fields by position, so a new field is a new bundle
//! version; floats exact), then the model plaintext exactly as an envelope holds it (postcard
//! `StoredModel`). Opening validates every header field before
//! use (costs bounded before hashing, versions before anything else), authenticates, then
//! checks the metadata against the decoded model.

use super::crypto::{KdfParams, MasterKey, random};
use super::{NewModel, Session, check_name, decode, envelope, tables};
use crate::error::clip;
use crate::models::{EpochLog, KINDS, Model, SCHEMA_VERSION, memory};
use crate::{Error, Result};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The first bytes of every bundle.
pub const MAGIC: &[u8; 4] = b"SQMB";
/// The bundle version this build writes and the highest it reads.
pub const BUNDLE_VERSION: u8 = 1;
const AEAD_XCHACHA20_POLY1305: u8 = 1;
const KDF_ARGON2ID_HKDF: u8 = 1;
const CODEC_POSTCARD: u8 = 1;
/// Length of the header (the associated data).
pub const HEADER_LEN: usize = 64;
const TAG_LEN: usize = 16;
const SALT_LEN: usize = 16;
/// The shortest possible bundle: the header, the metadata length and the tag.
pub const MIN_LEN: usize = HEADER_LEN + 4 + TAG_LEN;
const BUNDLE_INFO: &[u8] = b"sqlml/bundle/v1";

/// What a bundle says about its model besides the model itself (the metadata, in the clear
/// only once opened).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BundleInfo {
    /// The model's name in the exporting database.
    pub name: String,
    /// Its version there.
    pub version: i64,
    /// Kind (`text`, `classifier`, `recommender`); must be the decoded model's.
    pub kind: String,
    /// Algorithm; must be the decoded model's.
    pub algorithm: String,
    /// Training rows (`ml_models.rows`).
    pub rows: i64,
    /// When the version was created there (`ml_models.created_at`).
    pub created_at: String,
    /// Training parameters (`ml_models.params`, JSON text).
    pub params: String,
    /// Scalar held-out metrics (`ml_models.metrics`, JSON text), if any.
    pub metrics: Option<String>,
    /// The training log (`ml_training_log`), epochs in increasing order; at most
    /// [`MAX_LOG_ROWS`] rows.
    #[serde(deserialize_with = "bounded_log")]
    pub log: Vec<LogRow>,
}

/// The most training-log rows a bundle holds (twice the most epochs any kind trains).
pub const MAX_LOG_ROWS: usize = 2_000_000;
/// The longest metadata a bundle holds, in bytes.
pub const MAX_META_LEN: usize = 256 << 20;

/// Reads the training log of a bundle's metadata with at most [`MAX_LOG_ROWS`] rows, its
/// memory taken fallibly as rows arrive (the length in the data is not trusted for it).
fn bounded_log<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<LogRow>, D::Error> {
    struct Rows;
    impl<'de> serde::de::Visitor<'de> for Rows {
        type Value = Vec<LogRow>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "at most {MAX_LOG_ROWS} training log rows")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            use serde::de::Error as _;
            if seq.size_hint().is_some_and(|n| n > MAX_LOG_ROWS) {
                return Err(A::Error::custom("too many training log rows"));
            }
            let mut rows = Vec::new();
            while let Some(row) = seq.next_element::<LogRow>()? {
                if rows.len() == MAX_LOG_ROWS {
                    return Err(A::Error::custom("too many training log rows"));
                }
                if rows.len() == rows.capacity() {
                    rows.try_reserve(rows.len().max(64))
                        .map_err(|_| A::Error::custom("the training log's memory was refused"))?;
                }
                rows.push(row);
            }
            Ok(rows)
        }
    }
    d.deserialize_seq(Rows)
}

/// One row of the training log in a bundle (a missing or non-numeric value is `None`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    /// Epoch (or iteration) number.
    pub epoch: u32,
    /// Training loss.
    pub loss: Option<f64>,
    /// Validation loss.
    pub val_loss: Option<f64>,
    /// Quality figure.
    pub metric: Option<f64>,
    /// Seconds since training started.
    pub seconds: Option<f64>,
}

/// An opened bundle: its metadata and the decoded, checked model.
#[derive(Debug)]
pub struct Opened {
    /// The metadata.
    pub info: BundleInfo,
    /// The model (decoded by the store's decoder, so checked).
    pub model: Model,
}

fn damaged(detail: impl std::fmt::Display) -> Error {
    Error::argument(format!("argument 'bundle' is damaged: {detail} (export the model again)"))
}

fn wrong_key() -> Error {
    Error::argument("cannot open the bundle: wrong passphrase or damaged bundle")
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

/// The validated header of a bundle.
struct Header {
    kdf: KdfParams,
    schema: u32,
    salt: [u8; SALT_LEN],
    nonce: [u8; 24],
}

/// Reads and checks the header, before any key derivation: magic, versions, ids, and the
/// Argon2id costs against their bounds and against `ceiling`.
fn header(bundle: &[u8], ceiling: KdfParams) -> Result<Header> {
    if bundle.len() < MAGIC.len() || &bundle[..MAGIC.len()] != MAGIC {
        return Err(Error::argument(format!(
            "argument 'bundle' is not a model bundle from ml_export (a bundle starts with the bytes 'SQMB'; got {} bytes that do not)",
            bundle.len()
        )));
    }
    if bundle.len() > 4 && bundle[4] > BUNDLE_VERSION {
        return Err(Error::argument(format!(
            "argument 'bundle' has bundle format {}; this build reads up to {BUNDLE_VERSION} (upgrade the extension)",
            bundle[4]
        )));
    }
    if bundle.len() < MIN_LEN {
        return Err(damaged(format_args!(
            "it is {} bytes long, shorter than the shortest bundle ({MIN_LEN} bytes)",
            bundle.len()
        )));
    }
    if bundle[4] == 0 {
        return Err(damaged("its bundle format is 0"));
    }
    let ids = (bundle[5], bundle[6], bundle[7]);
    if ids != (AEAD_XCHACHA20_POLY1305, KDF_ARGON2ID_HKDF, CODEC_POSTCARD) {
        return Err(damaged(format_args!(
            "unknown cipher, key-derivation or codec ids {}, {}, {} (expected 1, 1, 1)",
            ids.0, ids.1, ids.2
        )));
    }
    let kdf = KdfParams { m_cost: u32_at(bundle, 8), t_cost: u32_at(bundle, 12), p_cost: u32_at(bundle, 16) };
    kdf.check_as(["its Argon2id memory", "its Argon2id passes", "its Argon2id lanes"]).map_err(damaged)?;
    if kdf.m_cost > ceiling.m_cost || kdf.t_cost > ceiling.t_cost || kdf.p_cost > ceiling.p_cost {
        return Err(damaged(format_args!(
            "its Argon2id costs {} KiB, {} passes, {} lanes are above this opener's limit of {} KiB, {} passes, {} lanes",
            kdf.m_cost, kdf.t_cost, kdf.p_cost, ceiling.m_cost, ceiling.t_cost, ceiling.p_cost
        )));
    }
    let schema = u32_at(bundle, 20);
    if schema > SCHEMA_VERSION {
        return Err(Error::argument(format!(
            "argument 'bundle' holds a model of format {schema}; this build reads up to {SCHEMA_VERSION} (upgrade the extension)"
        )));
    }
    if schema == 0 {
        return Err(damaged("its model format is 0"));
    }
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&bundle[24..40]);
    let mut nonce = [0u8; 24];
    nonce.copy_from_slice(&bundle[40..64]);
    Ok(Header { kdf, schema, salt, nonce })
}

/// The largest Argon2id costs any bundle may ask for (those of [`KdfParams::check`]).
pub const MAX_KDF: KdfParams =
    KdfParams { m_cost: KdfParams::MAX_M_COST, t_cost: KdfParams::MAX_T_COST, p_cost: KdfParams::MAX_P_COST };

/// Seals `plaintext` (metadata length ‖ metadata ‖ model plaintext, as written by the
/// caller's `write`, exactly `len` bytes) into a bundle whose header says model format
/// `schema`.
pub(crate) fn seal_raw(
    passphrase: &[u8],
    kdf: KdfParams,
    schema: u32,
    len: usize,
    write: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<Vec<u8>> {
    if passphrase.is_empty() {
        return Err(Error::argument("argument 'passphrase' must be a non-empty text"));
    }
    let salt = random::<SALT_LEN>();
    let nonce = random::<24>();
    // The costs are the session's own (its settings for new keys), not the caller's.
    let key = MasterKey::derive(passphrase, &salt, kdf).map_err(Error::Internal)?;
    let total = HEADER_LEN + len + TAG_LEN;
    let mut out = Zeroizing::new(Vec::new());
    out.try_reserve_exact(total).map_err(|_| memory::refused(total as f64, "the bundle"))?;
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[BUNDLE_VERSION, AEAD_XCHACHA20_POLY1305, KDF_ARGON2ID_HKDF, CODEC_POSTCARD]);
    for v in [kdf.m_cost, kdf.t_cost, kdf.p_cost, schema] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    let aad = out.clone();
    let capacity = out.capacity();
    write(&mut out)?;
    if out.len() != HEADER_LEN + len || out.capacity() != capacity {
        return Err(Error::Internal("the bundle's plaintext is not the announced length".into()));
    }
    key.seal_in_place(&salt, BUNDLE_INFO, &nonce, &aad, &mut out, HEADER_LEN);
    if out.len() != total {
        return Err(Error::Internal("the bundle could not be encrypted".into()));
    }
    Ok(std::mem::take(&mut *out))
}

/// Seals a model plaintext (as an envelope holds it) and its metadata into a bundle, with a
/// key derived from `passphrase` with a fresh salt and the costs `kdf`.
pub fn seal(passphrase: &[u8], kdf: KdfParams, info: &BundleInfo, model_plain: &[u8]) -> Result<Vec<u8>> {
    let (schema, _): (u32, _) = postcard::take_from_bytes(model_plain)
        .map_err(|_| Error::Codec("the model plaintext has no format version".into()))?;
    if info.log.len() > MAX_LOG_ROWS {
        return Err(Error::argument(format!(
            "the model's training log has {} rows; a bundle holds at most {MAX_LOG_ROWS}",
            info.log.len()
        )));
    }
    let meta = postcard::to_stdvec(info).map_err(|e| Error::Codec(e.to_string()))?;
    if meta.len() > MAX_META_LEN {
        return Err(Error::argument(format!(
            "the model's parameters and training log take {}; a bundle holds at most {} of them",
            memory::show_bytes(meta.len() as f64),
            memory::show_bytes(MAX_META_LEN as f64)
        )));
    }
    let meta_len = meta.len() as u32;
    let len = 4 + meta.len() + model_plain.len();
    seal_raw(passphrase, kdf, schema, len, |buf| {
        buf.extend_from_slice(&meta_len.to_le_bytes());
        buf.extend_from_slice(&meta);
        buf.extend_from_slice(model_plain);
        Ok(())
    })
}

/// [`open_with`] with the largest allowed key-derivation costs.
pub fn open(bundle: &[u8], passphrase: &[u8]) -> Result<Opened> {
    open_with(bundle, passphrase, MAX_KDF)
}

/// Opens a bundle: checks the header (refusing Argon2id costs above `ceiling` too), derives
/// the key, authenticates and decrypts, then reads the metadata and decodes the model with
/// the store's decoder (format version, postcard, [`Model::check`]) and checks that they
/// agree. `bundle` is untrusted: every length is checked before it is used, and the only
/// allocation of its size is fallible.
pub fn open_with(bundle: &[u8], passphrase: &[u8], ceiling: KdfParams) -> Result<Opened> {
    if passphrase.is_empty() {
        return Err(Error::argument("argument 'passphrase' must be a non-empty text"));
    }
    let h = header(bundle, ceiling)?;
    let key = MasterKey::derive(passphrase, &h.salt, h.kdf).map_err(damaged)?;
    let sealed = &bundle[HEADER_LEN..];
    let mut plain = Zeroizing::new(Vec::new());
    plain.try_reserve_exact(sealed.len()).map_err(|_| memory::refused(sealed.len() as f64, "the bundle"))?;
    plain.extend_from_slice(sealed);
    if !key.open_in_place(&h.salt, BUNDLE_INFO, &h.nonce, &bundle[..HEADER_LEN], &mut plain) {
        return Err(wrong_key());
    }
    // Authentic from here on: made by someone holding the passphrase. Still checked, since
    // holding a passphrase is not being sqlml.
    let meta_len = plain.get(..4).map_or(usize::MAX, |b| u32_at(b, 0) as usize);
    if meta_len > MAX_META_LEN && meta_len != usize::MAX {
        return Err(damaged(format_args!(
            "its metadata length {meta_len} is above the limit of {MAX_META_LEN} bytes"
        )));
    }
    let Some(meta) = plain.get(4..).and_then(|rest| rest.get(..meta_len)) else {
        return Err(damaged(format_args!(
            "its metadata length {meta_len} is beyond its {} bytes of content",
            plain.len()
        )));
    };
    let info = match postcard::take_from_bytes::<BundleInfo>(meta) {
        Ok((info, [])) => info,
        Ok(_) => return Err(damaged("its metadata is followed by unknown bytes")),
        // The one custom error is the training log's bound (postcard drops its text).
        Err(postcard::Error::SerdeDeCustom) => {
            return Err(damaged(format_args!(
                "its training log is longer than {MAX_LOG_ROWS} rows, or its memory was refused"
            )));
        }
        Err(e) => return Err(damaged(format_args!("its metadata does not decode ({e})"))),
    };
    let model_plain = &plain[4 + meta_len..];
    match postcard::take_from_bytes::<u32>(model_plain) {
        Ok((schema, _)) if schema == h.schema => {}
        Ok((schema, _)) => {
            return Err(damaged(format_args!(
                "the model says format {schema} but the header says format {}",
                h.schema
            )));
        }
        Err(_) => return Err(damaged("the model has no format version")),
    }
    // The header's format was checked against this build's before anything was derived, so
    // a model of a newer format never gets here.
    let model = decode(&info.name, model_plain).map_err(damaged)?;
    check_info(&info, &model)?;
    Ok(Opened { info, model })
}

/// The metadata must describe the decoded model and fit the tables it goes into.
fn check_info(info: &BundleInfo, model: &Model) -> Result<()> {
    if !KINDS.contains(&info.kind.as_str()) || info.kind != model.kind() {
        return Err(damaged(format_args!(
            "its metadata says kind '{}' but the model is a {} model",
            clip(&info.kind),
            model.kind()
        )));
    }
    if info.algorithm != model.algorithm() {
        return Err(damaged(format_args!(
            "its metadata says algorithm '{}' but the model's is '{}'",
            clip(&info.algorithm),
            model.algorithm()
        )));
    }
    if info.rows < 0 {
        return Err(damaged(format_args!("its row count is negative ({})", info.rows)));
    }
    if info.log.windows(2).any(|w| w[0].epoch >= w[1].epoch) {
        return Err(damaged("its training log's epochs are not in increasing order"));
    }
    Ok(())
}

/// A column as text: text (invalid UTF-8 replaced), a number as its decimal form, else None.
fn text_of(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(r) => Some(r.to_string()),
        ValueRef::Null | ValueRef::Blob(_) => None,
    }
}

fn number_of(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(r) if r.is_finite() => Some(r),
        _ => None,
    }
}

/// One row of `ml_models`, as export reads it.
struct Row {
    version: i64,
    kind: String,
    rows: i64,
    created_at: String,
    params: String,
    metrics: Option<String>,
    blob: Vec<u8>,
}

impl Session {
    /// `ml_export`: version `version` of `name` (the active one if `None`), sealed into a
    /// bundle under `passphrase` with this session's Argon2id costs for new keys. Reads only.
    pub fn export(
        &self,
        conn: &Connection,
        name: &str,
        version: Option<i64>,
        passphrase: &[u8],
    ) -> Result<Vec<u8>> {
        if passphrase.is_empty() {
            return Err(Error::argument("argument 'passphrase' must be a non-empty text"));
        }
        if !tables::exists(conn, "ml_models")? {
            return Err(Error::NoModel(clip(name).into_owned()));
        }
        let select = "SELECT version, kind, rows, created_at, params, metrics, model FROM main.ml_models WHERE name = ?1 COLLATE BINARY";
        let stored = super::rows::stored;
        let read = |r: &rusqlite::Row<'_>| {
            Ok(Row {
                version: r.get(0)?,
                kind: text_of(r.get_ref(1)?).unwrap_or_default(),
                rows: r.get::<_, Option<i64>>(2).ok().flatten().unwrap_or(0).max(0),
                created_at: text_of(r.get_ref(3)?).unwrap_or_default(),
                params: text_of(r.get_ref(4)?).unwrap_or_default(),
                metrics: text_of(r.get_ref(5)?),
                blob: super::rows::blob_of(r, 6)?,
            })
        };
        let row = match version {
            None => conn
                .query_row(&format!("{select} AND active = 1"), [name], read)
                .optional()
                .map_err(stored)?,
            Some(v) => conn
                .query_row(&format!("{select} AND version = ?2"), params![name, v], read)
                .optional()
                .map_err(stored)?,
        };
        let Some(row) = row else { return Err(super::missing(conn, name, version)?) };
        let key = self.key(conn)?;
        let plain = envelope::open(&key.key, &key.binding(name, &row.kind, row.version), &row.blob)?;
        // Decoded (and so checked) before it leaves: a bundle never carries a model this build
        // could not use, and a model of a newer format gives the upgrade message here.
        let model = decode(name, &plain)?;
        let mut log = Vec::new();
        if tables::exists(conn, "ml_training_log")? {
            let mut stmt = conn.prepare(
                "SELECT epoch, loss, val_loss, metric, seconds FROM main.ml_training_log
                 WHERE name = ?1 COLLATE BINARY AND version = ?2 ORDER BY epoch",
            )?;
            let mut q = stmt.query(params![name, row.version])?;
            while let Some(r) = q.next()? {
                // Rows sqlml could not have written (epochs that are not positive 32-bit
                // integers) stay behind.
                let Some(epoch) = r.get::<_, i64>(0).ok().and_then(|e| u32::try_from(e).ok()) else {
                    continue;
                };
                log.push(LogRow {
                    epoch,
                    loss: number_of(r.get_ref(1)?),
                    val_loss: number_of(r.get_ref(2)?),
                    metric: number_of(r.get_ref(3)?),
                    seconds: number_of(r.get_ref(4)?),
                });
            }
        }
        log.dedup_by_key(|r| r.epoch);
        let info = BundleInfo {
            name: name.to_string(),
            version: row.version,
            kind: model.kind().to_string(),
            algorithm: model.algorithm(),
            rows: row.rows,
            created_at: row.created_at,
            params: row.params,
            metrics: row.metrics,
            log,
        };
        seal(passphrase, self.config.kdf, &info, &plain)
    }

    /// `ml_import`: opens `bundle` with `passphrase` (see [`open`]) and stores its model as the
    /// next version of `name` under this database's key (created from `SQLML_KEY` on a
    /// database without one, as training does), active, with the bundle's parameters,
    /// metrics and training log. All or nothing. Returns the new version.
    pub fn import(&self, conn: &Connection, name: &str, bundle: &[u8], passphrase: &[u8]) -> Result<i64> {
        check_name(name)?;
        // The key is found (or a new one prepared) before the bundle's key derivation, and a
        // new key is written with the model, in one transaction.
        let key = self.write_key(conn)?;
        let opened = open(bundle, passphrase)?;
        let info = &opened.info;
        let log: Vec<EpochLog> = info
            .log
            .iter()
            .map(|r| EpochLog {
                epoch: r.epoch,
                // NaN is stored as NULL by SQLite, as the missing value was.
                loss: r.loss.unwrap_or(f64::NAN),
                val_loss: r.val_loss,
                metric: r.metric,
                seconds: r.seconds.unwrap_or(f64::NAN),
            })
            .collect();
        let kind = opened.model.kind();
        self.insert_model(
            conn,
            &key,
            NewModel {
                name,
                kind,
                algorithm: &info.algorithm,
                rows: usize::try_from(info.rows).unwrap_or(0),
                params: &info.params,
                metrics: info.metrics.as_deref().unwrap_or("{}"),
                model: opened.model,
                log: &log,
                activate: true,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams { m_cost: 64, t_cost: 1, p_cost: 1 };

    fn info() -> BundleInfo {
        BundleInfo {
            name: "m".into(),
            version: 3,
            kind: "text".into(),
            algorithm: "multinomial".into(),
            rows: 16,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            params: "{}".into(),
            metrics: None,
            log: vec![],
        }
    }

    #[test]
    fn header_is_checked_before_the_key_is_derived() {
        let plain = postcard::to_stdvec(&1u32).unwrap();
        let b = seal(b"pw", FAST, &info(), &plain).unwrap();
        assert_eq!(&b[..4], MAGIC);
        assert_eq!(
            b.len(),
            HEADER_LEN + 4 + postcard::to_stdvec(&info()).unwrap().len() + plain.len() + TAG_LEN
        );
        // The plaintext is a bare format version: the model does not decode.
        assert!(
            open_with(&b, b"pw", FAST).unwrap_err().to_string().starts_with("argument 'bundle' is damaged")
        );
        assert_eq!(open_with(&b, b"px", FAST).unwrap_err().to_string(), wrong_key().to_string());
        let mut huge = b.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            open(&huge, b"pw")
                .unwrap_err()
                .to_string()
                .contains("its Argon2id memory must be from 8 to 262144 KiB, got 4294967295")
        );
        let mut newer = b.clone();
        newer[4] = 2;
        assert!(
            open(&newer, b"pw")
                .unwrap_err()
                .to_string()
                .contains("bundle format 2; this build reads up to 1")
        );
        let mut newer_model = b.clone();
        newer_model[20..24].copy_from_slice(&(SCHEMA_VERSION + 1).to_le_bytes());
        let newer_message = format!("holds a model of format {}", SCHEMA_VERSION + 1);
        assert!(open(&newer_model, b"pw").unwrap_err().to_string().contains(&newer_message));
        assert!(open(&b[..10], b"pw").unwrap_err().to_string().contains("shorter than the shortest bundle"));
        assert!(open(b"SQML", b"pw").unwrap_err().to_string().contains("not a model bundle"));
        assert!(
            open_with(&b, b"pw", KdfParams { m_cost: 8, ..FAST }).unwrap_err().to_string().contains("limit")
        );
    }

    /// An authentic bundle whose plaintext is `plain` (written as is).
    fn raw(schema: u32, plain: &[u8]) -> Vec<u8> {
        seal_raw(b"pw", FAST, schema, plain.len(), |buf| {
            buf.extend_from_slice(plain);
            Ok(())
        })
        .unwrap()
    }

    #[test]
    fn metadata_lengths_are_bounded_before_memory_is_taken() {
        // A metadata length above the limit, in an authentic bundle.
        let mut plain = ((MAX_META_LEN + 1) as u32).to_le_bytes().to_vec();
        plain.extend_from_slice(&[0; 8]);
        let e = open_with(&raw(1, &plain), b"pw", FAST).unwrap_err().to_string();
        assert!(e.contains(&format!("its metadata length {} is above the limit", MAX_META_LEN + 1)), "{e}");
        // A training log of more rows than the bound (5 bytes each).
        let mut meta = postcard::to_stdvec(&info()).unwrap();
        meta.pop(); // the empty log's length 0
        let n = MAX_LOG_ROWS as u32 + 1;
        meta.extend_from_slice(&postcard::to_stdvec(&n).unwrap());
        for _ in 0..n {
            meta.extend_from_slice(&[1, 0, 0, 0, 0]);
        }
        let mut plain = (meta.len() as u32).to_le_bytes().to_vec();
        plain.extend_from_slice(&meta);
        plain.extend_from_slice(&postcard::to_stdvec(&1u32).unwrap());
        let e = open_with(&raw(1, &plain), b"pw", FAST).unwrap_err().to_string();
        assert!(e.contains("its training log is longer than 2000000 rows"), "{e}");
        // One that claims 5 rows and holds 2: a plain decoding error, nothing reserved.
        let mut meta = postcard::to_stdvec(&info()).unwrap();
        meta.pop();
        meta.push(5);
        meta.extend_from_slice(
            &postcard::to_stdvec(&LogRow {
                epoch: 1,
                loss: None,
                val_loss: None,
                metric: None,
                seconds: None,
            })
            .unwrap(),
        );
        let mut plain = (meta.len() as u32).to_le_bytes().to_vec();
        plain.extend_from_slice(&meta);
        let e = open_with(&raw(1, &plain), b"pw", FAST).unwrap_err().to_string();
        assert!(e.contains("its metadata does not decode"), "{e}");
        // Sealing refuses what opening would.
        let mut long = info();
        long.log = (1..=MAX_LOG_ROWS as u32 + 1)
            .map(|epoch| LogRow { epoch, loss: None, val_loss: None, metric: None, seconds: None })
            .collect();
        let e = seal(b"pw", FAST, &long, &postcard::to_stdvec(&1u32).unwrap()).unwrap_err().to_string();
        assert!(e.contains("training log has 2000001 rows; a bundle holds at most 2000000"), "{e}");
    }

    #[test]
    fn the_model_format_must_be_the_headers() {
        let meta = postcard::to_stdvec(&info()).unwrap();
        let mut plain = (meta.len() as u32).to_le_bytes().to_vec();
        plain.extend_from_slice(&meta);
        plain.extend_from_slice(&postcard::to_stdvec(&2u32).unwrap());
        let e = open_with(&raw(1, &plain), b"pw", FAST).unwrap_err().to_string();
        assert!(e.contains("the model says format 2 but the header says format 1"), "{e}");
    }
}
