//! `ml_prune(name, keep)`, `ml_export(name [, version], passphrase)` and
//! `ml_import(name, bundle, passphrase)`.

use super::args::{connection, integer, run, text};
use crate::Error;
use crate::store::Session;
use rusqlite::Connection;
use rusqlite::functions::Context;
use rusqlite::types::ValueRef;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Argument `i` as a version, or None for NULL (the active version).
fn opt_version(ctx: &Context<'_>, i: usize) -> crate::Result<Option<i64>> {
    match ctx.get_raw(i) {
        ValueRef::Null => Ok(None),
        _ => integer(ctx, i, "version").map(Some),
    }
}

/// Argument `i` as the bytes of a bundle (a blob), borrowed from SQLite.
fn bundle<'a>(ctx: &'a Context<'_>, i: usize) -> crate::Result<&'a [u8]> {
    match ctx.get_raw(i) {
        ValueRef::Blob(b) => Ok(b),
        other => {
            let got = match other {
                ValueRef::Null => "NULL",
                ValueRef::Integer(_) => "an integer",
                ValueRef::Real(_) => "a real",
                _ => "text",
            };
            Err(Error::argument(format!("argument 'bundle' must be a blob made by ml_export, got {got}")))
        }
    }
}

pub fn register(conn: &Connection, session: &Arc<Session>) -> rusqlite::Result<()> {
    let s = session.clone();
    conn.create_scalar_function("ml_prune", 2, super::direct_only(), move |ctx| {
        run("ml_prune", || {
            let name = text(ctx, 0, "name")?;
            let keep = integer(ctx, 1, "keep")?;
            let keep = usize::try_from(keep).map_err(|_| {
                Error::argument(format!("argument 'keep' must be a non-negative integer, got {keep}"))
            })?;
            let conn = connection(ctx, "ml_prune")?;
            Ok(s.prune(&conn, &name, keep)? as i64)
        })
    })?;
    for n_arg in [2, 3] {
        let s = session.clone();
        conn.create_scalar_function("ml_export", n_arg, super::direct_only(), move |ctx| {
            run("ml_export", || {
                let name = text(ctx, 0, "name")?;
                let version = if n_arg == 3 { opt_version(ctx, 1)? } else { None };
                let pass = Zeroizing::new(text(ctx, n_arg as usize - 1, "passphrase")?);
                let conn = connection(ctx, "ml_export")?;
                s.export(&conn, &name, version, pass.as_bytes())
            })
        })?;
    }
    let s = session.clone();
    conn.create_scalar_function("ml_import", 3, super::direct_only(), move |ctx| {
        run("ml_import", || {
            let name = text(ctx, 0, "name")?;
            let bundle = bundle(ctx, 1)?;
            let pass = Zeroizing::new(text(ctx, 2, "passphrase")?);
            let conn = connection(ctx, "ml_import")?;
            s.import(&conn, &name, bundle, pass.as_bytes())
        })
    })?;
    Ok(())
}
