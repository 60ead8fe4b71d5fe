//! Training options: one JSON object, read key by key with typed accessors.
//!
//! Every accessor records the key as known, so [`Options::finish`] can reject unknown keys
//! with the full list of allowed ones. Type and range errors name the key and the value:
//! `option 'epochs' must be a positive integer, got -3`.

use super::control::{self, Control};
use super::memory::{self, Budget};
use crate::{Error, Result};
use serde_json::{Map, Value as Json};

/// Options given to `ml_train` (the trailing JSON object).
#[derive(Debug, Default)]
pub struct Options {
    map: Map<String, Json>,
    known: Vec<&'static str>,
}

fn show(v: &Json) -> String {
    match v {
        Json::String(s) => format!("'{}'", clip(s)),
        other => clip(&other.to_string()).into_owned(),
    }
}

/// A number for a message: plain for ordinary sizes (`0.001`, `250`), with an exponent for
/// very large or very small ones (`1e30`, `1e-320`).
pub fn show_number(v: f64) -> String {
    shown(v, v)
}

/// [`show_number`] of an `f32`, in its own shortest form (`1e30`, not `1.0000000150474662e30`).
pub fn show_f32(v: f32) -> String {
    shown(v, f64::from(v))
}

/// `v` plain, or with an exponent when its `magnitude` is very large or very small.
fn shown<T: std::fmt::Display + std::fmt::LowerExp>(v: T, magnitude: f64) -> String {
    let a = magnitude.abs();
    if a != 0.0 && a.is_finite() && !(1e-4..1e9).contains(&a) { format!("{v:e}") } else { format!("{v}") }
}

use crate::error::clip;

impl Options {
    /// Parses the options text: NULL/absent gives no options; anything but a JSON object is an
    /// error.
    pub fn parse(text: Option<&str>) -> Result<Self> {
        let Some(text) = text else {
            return Ok(Options::default());
        };
        if text.trim().is_empty() {
            return Ok(Options::default());
        }
        let value: Json = serde_json::from_str(text).map_err(|e| {
            Error::argument(format!("argument 'options' must be a JSON object, got invalid JSON: {e}"))
        })?;
        let Json::Object(map) = value else {
            return Err(Error::argument(format!(
                "argument 'options' must be a JSON object, got {}",
                show(&value)
            )));
        };
        Ok(Options { map, known: Vec::new() })
    }

    /// Builds options from a JSON map (tests and the Rust API).
    pub fn from_map(map: Map<String, Json>) -> Self {
        Options { map, known: Vec::new() }
    }

