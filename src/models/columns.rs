//! The compact storage of a column's values ([`super::data::ColumnData`]).
//!
//! A source is read once and held for the whole training, so its cells are stored densely:
//!
//! * numbers in one vector of the narrowest type that holds every value exactly (`i32` for
//!   integers that fit, `f32` for reals that round-trip through it, else `i64` / `f64`), with
//!   a placeholder at NULL rows: 4 or 8 bytes a cell, where `Option<i64>` took 16;
//! * text as one string buffer of its distinct values with their ends, and a `u32` code per
//!   row (dictionary encoding); a column whose rows are all distinct and none NULL (documents)
//!   keeps no codes: row `i` holds the `i`-th text. Each cell was a `String` before (24 bytes
//!   and an allocation);
//! * NULLs in a bitmap, allocated only once a column has one.
//!
//! Every growth is fallible (a source too large for the machine is an error, not an abort),
//! and what a cell reads back is exactly what was pushed.

use super::memory;
use crate::{Error, Result};

/// Which rows of a column are NULL: one bit a row, empty while the column has no NULL.
#[derive(Clone, Debug, Default)]
struct Nulls {
    bits: Vec<u64>,
    count: usize,
}

impl Nulls {
    #[inline]
    fn is_null(&self, row: usize) -> bool {
        self.bits.get(row / 64).is_some_and(|w| (w >> (row % 64)) & 1 == 1)
    }

    /// Marks `row` NULL.
    fn set(&mut self, row: usize, what: &str) -> Result<()> {
        let word = row / 64;
        if self.bits.len() <= word {
            let more = word + 1 - self.bits.len();
            memory::reserve(&mut self.bits, more, what)?;
            self.bits.resize(word + 1, 0);
        }
        self.bits[word] |= 1 << (row % 64);
        self.count += 1;
        Ok(())
    }

    /// Rows `0..n` all NULL.
    fn all(n: usize, what: &str) -> Result<Nulls> {
        let mut bits = memory::with_capacity(n.div_ceil(64), what)?;
        bits.resize(n / 64, u64::MAX);
        if !n.is_multiple_of(64) {
            bits.push((1u64 << (n % 64)) - 1);
        }
        Ok(Nulls { bits, count: n })
    }

    fn bytes(&self) -> usize {
        self.bits.capacity() * 8
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for i64 {}
    impl Sealed for f64 {}
}

/// A number type of a column (`i64` or `f64`) and its narrow form (`i32`, `f32`).
pub trait Number: Copy + PartialEq + std::fmt::Debug + private::Sealed {
    /// The 4-byte form.
    type Narrow: Copy + Default + std::fmt::Debug;
    /// The value in the narrow form, when that holds it exactly.
    fn narrow(self) -> Option<Self::Narrow>;
    /// The value of a narrow form.
    fn widen(n: Self::Narrow) -> Self;
    /// The placeholder at NULL rows.
    const ZERO: Self;
}

impl Number for i64 {
    type Narrow = i32;
    #[inline]
    fn narrow(self) -> Option<i32> {
        i32::try_from(self).ok()
    }
    #[inline]
    fn widen(n: i32) -> i64 {
        i64::from(n)
    }
    const ZERO: i64 = 0;
}

impl Number for f64 {
    type Narrow = f32;
    #[inline]
    fn narrow(self) -> Option<f32> {
        let n = self as f32;
        (f64::from(n).to_bits() == self.to_bits()).then_some(n)
    }
    #[inline]
    fn widen(n: f32) -> f64 {
        f64::from(n)
    }
    const ZERO: f64 = 0.0;
}

#[derive(Clone, Debug)]
enum Store<T: Number> {
    Narrow(Vec<T::Narrow>),
    Wide(Vec<T>),
}

/// The values of a numeric column: dense, in the narrowest exact type, NULLs in a bitmap.
#[derive(Clone, Debug)]
pub struct Numbers<T: Number> {
    store: Store<T>,
    nulls: Nulls,
}

impl<T: Number> Default for Numbers<T> {
    fn default() -> Self {
        Numbers { store: Store::Narrow(Vec::new()), nulls: Nulls::default() }
    }
}

impl<T: Number> PartialEq for Numbers<T> {
    /// Equal values row by row, however they are stored.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Number> Numbers<T> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match &self.store {
            Store::Narrow(v) => v.len(),
            Store::Wide(v) => v.len(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `row` (below [`Numbers::len`]); None for NULL.
    #[inline]
    pub fn get(&self, row: usize) -> Option<T> {
        if self.nulls.is_null(row) {
            return None;
        }
        Some(match &self.store {
            Store::Narrow(v) => T::widen(v[row]),
            Store::Wide(v) => v[row],
        })
    }

    /// The values in row order.
    pub fn iter(&self) -> impl Iterator<Item = Option<T>> + '_ {
        (0..self.len()).map(|r| self.get(r))
    }

