//! Feature encoding learned at training time and stored with the model (like BigQuery ML's
//! `TRANSFORM`).
//!
//! * Numeric columns (SQL integers and reals; booleans are integers 0/1 in SQLite) are
//!   standardised with the mean and population standard deviation of the training rows. A NULL
//!   becomes the training mean (0 after standardising). A column that had NULLs in the training
//!   rows also gets a missing-flag input (1 for NULL, 0 otherwise); a column without NULLs at
//!   training has no flag, and a NULL at prediction is just imputed.
//! * Text columns are one-hot encoded over their `max_categories` most frequent training values
//!   (ties broken by text order). The remaining values and NULL share an "other" slot, which
//!   exists only when some training row used it; when it does not exist, an unseen value or a
//!   NULL encodes as all zeros (as scikit-learn's `handle_unknown='ignore'`). Text that looks
//!   like a number stays categorical: the column's SQL type decides. A number given for a text
//!   column at prediction is matched by its SQL text form (`5` matches `'5'`).
//! * Dropped with a note: all-NULL columns, constant columns (one value and no NULL), and text
//!   columns that look like identifiers (more distinct values than `max_categories` and than
//!   half the training rows) unless the `features` option names them.

use crate::models::control::Control;
use crate::models::data::{Column, ColumnData, Dataset, Input, Met};
use crate::models::memory;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: a fast hash for the short category texts of training columns (SipHash's
/// flooding resistance is not needed for counting a column's own values).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// How one original column becomes network inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Encoding {
    /// `(x - mean) / scale`, NULL → 0, plus a missing flag input when `missing_flag`.
    Numeric {
        /// Training mean.
        mean: f64,
        /// Training standard deviation (1 when it was 0).
        scale: f64,
        /// Whether a missing-flag input follows the value input.
        missing_flag: bool,
    },
    /// One-hot over `categories` (slot order, most frequent first), then an optional "other" slot.
    Categorical {
        /// Category texts in slot order.
        categories: Vec<String>,
        /// Indices into `categories`, sorted by text, for binary search.
        sorted: Vec<u32>,
        /// Whether an "other" slot follows the category slots.
        other: bool,
    },
}

/// One original column used by the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// The column name.
    pub name: String,
    /// Index of the first network input of this column.
    pub offset: usize,
    /// The encoding.
    pub encoding: Encoding,
}

impl Feature {
    /// Number of network inputs this column takes.
    pub fn width(&self) -> usize {
        match &self.encoding {
            Encoding::Numeric { missing_flag, .. } => 1 + usize::from(*missing_flag),
            Encoding::Categorical { categories, other, .. } => categories.len() + usize::from(*other),
        }
    }

    /// Writes this column's inputs for one value into `out` (exactly [`Feature::width`] long,
    /// already zeroed).
    pub fn encode(&self, value: Input<'_>, out: &mut [f32]) -> Result<()> {
        match &self.encoding {
            Encoding::Numeric { mean, scale, missing_flag } => {
                let x = match value {
                    Input::Null => None,
                    Input::Integer(i) => Some(i as f64),
                    Input::Real(r) => Some(r),
                    Input::Text(t) => Some(t.trim().parse::<f64>().map_err(|_| {
                        Error::argument(format!("feature '{}' must be a number, got text '{t}'", self.name))
                    })?),
                    Input::Blob(_) => {
                        return Err(Error::argument(format!(
                            "feature '{}' must be a number, got blob",
                            self.name
                        )));
                    }
                };
                match x {
                    Some(x) if x.is_finite() => out[0] = ((x - mean) / scale) as f32,
                    Some(x) => {
                        return Err(Error::argument(format!(
                            "feature '{}' must be a finite number, got {x}",
                            self.name
                        )));
                    }
                    None if *missing_flag => out[1] = 1.0,
                    None => {}
                }
                Ok(())
            }
            Encoding::Categorical { categories, sorted, other } => {
                let mut buf = NumText::default();
                let text = match value {
                    Input::Text(t) => Some(t),
                    Input::Integer(i) => Some(buf.format(format_args!("{i}"))),
                    Input::Real(r) => Some(buf.format(format_args!("{r:?}"))),
                    Input::Null => None,
                    Input::Blob(_) => {
                        return Err(Error::argument(format!(
                            "feature '{}' must be text, got blob",
                            self.name
                        )));
                    }
                };
                let slot = text.and_then(|t| {
                    if categories.len() <= LINEAR_SCAN {
                        // Most frequent first: usually found in one or two equality checks, which
                        // compare lengths before bytes.
                        categories.iter().position(|c| c == t).map(|p| p as u32)
                    } else {
                        sorted
                            .binary_search_by(|&i| categories[i as usize].as_str().cmp(t))
                            .ok()
                            .map(|p| sorted[p])
                    }
                });
                match slot {
                    Some(s) => out[s as usize] = 1.0,
                    None if *other => out[categories.len()] = 1.0,
                    None => {}
                }
                Ok(())
            }
        }
    }

