//! Training options: one JSON object, read through the options' [`Spec`]s.
//!
//! Every option is declared once (see [`super::option_spec`]); the accessors here take a spec,
//! never a bare key, so the key, its aliases, its range and its default come from that one
//! declaration. [`Options::finish`] rejects keys that no spec of the kind (and of the chosen
//! algorithm) declares, listing the allowed ones. Type and range errors name the key as the
//! user wrote it and the value: `option 'epochs' must be a positive integer, got -3`.
//!
//! The options of every kind ([`COMMON`]):
//!
#![doc = include_str!("../../sql/options/common.md")]

use super::control::{self, Control};
use super::memory::{self, Budget};
use super::option_spec::{self, Default, Spec, Type};
use super::recommender::init::DrawsAhead;
use crate::{Error, Result};
use serde_json::{Map, Value as Json};

/// Options given to `ml_train` (the trailing JSON object).
#[derive(Clone, Debug, Default)]
pub struct Options {
    map: Map<String, Json>,
    known: Vec<&'static str>,
    algorithm: Option<&'static str>,
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

/// A spec whose default or type does not fit the accessor (a fault in the declarations, which
/// `option_spec`'s tests rule out).
fn misdeclared(spec: &Spec, what: &str) -> Error {
    Error::Internal(format!("option '{}' is declared with {what}", spec.key))
}

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
        // A JSON object keeps the last of two equal keys: which one the user meant is unknown.
        if let Some(key) = repeated_key(text) {
            return Err(Error::option(&clip(&key), "is given twice; give it once"));
        }
        Ok(Options::from_map(map))
    }

    /// Builds options from a JSON map (tests and the Rust API).
    pub fn from_map(map: Map<String, Json>) -> Self {
        Options { map, known: Vec::new(), algorithm: None }
    }

    /// Sets the algorithm the kind chose: later defaults are that algorithm's, and
    /// [`Options::finish`] allows only the options that apply to it.
    pub fn set_algorithm(&mut self, algorithm: &'static str) {
        self.algorithm = Some(algorithm);
    }

    /// The value of `spec`, under the name the user gave it (the key or an alias); giving two
    /// names of one option is an error.
    fn take(&mut self, spec: &'static Spec) -> Result<Option<(&'static str, &Json)>> {
        if !self.known.contains(&spec.key) {
            self.known.push(spec.key);
        }
        let mut given = std::iter::once(&spec.key)
            .chain(spec.aliases)
            .filter(|n| self.map.get(**n).is_some_and(|v| !v.is_null()));
        let Some(&name) = given.next() else { return Ok(None) };
        if let Some(other) = given.next() {
            return Err(Error::option(
                name,
                format!("and option '{other}' are one option: give one of them"),
            ));
        }
        Ok(self.map.get(name).map(|v| (name, v)))
    }

    fn default_of(&self, spec: &Spec) -> Default {
        spec.default_for(self.algorithm)
    }

    /// True if the user gave `spec` (under any of its names).
    pub fn has(&mut self, spec: &'static Spec) -> Result<bool> {
        Ok(self.take(spec)?.is_some())
    }

    /// A boolean (JSON true/false, or 0/1 as SQLite's json_object writes them), with the
    /// spec's default.
    pub fn bool(&mut self, spec: &'static Spec) -> Result<bool> {
        match self.default_of(spec) {
            Default::Bool(b) => self.bool_or(spec, b),
            _ => Err(misdeclared(spec, "a default that is not a boolean")),
        }
    }

    /// [`Options::bool`] with `default` when absent.
    pub fn bool_or(&mut self, spec: &'static Spec, default: bool) -> Result<bool> {
        if !matches!(spec.ty, Type::Bool) {
            return Err(misdeclared(spec, "a type that is not a boolean"));
        }
        match self.take(spec)? {
            None => Ok(default),
            Some((_, Json::Bool(b))) => Ok(*b),
            Some((_, Json::Number(n))) if n.as_i64() == Some(0) => Ok(false),
            Some((_, Json::Number(n))) if n.as_i64() == Some(1) => Ok(true),
            Some((name, v)) => Err(Error::option(name, format!("must be true or false, got {}", show(v)))),
        }
    }

    /// An integer in the spec's range, with the spec's default.
    pub fn int(&mut self, spec: &'static Spec) -> Result<i64> {
        match self.default_of(spec) {
            Default::Int(d) => self.int_or(spec, d),
            _ => Err(misdeclared(spec, "a default that is not an integer")),
        }
    }

    /// An integer in the spec's range; `default` when absent (a default that depends on the
    /// data or on other options).
    pub fn int_or(&mut self, spec: &'static Spec, default: i64) -> Result<i64> {
        let Type::Int { min, max } = spec.ty else {
            return Err(misdeclared(spec, "a type that is not an integer"));
        };
        let Some((name, v)) = self.take(spec)? else { return Ok(default) };
        // A whole number written as a float (`3.0`, `1e3`) counts where it is exact: up to 2⁵³
        // (`1e30` or 2⁶³ would otherwise saturate to 2⁶³ − 1, silently another value).
        const EXACT: f64 = (1u64 << 53) as f64;
        let whole = |f: f64| (f.fract() == 0.0 && f.abs() <= EXACT).then_some(f as i64);
        match v.as_i64().or_else(|| v.as_f64().and_then(whole)) {
            Some(i) if (min..=max).contains(&i) => Ok(i),
            _ => Err(Error::option(
                name,
                format!("must be {}, got {}", option_spec::describe_int(min, max), show(v)),
            )),
        }
    }

    /// A number in the spec's range (which, for a [`Type::Float32`] option, must also fit an
    /// `f32`: the models compute in 32-bit floats, and a larger value would be infinite from
    /// the first step), with the spec's default.
    pub fn number(&mut self, spec: &'static Spec) -> Result<f64> {
        match self.default_of(spec) {
            Default::Number(d) => self.number_or(spec, d),
            _ => Err(misdeclared(spec, "a default that is not a number")),
        }
    }

    /// [`Options::number`] with `default` when absent.
    pub fn number_or(&mut self, spec: &'static Spec, default: f64) -> Result<f64> {
        let (range, f32_only) = match spec.ty {
            Type::Number(r) => (r, false),
            Type::Float32(r) => (r, true),
            _ => return Err(misdeclared(spec, "a type that is not a number")),
        };
        let Some((name, v)) = self.take(spec)? else { return Ok(default) };
        let f = match v.as_f64() {
            Some(f) if f.is_finite() && range.contains(f) => f,
            _ => return Err(Error::option(name, format!("must be {}, got {}", range.describe(), show(v)))),
        };
        if f32_only && !(f as f32).is_finite() {
            return Err(Error::option(
                name,
                format!(
                    "must be {} that fits a 32-bit float (at most {:e} in size), got {}",
                    range.describe(),
                    f32::MAX,
                    show_number(f)
                ),
            ));
        }
        Ok(f)
    }

    /// One of the spec's choices, with the spec's default.
    pub fn choice(&mut self, spec: &'static Spec) -> Result<&'static str> {
        let Type::Choice(allowed) = spec.ty else {
            return Err(misdeclared(spec, "a type that is not a choice"));
        };
        let default = match self.default_of(spec) {
            Default::Choice(c) => c,
            _ => return Err(misdeclared(spec, "a default that is not a choice")),
        };
        let Some((name, v)) = self.take(spec)? else { return Ok(default) };
        let found = v.as_str().and_then(|s| allowed.iter().find(|a| a.eq_ignore_ascii_case(s)));
        found
            .copied()
            .ok_or_else(|| Error::option(name, format!("must be {}, got {}", spec.ty.describe(), show(v))))
    }

    /// A string, if given.
    pub fn text(&mut self, spec: &'static Spec) -> Result<Option<String>> {
        match self.take(spec)? {
            None => Ok(None),
            Some((_, Json::String(s))) => Ok(Some(s.clone())),
            Some((name, v)) => Err(Error::option(name, format!("must be a string, got {}", show(v)))),
        }
    }

    /// A list of strings, if given; a single string is a list of one. Accepts a JSON array or
    /// the text of one (as `json_array(...)` inside `json_object(...)` arrives as text).
    pub fn texts(&mut self, spec: &'static Spec) -> Result<Option<Vec<String>>> {
        let Some((name, v)) = self.take(spec)? else { return Ok(None) };
        let v = reparse(v.clone());
        let err = |v: &Json| Error::option(name, format!("must be a list of strings, got {}", show(v)));
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

    /// A list of non-negative integers, if given; a single integer is a list of one.
    pub fn ints(&mut self, spec: &'static Spec) -> Result<Option<Vec<i64>>> {
        let Some((name, v)) = self.take(spec)? else { return Ok(None) };
        let v = reparse(v.clone());
        let err = |v: &Json| {
            Error::option(name, format!("must be a list of non-negative integers, got {}", show(v)))
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

    /// The raw JSON of an option with a structure of its own, and the name it was given under.
    pub fn raw(&mut self, spec: &'static Spec) -> Result<Option<(&'static str, Json)>> {
        Ok(self.take(spec)?.map(|(name, v)| (name, reparse(v.clone()))))
    }

    /// The options as given, as a JSON object (for `ml_models.params`).
    pub fn to_json(&self) -> Json {
        Json::Object(self.map.clone())
    }

    /// The keys an accessor asked for (a test checks that every declared option is read).
    pub fn read_keys(&self) -> &[&'static str] {
        &self.known
    }

    /// Errors on any key that no spec of `kind` declares for the chosen algorithm, listing
    /// the allowed keys.
    pub fn finish(&self, kind: &str) -> Result<()> {
        let specs: Vec<&Spec> =
            option_spec::of_kind(kind).into_iter().filter(|s| s.applies_to(self.algorithm)).collect();
        self.finish_with(&specs)
    }

    /// Errors on any key that none of `specs` declares, listing the allowed keys.
    pub fn finish_with(&self, specs: &[&Spec]) -> Result<()> {
        let mut unknown: Vec<&String> =
            self.map.keys().filter(|k| !specs.iter().any(|s| s.answers_to(k))).collect();
        unknown.sort();
        if let Some(key) = unknown.first() {
            let mut allowed: Vec<&str> = specs.iter().map(|s| s.key).collect();
            allowed.sort_unstable();
            return Err(Error::UnknownOption { key: clip(key).into_owned(), allowed: allowed.join(", ") });
        }
        Ok(())
    }
}

/// The first key that the JSON object `text` (valid JSON) gives twice, if any.
fn repeated_key(text: &str) -> Option<String> {
    use serde::de::{IgnoredAny, MapAccess, Visitor};
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Option<String>, A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                if !seen.insert(key.clone()) {
                    return Ok(Some(key));
                }
            }
            Ok(None)
        }
    }
    let mut parser = serde_json::Deserializer::from_str(text);
    serde::Deserializer::deserialize_map(&mut parser, Keys).ok().flatten()
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

    pub(crate) fn contains(&self, f: f64) -> bool {
        let lo_ok = if self.lo_inclusive { f >= self.lo } else { f > self.lo };
        let hi_ok = if self.hi_inclusive { f <= self.hi } else { f < self.hi };
        lo_ok && hi_ok
    }

    pub(crate) fn describe(&self) -> String {
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
    /// With held-out rows: after measuring on the split, fit the served model again on every
    /// row (option `refit`, default true).
    pub refit: bool,
    /// Whether the new version becomes the active one (option `activate`).
    pub activate: Activate,
    /// Versions to keep after storing (option `keep`: the newest n plus the active one; None
    /// keeps all).
    pub keep: Option<usize>,
    /// Work started for this training before its rows were read ([`super::start_ahead`]).
    pub head_start: HeadStart,
}

/// Work started for a training before its rows are read, taken by the call's first fit: the
/// recommender's starting draws
/// ([`super::recommender::init::NumpyNormal::ahead`]), made on a second thread while
/// SQLite reads the rows. What no fit takes is stopped and dropped with it.
#[derive(Default)]
pub struct HeadStart {
    draws: std::sync::Mutex<Option<DrawsAhead>>,
}

impl HeadStart {
    /// Keeps `draws` for the fit.
    pub fn put_draws(&self, draws: DrawsAhead) {
        if let Ok(mut slot) = self.draws.lock() {
            *slot = Some(draws);
        }
    }

    /// The draws kept, if any (taken: a second call gets None).
    pub fn take_draws(&self) -> Option<DrawsAhead> {
        self.draws.lock().ok()?.take()
    }
}

impl std::fmt::Debug for HeadStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let draws = self.draws.lock().is_ok_and(|d| d.is_some());
        f.debug_struct("HeadStart").field("draws", &draws).finish()
    }
}