    /// Number of NULL rows.
    pub fn null_count(&self) -> usize {
        self.nulls.count
    }

    /// Bytes held (capacity included).
    pub fn bytes(&self) -> usize {
        let values = match &self.store {
            Store::Narrow(v) => v.capacity() * std::mem::size_of::<T::Narrow>(),
            Store::Wide(v) => v.capacity() * std::mem::size_of::<T>(),
        };
        values + self.nulls.bytes()
    }

    /// `n` NULLs and room for one more value, allocated fallibly (`what` names the column in
    /// errors).
    pub(crate) fn nulls(n: usize, what: &str) -> Result<Self> {
        let mut v = memory::with_capacity(n.max(1023) + 1, what)?;
        v.resize(n, T::Narrow::default());
        Ok(Numbers { store: Store::Narrow(v), nulls: Nulls::all(n, what)? })
    }

    /// Appends a value (None: NULL), growing fallibly.
    pub(crate) fn push(&mut self, x: Option<T>, what: &str) -> Result<()> {
        let row = self.len();
        let x = match x {
            Some(x) => x,
            None => {
                self.nulls.set(row, what)?;
                T::ZERO
            }
        };
        if self.push_fast(x) {
            return Ok(());
        }
        match &mut self.store {
            Store::Narrow(v) => match x.narrow() {
                Some(n) => {
                    room(v, what)?;
                    v.push(n);
                }
                None => {
                    // The first value the narrow form cannot hold: every value so far widens.
                    let mut wide = memory::with_capacity(v.capacity().max(v.len() + 1), what)?;
                    wide.extend(v.iter().map(|&n| T::widen(n)));
                    wide.push(x);
                    self.store = Store::Wide(wide);
                }
            },
            Store::Wide(v) => {
                room(v, what)?;
                v.push(x);
            }
        }
        Ok(())
    }

    /// Appends a non-NULL value when there is room and the storage holds it as it is (the
    /// common case of reading); false, with nothing done, otherwise.
    #[inline]
    pub(crate) fn push_fast(&mut self, x: T) -> bool {
        match &mut self.store {
            Store::Narrow(v) if v.len() < v.capacity() => match x.narrow() {
                Some(n) => {
                    v.push(n);
                    true
                }
                None => false,
            },
            Store::Wide(v) if v.len() < v.capacity() => {
                v.push(x);
                true
            }
            _ => false,
        }
    }
}

impl Numbers<i64> {
    /// The same values as reals (an integer column that meets its first real), with room for
    /// one more.
    pub(crate) fn to_reals(&self, what: &str) -> Result<Numbers<f64>> {
        let mut out = Numbers::<f64>::default();
        if let Store::Narrow(v) = &mut out.store {
            *v = memory::with_capacity(self.len().max(1023) + 1, what)?;
        }
        for r in 0..self.len() {
            let x = match &self.store {
                Store::Narrow(v) => f64::from(v[r]),
                Store::Wide(v) => v[r] as f64,
            };
            out.push(Some(x), what)?;
        }
        out.nulls = self.nulls.clone();
        Ok(out)
    }
}

impl<T: Number> FromIterator<Option<T>> for Numbers<T> {
    /// Collects values in memory (tests, examples, generated data); grows as a `Vec` does.
    fn from_iter<I: IntoIterator<Item = Option<T>>>(iter: I) -> Self {
        let mut out = Numbers::default();
        for x in iter {
            if out.push(x, "a column").is_err() {
                alloc_failed();
            }
        }
        out
    }
}

/// Room for one more value in `xs`: doubles a full vector, fallibly.
#[inline]
fn room<T>(xs: &mut Vec<T>, what: &str) -> Result<()> {
    if xs.len() == xs.capacity() {
        memory::reserve(xs, xs.len().max(1024), what)?;
    }
    Ok(())
}

/// What `Vec` does when memory is refused, for the in-memory constructors.
#[cold]
fn alloc_failed() -> ! {
    std::alloc::handle_alloc_error(std::alloc::Layout::new::<u64>())
}

/// The values of a text column: distinct texts in one buffer, a code per row, NULLs in a
/// bitmap.
#[derive(Clone, Debug, Default)]
pub struct Texts {
    /// The distinct texts, one after another, in order of first appearance.
    text: String,
    /// The end of each distinct text in `text`.
    ends: Vec<usize>,
    /// The distinct text of each row (0 at NULL rows); empty when row `i` holds text `i`.
    codes: Vec<u32>,
    rows: usize,
    nulls: Nulls,
}

impl PartialEq for Texts {
    /// Equal values row by row, however they are stored.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Texts {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The text at `row` (below [`Texts::len`]); None for NULL.
    #[inline]
    pub fn get(&self, row: usize) -> Option<&str> {
        self.code(row).map(|c| self.distinct(c))
    }