    /// A JSON description for the training report.
    pub fn describe(&self) -> Json {
        match &self.encoding {
            Encoding::Numeric { mean, scale, missing_flag } => json!({
                "column": self.name, "encoding": "standardized", "mean": mean, "std": scale,
                "missing_flag": missing_flag,
            }),
            Encoding::Categorical { categories, other, .. } => json!({
                "column": self.name, "encoding": "one_hot", "categories": categories, "other_slot": other,
            }),
        }
    }
}

/// Up to this many categories, a value's slot is found by scanning in frequency order.
pub(crate) const LINEAR_SCAN: usize = 16;

/// A small stack buffer to format a number as SQL text without allocating.
#[derive(Default)]
struct NumText {
    buf: [u8; 32],
    len: usize,
}

impl NumText {
    fn format(&mut self, args: std::fmt::Arguments<'_>) -> &str {
        use std::fmt::Write;
        self.len = 0;
        // A number never exceeds the buffer; if it did, the text is truncated and simply
        // matches no category.
        let _ = self.write_fmt(args);
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for NumText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A column that was not used, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    /// The column name.
    pub column: String,
    /// Why it was dropped.
    pub reason: String,
}

/// The whole input encoding of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Encoder {
    /// The used columns in training order (the order of positional prediction arguments).
    pub features: Vec<Feature>,
    /// Total number of network inputs.
    pub width: usize,
    /// Columns of the training source that the model does not use (target, excluded, dropped):
    /// keys with these names are ignored in a JSON prediction argument.
    pub ignored: Vec<String>,
    /// Columns dropped automatically, with the reason.
    pub dropped: Vec<Dropped>,
    /// The columns positional prediction takes, in training order: every candidate feature
    /// column (all but the target and the excluded ones, or `features`), dropped ones included.
    /// Stored after the model (format 2's `Extras`), not in this
    /// struct's postcard layout; empty for a format-1 model, whose positional arguments are
    /// the used features.
    #[serde(skip)]
    pub inputs: Vec<String>,
    /// For each of `inputs`, the feature it feeds (None: a dropped column, ignored).
    #[serde(skip)]
    pub input_features: Vec<Option<u32>>,
}

/// Which columns to consider, from the `features` / `exclude` options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// Use exactly these columns, in this order.
    pub features: Option<Vec<String>>,
    /// Use every non-target column except these.
    pub exclude: Vec<String>,
    /// One-hot at most this many categories per text column.
    pub max_categories: usize,
}

impl Encoder {
    /// Learns the encoding from the `rows` of `data`, skipping the `target` column.
    pub fn fit(data: &Dataset, target: usize, rows: &[usize], sel: &Selection) -> Result<Encoder> {
        let target_name = &data.columns[target].name;
        let chosen: Vec<(Met, bool)> = match &sel.features {
            Some(list) => {
                let mut out = Vec::new();
                for name in list {
                    if let (None, Some(u)) = (data.index_of(name), data.set_aside(name)) {
                        return Err(Error::data(u.message.clone()));
                    }
                    let idx = data.index_of(name).ok_or_else(|| {
                        Error::option(
                            "features",
                            format!(
                                "names '{name}', which is not a column of the source (columns: {})",
                                data.column_names().join(", ")
                            ),
                        )
                    })?;
                    if idx == target {
                        return Err(Error::option(
                            "features",
                            format!("names the target column '{target_name}'"),
                        ));
                    }
                    if out.iter().any(|&(m, _)| matches!(m, Met::Read(i) if i == idx)) {
                        return Err(Error::option("features", format!("names '{name}' twice")));
                    }
                    out.push((Met::Read(idx), true));
                }
                out
            }
            None => {
                // (Columns left unread are among the source's: an excluded one is not read.)
                for name in &sel.exclude {
                    if !data.in_source(name) {
                        return Err(Error::option(
                            "exclude",
                            format!(
                                "names '{name}', which is not a column of the source (columns: {})",
                                data.source_column_names().join(", ")
                            ),
                        ));
                    }
                }
                let excluded = |name: &str| sel.exclude.iter().any(|e| name.eq_ignore_ascii_case(e));
                let mut out = Vec::new();
                for m in data.met() {
                    match m {
                        Met::Read(i) if i == target || excluded(&data.columns[i].name) => {}
                        Met::Aside(u) if u.name.eq_ignore_ascii_case(target_name) || excluded(&u.name) => {}
                        // A blob column set aside is dropped in its place among the inputs, as
                        // a column no model can use; one of mixed values or bad text is an
                        // error.
                        Met::Aside(u) if !u.blob => {
                            return Err(Error::data(format!(
                                "{} (or leave it out with the option 'exclude')",
                                u.message
                            )));
                        }
                        m => out.push((m, false)),
                    }
                }
                out
            }
        };
        let mut features = Vec::new();
        let mut dropped = Vec::new();
        let mut offset = 0;
        for &(m, explicit) in &chosen {
            let col = match m {
                Met::Read(i) => &data.columns[i],
                Met::Aside(u) => {
                    let reason = blob_reason(&u.name, &u.message);
                    dropped.push(Dropped { column: u.name.clone(), reason });
                    continue;
                }
            };
            match fit_column(col, rows, sel.max_categories, explicit) {
                Ok(encoding) => {
                    let f = Feature { name: col.name.clone(), offset, encoding };
                    offset += f.width();
                    features.push(f);
                }
                Err(reason) => dropped.push(Dropped { column: col.name.clone(), reason }),
            }
        }
        if features.is_empty() {
            let why = if dropped.is_empty() {
                String::new()
            } else {
                let list: Vec<String> =
                    dropped.iter().map(|d| format!("'{}' {}", d.column, d.reason)).collect();
                format!(" ({})", list.join("; "))
            };
            return Err(Error::data(format!("no usable feature columns{why}")));
        }
        // Every column of the source, those left unread too (`Dataset::source_columns`).
        let ignored = data
            .source_column_names()
            .into_iter()
            .filter(|n| !features.iter().any(|f| f.name == *n))
            .map(str::to_string)
            .collect();
        let inputs: Vec<String> = chosen.iter().map(|&(m, _)| data.met_name(m).to_string()).collect();
        // Inputs are named (a JSON argument's keys), so each name once.
        // (Each name against those before it: the error names the second, as written.)
        for (i, name) in inputs.iter().enumerate() {
            crate::models::named_once(&inputs[..=i], name)?;
        }
        let mut encoder = Encoder {
            features,
            width: offset,
            ignored,
            dropped,
            inputs: Vec::new(),
            input_features: Vec::new(),
        };
        encoder.set_inputs(inputs).map_err(Error::Internal)?;
        Ok(encoder)
    }