/// When a newly trained version becomes the active one (option `activate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activate {
    /// Always (the default).
    Always,
    /// Only if its held-out metric beats the active version's on the same held-out rows.
    IfBetter,
    /// Never: stored, not served.
    Never,
}

/// `seed`.
pub const SEED: Spec = Spec::new(
    "seed",
    Type::Int { min: 0, max: i64::MAX },
    Default::Int(42),
    "seeds the split, initialisation and shuffling: same data + options + seed → same model bytes",
);
/// `test_size`.
pub const TEST_SIZE: Spec = Spec::new(
    "test_size",
    Type::Number(Range::FRACTION),
    Default::Number(0.2),
    "fraction held out for the report's metrics (stratified by label for classifiers); 0 trains on \
     all rows and reports no held-out metrics",
);
/// `max_memory_mb`.
pub const MAX_MEMORY_MB: Spec = Spec::new(
    memory::OPTION,
    Type::Int { min: 1, max: i64::MAX },
    Default::Derived("4096, or the environment variable `SQLML_MAX_MEMORY_MB`"),
    "memory budget (MiB) of the sizes options choose; see [Long trainings](#long-trainings)",
);
/// `progress`.
pub const PROGRESS: Spec = Spec::new(
    "progress",
    Type::Bool,
    Default::Derived("false, or true when the environment variable `SQLML_PROGRESS` is `1`"),
    "one line per epoch on the standard error (epoch, loss, elapsed, time left); see \
     [Long trainings](#long-trainings)",
);

