//! The versioned envelope around every stored model.
//!
//! Layout (little-endian), 60-byte header followed by ciphertext ‖ 16-byte tag:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | magic `SQML` |
//! | 4 | 1 | envelope version (1) |
//! | 5 | 1 | AEAD id (1 = XChaCha20-Poly1305) |
//! | 6 | 1 | KDF id (1 = HKDF-SHA256 from the database master key) |
//! | 7 | 1 | codec id (1 = postcard) |
//! | 8 | 12 | reserved for direct-Argon2 export (zero) |
//! | 20 | 16 | salt of the per-blob key |
//! | 36 | 24 | nonce |
//!
//! The associated data is the whole header plus the length-prefixed model name, kind, the
//! version and the database id, so a blob copied to another row, model or database fails.

use super::crypto::{MasterKey, random};
use crate::models::memory;
use crate::{Error, Result};
use zeroize::Zeroizing;

const MAGIC: &[u8; 4] = b"SQML";
/// The envelope version this build writes and the highest it reads.
pub const ENVELOPE_VERSION: u8 = 1;
const AEAD_XCHACHA20_POLY1305: u8 = 1;
const KDF_HKDF_SHA256: u8 = 1;
const CODEC_POSTCARD: u8 = 1;
const HEADER_LEN: usize = 60;
/// Where the nonce starts in a blob.
pub const NONCE_OFFSET: usize = 36;
/// The nonce's length.
pub const NONCE_LEN: usize = 24;

/// The nonce of `blob`, if it is long enough to hold one.
pub fn nonce(blob: &[u8]) -> Option<[u8; NONCE_LEN]> {
    blob.get(NONCE_OFFSET..NONCE_OFFSET + NONCE_LEN)?.try_into().ok()
}
const BLOB_INFO: &[u8] = b"sqlml/blob/v1";

/// What a blob is bound to: decrypting it anywhere else fails.
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    /// Model name.
    pub name: &'a str,
    /// Model kind (`text`, `classifier`, `recommender`).
    pub kind: &'a str,
    /// Model version.
    pub version: i64,
    /// The database id from `ml_meta`.
    pub db_id: &'a [u8],
}

fn aad(header: &[u8], b: &Binding<'_>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + b.name.len() + b.kind.len() + 40);
    aad.extend_from_slice(header);
    for part in [b.name.as_bytes(), b.kind.as_bytes()] {
        aad.extend_from_slice(&(part.len() as u32).to_le_bytes());
        aad.extend_from_slice(part);
    }
    aad.extend_from_slice(&b.version.to_le_bytes());
    aad.extend_from_slice(&(b.db_id.len() as u32).to_le_bytes());
    aad.extend_from_slice(b.db_id);
    aad
}

/// Encrypts a model's plaintext into a blob bound to `binding`. Fails only when the memory
/// for the blob is refused.
pub fn seal(key: &MasterKey, binding: &Binding<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
    seal_with(key, binding, plaintext.len(), |blob| {
        blob.extend_from_slice(plaintext);
        Ok(())
    })
}

/// The length of the blob [`seal_with`] makes of a plaintext of `plaintext` bytes (None if it
/// does not fit in memory's sizes).
pub fn sealed_len(plaintext: usize) -> Option<usize> {
    HEADER_LEN.checked_add(plaintext)?.checked_add(16)
}