    fn take(&mut self, key: &'static str) -> Option<&Json> {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// True if the user gave `key` (marks it known).
    pub fn has(&mut self, key: &'static str) -> bool {
        self.take(key).is_some()
    }

    /// A boolean (JSON true/false, or 0/1 as SQLite's json_object writes them).
    pub fn bool(&mut self, key: &'static str, default: bool) -> Result<bool> {
        match self.take(key) {
            None => Ok(default),
            Some(Json::Bool(b)) => Ok(*b),
            Some(Json::Number(n)) if n.as_i64() == Some(0) => Ok(false),
            Some(Json::Number(n)) if n.as_i64() == Some(1) => Ok(true),
            Some(v) => Err(Error::option(key, format!("must be true or false, got {}", show(v)))),
        }
    }

    /// An integer in `min..=max`.
    pub fn int(&mut self, key: &'static str, default: i64, min: i64, max: i64) -> Result<i64> {
        let v = match self.take(key) {
            None => return Ok(default),
            Some(v) => v,
        };
        let what = if min == 1 && max == i64::MAX {
            "a positive integer".to_string()
        } else if min == 0 && max == i64::MAX {
            "a non-negative integer".to_string()
        } else if max == i64::MAX {
            format!("an integer >= {min}")
        } else {
            format!("an integer from {min} to {max}")
        };
        match v.as_i64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)) {
            Some(i) if (min..=max).contains(&i) => Ok(i),
            _ => Err(Error::option(key, format!("must be {what}, got {}", show(v)))),
        }
    }

    /// A positive integer that fits `usize`.
    pub fn positive(&mut self, key: &'static str, default: usize) -> Result<usize> {
        Ok(self.int(key, default as i64, 1, i64::MAX)? as usize)
    }

    /// A non-negative integer that fits `usize`.
    pub fn count(&mut self, key: &'static str, default: usize) -> Result<usize> {
        Ok(self.int(key, default as i64, 0, i64::MAX)? as usize)
    }

    /// A number in the range described by `lo`/`hi` (inclusive flags choose open or closed ends).
    pub fn number(&mut self, key: &'static str, default: f64, range: Range) -> Result<f64> {
        let v = match self.take(key) {
            None => return Ok(default),
            Some(v) => v,
        };
        match v.as_f64() {
            Some(f) if f.is_finite() && range.contains(f) => Ok(f),
            _ => Err(Error::option(key, format!("must be {}, got {}", range.describe(), show(v)))),
        }
    }

    /// A number as [`Options::number`] reads it, which must also fit an `f32` (the models
    /// compute in 32-bit floats: a larger value would be infinite from the first step).
    pub fn number_f32(&mut self, key: &'static str, default: f64, range: Range) -> Result<f32> {
        Ok(self.number_fits_f32(key, default, range)? as f32)
    }

    /// [`Options::number_f32`], keeping the `f64` (for a value used in `f64` arithmetic whose
    /// results are stored as `f32`).
    pub fn number_fits_f32(&mut self, key: &'static str, default: f64, range: Range) -> Result<f64> {
        let v = self.number(key, default, range)?;
        if !(v as f32).is_finite() {
            return Err(Error::option(
                key,
                format!(
                    "must be {} that fits a 32-bit float (at most {:e} in size), got {}",
                    range.describe(),
                    f32::MAX,
                    show_number(v)
                ),
            ));
        }
        Ok(v)
    }

    /// One of a fixed set of strings.
    pub fn choice(
        &mut self,
        key: &'static str,
        default: &'static str,
        allowed: &[&'static str],
    ) -> Result<&'static str> {
        let v = match self.take(key) {
            None => return Ok(default),
            Some(v) => v,
        };
        let found = v.as_str().and_then(|s| allowed.iter().find(|a| a.eq_ignore_ascii_case(s)));
        found.copied().ok_or_else(|| {
            let list = allowed.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ");
            Error::option(key, format!("must be one of {list}, got {}", show(v)))
        })
    }

    /// Any string.
    pub fn string(&mut self, key: &'static str) -> Result<Option<String>> {
        match self.take(key) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(Error::option(key, format!("must be a string, got {}", show(v)))),
        }
    }

    /// A list of strings; a single string is a list of one. Accepts a JSON array or the text
    /// of one (as `json_array(...)` inside `json_object(...)` arrives as text).
    pub fn strings(&mut self, key: &'static str) -> Result<Option<Vec<String>>> {
        let v = match self.take(key) {
            None => return Ok(None),
            Some(v) => v.clone(),
        };
        let v = reparse(v);
        let err = |v: &Json| Error::option(key, format!("must be a list of strings, got {}", show(v)));
        match &v {
            Json::String(s) => Ok(Some(vec![s.clone()])),
            Json::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string).ok_or_else(|| err(&v)))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            _ => Err(err(&v)),
        }
    }

    /// A list of non-negative integers; a single integer is a list of one.
    pub fn ints(&mut self, key: &'static str) -> Result<Option<Vec<i64>>> {
        let v = match self.take(key) {
            None => return Ok(None),
            Some(v) => v.clone(),
        };
        let v = reparse(v);
        let err = |v: &Json| {
            Error::option(key, format!("must be a list of non-negative integers, got {}", show(v)))
        };
        match &v {
            Json::Number(n) => n.as_i64().filter(|i| *i >= 0).map(|i| Some(vec![i])).ok_or_else(|| err(&v)),
            Json::Array(items) => items
                .iter()
                .map(|i| i.as_i64().filter(|i| *i >= 0).ok_or_else(|| err(&v)))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            _ => Err(err(&v)),
        }
    }

    /// The raw JSON of `key` (for options with a structure of their own).
    pub fn raw(&mut self, key: &'static str) -> Option<Json> {
        self.take(key).cloned().map(reparse)
    }

    /// The options as given, as a JSON object (for `ml_models.params`).
    pub fn to_json(&self) -> Json {
        Json::Object(self.map.clone())
    }

    /// Errors on any key that no accessor asked for, listing the allowed keys.
    pub fn finish(self) -> Result<()> {
        let mut unknown: Vec<&String> =
            self.map.keys().filter(|k| !self.known.contains(&k.as_str())).collect();
        unknown.sort();
        if let Some(key) = unknown.first() {
            let mut allowed = self.known.clone();
            allowed.sort();
            return Err(Error::UnknownOption { key: clip(key).into_owned(), allowed: allowed.join(", ") });
        }
        Ok(())
    }
}

