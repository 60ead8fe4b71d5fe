//! `ml_activate(name, version)` and `ml_drop(name [, version])`.

use super::args::{connection, integer, run, text};
use crate::store::{self, Session, atomically};
use rusqlite::Connection;
use std::sync::Arc;

pub fn register(conn: &Connection, session: &Arc<Session>) -> rusqlite::Result<()> {
    conn.create_scalar_function("ml_activate", 2, super::direct_only(), |ctx| {
        run("ml_activate", || {
            let name = text(ctx, 0, "name")?;
            let version = integer(ctx, 1, "version")?;
            let conn = connection(ctx, "ml_activate")?;
            atomically(&conn, "ml_activate", || store::activate(&conn, &name, version))?;
            Ok(version)
        })
    })?;
    for n_arg in [1, 2] {
        let s = session.clone();
        conn.create_scalar_function("ml_drop", n_arg, super::direct_only(), move |ctx| {
            run("ml_drop", || {
                let name = text(ctx, 0, "name")?;
                let version = if ctx.len() > 1 { Some(integer(ctx, 1, "version")?) } else { None };
                let conn = connection(ctx, "ml_drop")?;
                let n = atomically(&conn, "ml_drop", || store::drop_model(&conn, &name, version))?;
                s.forget(&name);
                Ok(n as i64)
            })
        })?;
    }
    Ok(())
}
