//! `ml_version()` and `ml_debug()`.

use rusqlite::Connection;

/// `v` + the crate version.
pub fn version() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

/// Build and runtime facts, one `Key: value` per line. Never includes key material.
pub fn debug() -> String {
    let features = if cfg!(feature = "zh") { "zh" } else { "" };
    format!(
        "Version: {}\nSQLite: {}\nFeatures: {}\nKinds: {}\nModel format: {}\nEnvelope: {} (XChaCha20-Poly1305, Argon2id + HKDF-SHA256, postcard)",
        version(),
        rusqlite::version(),
        features,
        crate::models::KINDS.join(", "),
        crate::models::SCHEMA_VERSION,
        crate::store::envelope::ENVELOPE_VERSION,
    )
}

pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function("ml_version", 0, super::pure(), |_| Ok(version()))?;
    conn.create_scalar_function("ml_debug", 0, super::pure(), |_| Ok(debug()))?;
    Ok(())
}