    /// Sets the positional input columns: each used feature must appear among them exactly
    /// once, in feature order; the others are ignored columns.
    pub fn set_inputs(&mut self, inputs: Vec<String>) -> std::result::Result<(), String> {
        let mut map = Vec::with_capacity(inputs.len());
        let mut next = 0usize;
        for name in &inputs {
            match self.features.get(next) {
                Some(f) if f.name == *name => {
                    map.push(Some(next as u32));
                    next += 1;
                }
                _ if self.features.iter().any(|f| f.name == *name) => {
                    return Err(format!("classifier input '{name}' out of feature order"));
                }
                _ => map.push(None),
            }
        }
        if next != self.features.len() {
            return Err(format!(
                "classifier with {} features, {next} of them among its {} inputs",
                self.features.len(),
                inputs.len()
            ));
        }
        self.inputs = inputs;
        self.input_features = map;
        Ok(())
    }

    /// The positional argument names: the inputs, or (format 1) the used features.
    pub fn positional_names(&self) -> Vec<&str> {
        if self.inputs.is_empty() { self.names() } else { self.inputs.iter().map(String::as_str).collect() }
    }

    /// Encodes the `rows` of `data` into a row-major matrix (`rows.len() × width`), finding each
    /// feature column by name. The matrix is allocated fallibly: memory the system refuses is
    /// an error, not an abort.
    pub fn encode_dataset(&self, data: &Dataset, rows: &[usize]) -> Result<Vec<f32>> {
        self.encode_batch(data, rows, 0)
    }

    /// As [`Encoder::encode_dataset`], ticking `control` per row (a training's millions of
    /// rows take seconds to encode: an interrupt must not wait for them).
    pub fn encode_controlled(
        &self,
        data: &Dataset,
        rows: &[usize],
        control: &Control<'_>,
    ) -> Result<Vec<f32>> {
        self.encode_rows(data, rows, 0, control)
    }

    /// As [`Encoder::encode_dataset`] for a batch whose first row is row `first` + 1 of its
    /// source (the row errors name).
    pub fn encode_batch(&self, data: &Dataset, rows: &[usize], first: usize) -> Result<Vec<f32>> {
        self.encode_rows(data, rows, first, &Control::new())
    }

