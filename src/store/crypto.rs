//! Key derivation and authenticated encryption of model blobs.
//!
//! Passphrase → Argon2id (once per connection) → 32-byte master key; master key + per-blob
//! salt → HKDF-SHA256 → blob key; XChaCha20-Poly1305 with a random 24-byte nonce. Every key
//! lives in [`Zeroizing`] memory and no type here prints key material in `Debug`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Argon2id cost parameters (OWASP minimum: 19 MiB, 2 passes, 1 lane).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// Largest accepted memory cost: 256 MiB, in KiB. With the largest pass and lane counts
    /// this bounds one key derivation to a few seconds and 256 MiB, whatever a file says.
    pub const MAX_M_COST: u32 = 256 * 1024;
    /// Largest accepted number of passes.
    pub const MAX_T_COST: u32 = 16;
    /// Largest accepted number of lanes.
    pub const MAX_P_COST: u32 = 16;

    /// Checks every cost against its allowed range (before any memory is taken), naming the
    /// `ml_meta` field and the range on failure.
    pub fn check(&self) -> Result<(), String> {
        self.check_as(["field 'kdf_m_cost'", "field 'kdf_t_cost'", "field 'kdf_p_cost'"])
    }

    /// [`KdfParams::check`] naming the memory, passes and lanes costs as `names` say.
    pub fn check_as(&self, names: [&str; 3]) -> Result<(), String> {
        let range = |field: &str, v: u32, lo: u32, hi: u32, unit: &str| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("{field} must be from {lo} to {hi}{unit}, got {v}"))
            }
        };
        range(names[2], self.p_cost, 1, Self::MAX_P_COST, " lanes")?;
        range(names[1], self.t_cost, 1, Self::MAX_T_COST, " passes")?;
        range(names[0], self.m_cost, 8 * self.p_cost, Self::MAX_M_COST, " KiB")
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams { m_cost: 19 * 1024, t_cost: 2, p_cost: 1 }
    }
}

/// A 32-byte key that zeroes itself when dropped and never prints.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Derives the master key from a passphrase with Argon2id.
    pub fn derive(passphrase: &[u8], salt: &[u8], params: KdfParams) -> Result<Self, String> {
        params.check().map_err(|e| format!("invalid key-derivation parameters: {e}"))?;
        let argon_params = argon2::Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))
            .map_err(|e| format!("invalid key-derivation parameters: {e}"))?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase, salt, out.as_mut_slice())
            .map_err(|e| format!("key derivation failed: {e}"))?;
        Ok(MasterKey(out))
    }

    /// A subkey for one purpose: HKDF-SHA256 with `salt` and `info`.
    fn subkey(&self, salt: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(Some(salt), self.0.as_slice());
        let mut okm = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        let _ = hk.expand(info, okm.as_mut_slice());
        okm
    }

    /// Encrypts `plaintext` with the subkey for (`salt`, `info`), binding `aad`.
    pub fn seal(&self, salt: &[u8], info: &[u8], nonce: &[u8; 24], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let key = self.subkey(salt, info);
        let cipher = XChaCha20Poly1305::new(&(*key).into());
        let nonce = XNonce::from(*nonce);
        // Encryption fails only for messages beyond 256 GiB; callers cap model sizes far lower.
        cipher.encrypt(&nonce, Payload { msg: plaintext, aad }).unwrap_or_default()
    }

    /// Encrypts `buffer[start..]` in place with the subkey for (`salt`, `info`), binding `aad`,
    /// and appends the tag: `buffer[start..]` ends as [`Self::seal`] of it would be, without a
    /// second copy of the message.
    pub fn seal_in_place(
        &self,
        salt: &[u8],
        info: &[u8],
        nonce: &[u8; 24],
        aad: &[u8],
        buffer: &mut Vec<u8>,
        start: usize,
    ) {
        use chacha20poly1305::aead::AeadInOut;
        let key = self.subkey(salt, info);
        let cipher = XChaCha20Poly1305::new(&(*key).into());
        let nonce = XNonce::from(*nonce);
        // As in `seal`: encryption fails only for messages beyond 256 GiB.
        if let Ok(tag) = cipher.encrypt_inout_detached(&nonce, aad, buffer[start..].as_mut().into()) {
            buffer.extend_from_slice(&tag);
        } else {
            buffer.truncate(start);
        }
    }

    /// Decrypts `buffer` (ciphertext ‖ 16-byte tag) in place with the subkey for (`salt`,
    /// `info`), checking `aad`; on success `buffer` holds the plaintext (the tag is cut off)
    /// and `true` is returned. On any authentication failure (wrong key, tampering, wrong AAD,
    /// shorter than a tag) `false`, and `buffer` holds no plaintext: the tag is checked before
    /// anything is decrypted. The caller allocates the buffer (fallibly) and wipes it.
    pub fn open_in_place(
        &self,
        salt: &[u8],
        info: &[u8],
        nonce: &[u8; 24],
        aad: &[u8],
        buffer: &mut Vec<u8>,
    ) -> bool {
        use chacha20poly1305::aead::AeadInOut;
        let Some(split) = buffer.len().checked_sub(16) else { return false };
        let Ok(tag) = <[u8; 16]>::try_from(&buffer[split..]) else { return false };
        let key = self.subkey(salt, info);
        let cipher = XChaCha20Poly1305::new(&(*key).into());
        let nonce = XNonce::from(*nonce);
        let tag = chacha20poly1305::Tag::from(tag);
        if cipher.decrypt_inout_detached(&nonce, aad, buffer[..split].as_mut().into(), &tag).is_err() {
            return false;
        }
        buffer.truncate(split);
        true
    }

    /// Decrypts; `None` on any authentication failure (wrong key, tampering, wrong AAD).
    pub fn open(
        &self,
        salt: &[u8],
        info: &[u8],
        nonce: &[u8; 24],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        let key = self.subkey(salt, info);
        let cipher = XChaCha20Poly1305::new(&(*key).into());
        let nonce = XNonce::from(*nonce);
        cipher.decrypt(&nonce, Payload { msg: ciphertext, aad }).ok().map(Zeroizing::new)
    }
}