/// `json_object('ngrams', json_array(1,2))` nests properly, but `'[1,2]'` written as text
/// arrives as a string: accept both.
fn reparse(v: Json) -> Json {
    if let Json::String(s) = &v {
        let t = s.trim_start();
        if (t.starts_with('[') || t.starts_with('{'))
            && let Ok(parsed) = serde_json::from_str::<Json>(s)
        {
            return parsed;
        }
    }
    v
}

/// A numeric range for [`Options::number`].
#[derive(Clone, Copy, Debug)]
pub struct Range {
    /// Lower bound.
    pub lo: f64,
    /// Whether `lo` itself is allowed.
    pub lo_inclusive: bool,
    /// Upper bound.
    pub hi: f64,
    /// Whether `hi` itself is allowed.
    pub hi_inclusive: bool,
}

impl Range {
    /// `(0, inf)`.
    pub const POSITIVE: Range =
        Range { lo: 0.0, lo_inclusive: false, hi: f64::INFINITY, hi_inclusive: false };
    /// `[0, inf)`.
    pub const NON_NEGATIVE: Range =
        Range { lo: 0.0, lo_inclusive: true, hi: f64::INFINITY, hi_inclusive: false };
    /// `[0, 1)`.
    pub const FRACTION: Range = Range { lo: 0.0, lo_inclusive: true, hi: 1.0, hi_inclusive: false };
    /// `[0, 1]`.
    pub const UNIT: Range = Range { lo: 0.0, lo_inclusive: true, hi: 1.0, hi_inclusive: true };
    /// Any finite number.
    pub const ANY: Range =
        Range { lo: f64::NEG_INFINITY, lo_inclusive: false, hi: f64::INFINITY, hi_inclusive: false };

    fn contains(&self, f: f64) -> bool {
        let lo_ok = if self.lo_inclusive { f >= self.lo } else { f > self.lo };
        let hi_ok = if self.hi_inclusive { f <= self.hi } else { f < self.hi };
        lo_ok && hi_ok
    }

    fn describe(&self) -> String {
        match (self.lo.is_finite(), self.hi.is_finite()) {
            (false, false) => "a number".into(),
            (true, false) if self.lo == 0.0 && !self.lo_inclusive => "a positive number".into(),
            (true, false) if self.lo == 0.0 => "a non-negative number".into(),
            (true, false) => format!("a number {} {}", if self.lo_inclusive { ">=" } else { ">" }, self.lo),
            _ => format!(
                "a number in {}{}, {}{}",
                if self.lo_inclusive { "[" } else { "(" },
                self.lo,
                self.hi,
                if self.hi_inclusive { "]" } else { ")" }
            ),
        }
    }
}

/// Options shared by every model kind, read by the platform before the kind sees the rest,
/// and the caller's [`Control`] of the training.
#[derive(Debug)]
pub struct Common<'a> {
    /// Seed of every random choice (split, initialisation, shuffling). Default 42.
    pub seed: u64,
    /// Fraction of rows held out for the metrics in the training report. Default 0.2; 0 trains
    /// on everything and reports no held-out metrics.
    pub test_size: f64,
    /// The memory budget of sizes chosen by options (option `max_memory_mb`; default
    /// [`memory::DEFAULT_MB`] or the environment variable [`memory::ENV_VAR`]).
    pub budget: Budget,
    /// Interrupt check and progress lines (option `progress`, or the environment variable
    /// [`control::PROGRESS_ENV`]; the SQL layer adds the interrupt check).
    pub control: Control<'a>,
}