    fn encode_rows(
        &self,
        data: &Dataset,
        rows: &[usize],
        first: usize,
        control: &Control<'_>,
    ) -> Result<Vec<f32>> {
        let w = self.width;
        let columns = self
            .features
            .iter()
            .map(|f| {
                let col = data.column(&f.name, "feature column")?;
                // Text columns of one-hot features: look each value's slot up in a hash map
                // built once, instead of a binary search per value.
                let slots = match (&f.encoding, &col.data) {
                    (Encoding::Categorical { categories, .. }, ColumnData::Text(_)) => Some(
                        categories
                            .iter()
                            .enumerate()
                            .map(|(i, c)| (c.as_str(), i))
                            .collect::<FnvMap<&str, usize>>(),
                    ),
                    _ => None,
                };
                Ok((col, slots))
            })
            .collect::<Result<Vec<_>>>()?;
        let cells = rows
            .len()
            .checked_mul(w)
            .ok_or_else(|| memory::refused(rows.len() as f64 * w as f64 * 4.0, "the encoded rows"))?;
        let mut out: Vec<f32> =
            memory::zeroed(cells, &format!("the encoded rows ({} rows × {w} inputs)", rows.len()))?;
        for (&row, x) in rows.iter().zip(out.chunks_exact_mut(w)) {
            control.tick(self.features.len() as u64)?;
            for (f, (col, slots)) in self.features.iter().zip(&columns) {
                let part = &mut x[f.offset..f.offset + f.width()];
                match (slots, &col.data, &f.encoding) {
                    (
                        Some(slots),
                        ColumnData::Text(values),
                        Encoding::Categorical { categories, other, .. },
                    ) => match values.get(row).and_then(|t| slots.get(t)) {
                        Some(&slot) => part[slot] = 1.0,
                        None if *other => part[categories.len()] = 1.0,
                        None => {}
                    },
                    _ => f
                        .encode(col.get(row), part)
                        .map_err(|e| Error::data(format!("row {}: {e}", first + row + 1)))?,
                }
            }
        }
        Ok(out)
    }

    /// Encodes the `rows` of `data` compactly ([`CompactRows`]: a word per feature a row, not
    /// a float per input), ticking `control` per row. Row `i` expands to exactly the row
    /// [`Encoder::encode_controlled`] gives, and the errors are the same.
    pub fn encode_compact(
        &self,
        data: &Dataset,
        rows: &[usize],
        control: &Control<'_>,
    ) -> Result<CompactRows> {
        let nf = self.features.len();
        let none = |f: &Feature| match &f.encoding {
            Encoding::Categorical { categories, other: true, .. } => categories.len() as u32,
            _ => NO_SLOT,
        };
        let mut layout = Vec::with_capacity(nf);
        let mut columns = Vec::with_capacity(nf);
        for f in &self.features {
            let col = data.column(&f.name, "feature column")?;
            // A text column of a one-hot feature: the slot of each distinct text, found once.
            let by_code = match (&f.encoding, &col.data) {
                (Encoding::Categorical { categories, .. }, ColumnData::Text(values)) => {
                    let slots: FnvMap<&str, u32> =
                        categories.iter().enumerate().map(|(i, c)| (c.as_str(), i as u32)).collect();
                    let mut by_code: Vec<u32> =
                        memory::with_capacity(values.distinct_count(), "the slots of a text column")?;
                    by_code.extend(
                        (0..values.distinct_count() as u32)
                            .map(|c| slots.get(values.distinct(c)).copied().unwrap_or(none(f))),
                    );
                    Some(by_code)
                }
                _ => None,
            };
            layout.push((
                f.offset,
                match f.encoding {
                    Encoding::Numeric { missing_flag, .. } => Word::Number { flag: missing_flag },
                    Encoding::Categorical { .. } => Word::OneHot,
                },
            ));
            columns.push((col, by_code));
        }
        let cells = rows
            .len()
            .checked_mul(nf)
            .ok_or_else(|| memory::refused(rows.len() as f64 * nf as f64 * 4.0, "the encoded rows"))?;
        let mut words: Vec<u32> =
            memory::zeroed(cells, &format!("the encoded rows ({} rows × {nf} features)", rows.len()))?;
        let widest = self.features.iter().map(Feature::width).max().unwrap_or(0);
        let mut scratch = vec![0f32; widest];
        for (&row, out) in rows.iter().zip(words.chunks_exact_mut(nf.max(1))) {
            control.tick(nf as u64)?;
            for ((f, (col, by_code)), word) in self.features.iter().zip(&columns).zip(out.iter_mut()) {
                *word = match (by_code, &col.data) {
                    (Some(by_code), ColumnData::Text(values)) => {
                        values.code(row).map_or(none(f), |c| by_code[c as usize])
                    }
                    _ => {
                        let part = &mut scratch[..f.width()];
                        part.fill(0.0);
                        f.encode(col.get(row), part)
                            .map_err(|e| Error::data(format!("row {}: {e}", row + 1)))?;
                        match &f.encoding {
                            Encoding::Numeric { missing_flag: true, .. } if part[1] == 1.0 => MISSING,
                            Encoding::Numeric { .. } => part[0].to_bits(),
                            Encoding::Categorical { .. } => {
                                part.iter().position(|&v| v == 1.0).map_or(NO_SLOT, |p| p as u32)
                            }
                        }
                    }
                };
            }
        }
        Ok(CompactRows { words, layout, width: self.width, rows: rows.len() })
    }

    /// Number of one-hot inputs (category and "other" slots of the text columns).
    pub fn one_hot_slots(&self) -> usize {
        self.features
            .iter()
            .filter(|f| matches!(f.encoding, Encoding::Categorical { .. }))
            .map(Feature::width)
            .sum()
    }

