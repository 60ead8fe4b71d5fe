//! Target `bundle`: `ml_import`'s opener on whole bundles and on sealed plaintexts.

use super::decode::decode_model;
use super::exercise::exercise;
use super::seeds::Seed;
use crate::Result;
use crate::models::SCHEMA_VERSION;
use crate::store::crypto::KdfParams;

/// The passphrase of the `bundle` target's bundles.
pub(super) const BUNDLE_PASS: &[u8] = b"fuzz bundle passphrase";
/// The Argon2id costs the `bundle` target seals with.
const BUNDLE_KDF: KdfParams = KdfParams { m_cost: 64, t_cost: 1, p_cost: 1 };
/// The highest costs the `bundle` target opens. A real bundle may ask for up to 256 MiB and
/// 16 passes (seconds: bounded, and checked before hashing, but too slow to fuzz); above
/// these the header check refuses it, as it refuses costs above the real bounds.
pub(super) const BUNDLE_CEILING: KdfParams = KdfParams { m_cost: 1024, t_cost: 2, p_cost: 4 };

/// A bundle of the `bundle` target: `plaintext` (metadata length ‖ metadata ‖ model
/// plaintext) sealed with the fixed passphrase, its header saying model format `schema`.
pub fn seal_bundle(schema: u32, plaintext: &[u8]) -> Result<Vec<u8>> {
    crate::store::bundle::seal_raw(BUNDLE_PASS, BUNDLE_KDF, schema, plaintext.len(), |buf| {
        buf.extend_from_slice(plaintext);
        Ok(())
    })
}

/// The plaintext of a bundle of a seed model (metadata length ‖ metadata ‖ model plaintext).
pub fn bundle_plaintext(seed: &Seed) -> Vec<u8> {
    let algorithm = decode_model(&seed.plain).map(|m| m.algorithm()).unwrap_or_default();
    let info = crate::store::bundle::BundleInfo {
        name: seed.name.to_string(),
        version: 1,
        kind: seed.kind.to_string(),
        algorithm,
        rows: 16,
        created_at: "2026-01-01T00:00:00.000Z".into(),
        params: r#"{"source": "t", "target": "label"}"#.into(),
        metrics: Some(r#"{"accuracy": 0.5}"#.into()),
        log: vec![crate::store::bundle::LogRow {
            epoch: 1,
            loss: Some(0.5),
            val_loss: None,
            metric: Some(0.25),
            seconds: Some(0.01),
        }],
    };
    let meta = postcard::to_stdvec(&info).expect("seed metadata encodes");
    let mut out = (meta.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&meta);
    out.extend_from_slice(&seed.plain);
    out
}

/// Target `bundle` (`ml_import`'s opener): the first byte says how the rest is used.
/// Even: the rest is a whole bundle, opened with the fixed passphrase (header checks, key
/// derivation, authentication; a random bundle rarely gets further). Odd: the rest is a
/// bundle's plaintext, sealed with the fixed passphrase and then opened, so that the checks
/// after authentication (metadata length, metadata, model format, model, their agreement)
/// see arbitrary bytes; the header says model format 1, or (bit 1 set) the first byte's
/// upper bits. A bundle that opens has its model used ([`exercise`]).
pub fn bundle(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let opened = if mode % 2 == 0 {
        crate::store::bundle::open_with(rest, BUNDLE_PASS, BUNDLE_CEILING)
    } else {
        let schema = if mode & 2 == 0 { SCHEMA_VERSION } else { u32::from(mode >> 2) };
        let Ok(sealed) = seal_bundle(schema, rest) else { return };
        crate::store::bundle::open_with(&sealed, BUNDLE_PASS, BUNDLE_CEILING)
    };
    if let Ok(opened) = opened {
        exercise(&opened.model);
    }
}