/// `refit`.
pub const REFIT: Spec = Spec::new(
    "refit",
    Type::Bool,
    Default::Bool(true),
    "with held-out rows, fit the served model again on every row after measuring on the split (same \
     options and seed; a classifier stopped early runs the epochs found on the split); false serves the \
     split model",
);
/// `activate`.
pub const ACTIVATE: Spec = Spec::new(
    "activate",
    Type::Choice(&["always", "if_better", "never"]),
    Default::Choice("always"),
    "whether the new version becomes active: always, only if its held-out metric beats the active \
     version's on the same held-out rows, or never (stored, not served)",
);
/// `keep`.
pub const KEEP: Spec = Spec::new(
    "keep",
    Type::Int { min: 1, max: i64::MAX },
    Default::Derived("all"),
    "after storing, keep only the newest n versions of the model plus the active one",
);

/// The options of every kind.
pub const COMMON: &[Spec] = &[SEED, TEST_SIZE, MAX_MEMORY_MB, PROGRESS, REFIT, ACTIVATE, KEEP];

impl<'a> Common<'a> {
    /// Reads `seed`, `test_size`, `max_memory_mb` and `progress` (progress lines go to the
    /// standard error).
    pub fn read(opts: &mut Options) -> Result<Common<'a>> {
        let seed = opts.int(&SEED)? as u64;
        let test_size = opts.number(&TEST_SIZE)?;
        // The environment is read only when the option is absent, so that a bad variable can
        // be overridden.
        let mb = if opts.has(&MAX_MEMORY_MB)? {
            opts.int_or(&MAX_MEMORY_MB, 1)? as u64
        } else {
            Budget::default_mb()?
        };
        let progress = if opts.has(&PROGRESS)? {
            opts.bool_or(&PROGRESS, false)?
        } else {
            control::progress_from_env()?
        };
        let refit = opts.bool(&REFIT)?;
        let activate = match opts.choice(&ACTIVATE)? {
            "if_better" => Activate::IfBetter,
            "never" => Activate::Never,
            _ => Activate::Always,
        };
        let keep = if opts.has(&KEEP)? { Some(opts.int_or(&KEEP, 1)? as usize) } else { None };
        let mut control = Control::new();
        if progress {
            control = control.with_progress_to_stderr();
        }
        Ok(Common {
            seed,
            test_size,
            budget: Budget::training_mb(mb),
            control,
            refit,
            activate,
            keep,
            head_start: HeadStart::default(),
        })
    }
}