/// [`seal`] of the plaintext that `write` appends to the buffer it is given (for example a
/// serializer), encrypted in place. `size_hint` is the plaintext length, for the initial
/// capacity: give the exact length, or a buffer that grows leaves unwiped plaintext behind in
/// the memory it frees (the final buffer is wiped if `write` fails). Errors are those of
/// `write`.
pub fn seal_with(
    key: &MasterKey,
    binding: &Binding<'_>,
    size_hint: usize,
    write: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<Vec<u8>> {
    let salt = random::<16>();
    let nonce = random::<24>();
    let total = sealed_len(size_hint);
    let mut blob = Vec::new();
    total
        .and_then(|n| blob.try_reserve_exact(n).ok())
        .ok_or_else(|| memory::refused(HEADER_LEN as f64 + size_hint as f64 + 16.0, "the encrypted model"))?;
    blob.extend_from_slice(MAGIC);
    blob.extend_from_slice(&[ENVELOPE_VERSION, AEAD_XCHACHA20_POLY1305, KDF_HKDF_SHA256, CODEC_POSTCARD]);
    blob.extend_from_slice(&[0u8; 12]);
    blob.extend_from_slice(&salt);
    blob.extend_from_slice(&nonce);
    let aad = aad(&blob, binding);
    // The plaintext is wiped if `write` fails before it is encrypted.
    let capacity = blob.capacity();
    let mut guard = Zeroizing::new(blob);
    write(&mut guard)?;
    debug_assert_eq!(guard.capacity(), capacity, "size_hint was short: the plaintext buffer grew");
    key.seal_in_place(&salt, BLOB_INFO, &nonce, &aad, &mut guard, HEADER_LEN);
    Ok(std::mem::take(&mut *guard))
}

/// Decrypts a blob. Every failure of authenticity gives the one fixed message
/// `cannot decrypt model 'NAME': wrong key or corrupted data`; a blob from a newer build gives
/// the upgrade message.
pub fn open(key: &MasterKey, binding: &Binding<'_>, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let fail = || Error::Decrypt(binding.name.to_string());
    if blob.len() < HEADER_LEN + 16 || &blob[..4] != MAGIC {
        return Err(fail());
    }
    if blob[4] > ENVELOPE_VERSION {
        return Err(Error::FormatVersion {
            name: binding.name.to_string(),
            found: u32::from(blob[4]),
            supported: u32::from(ENVELOPE_VERSION),
        });
    }
    if blob[5] != AEAD_XCHACHA20_POLY1305 || blob[6] != KDF_HKDF_SHA256 || blob[7] != CODEC_POSTCARD {
        return Err(fail());
    }
    let header = &blob[..HEADER_LEN];
    let salt = &header[20..36];
    let nonce: [u8; 24] = header[36..60].try_into().map_err(|_| fail())?;
    key.open(salt, BLOB_INFO, &nonce, &aad(header, binding), &blob[HEADER_LEN..]).ok_or_else(fail)
}

#[cfg(test)]
mod tests {
    use super::super::crypto::KdfParams;
    use super::*;

    fn key(p: &[u8]) -> MasterKey {
        MasterKey::derive(p, b"0123456789abcdef", KdfParams { m_cost: 64, t_cost: 1, p_cost: 1 }).unwrap()
    }

    #[test]
    fn bound_to_name_kind_version_and_database() {
        let k = key(b"pw");
        let b = Binding { name: "spam", kind: "text", version: 3, db_id: b"db1" };
        let blob = seal(&k, &b, b"plaintext").unwrap();
        assert_eq!(open(&k, &b, &blob).unwrap().as_slice(), b"plaintext");
        let msg = "cannot decrypt model 'spam': wrong key or corrupted data";
        for other in [
            Binding { name: "spam2", ..b },
            Binding { kind: "classifier", ..b },
            Binding { version: 4, ..b },
            Binding { db_id: b"db2", ..b },
        ] {
            let e = open(&k, &other, &blob).unwrap_err().to_string();
            assert!(e.starts_with("cannot decrypt model"), "{e}");
        }
        assert_eq!(open(&key(b"px"), &b, &blob).unwrap_err().to_string(), msg);
        for i in [0, 5, 20, 40, 60, blob.len() - 1] {
            let mut t = blob.clone();
            t[i] ^= 0x40;
            assert_eq!(open(&k, &b, &t).unwrap_err().to_string(), msg, "byte {i}");
        }
        assert_eq!(open(&k, &b, &blob[..30]).unwrap_err().to_string(), msg);
    }

    #[test]
    fn newer_envelope_asks_for_upgrade() {
        let k = key(b"pw");
        let b = Binding { name: "m", kind: "text", version: 1, db_id: b"" };
        let mut blob = seal(&k, &b, b"x").unwrap();
        blob[4] = 9;
        assert_eq!(
            open(&k, &b, &blob).unwrap_err().to_string(),
            "model 'm' has format version 9; this build reads up to 1 (upgrade the extension)"
        );
    }

    #[test]
    fn a_size_beyond_memory_is_an_error_not_an_abort() {
        let k = key(b"pw");
        let b = Binding { name: "m", kind: "text", version: 1, db_id: b"db" };
        for size in [usize::MAX, usize::MAX / 2] {
            let e = seal_with(&k, &b, size, |_| Ok(())).unwrap_err().to_string();
            assert!(e.contains("cannot allocate") && e.contains("for the encrypted model"), "{e}");
        }
    }
}
