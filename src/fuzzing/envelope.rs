//! Target `envelope`: blobs opened with a fixed key and binding.

use super::decode::decode;
use crate::store::crypto::{KdfParams, MasterKey};
use crate::store::envelope::{self, Binding};
use std::sync::OnceLock;

pub(super) fn key() -> &'static MasterKey {
    static KEY: OnceLock<MasterKey> = OnceLock::new();
    KEY.get_or_init(|| {
        MasterKey::derive(
            b"fuzz passphrase",
            b"fuzz-salt-16byte",
            KdfParams { m_cost: 64, t_cost: 1, p_cost: 1 },
        )
        .expect("fixed key parameters are valid")
    })
}

/// The fixed binding of the `envelope` target's blobs.
pub fn binding() -> Binding<'static> {
    Binding { name: "fuzz", kind: "text", version: 1, db_id: b"fuzz-database-id" }
}

/// Seals `plain` with the fixed key and binding (seed blobs of the `envelope` target).
pub fn seal(plain: &[u8]) -> Vec<u8> {
    envelope::seal(key(), &binding(), plain).expect("a small blob is sealed")
}

/// Target `envelope`: opens `blob` with the fixed key and binding; a blob that opens is
/// decoded and the model used.
pub fn envelope(blob: &[u8]) {
    if let Ok(plain) = envelope::open(key(), &binding(), blob) {
        decode(&plain);
    }
}