impl<'a> Common<'a> {
    /// The same options for the refit on every row, whose progress lines say so.
    pub fn for_refit(&self) -> Common<'a> {
        Common {
            seed: self.seed,
            test_size: 0.0,
            budget: self.budget,
            control: self.control.phase("refit on every row: "),
            refit: false,
            activate: self.activate,
            keep: self.keep,
            head_start: HeadStart::default(),
        }
    }
}

impl std::default::Default for Common<'_> {
    /// Seed 42, test size 0.2, the default budget, no check and no progress, refit on every
    /// row, always activate, keep every version.
    fn default() -> Self {
        Common {
            seed: 42,
            test_size: 0.2,
            budget: Budget::default(),
            control: Control::new(),
            refit: true,
            activate: Activate::Always,
            keep: None,
            head_start: HeadStart::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static EPOCHS: Spec =
        Spec::new("epochs", Type::Int { min: 1, max: i64::MAX }, Default::Int(10), "passes")
            .aliases(&["n_epochs"]);
    static LR: Spec = Spec::new("lr", Type::Number(Range::POSITIVE), Default::Number(0.1), "rate");
    static KIND: Spec = Spec::new("kind", Type::Choice(&["a", "b"]), Default::Choice("a"), "kind");

    #[test]
    fn messages_name_key_and_value() {
        let mut o = Options::parse(Some(r#"{"epochs": -3, "lr": "x", "kind": "zzz"}"#)).unwrap();
        assert_eq!(
            o.int(&EPOCHS).unwrap_err().to_string(),
            "option 'epochs' must be a positive integer, got -3"
        );
        assert_eq!(o.number(&LR).unwrap_err().to_string(), "option 'lr' must be a positive number, got 'x'");
        assert_eq!(
            o.choice(&KIND).unwrap_err().to_string(),
            "option 'kind' must be one of 'a', 'b', got 'zzz'"
        );
    }

    #[test]
    fn aliases_answer_under_their_own_name() {
        let mut o = Options::parse(Some(r#"{"n_epochs": 0}"#)).unwrap();
        assert_eq!(
            o.int(&EPOCHS).unwrap_err().to_string(),
            "option 'n_epochs' must be a positive integer, got 0"
        );
        let mut o = Options::parse(Some(r#"{"n_epochs": 4}"#)).unwrap();
        assert_eq!(o.int(&EPOCHS).unwrap(), 4);
        let mut o = Options::parse(Some(r#"{"n_epochs": 4, "epochs": 5}"#)).unwrap();
        assert_eq!(
            o.int(&EPOCHS).unwrap_err().to_string(),
            "option 'epochs' and option 'n_epochs' are one option: give one of them"
        );
        assert_eq!(Options::default().int(&EPOCHS).unwrap(), 10);
    }

    #[test]
    fn unknown_key_lists_allowed() {
        let o = Options::parse(Some(r#"{"epoch": 3}"#)).unwrap();
        assert_eq!(
            o.finish("classifier").unwrap_err().to_string(),
            "unknown option 'epoch' (expected one of: activate, allow_extra_keys, batch_size, class_weight, dropout, epochs, exclude, features, hidden_layers, keep, l2, learning_rate, max_categories, max_memory_mb, patience, progress, refit, seed, shuffle, test_size, validation_split)"
        );
    }

    #[test]
    fn common_options_of_every_kind() {
        let mut o = Options::parse(Some(r#"{"max_memory_mb": 16, "progress": true, "seed": 3}"#)).unwrap();
        let c = Common::read(&mut o).unwrap();
        o.finish("text").unwrap();
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
        let e = o.int(&EPOCHS).unwrap_err().to_string();
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

    /// An integer option takes whole numbers exactly: a float one up to 2⁵³, and nothing beyond
    /// an `i64` (it saturated: seeds 2⁶³ and 1e30 both became 2⁶³ − 1).
    #[test]
    fn integers_are_taken_exactly_or_refused() {
        static SEED: Spec = Spec::new("seed", Type::Int { min: 0, max: i64::MAX }, Default::Int(42), "s");
        let int = |t: &str| Options::parse(Some(t)).unwrap().int(&SEED).map_err(|e| e.to_string());
        assert_eq!(int(r#"{"seed": 9223372036854775807}"#), Ok(i64::MAX));
        assert_eq!(int(r#"{"seed": 3.0}"#), Ok(3));
        assert_eq!(int(r#"{"seed": 1e15}"#), Ok(1_000_000_000_000_000));
        for big in ["9223372036854775808", "18446744073709551615", "1e30", "1e17"] {
            let e = int(&format!(r#"{{"seed": {big}}}"#)).unwrap_err();
            assert!(e.starts_with("option 'seed' must be "), "{big}: {e}");
        }
    }

    /// A key given twice is refused (JSON would keep the last one silently); the same key
    /// within a nested value, or in two nested objects, is not a repeated option.
    #[test]
    fn a_key_given_twice_is_refused() {
        let e = |t: &str| Options::parse(Some(t)).err().map(|e| e.to_string());
        assert_eq!(
            e(r#"{"alpha": 5, "seed": 1, "alpha": 0.01}"#),
            Some("option 'alpha' is given twice; give it once".into())
        );
        assert_eq!(e(r#"{"a\u0062": 1, "ab": 2}"#), Some("option 'ab' is given twice; give it once".into()));
        assert_eq!(e(r#"{"a": {"x": 1}, "b": {"x": 2}, "c": [{"y": 1}, {"y": 2}]}"#), None);
    }

    #[test]
    fn lists_from_text_or_arrays() {
        static A: Spec = Spec::new("a", Type::Ints, Default::Derived("none"), "a");
        static B: Spec = Spec::new("b", Type::Ints, Default::Derived("none"), "b");
        static C: Spec = Spec::new("c", Type::Texts, Default::Derived("none"), "c");
        let mut o = Options::parse(Some(r#"{"a": "[1,2]", "b": [3], "c": "x"}"#)).unwrap();
        assert_eq!(o.ints(&A).unwrap(), Some(vec![1, 2]));
        assert_eq!(o.ints(&B).unwrap(), Some(vec![3]));
        assert_eq!(o.texts(&C).unwrap(), Some(vec!["x".to_string()]));
    }
}