    /// The code of `row`'s text (an index below [`Texts::distinct_count`]); None for NULL.
    #[inline]
    pub fn code(&self, row: usize) -> Option<u32> {
        if self.nulls.is_null(row) {
            return None;
        }
        Some(if self.codes.is_empty() { row as u32 } else { self.codes[row] })
    }

    /// Number of distinct texts.
    pub fn distinct_count(&self) -> usize {
        self.ends.len()
    }

    /// The distinct text of code `c` (below [`Texts::distinct_count`]).
    #[inline]
    pub fn distinct(&self, c: u32) -> &str {
        let c = c as usize;
        let start = if c == 0 { 0 } else { self.ends[c - 1] };
        &self.text[start..self.ends[c]]
    }

    /// The values in row order.
    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        (0..self.rows).map(|r| self.get(r))
    }

    /// Number of NULL rows.
    pub fn null_count(&self) -> usize {
        self.nulls.count
    }

    /// Bytes held (capacity included).
    pub fn bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 8 + self.codes.capacity() * 4 + self.nulls.bytes()
    }
}

impl Texts {
    /// `n` rows, every one NULL (no room taken for codes).
    pub(crate) fn all_null(n: usize, what: &str) -> Result<Texts> {
        Ok(Texts {
            text: String::new(),
            ends: Vec::new(),
            codes: Vec::new(),
            rows: n,
            nulls: Nulls::all(n, what)?,
        })
    }

    /// Reads every row once, in order, showing each to `each` (`each(row, text)`, None for
    /// NULL), and returns the same rows of which only `keep` (sorted, each once) hold their
    /// text, the others reading as NULL (the kept texts copied into room of their own, taken
    /// fallibly; `what` names it in errors). Where each row holds a text of its own, the texts'
    /// bytes come in row order, and the pages of those read go back to the system as it goes
    /// ([`memory::give_back_pages`], from [`READ_ONCE_STEP`] bytes read at a time): what is
    /// copied out of them takes their room, not room beside them. (Where rows share texts, a
    /// later row may read an earlier text: nothing goes back before the end.)
    pub(crate) fn read_once_keeping(
        self,
        keep: &[usize],
        what: &str,
        mut each: impl FnMut(usize, Option<&str>) -> Result<()>,
    ) -> Result<Texts> {
        let Texts { text, ends, codes, rows, nulls } = self;
        if !(keep.windows(2).all(|w| w[0] < w[1]) && keep.last().is_none_or(|&r| r < rows)) {
            return Err(Error::Internal("the rows kept of a column read once, out of order".into()));
        }
        let in_order = codes.is_empty();
        let mut bytes = text.into_bytes();
        let (mut kept, mut keep) = (TextBuilder::default(), keep.iter().peekable());
        let mut given = 0usize;
        for row in 0..rows {
            let is_kept = keep.next_if_eq(&&row).is_some();
            if nulls.is_null(row) {
                each(row, None)?;
                kept.push(None, what)?;
                continue;
            }
            // (Without codes, row `i` holds text `i`.)
            let c = codes.get(row).map_or(row, |&c| c as usize);
            let place = if c == 0 { Some(0) } else { ends.get(c - 1).copied() }.zip(ends.get(c).copied());
            let text = place.and_then(|(start, end)| simdutf8::basic::from_utf8(bytes.get(start..end)?).ok());
            let (Some((_, end)), Some(text)) = (place, text) else {
                return Err(Error::Internal(format!("text {c} of a column read once")));
            };
            each(row, Some(text))?;
            kept.push(is_kept.then_some(text), what)?;
            if in_order && end - given >= READ_ONCE_STEP {
                given += memory::give_back_pages(&mut bytes[given..end]);
            }
        }
        Ok(kept.finish())
    }
}

