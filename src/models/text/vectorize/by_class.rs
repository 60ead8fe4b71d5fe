//! Counting by class: each term's occurrences (or documents) per class, kept while the texts are
//! counted instead of the documents' rows, which is all a Naive Bayes fit with count or
//! presence weighting reads ([`TermClassSums`]). The rows of a large corpus are its largest
//! table (IMDB reviews: about 12M (text, term) values, 96 MB) and three passes (appending,
//! renumbering, summing by class) that counting by class does not make; a term seen in one
//! class only (most of them) keeps its counts in its own record.

use crate::Result;
use crate::models::memory;

/// Classes up to which a text model is counted by class (a term's counts then take at most a
/// 64-byte cache line); with more, the rows are smaller (most terms occur in few classes).
pub const MAX_CLASSES: usize = 16;

/// What the allocations are called in memory errors.
const WHAT: &str = "the class counts of the training terms";

/// A term's class state ([`ClassCounts`]) before its first occurrence.
pub(super) const UNSEEN: u32 = u32::MAX;

/// The bit of a class state that says every occurrence so far is of one class (the low bits).
const SINGLE: u32 = 1 << 31;

/// A class state with a row keeps the class of its pending run from this bit up (4 bits:
/// [`MAX_CLASSES`] is 16) and the row's index below it.
const RUN_SHIFT: u32 = 27;

/// Row indices of the terms counted in two classes or more stay below this.
const MAX_ROWS: usize = 1 << RUN_SHIFT;

/// The row index of a class state with a row.
#[inline(always)]
fn row_of(state: u32) -> usize {
    (state as usize) & (MAX_ROWS - 1)
}

/// The class of the pending run of a class state with a row.
#[inline(always)]
fn run_of(state: u32) -> usize {
    (state >> RUN_SHIFT) as usize
}

/// The class state of row `row` with a pending run in `class`.
#[inline(always)]
fn with_run(row: usize, class: usize) -> u32 {
    (row | class << RUN_SHIFT) as u32
}

/// The per-class counts of a [`VocabularyBuilder`](super::VocabularyBuilder) that counts by
/// class. Each term record keeps a class state: [`UNSEEN`], one class (every occurrence so far
/// is of that class, and its counts are the record's own: its occurrences, or with `presence`
/// its texts), or the index of its row here (`k` counts, saturating, made when a second class
/// occurs) and the class of its pending run. Most distinct terms of a large corpus (71% of
/// IMDB's: n-grams of one review) occur in one class only and take no row.
///
/// A row holds the term's counts but those of its pending run: its occurrences since the last
/// one of another class, all of the run's class, whose value is the record's value less the
/// row's sum. An occurrence in the run's class reads no row (a row is a cache miss on a large
/// corpus: on the 8-class IMDB star ratings, adding 1 to it was 13% of counting); one of
/// another class adds the run to the row and starts a new one. The pipeline counts each half
/// of the texts class by class, so a term's row is written at most once a class; any order
/// gives the same counts.
#[derive(Clone, Debug, Default)]
pub(super) struct ClassCounts {
    k: usize,
    /// Count each term once per text (binary weighting, Bernoulli NB), not each occurrence.
    presence: bool,
    /// The class of the text being counted.
    class: u32,
    rows: Vec<u32>,
}

impl ClassCounts {
    /// Counts for `k` classes (`1..=MAX_CLASSES`, which
    /// [`VocabularyBuilder::by_class`](super::VocabularyBuilder::by_class) checks), of
    /// occurrences or (`presence`) of texts.
    pub(super) fn new(k: usize, presence: bool) -> ClassCounts {
        ClassCounts { k, presence, ..ClassCounts::default() }
    }

    /// Number of classes and whether texts are counted (presence) rather than occurrences:
    /// builders append only if these agree.
    pub(super) fn shape(&self) -> (usize, bool) {
        (self.k, self.presence)
    }

    /// Number of classes.
    pub(super) fn k(&self) -> usize {
        self.k
    }

    /// Rows made so far (terms seen in two classes or more).
    pub(super) fn rows(&self) -> usize {
        self.rows.len() / self.k.max(1)
    }

    /// Sets the class of the texts counted next; refuses one out of range.
    pub(super) fn set_class(&mut self, class: u32) -> Result<()> {
        if class as usize >= self.k {
            return Err(crate::Error::Internal(format!("class {class} of {} counted", self.k)));
        }
        self.class = class;
        Ok(())
    }

    /// A term's value in its class when it has one: its `count` of occurrences, or with
    /// presence its `df`.
    #[inline]
    pub(super) fn value(&self, count: u32, df: u32) -> u32 {
        if self.presence { df } else { count }
    }