    /// Names of the used columns in training order.
    pub fn names(&self) -> Vec<&str> {
        self.features.iter().map(|f| f.name.as_str()).collect()
    }

    /// Index of the feature whose name is `key` (exact, then ASCII case-insensitive); `hint` is
    /// tried first, as JSON keys usually come in training order.
    pub fn find(&self, key: &str, hint: usize) -> Option<usize> {
        if let Some(f) = self.features.get(hint)
            && f.name == key
        {
            return Some(hint);
        }
        self.features
            .iter()
            .position(|f| f.name == key)
            .or_else(|| self.features.iter().position(|f| f.name.eq_ignore_ascii_case(key)))
    }

    /// True if `key` names a column the model saw at training but does not use.
    pub fn is_ignored(&self, key: &str) -> bool {
        self.ignored.iter().any(|n| n.eq_ignore_ascii_case(key))
    }
}

/// The word of a numeric feature's NULL that sets its missing flag: a NaN, which no
/// standardised value is (the values are finite, the scale positive).
const MISSING: u32 = 0x7fc0_0001;
/// The word of a one-hot feature whose value sets no slot.
const NO_SLOT: u32 = u32::MAX;

/// Encoded rows kept compact ([`Encoder::encode_compact`]): one 4-byte word per feature a row
/// (a numeric feature's standardised value as `f32` bits, or a NaN mark; a one-hot feature's
/// slot, or none), expanded into the network's inputs a row at a time. A training's
/// rows take a word per column instead of a float per input (one-hot slots included).
#[derive(Clone, Debug)]
pub struct CompactRows {
    words: Vec<u32>,
    /// Per feature: its first input and how its word expands.
    layout: Vec<(usize, Word)>,
    width: usize,
    rows: usize,
}

/// How a feature's word in [`CompactRows`] expands.
#[derive(Clone, Copy, Debug)]
enum Word {
    /// A value, or MISSING (which sets the missing flag after the value, if there is one).
    Number { flag: bool },
    /// A slot, or NO_SLOT.
    OneHot,
}

impl CompactRows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }
}

impl super::trainer::EncodedRows for CompactRows {
    fn width(&self) -> usize {
        self.width
    }

    #[inline]
    fn row_into(&self, i: usize, out: &mut [f32]) {
        out.fill(0.0);
        let nf = self.layout.len();
        for (&(offset, kind), &w) in self.layout.iter().zip(&self.words[i * nf..(i + 1) * nf]) {
            match kind {
                Word::Number { flag } if w == MISSING => {
                    if flag {
                        out[offset + 1] = 1.0;
                    }
                }
                Word::Number { .. } => out[offset] = f32::from_bits(w),
                Word::OneHot if w == NO_SLOT => {}
                Word::OneHot => out[offset + w as usize] = 1.0,
            }
        }
    }
}

/// Learns one column's encoding, or says why the column is dropped.
/// The reason the blob column `name` set aside is dropped: its read error without the name.
fn blob_reason(name: &str, message: &str) -> String {
    message.strip_prefix(&format!("column '{name}' ")).unwrap_or(message).to_string()
}

/// Training rows from which an integer column of row numbers is dropped ([`row_numbers`]).
const ROW_NUMBERS_FROM: usize = 100;

/// The least and greatest values of the integer column `col` over `rows` when they look like
/// row numbers or keys: from [`ROW_NUMBERS_FROM`] rows, no NULL, each value different, all within
/// a run of at most twice as many numbers as rows (`INTEGER PRIMARY KEY`s, with some rows
/// deleted or held out). Measured values almost never do: a hundred different ones within
/// two hundred numbers, by chance, has a probability below 10⁻¹⁴.
fn row_numbers(col: &Column, rows: &[usize]) -> Option<(i64, i64)> {
    if rows.len() < ROW_NUMBERS_FROM {
        return None;
    }
    let value = |r: usize| match col.get(r) {
        crate::models::Input::Integer(i) => Some(i),
        _ => None,
    };
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for &r in rows {
        let i = value(r)?;
        (lo, hi) = (lo.min(i), hi.max(i));
    }
    let span = (i128::from(hi) - i128::from(lo) + 1) as u128;
    if span > 2 * rows.len() as u128 {
        return None;
    }
    // Each value once: a bit per number of the run (a quarter of a byte a row); the first
    // repeat ends the pass (a measured column repeats within its first values).
    let mut seen: Vec<u64> = memory::zeroed((span as usize).div_ceil(64), "the values of a column").ok()?;
    for &r in rows {
        let at = (i128::from(value(r)?) - i128::from(lo)) as usize;
        let (word, bit) = (at / 64, 1u64 << (at % 64));
        if seen[word] & bit != 0 {
            return None;
        }
        seen[word] |= bit;
    }
    Some((lo, hi))
}