/// Fills a buffer with operating-system randomness.
pub fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // getrandom only fails when the OS has no entropy source at all; there is no safe fallback.
    getrandom::fill(&mut out).expect("operating system random number generator unavailable");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> KdfParams {
        KdfParams { m_cost: 64, t_cost: 1, p_cost: 1 }
    }

    #[test]
    fn round_trip_and_rejections() {
        let key = MasterKey::derive(b"secret", b"0123456789abcdef", fast()).unwrap();
        let other = MasterKey::derive(b"Secret", b"0123456789abcdef", fast()).unwrap();
        let nonce = random::<24>();
        let ct = key.seal(b"salt", b"info", &nonce, b"aad", b"hello model");
        let mut in_place = b"head".to_vec();
        in_place.extend_from_slice(b"hello model");
        key.seal_in_place(b"salt", b"info", &nonce, b"aad", &mut in_place, 4);
        assert_eq!((&in_place[..4], &in_place[4..]), (&b"head"[..], &ct[..]));
        assert_ne!(&ct[..11], b"hello model");
        assert_eq!(key.open(b"salt", b"info", &nonce, b"aad", &ct).unwrap().as_slice(), b"hello model");
        assert!(other.open(b"salt", b"info", &nonce, b"aad", &ct).is_none());
        assert!(key.open(b"salt", b"info", &nonce, b"AAD", &ct).is_none());
        assert!(key.open(b"salt", b"inf0", &nonce, b"aad", &ct).is_none());
        let mut tampered = ct.clone();
        tampered[3] ^= 1;
        assert!(key.open(b"salt", b"info", &nonce, b"aad", &tampered).is_none());
    }

    #[test]
    fn open_in_place_matches_open() {
        let key = MasterKey::derive(b"secret", b"0123456789abcdef", fast()).unwrap();
        let nonce = random::<24>();
        let ct = key.seal(b"salt", b"info", &nonce, b"aad", b"hello model");
        let mut buf = ct.clone();
        assert!(key.open_in_place(b"salt", b"info", &nonce, b"aad", &mut buf));
        assert_eq!(buf, b"hello model");
        for (aad, mut buf) in
            [(&b"AAD"[..], ct.clone()), (b"aad", ct[..ct.len() - 1].to_vec()), (b"aad", vec![1; 15])]
        {
            assert!(!key.open_in_place(b"salt", b"info", &nonce, aad, &mut buf));
        }
        let mut tampered = ct.clone();
        tampered[0] ^= 1;
        assert!(!key.open_in_place(b"salt", b"info", &nonce, b"aad", &mut tampered));
        assert_eq!(&tampered[1..], &ct[1..], "nothing is decrypted when the tag is wrong");
    }

    #[test]
    fn costs_are_bounded_before_hashing() {
        let huge = KdfParams { m_cost: 4_194_304, t_cost: 1, p_cost: 1 };
        let e = MasterKey::derive(b"pw", b"0123456789abcdef", huge).unwrap_err();
        assert_eq!(
            e,
            "invalid key-derivation parameters: field 'kdf_m_cost' must be from 8 to 262144 KiB, got 4194304"
        );
        let slow = KdfParams { m_cost: 64, t_cost: 1 << 31, p_cost: 1 };
        assert!(
            MasterKey::derive(b"pw", b"0123456789abcdef", slow)
                .unwrap_err()
                .contains("'kdf_t_cost' must be from 1 to 16 passes")
        );
        assert!(KdfParams { m_cost: 64, t_cost: 1, p_cost: 0 }.check().is_err());
        assert!(KdfParams::default().check().is_ok());
    }

    #[test]
    fn debug_hides_key() {
        let key = MasterKey::derive(b"secret", b"0123456789abcdef", fast()).unwrap();
        assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
    }
}