/// Bytes read between two givings back of [`Texts::read_once_keeping`] (a system call each).
const READ_ONCE_STEP: usize = 1 << 20;

impl<S: AsRef<str>> FromIterator<Option<S>> for Texts {
    /// Collects values in memory (tests, examples, generated data); grows as a `Vec` does.
    fn from_iter<I: IntoIterator<Item = Option<S>>>(iter: I) -> Self {
        let mut b = TextBuilder::default();
        for t in iter {
            if b.push(t.as_ref().map(AsRef::as_ref), "a column").is_err() {
                alloc_failed();
            }
        }
        b.finish()
    }
}

/// Builds [`Texts`] a row at a time: a hash table of the distinct texts finds each row's code.
#[derive(Debug, Default)]
pub(crate) struct TextBuilder {
    texts: Texts,
    /// Open addressing, linear probing from each text's [`home`] slot: a distinct text's tag
    /// and code + 1 (see [`code`]), 0 for an empty slot. Its length is a power of two, at
    /// least twice the distinct texts.
    table: Vec<u64>,
}

impl TextBuilder {
    /// `n` NULLs.
    pub(crate) fn nulls(n: usize, what: &str) -> Result<TextBuilder> {
        let mut b = TextBuilder::default();
        b.texts.codes = memory::with_capacity(n.max(1023) + 1, what)?;
        b.texts.codes.resize(n, 0);
        b.texts.nulls = Nulls::all(n, what)?;
        b.texts.rows = n;
        Ok(b)
    }

    /// Appends a text (None: NULL), growing fallibly.
    pub(crate) fn push(&mut self, t: Option<&str>, what: &str) -> Result<()> {
        let row = self.texts.rows;
        room(&mut self.texts.codes, what)?;
        let code = match t {
            None => {
                self.texts.nulls.set(row, what)?;
                0
            }
            Some(t) => self.code_of(t, what)?,
        };
        self.texts.codes.push(code);
        self.texts.rows += 1;
        Ok(())
    }

    /// The code of `t`, added as a new distinct text if it is one.
    fn code_of(&mut self, t: &str, what: &str) -> Result<u32> {
        let distinct = self.texts.ends.len();
        if self.table.len() < 2 * (distinct + 1) {
            self.grow(what)?;
        }
        let (mask, tag) = (self.table.len() - 1, hash(t) >> 32);
        let mut slot = home(tag, mask);
        loop {
            match self.table[slot] {
                0 => break,
                // Only a text of the same tag is read and compared.
                s if s >> 32 == tag && self.texts.distinct(code(s)) == t => return Ok(code(s)),
                _ => slot = (slot + 1) & mask,
            }
        }
        let code = u32::try_from(distinct)
            .ok()
            .filter(|&c| c < u32::MAX - 1)
            .ok_or_else(|| Error::data(format!("{what} has more than 4 billion distinct texts")))?;
        self.texts
            .text
            .try_reserve(t.len())
            .map_err(|_| memory::refused((self.texts.text.len() + t.len()) as f64, what))?;
        self.texts.text.push_str(t);
        room(&mut self.texts.ends, what)?;
        self.texts.ends.push(self.texts.text.len());
        self.table[slot] = tag << 32 | (code as u64 + 1);
        Ok(code)
    }

