//! `ml_predict`, `ml_predict_proba` and `ml_explain`: `(name, input...)`.
//!
//! The model is looked up, decrypted and decoded once per statement (SQLite auxdata on the name
//! argument) and kept per connection by row id, so per-row work is only the model's own.

use super::args::{connection, fail, run, text, to_sql, with_inputs};
use crate::store::{LoadedModel, Session};
use rusqlite::Connection;
use rusqlite::functions::Context;
use std::fmt::Write;
use std::sync::Arc;

/// The model named by argument 0, from the statement's auxdata when possible.
fn model(session: &Session, ctx: &Context<'_>, func: &'static str) -> rusqlite::Result<Arc<LoadedModel>> {
    let load = || -> rusqlite::Result<Arc<LoadedModel>> {
        run(func, || {
            let name = text(ctx, 0, "name")?;
            let conn = connection(ctx, func)?;
            session.load_active(&conn, &name)
        })
    };
    if !session.caches_models() {
        return load();
    }
    let cached: Arc<Arc<LoadedModel>> = ctx.get_or_create_aux(0, |_| load())?;
    Ok(Arc::clone(&cached))
}

fn need_input(ctx: &Context<'_>, func: &str) -> rusqlite::Result<()> {
    if ctx.len() < 2 {
        return Err(fail(
            func,
            crate::Error::argument(
                "expected the model name and at least one input, got only the name".to_string(),
            ),
        ));
    }
    Ok(())
}

/// `{"label": p, ...}` in class order.
fn proba_json(p: &[(crate::models::Value, f64)]) -> String {
    let mut out = String::with_capacity(16 * p.len() + 2);
    out.push('{');
    for (i, (label, prob)) in p.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let key = serde_json::to_string(&label.to_key()).unwrap_or_else(|_| "\"?\"".into());
        let _ = write!(
            out,
            "{key}:{}",
            serde_json::Number::from_f64(*prob).map_or("null".into(), |n| n.to_string())
        );
    }
    out.push('}');
    out
}

pub fn register(conn: &Connection, session: &Arc<Session>) -> rusqlite::Result<()> {
    let s = session.clone();
    conn.create_scalar_function("ml_predict", -1, super::direct_only(), move |ctx| {
        need_input(ctx, "ml_predict")?;
        let m = model(&s, ctx, "ml_predict")?;
        run("ml_predict", || with_inputs(ctx, 1, |x| Ok(to_sql(m.model.predict(x)?))))
    })?;
    let s = session.clone();
    conn.create_scalar_function("ml_predict_proba", -1, super::direct_only(), move |ctx| {
        need_input(ctx, "ml_predict_proba")?;
        let m = model(&s, ctx, "ml_predict_proba")?;
        run("ml_predict_proba", || with_inputs(ctx, 1, |x| Ok(proba_json(&m.model.predict_proba(x)?))))
    })?;
    let s = session.clone();
    conn.create_scalar_function("ml_explain", -1, super::direct_only(), move |ctx| {
        need_input(ctx, "ml_explain")?;
        let m = model(&s, ctx, "ml_explain")?;
        run("ml_explain", || with_inputs(ctx, 1, |x| Ok(m.model.explain(x)?.to_string())))
    })?;
    Ok(())
}