    /// Counts an occurrence in the current class of a term in class `state`, whose
    /// [`value`](Self::value) was `so_far` before it (the record counts the occurrence).
    #[inline]
    pub(super) fn occur(&mut self, state: &mut u32, so_far: u32) {
        if *state == UNSEEN {
            *state = SINGLE | self.class;
            return;
        }
        if *state & SINGLE != 0 {
            let c = (*state & !SINGLE) as usize;
            if c == self.class as usize {
                return;
            }
            // A second class: the term gets its row, whose pending run starts here.
            self.give_row(state, so_far);
            return;
        }
        let (row, run) = (row_of(*state), run_of(*state));
        if run != self.class as usize {
            // Another class than the pending run's: the run goes into the row.
            add_run(&mut self.rows[row * self.k..][..self.k], run, so_far);
            *state = with_run(row, self.class as usize);
        }
    }

    /// Gives a term of one class (`state`, of value `value` in it) its row: zeros but that
    /// class's `value` (room reserved before), with a pending run in the current class.
    fn give_row(&mut self, state: &mut u32, value: u32) {
        let (class, row) = ((*state & !SINGLE) as usize, self.rows.len() / self.k);
        self.rows.resize(self.rows.len() + self.k, 0);
        self.rows[row * self.k + class] = value;
        *state = with_run(row, self.class as usize);
    }

    /// The counts of a term in class `state` of [`value`](Self::value) `value`, into `out`
    /// (`k` long).
    pub(super) fn counts(&self, state: u32, value: u32, out: &mut [u32]) {
        out.fill(0);
        match state {
            UNSEEN => {}
            _ if state & SINGLE != 0 => out[(state & !SINGLE) as usize] = value,
            _ => {
                out.copy_from_slice(&self.rows[row_of(state) * self.k..][..self.k]);
                add_run(out, run_of(state), value);
            }
        }
    }

    /// Prefetches the row of a term in class `state`, if it has one (a hint).
    #[inline(always)]
    pub(super) fn prefetch_row(&self, state: u32) {
        if state & SINGLE == 0
            && let Some(n) = self.rows.get(row_of(state) * self.k)
        {
            super::index::prefetch(n);
        }
    }

    /// A copy (memory refused is an error, not an abort).
    pub(super) fn try_clone(&self) -> Result<ClassCounts> {
        Ok(ClassCounts { rows: memory::copy(&self.rows, WHAT)?, ..*self })
    }

    /// Room for `terms` more terms to get their row (memory refused is an error). Refuses rows
    /// past [`MAX_ROWS`].
    pub(super) fn reserve(&mut self, terms: usize) -> Result<()> {
        let (k, v) = (self.k, &mut self.rows);
        if (v.len() / k).saturating_add(terms) >= MAX_ROWS {
            return Err(super::builder::too_many(
                MAX_ROWS as u64 - 1,
                "distinct terms in two classes or more",
            ));
        }
        let more = terms.saturating_mul(k);
        v.try_reserve(more).map_err(|_| memory::refused((v.len().saturating_add(more) * 4) as f64, WHAT))
    }

    /// Room for `scale` times the rows made so far and an eighth more (a hint, as
    /// [`VocabularyBuilder::reserve_ahead`](super::VocabularyBuilder::reserve_ahead)).
    pub(super) fn reserve_ahead(&mut self, scale: f64) {
        let want = (self.rows.len() as f64 * scale * 1.125) as usize;
        let _ = self.rows.try_reserve_exact(want.saturating_sub(self.rows.len()));
    }

    /// Adds a term counted by `theirs` (another builder's counts, of the same classes: state
    /// `their_state`, value `their_value`) to the same term here (`mine`, of value `my_value`
    /// before the merge, which the caller then adds `their_value` to). Room for a row is
    /// reserved before ([`Self::reserve`]). A merged row holds every count (no pending run).
    pub(super) fn merge(
        &mut self,
        mine: &mut u32,
        my_value: u32,
        theirs: &ClassCounts,
        their_state: u32,
        their_value: u32,
    ) {
        if their_state == UNSEEN || (*mine == their_state && *mine & SINGLE != 0) {
            return;
        }
        if *mine == UNSEEN {
            *mine = self.append(theirs, their_state);
            return;
        }
        if *mine & SINGLE != 0 {
            self.give_row(mine, my_value);
        }
        let k = self.k;
        let row = &mut self.rows[row_of(*mine) * k..][..k];
        // Settle this side's pending run, then add the other side's counts, run and all: the
        // row then sums to the merged value.
        add_run(row, run_of(*mine), my_value);
        let mut their_counts = [0u32; MAX_CLASSES];
        theirs.counts(their_state, their_value, &mut their_counts[..k]);
        for (m, &n) in row.iter_mut().zip(&their_counts[..k]) {
            *m = m.saturating_add(n);
        }
    }