impl<'a> Common<'a> {
    /// Reads `seed`, `test_size`, `max_memory_mb` and `progress` (progress lines go to the
    /// standard error).
    pub fn read(opts: &mut Options) -> Result<Common<'a>> {
        let seed = opts.int("seed", 42, 0, i64::MAX)? as u64;
        let test_size = opts.number("test_size", 0.2, Range::FRACTION)?;
        // The environment is read only when the option is absent, so that a bad variable can
        // be overridden.
        let mb = if opts.has(memory::OPTION) {
            opts.int(memory::OPTION, 1, 1, i64::MAX)? as u64
        } else {
            Budget::default_mb()?
        };
        let progress =
            if opts.has("progress") { opts.bool("progress", false)? } else { control::progress_from_env()? };
        let mut control = Control::new();
        if progress {
            control = control.with_progress_to_stderr();
        }
        Ok(Common { seed, test_size, budget: Budget::training_mb(mb), control })
    }
}

impl Default for Common<'_> {
    /// Seed 42, test size 0.2, the default budget, no check and no progress.
    fn default() -> Self {
        Common { seed: 42, test_size: 0.2, budget: Budget::default(), control: Control::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_key_and_value() {
        let mut o = Options::parse(Some(r#"{"epochs": -3, "lr": "x", "kind": "zzz"}"#)).unwrap();
        assert_eq!(
            o.positive("epochs", 10).unwrap_err().to_string(),
            "option 'epochs' must be a positive integer, got -3"
        );
        assert_eq!(
            o.number("lr", 0.1, Range::POSITIVE).unwrap_err().to_string(),
            "option 'lr' must be a positive number, got 'x'"
        );
        assert_eq!(
            o.choice("kind", "a", &["a", "b"]).unwrap_err().to_string(),
            "option 'kind' must be one of 'a', 'b', got 'zzz'"
        );
    }

    #[test]
    fn unknown_key_lists_allowed() {
        let mut o = Options::parse(Some(r#"{"epoch": 3}"#)).unwrap();
        o.positive("epochs", 10).unwrap();
        o.number("alpha", 1.0, Range::POSITIVE).unwrap();
        assert_eq!(
            o.finish().unwrap_err().to_string(),
            "unknown option 'epoch' (expected one of: alpha, epochs)"
        );
    }

    #[test]
    fn common_options_of_every_kind() {
        let mut o = Options::parse(Some(r#"{"max_memory_mb": 16, "progress": true, "seed": 3}"#)).unwrap();
        let c = Common::read(&mut o).unwrap();
        o.finish().unwrap();
        assert_eq!((c.seed, c.budget.mb(), c.control.reports_progress()), (3, 16, true));
        let mut o = Options::parse(Some(r#"{"max_memory_mb": 0}"#)).unwrap();
        assert_eq!(
            Common::read(&mut o).unwrap_err().to_string(),
            "option 'max_memory_mb' must be a positive integer, got 0"
        );
        let mut o = Options::parse(Some(r#"{"progress": "loud"}"#)).unwrap();
        assert_eq!(
            Common::read(&mut o).unwrap_err().to_string(),
            "option 'progress' must be true or false, got 'loud'"
        );
    }

    #[test]
    fn quoted_values_are_clipped() {
        let long = "x".repeat(1000);
        let mut o = Options::parse(Some(&format!(r#"{{"epochs": "{long}"}}"#))).unwrap();
        let e = o.positive("epochs", 1).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("option 'epochs' must be a positive integer, got '{}… (1000 bytes)'", "x".repeat(200))
        );
        assert_eq!(clip("été"), "été");
    }

    #[test]
    fn not_an_object() {
        let e = Options::parse(Some("[1]")).unwrap_err().to_string();
        assert_eq!(e, "argument 'options' must be a JSON object, got [1]");
    }

    #[test]
    fn lists_from_text_or_arrays() {
        let mut o = Options::parse(Some(r#"{"a": "[1,2]", "b": [3], "c": "x"}"#)).unwrap();
        assert_eq!(o.ints("a").unwrap(), Some(vec![1, 2]));
        assert_eq!(o.ints("b").unwrap(), Some(vec![3]));
        assert_eq!(o.strings("c").unwrap(), Some(vec!["x".to_string()]));
        o.finish().unwrap();
    }
}