fn fit_column(
    col: &Column,
    rows: &[usize],
    max_categories: usize,
    explicit: bool,
) -> std::result::Result<Encoding, String> {
    if !explicit
        && matches!(col.data, ColumnData::Integer(_))
        && let Some((lo, hi)) = row_numbers(col, rows)
    {
        return Err(format!(
            "looks like an identifier (a different whole number in each of the {} training rows, from {lo} to {hi}: a row number or key, which new rows would carry beyond; name it in option 'features' to keep it)",
            rows.len()
        ));
    }
    match &col.data {
        ColumnData::Null(_) => Err("is NULL in every row".into()),
        ColumnData::Integer(_) | ColumnData::Real(_) => {
            let (mut n, mut sum, mut nulls) = (0usize, 0f64, 0usize);
            for &r in rows {
                match col.get(r).as_f64() {
                    Some(x) => {
                        n += 1;
                        sum += x;
                    }
                    None => nulls += 1,
                }
            }
            if n == 0 {
                return Err("is NULL in every training row".into());
            }
            let mean = sum / n as f64;
            let var =
                rows.iter().filter_map(|&r| col.get(r).as_f64()).map(|x| (x - mean).powi(2)).sum::<f64>()
                    / n as f64;
            let std = var.sqrt();
            if (std.is_nan() || std <= 0.0) && nulls == 0 {
                return Err(format!("is constant ({mean}) in the training rows"));
            }
            if !mean.is_finite() || !std.is_finite() {
                return Err("has values too large to standardise".into());
            }
            Ok(Encoding::Numeric { mean, scale: if std > 0.0 { std } else { 1.0 }, missing_flag: nulls > 0 })
        }
        ColumnData::Text(values) => {
            let mut counts: FnvMap<&str, usize> = FnvMap::default();
            let mut nulls = 0usize;
            for &r in rows {
                match values.get(r) {
                    Some(t) => *counts.entry(t).or_insert(0) += 1,
                    None => nulls += 1,
                }
            }
            let distinct = counts.len();
            if distinct == 0 {
                return Err("is NULL in every training row".into());
            }
            if distinct == 1 && nulls == 0 {
                let only = counts.keys().next().copied().unwrap_or_default();
                return Err(format!("is constant ('{only}') in the training rows"));
            }
            if !explicit && distinct > max_categories && distinct * 2 > rows.len() {
                return Err(format!(
                    "looks like an identifier ({distinct} distinct values in {} training rows; name it in option 'features' to keep it)",
                    rows.len()
                ));
            }
            let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let kept = by_count.len().min(max_categories);
            let other = kept < by_count.len() || nulls > 0;
            let categories: Vec<String> = by_count[..kept].iter().map(|(t, _)| t.to_string()).collect();
            let mut sorted: Vec<u32> = (0..kept as u32).collect();
            sorted.sort_by(|&a, &b| categories[a as usize].cmp(&categories[b as usize]));
            Ok(Encoding::Categorical { categories, sorted, other })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Dataset {
        Dataset::new(vec![
            Column {
                name: "age".into(),
                data: ColumnData::integers(vec![Some(20), Some(40), None, Some(30)]),
            },
            Column {
                name: "plan".into(),
                data: ColumnData::texts(vec![
                    Some("pro".into()),
                    Some("free".into()),
                    Some("pro".into()),
                    None,
                ]),
            },
            Column { name: "const".into(), data: ColumnData::reals(vec![Some(1.5); 4]) },
            Column { name: "empty".into(), data: ColumnData::Null(4) },
            Column { name: "y".into(), data: ColumnData::integers(vec![Some(0), Some(1), Some(0), Some(1)]) },
        ])
    }

    fn sel() -> Selection {
        Selection { max_categories: 50, ..Selection::default() }
    }

    #[test]
    fn learns_scaling_one_hot_and_drops() {
        let d = data();
        let enc = Encoder::fit(&d, 4, &[0, 1, 2, 3], &sel()).unwrap();
        assert_eq!(enc.names(), vec!["age", "plan"]);
        assert_eq!(enc.width, 2 + 3);
        assert_eq!(
            enc.dropped,
            vec![
                Dropped { column: "const".into(), reason: "is constant (1.5) in the training rows".into() },
                Dropped { column: "empty".into(), reason: "is NULL in every row".into() },
            ]
        );
        assert_eq!(enc.ignored, vec!["const", "empty", "y"]);
        let std = (200.0f64 / 3.0).sqrt();
        let Encoding::Numeric { mean, scale, missing_flag } = enc.features[0].encoding.clone() else {
            panic!("numeric expected")
        };
        assert_eq!((mean, missing_flag), (30.0, true));
        assert!((scale - std).abs() < 1e-12);
        let m = enc.encode_dataset(&d, &[0, 2, 3]).unwrap();
        let z = (-10.0 / std) as f32;
        // age, age missing, pro, free, other
        assert_eq!(&m[..5], &[z, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(&m[5..10], &[0.0, 1.0, 1.0, 0.0, 0.0]);
        assert_eq!(&m[10..15], &[0.0, 0.0, 0.0, 0.0, 1.0]);
    }

    /// Compact rows expand to the dense encoding, bit for bit: missing flags, "other" slots,
    /// and NULLs with neither.
    #[test]
    fn compact_rows_expand_to_the_dense_encoding() {
        use crate::models::mlp::trainer::EncodedRows;
        let d = data();
        for fit_rows in [&[0, 1, 2, 3][..], &[0, 1]] {
            let enc = Encoder::fit(&d, 4, fit_rows, &sel()).unwrap();
            let rows = [3, 0, 2, 1, 2];
            let dense = enc.encode_dataset(&d, &rows).unwrap();
            let compact = enc.encode_compact(&d, &rows, &Control::new()).unwrap();
            assert_eq!((compact.len(), compact.width()), (rows.len(), enc.width));
            let mut out = vec![9.0f32; enc.width];
            for (i, want) in dense.chunks(enc.width).enumerate() {
                compact.row_into(i, &mut out);
                let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&out), bits(want), "row {i}");
            }
        }
    }

    /// Encoding a training's rows runs the interrupt check: a failing check stops it with its
    /// error, and the same rows encode as before without one.
    #[test]
    fn encoding_is_interruptible() {
        let d = data();
        let enc = Encoder::fit(&d, 4, &[0, 1, 2, 3], &sel()).unwrap();
        let rows: Vec<usize> = (0..300_000).map(|i| i % 4).collect();
        let plain = enc.encode_dataset(&d, &rows).unwrap();
        assert_eq!(enc.encode_controlled(&d, &rows, &Control::new()).unwrap(), plain);
        let check = || Err(Error::data("interrupted"));
        let control = Control::new().with_check(&check);
        std::thread::sleep(crate::models::control::CHECK_EVERY);
        let e = enc.encode_controlled(&d, &rows, &control).unwrap_err();
        assert_eq!(e.to_string(), "interrupted");
    }

    #[test]
    fn unseen_category_goes_to_other_or_nowhere() {
        let d = data();
        let enc = Encoder::fit(&d, 4, &[0, 1, 2, 3], &sel()).unwrap();
        let mut out = [0f32; 3];
        enc.features[1].encode(Input::Text("enterprise"), &mut out).unwrap();
        assert_eq!(out, [0.0, 0.0, 1.0]);
        // Without NULLs in the training rows there is no other slot.
        let enc = Encoder::fit(&d, 4, &[0, 1, 2], &sel()).unwrap();
        let mut out = [0f32; 2];
        enc.features[1].encode(Input::Text("enterprise"), &mut out).unwrap();
        assert_eq!(out, [0.0, 0.0]);
        enc.features[1].encode(Input::Null, &mut out).unwrap();
        assert_eq!(out, [0.0, 0.0]);
    }

    #[test]
    fn numbers_match_text_categories_and_text_parses_as_number() {
        let d = Dataset::new(vec![
            Column { name: "code".into(), data: ColumnData::texts(vec![Some("5".into()), Some("7".into())]) },
            Column { name: "x".into(), data: ColumnData::reals(vec![Some(1.0), Some(3.0)]) },
            Column { name: "y".into(), data: ColumnData::integers(vec![Some(0), Some(1)]) },
        ]);
        let enc = Encoder::fit(&d, 2, &[0, 1], &sel()).unwrap();
        let mut out = [0f32; 2];
        enc.features[0].encode(Input::Integer(7), &mut out).unwrap();
        assert_eq!(out, [0.0, 1.0]);
        let mut out = [0f32; 1];
        enc.features[1].encode(Input::Text(" 3 "), &mut out).unwrap();
        assert_eq!(out, [1.0]);
        assert_eq!(
            enc.features[1].encode(Input::Text("abc"), &mut out).unwrap_err().to_string(),
            "feature 'x' must be a number, got text 'abc'"
        );
        assert_eq!(
            enc.features[0].encode(Input::Blob(b"x"), &mut [0.0; 2]).unwrap_err().to_string(),
            "feature 'code' must be text, got blob"
        );
    }

    #[test]
    fn max_categories_and_identifier_columns() {
        let ids: Vec<Option<String>> = (0..10).map(|i| Some(format!("id{i}"))).collect();
        let mut cats: Vec<Option<String>> = vec![Some("a".into()); 5];
        cats.extend(vec![Some("b".into()); 3]);
        cats.extend(vec![Some("c".into()), Some("d".into())]);
        let d = Dataset::new(vec![
            Column { name: "id".into(), data: ColumnData::texts(ids) },
            Column { name: "cat".into(), data: ColumnData::texts(cats) },
            Column { name: "y".into(), data: ColumnData::integers((0..10).map(|i| Some(i % 2)).collect()) },
        ]);
        let rows: Vec<usize> = (0..10).collect();
        let s = Selection { max_categories: 2, ..Selection::default() };
        let enc = Encoder::fit(&d, 2, &rows, &s).unwrap();
        assert_eq!(enc.dropped[0].column, "id");
        assert!(enc.dropped[0].reason.starts_with("looks like an identifier (10 distinct values"));
        assert_eq!(enc.features[0].describe()["categories"], json!(["a", "b"]));
        assert_eq!(enc.width, 3);
        let s = Selection { features: Some(vec!["ID".into()]), max_categories: 2, ..Selection::default() };
        let enc = Encoder::fit(&d, 2, &rows, &s).unwrap();
        assert_eq!(enc.names(), vec!["id"]);
    }

    /// An integer column of row numbers or keys (each training row a different number, within
    /// twice as many numbers as rows) is dropped as an identifier, in any order and with gaps;
    /// named in `features`, kept. Measured numbers are kept: with a repeat, spread wider, or
    /// with fewer rows than `ROW_NUMBERS_FROM`.
    #[test]
    fn integer_row_numbers_are_identifiers() {
        let n = ROW_NUMBERS_FROM as i64 * 2;
        let fit = |values: Vec<i64>, features: Option<Vec<String>>| {
            let rows: Vec<usize> = (0..values.len()).collect();
            let d = Dataset::new(vec![
                Column {
                    name: "id".into(),
                    data: ColumnData::integers(values.iter().map(|&v| Some(v)).collect()),
                },
                Column {
                    name: "x".into(),
                    data: ColumnData::reals(rows.iter().map(|&r| Some((r % 7) as f64)).collect()),
                },
                Column {
                    name: "y".into(),
                    data: ColumnData::integers(rows.iter().map(|&r| Some(r as i64 % 2)).collect()),
                },
            ]);
            Encoder::fit(&d, 2, &rows, &Selection { features, ..Selection::default() }).unwrap()
        };
        for ids in [
            (1..=n).collect::<Vec<_>>(),
            (0..n).map(|i| (i * 37) % n + 1000).collect(),
            (0..n).map(|i| i * 2).collect(),
        ] {
            let enc = fit(ids, None);
            assert_eq!(enc.names(), vec!["x"]);
            assert_eq!(enc.dropped[0].column, "id");
            assert!(enc.dropped[0].reason.starts_with(&format!("looks like an identifier (a different whole number in each of the {n} training rows, from ")), "{}", enc.dropped[0].reason);
        }
        assert_eq!(fit((1..=n).collect(), Some(vec!["id".into(), "x".into()])).names(), vec!["id", "x"]);
        for kept in [
            (1..=n).map(|i| i.min(n - 1)).collect::<Vec<_>>(),
            (0..n).map(|i| i * 3).collect(),
            (1..ROW_NUMBERS_FROM as i64).collect(),
        ] {
            assert_eq!(fit(kept, None).names(), vec!["id", "x"]);
        }
    }

    #[test]
    fn many_categories_use_the_sorted_lookup() {
        // 20 categories (more than LINEAR_SCAN), 'c19' most frequent.
        let values: Vec<Option<String>> =
            (0..60).map(|i| Some(format!("c{}", if i >= 40 { 19 } else { i % 20 }))).collect();
        let d = Dataset::new(vec![
            Column { name: "cat".into(), data: ColumnData::texts(values) },
            Column { name: "y".into(), data: ColumnData::integers((0..60).map(|i| Some(i % 2)).collect()) },
        ]);
        let rows: Vec<usize> = (0..60).collect();
        let enc = Encoder::fit(&d, 1, &rows, &sel()).unwrap();
        let f = &enc.features[0];
        let Encoding::Categorical { categories, .. } = &f.encoding else { panic!("categorical") };
        assert_eq!(categories.len(), 20);
        assert_eq!(categories[0], "c19");
        for (slot, c) in categories.iter().enumerate() {
            let mut out = vec![0f32; f.width()];
            f.encode(Input::Text(c), &mut out).unwrap();
            assert_eq!(out.iter().position(|&v| v == 1.0), Some(slot));
        }
        let mut out = vec![0f32; f.width()];
        f.encode(Input::Text("c20"), &mut out).unwrap();
        assert!(out.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn option_errors_name_the_column() {
        let d = data();
        let s = Selection { exclude: vec!["nope".into()], max_categories: 5, ..Selection::default() };
        assert_eq!(
            Encoder::fit(&d, 4, &[0, 1], &s).unwrap_err().to_string(),
            "option 'exclude' names 'nope', which is not a column of the source (columns: age, plan, const, empty, y)"
        );
        let s = Selection { features: Some(vec!["y".into()]), max_categories: 5, ..Selection::default() };
        assert_eq!(
            Encoder::fit(&d, 4, &[0, 1], &s).unwrap_err().to_string(),
            "option 'features' names the target column 'y'"
        );
        let s = Selection { features: Some(vec!["const".into()]), max_categories: 5, ..Selection::default() };
        assert_eq!(
            Encoder::fit(&d, 4, &[0, 1], &s).unwrap_err().to_string(),
            "no usable feature columns ('const' is constant (1.5) in the training rows)"
        );
    }
}