    /// The state here of a term new to these counts, of state `their_state` in `theirs` (room
    /// for a row reserved before): its row copied, its pending run kept (the record keeps its
    /// value).
    pub(super) fn append(&mut self, theirs: &ClassCounts, their_state: u32) -> u32 {
        if their_state == UNSEEN || their_state & SINGLE != 0 {
            return their_state;
        }
        let k = self.k;
        let row = self.rows.len() / k;
        self.rows.extend_from_slice(&theirs.rows[row_of(their_state) * k..][..k]);
        with_run(row, run_of(their_state))
    }
}

/// Adds the pending run of a term of value `value` (all of class `run`) to its `row`: the value
/// less what the row holds. With a value saturated at `u32::MAX` (more than 4·10⁹
/// occurrences), the run is what the value leaves.
#[inline]
fn add_run(row: &mut [u32], run: usize, value: u32) {
    let held: u64 = row.iter().map(|&n| u64::from(n)).sum();
    let pending = u64::from(value).saturating_sub(held) as u32;
    row[run] = row[run].saturating_add(pending);
}

/// Each kept term's summed value per class, by term in vocabulary order (the classes ascending,
/// only those it occurs in), and each class's total over the kept terms: what
/// [`NaiveBayes::from_class_sums`](crate::models::text::naive_bayes::NaiveBayes::from_class_sums)
/// fits. The same sums, bit for bit, as summing the documents' rows by class (the counts are
/// integers, exact in `f64`), except where a row's `f32` count stops at 2²⁴ (a text with more
/// than 16,777,216 occurrences of one term: here it is counted in full, as prediction counts it).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TermClassSums {
    /// Term `f`'s entries are `offsets[f]..offsets[f + 1]`; `offsets.len()` is the terms + 1.
    pub offsets: Vec<u32>,
    /// The class of each entry.
    pub classes: Vec<u32>,
    /// The summed value of each entry (never 0).
    pub sums: Vec<f64>,
    /// Each class's sum over every kept term.
    pub totals: Vec<f64>,
}

impl TermClassSums {
    /// Sums for `k` classes, room for `terms` terms of which at most `rows` occur in more
    /// than one class (memory refused is an error).
    pub(super) fn with_terms(k: usize, terms: usize, rows: usize) -> Result<TermClassSums> {
        let mut offsets = memory::with_capacity(terms + 1, WHAT)?;
        offsets.push(0);
        // A term of one class has one entry, one with a row at least two (up to `k`: more are
        // made room for as they come, rather than `k` for each, most of them unused).
        let entries = terms.saturating_add(rows.min(terms));
        let classes = memory::with_capacity(entries, WHAT)?;
        let sums = memory::with_capacity(entries, WHAT)?;
        Ok(TermClassSums { offsets, classes, sums, totals: vec![0.0; k] })
    }

    /// Gives back the room reserved for entries that did not come.
    pub(super) fn shrink_to_fit(&mut self) {
        self.classes.shrink_to_fit();
        self.sums.shrink_to_fit();
    }

    /// Appends the next term's `counts` (one per class).
    pub(super) fn push(&mut self, counts: &[u32]) -> Result<()> {
        // Every class is written at the end, and the end moves past those counted: no branch
        // on the counts, which follow no pattern.
        let mut end = self.classes.len();
        memory::reserve(&mut self.classes, counts.len(), WHAT)?;
        memory::reserve(&mut self.sums, counts.len(), WHAT)?;
        self.classes.resize(end + counts.len(), 0);
        self.sums.resize(end + counts.len(), 0.0);
        for ((c, &n), total) in counts.iter().enumerate().zip(&mut self.totals) {
            self.classes[end] = c as u32;
            self.sums[end] = n as f64;
            // (Adding a zero count leaves a total's bits as they are.)
            *total += n as f64;
            end += usize::from(n > 0);
        }
        self.classes.truncate(end);
        self.sums.truncate(end);
        let end = u32::try_from(self.classes.len()).map_err(|_| {
            crate::Error::data(format!(
                "the corpus has more than {} (term, class) pairs, more than a naive Bayes model holds (use fewer texts, raise 'min_df' or lower 'max_features')",
                u32::MAX
            ))
        })?;
        self.offsets.push(end);
        Ok(())
    }
}