    /// Doubles the table (at least 1024 slots) and places every distinct text again, by the
    /// tag its slot keeps (no text is read or hashed again).
    fn grow(&mut self, what: &str) -> Result<()> {
        let size = (self.table.len() * 2).max(1024);
        let mut table: Vec<u64> = memory::zeroed(size, what)?;
        let mask = size - 1;
        for &s in self.table.iter().filter(|&&s| s != 0) {
            let mut slot = home(s >> 32, mask);
            while table[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            table[slot] = s;
        }
        self.table = table;
        Ok(())
    }

    /// The texts read; the codes are dropped when every row holds its own text.
    pub(crate) fn finish(self) -> Texts {
        let mut texts = self.texts;
        if texts.nulls.count == 0 && texts.ends.len() == texts.rows {
            texts.codes = Vec::new();
        }
        texts
    }
}

#[inline]
fn hash(t: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(t.as_bytes())
}

/// A [`TextBuilder`] slot: the high 32 bits of its text's hash (its tag), then its code + 1.
#[inline]
fn code(slot: u64) -> u32 {
    (slot as u32) - 1
}

/// The home slot of a text of `tag` in a table of `mask + 1` slots (a power of two, at least
/// 1,024 as [`TextBuilder::grow`] makes them): the tag's high bits, so that a table grows from
/// the tags alone.
#[inline]
fn home(tag: u64, mask: usize) -> usize {
    (tag << 32 >> (64 - mask.count_ones())) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeping some rows of a text column: those hold their text (repeated texts, NULLs and
    /// empty texts among them), the others read as NULL, and the memory held is that of the
    /// texts kept.
    #[test]
    fn texts_keep_the_rows_asked_for() {
        let values: Vec<Option<String>> = (0..100)
            .map(|r| match r % 5 {
                0 => None,
                1 => Some("same".into()),
                2 => Some(String::new()),
                _ => Some(format!("{r} {}", "x".repeat(10_000))),
            })
            .collect();
        let texts: Texts = values.iter().cloned().collect();
        let keep: Vec<usize> = vec![0, 1, 2, 3, 6, 11, 99];
        let mut seen = Vec::new();
        let read = |keep: &[usize], seen: &mut Vec<(usize, Option<String>)>| {
            let each = |r, t: Option<&str>| {
                seen.push((r, t.map(str::to_string)));
                Ok(())
            };
            texts.clone().read_once_keeping(keep, "c", each).unwrap()
        };
        let kept = read(&keep, &mut seen);
        // Every row was shown, in order, with its text.
        assert_eq!(seen, values.iter().cloned().enumerate().collect::<Vec<_>>());
        assert_eq!(kept.len(), 100);
        for (r, value) in values.iter().enumerate() {
            let want = if keep.contains(&r) { value.as_deref() } else { None };
            assert_eq!(kept.get(r), want, "row {r}");
        }
        assert_eq!(kept.null_count(), 100 - 6);
        assert!(kept.bytes() < texts.bytes() / 4, "{} of {}", kept.bytes(), texts.bytes());
        assert_eq!(read(&[], &mut Vec::new()).null_count(), 100);
    }

    #[test]
    fn numbers_narrow_until_a_value_needs_more() {
        let mut n = Numbers::<i64>::default();
        for x in [Some(1), None, Some(-7)] {
            n.push(x, "c").unwrap();
        }
        assert!(matches!(n.store, Store::Narrow(_)));
        n.push(Some(i64::MAX), "c").unwrap();
        assert!(matches!(n.store, Store::Wide(_)));
        assert_eq!(n.iter().collect::<Vec<_>>(), [Some(1), None, Some(-7), Some(i64::MAX)]);
        assert_eq!(n.null_count(), 1);

        let reals: Numbers<f64> = [Some(0.5), Some(4.0), None].into_iter().collect();
        assert!(matches!(reals.store, Store::Narrow(_)));
        let reals: Numbers<f64> = [Some(0.5), Some(0.1), Some(-0.0)].into_iter().collect();
        assert!(matches!(reals.store, Store::Wide(_)));
        assert_eq!(reals.get(1), Some(0.1));
        assert_eq!(reals.get(2).map(f64::to_bits), Some((-0.0f64).to_bits()));

        let promoted = n.to_reals("c").unwrap();
        assert_eq!(promoted.iter().collect::<Vec<_>>(), [Some(1.0), None, Some(-7.0), Some(i64::MAX as f64)]);
        let all = Numbers::<i64>::nulls(130, "c").unwrap();
        assert_eq!((all.len(), all.null_count(), all.get(129)), (130, 130, None));
    }

    #[test]
    fn texts_dictionary_or_plain() {
        let t: Texts = [Some("a"), Some("b"), None, Some("a"), Some("")].into_iter().collect();
        assert_eq!(t.iter().collect::<Vec<_>>(), [Some("a"), Some("b"), None, Some("a"), Some("")]);
        assert_eq!((t.distinct_count(), t.code(3), t.null_count()), (3, Some(0), 1));
        // Every row distinct, none NULL: no codes.
        let docs: Texts = (0..5000).map(|i| Some(format!("doc {i}"))).collect();
        assert!(docs.codes.is_empty());
        assert_eq!(docs.get(4321), Some("doc 4321"));
        // Many repeats across table growths.
        let many: Texts = (0..10_000).map(|i| Some(format!("k{}", i % 3001))).collect();
        assert_eq!(many.distinct_count(), 3001);
        assert!((0..10_000).all(|i| many.get(i) == Some(format!("k{}", i % 3001).as_str())));
    }
}
