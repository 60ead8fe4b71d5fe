//! Typed access to SQL arguments, with errors that name the function and the argument.

use super::origin;
use crate::Error;
use crate::models::{Input, memory};
use rusqlite::functions::Context;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};

/// The longest error message sqlml returns, in bytes. Messages quote user values clipped to
/// [`crate::error::QUOTE_LIMIT`] characters; this is the last guard, for text that SQLite or a
/// dependency put into a message.
const MESSAGE_LIMIT: usize = 2000;

/// Turns an sqlml error into the SQL error `func: message`.
pub fn fail(func: &str, e: Error) -> rusqlite::Error {
    // A NUL would make rusqlite report SQLITE_CONSTRAINT and lose the message.
    let mut message = format!("{func}: {e}").replace('\0', "\\0");
    if message.len() > MESSAGE_LIMIT {
        let mut end = MESSAGE_LIMIT;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("… (message cut)");
    }
    rusqlite::Error::UserFunctionError(message.into())
}

/// Runs `f` as the sqlml call `func` and prefixes any error with the function name. Refused
/// while another sqlml call runs on this thread (see [`origin::enter`]).
pub fn run<T>(func: &'static str, f: impl FnOnce() -> crate::Result<T>) -> rusqlite::Result<T> {
    let call = || {
        let _running = origin::enter(func)?;
        f()
    };
    call().map_err(|e| fail(func, e))
}

/// The connection running this call, once the call is known to come from the SQL being run
/// (not from the database schema: see [`origin::top_level`]).
pub fn connection<'c>(
    ctx: &'c Context<'_>,
    func: &str,
) -> crate::Result<rusqlite::functions::ConnectionRef<'c>> {
    // SAFETY: the connection is used only on this thread, during this call.
    let conn = unsafe { ctx.get_connection()? };
    origin::top_level(&conn, func)?;
    Ok(conn)
}

fn type_name(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "integer",
        ValueRef::Real(_) => "real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "blob",
    }
}

/// Argument `i` (named `name`) as non-empty text.
pub fn text(ctx: &Context<'_>, i: usize, name: &str) -> crate::Result<String> {
    match opt_text(ctx, i, name)? {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(Error::argument(format!("argument '{name}' must be a non-empty text, got ''"))),
        None => Err(Error::argument(format!("argument '{name}' must be text, got NULL"))),
    }
}

/// Argument `i` as text, or None for NULL or a missing argument.
pub fn opt_text(ctx: &Context<'_>, i: usize, name: &str) -> crate::Result<Option<String>> {
    if i >= ctx.len() {
        return Ok(None);
    }
    match ctx.get_raw(i) {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => {
            let s = simdutf8::basic::from_utf8(t)
                .map_err(|_| Error::argument(format!("argument '{name}' is not valid UTF-8")))?;
            // Fallibly: an argument may be up to a gigabyte.
            let mut owned = String::new();
            owned
                .try_reserve_exact(s.len())
                .map_err(|_| memory::refused(s.len() as f64, &format!("argument '{name}'")))?;
            owned.push_str(s);
            Ok(Some(owned))
        }
        other => Err(Error::argument(format!("argument '{name}' must be text, got {}", type_name(other)))),
    }
}

/// Argument `i` as an integer.
pub fn integer(ctx: &Context<'_>, i: usize, name: &str) -> crate::Result<i64> {
    match ctx.get_raw(i) {
        ValueRef::Integer(v) => Ok(v),
        ValueRef::Real(r) if r.fract() == 0.0 && r.abs() < 9e15 => Ok(r as i64),
        other => {
            Err(Error::argument(format!("argument '{name}' must be an integer, got {}", type_name(other))))
        }
    }
}

/// One SQL value as a model input; `position` (1-based) names it if its text is not UTF-8.
pub fn input(v: ValueRef<'_>, position: usize) -> crate::Result<Input<'_>> {
    Ok(match v {
        ValueRef::Null => Input::Null,
        ValueRef::Integer(v) => Input::Integer(v),
        ValueRef::Real(v) => Input::Real(v),
        ValueRef::Text(t) => {
            // SIMD validation: several times faster than `std::str::from_utf8` on non-ASCII
            // text (a Chinese review is ~370 bytes of 3-byte characters).
            Input::Text(simdutf8::basic::from_utf8(t).map_err(|_| {
                Error::argument(format!("argument {position} is text that is not valid UTF-8"))
            })?)
        }
        ValueRef::Blob(b) => Input::Blob(b),
    })
}

/// Arguments `from..` as model inputs, given to `f`: on the stack up to [`STACK_INPUTS`]
/// of them (a per-row call allocates nothing), else in a vector.
pub fn with_inputs<T>(
    ctx: &Context<'_>,
    from: usize,
    f: impl FnOnce(&[Input<'_>]) -> crate::Result<T>,
) -> crate::Result<T> {
    let n = ctx.len().saturating_sub(from);
    if n > STACK_INPUTS {
        let inputs =
            (from..ctx.len()).map(|i| input(ctx.get_raw(i), i + 1)).collect::<crate::Result<Vec<_>>>()?;
        return f(&inputs);
    }
    let mut inputs = [Input::Null; STACK_INPUTS];
    for (slot, i) in inputs.iter_mut().zip(from..ctx.len()) {
        *slot = input(ctx.get_raw(i), i + 1)?;
    }
    f(&inputs[..n])
}

/// Most arguments [`with_inputs`] holds on the stack.
pub const STACK_INPUTS: usize = 32;

/// A model value as an SQL value.
pub fn sql_value(v: crate::models::Value) -> SqlValue {
    use crate::models::Value;
    match v {
        Value::Null => SqlValue::Null,
        Value::Integer(i) => SqlValue::Integer(i),
        Value::Real(r) => SqlValue::Real(r),
        Value::Text(t) => SqlValue::Text(t),
    }
}

/// A model value as an SQL result.
pub fn to_sql(v: crate::models::Value) -> ToSqlOutput<'static> {
    ToSqlOutput::Owned(sql_value(v))
}
