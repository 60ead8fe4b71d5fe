//! `ml_unlock(passphrase)` and `ml_rekey(new_passphrase)`.

use super::args::{connection, run, text};
use crate::store::Session;
use rusqlite::Connection;
use std::sync::Arc;
use zeroize::Zeroizing;

pub fn register(conn: &Connection, session: &Arc<Session>) -> rusqlite::Result<()> {
    let s = session.clone();
    conn.create_scalar_function("ml_unlock", 1, super::direct_only(), move |ctx| {
        run("ml_unlock", || {
            let pass = Zeroizing::new(text(ctx, 0, "passphrase")?);
            let conn = connection(ctx, "ml_unlock")?;
            let created = s.unlock(&conn, pass.as_bytes())?;
            Ok(if created { "key created" } else { "unlocked" })
        })
    })?;
    let s = session.clone();
    conn.create_scalar_function("ml_rekey", 1, super::direct_only(), move |ctx| {
        run("ml_rekey", || {
            let pass = Zeroizing::new(text(ctx, 0, "new_passphrase")?);
            let conn = connection(ctx, "ml_rekey")?;
            Ok(s.rekey(&conn, pass.as_bytes())? as i64)
        })
    })?;
    Ok(())
}
