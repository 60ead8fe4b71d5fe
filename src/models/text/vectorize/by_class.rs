//! Counting by class: each term's occurrences (or documents) per class, kept while the texts are
//! counted instead of the documents' rows, which is all a Naive Bayes fit with count or
//! presence weighting reads ([`TermClassSums`]). The rows of a large corpus are its largest
//! table (IMDB reviews: about 12M (text, term) values, 96 MB) and three passes (appending,
//! renumbering, summing by class) that counting by class does not make; a term seen in one
//! class only (most of them) keeps its counts in its own record. A term of two classes or more
//! gets a dense row of counts with few classes, and a list of runs with more (most terms occur
//! in few of many classes: see [`ClassCounts`]).

use crate::Result;
use crate::models::memory;
use std::borrow::Cow;

/// Classes up to which a term of two classes or more gets a dense row of counts (at most a
/// 64-byte cache line); with more, a list of its runs of each class (`ClassCounts`).
pub const DENSE_CLASSES: usize = 16;

/// Classes counted by class at most: a term of one class keeps its class in 31 bits of its state,
/// whose last value (all 32 bits set) means unseen.
pub const MAX_CLASSES: usize = (1 << 31) - 1;

/// What the allocations are called in memory errors.
const WHAT: &str = "the class counts of the training terms";

/// A term's class state ([`ClassCounts`]) before its first occurrence.
pub(super) const UNSEEN: u32 = u32::MAX;

/// The bit of a class state that says every occurrence so far is of one class (the low bits).
const SINGLE: u32 = 1 << 31;

/// A class state with a row keeps the class of its pending run from this bit up (4 bits:
/// [`DENSE_CLASSES`] is 16) and the row's index below it.
const RUN_SHIFT: u32 = 27;

/// Row indices of the terms counted in two classes or more stay below this.
const MAX_ROWS: usize = 1 << RUN_SHIFT;

/// With many classes, a class state with a list is the list's index, below this (the
/// [`SINGLE`] bit clear).
const MAX_LISTS: usize = (1 << 31) - 1;

/// A list of another builder's counts not yet met while appending them ([`ClassCounts::absorb`]).
const NOT_MET: u32 = u32::MAX;

/// The pending run of a list `[run, settled]` of a term of value `value`: (class, count), if
/// it holds any (the value past what the settled runs sum to).
#[inline(always)]
fn pending_run([run, settled]: [u32; 2], value: u32) -> Option<[u32; 2]> {
    let pending = value.saturating_sub(settled);
    (pending > 0).then_some([run, pending])
}

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

#[cfg(test)]
thread_local! {
    /// The entries of large runs are refused on this thread, as memory would be (tests).
    pub(super) static REFUSE_LARGE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How a settled run's class and count share 32 bits, with `k` classes: the class in the high
/// bits (as many as `k` itself takes, so that the class `k` marks a run too large for them), the count
/// in the rest (25 bits at 77 classes). Grouped by list, a run then takes 4 bytes where (class,
/// count) took 8: at a million texts of 77 classes, 10.5M runs, 42 MB instead of 84 at the
/// peak of training.
#[derive(Clone, Copy, Debug)]
struct Packing {
    /// Bits of the count.
    count_bits: u32,
    /// The class `k`: the mark of a run whose count does not fit (see [`Packing::large`]).
    large: u32,
}

impl Packing {
    /// The packing of `k` classes (`1..=MAX_CLASSES`: at most 31 bits of class, at least one
    /// of count).
    fn of(k: usize) -> Packing {
        debug_assert!((1..=MAX_CLASSES).contains(&k), "{k} classes packed");
        let large = k as u32;
        Packing { count_bits: large.leading_zeros(), large }
    }

    /// Class `class` (below `k`) and `count` in 32 bits, or None when the count does not fit.
    #[inline(always)]
    fn pack(self, class: u32, count: u32) -> Option<u32> {
        debug_assert!(class < self.large, "class {class} of {}", self.large);
        (u64::from(count) < 1u64 << self.count_bits).then(|| class << self.count_bits | count)
    }

    /// The entry that marks a run whose count does not fit: the two entries after it are its
    /// class and its count, whole (runs are grouped by a stable sort, so they stay together).
    #[inline(always)]
    fn large(self) -> u32 {
        self.large << self.count_bits
    }

    /// (class, count) of a packed run, or None for the mark of a large one.
    #[inline(always)]
    fn unpack(self, packed: u32) -> Option<(u32, u32)> {
        let class = packed >> self.count_bits;
        (class != self.large).then(|| (class, packed & ((1u32 << self.count_bits) - 1)))
    }
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
///
/// With more than [`DENSE_CLASSES`] classes a row of `k` counts would be mostly zeros (77
/// classes: 308 bytes a term), so a term of two classes or more gets a list instead: its
/// pending run's class and the value its settled runs sum to (8 bytes), and each settled run is
/// logged as the run ends: its list and its class and count packed in 32 bits ([`Packing`]; 8
/// bytes a run; a count too large for its bits takes three entries). Counted class by class, a term has a
/// run a class it occurs in (two for the class where the threads meet); the runs are grouped by
/// list once, when the counts are summed ([`ClassCounts::into_lists`]).
#[derive(Clone, Debug, Default)]
pub(super) struct ClassCounts {
    k: usize,
    /// Count each term once per text (binary weighting, Bernoulli NB), not each occurrence.
    presence: bool,
    /// The class of the text being counted.
    class: u32,
    /// With few classes: the rows, `k` counts each.
    rows: Vec<u32>,
    /// With many classes: each list's pending run's class and settled value.
    lists: Vec<[u32; 2]>,
    /// With many classes: the settled runs (list, class and count [`Packing::pack`]ed), in the
    /// order they ended; a run whose count does not fit, three entries of its list: the mark
    /// ([`Packing::large`]), its class, its count. Rare: 33M occurrences at 77 classes.
    runs: Vec<[u32; 2]>,
    /// Memory for the two more entries of a large run was refused: the counts are incomplete,
    /// and the next [`ClassCounts::reserve`], [`ClassCounts::summing`] or (of the counts
    /// appended) [`ClassCounts::absorb`] says so.
    large_refused: bool,
    /// While another builder's counts are appended: its lists' lists here ([`NOT_MET`] before
    /// its term is met), for its runs ([`ClassCounts::absorb`]).
    their_lists: Vec<u32>,
}

impl ClassCounts {
    /// Counts for `k` classes (`1..=MAX_CLASSES`, which
    /// [`VocabularyBuilder::by_class`](super::VocabularyBuilder::by_class) checks), of
    /// occurrences or (`presence`) of texts.
    pub(super) fn new(k: usize, presence: bool) -> ClassCounts {
        ClassCounts { k, presence, ..ClassCounts::default() }
    }

    /// Whether the terms of two classes or more get lists (many classes) rather than rows.
    #[inline(always)]
    fn listed(&self) -> bool {
        self.k > DENSE_CLASSES
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

    /// Rows (or lists) made so far: terms seen in two classes or more.
    pub(super) fn rows(&self) -> usize {
        if self.listed() { self.lists.len() } else { self.rows.len() / self.k.max(1) }
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

    /// Prefetches what [`ClassCounts::occur`] will read for a term in class `state`: its row
    /// (or list) when it has one whose pending run is of another class than the current (a
    /// row is read at random, a cache miss on a large corpus: on the IMDB star ratings, about
    /// half of the time of counting an occurrence by class).
    #[inline]
    pub(super) fn prefetch(&self, state: u32) {
        if self.listed() || state & SINGLE != 0 || run_of(state) != self.class as usize {
            self.prefetch_held(state);
        }
    }

    /// Prefetches the row (or list) of a term in class `state`, if it has one (appending
    /// another builder's counts reads both sides' at random).
    #[inline]
    pub(super) fn prefetch_held(&self, state: u32) {
        if state & SINGLE != 0 {
            // UNSEEN has it set too: neither has a row.
            return;
        }
        if self.listed() {
            if let Some(list) = self.lists.get(state as usize) {
                super::index::prefetch(list);
            }
        } else {
            // (A row of 8 classes or more may cross a cache line: both ends.)
            let start = row_of(state) * self.k;
            for n in [self.rows.get(start), self.rows.get(start + self.k - 1)].into_iter().flatten() {
                super::index::prefetch(n);
            }
        }
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
            // A second class: the term gets its row (or list), whose pending run starts here.
            if self.listed() {
                self.give_list(state, so_far);
            } else {
                self.give_row(state, so_far);
            }
            return;
        }
        if self.listed() {
            let list = &mut self.lists[*state as usize];
            if list[0] != self.class {
                // Another class than the pending run's: the run is settled (logged).
                let pending = pending_run(*list, so_far);
                *list = [self.class, list[1].max(so_far)];
                if let Some([run, count]) = pending {
                    self.settle(*state, run, count);
                }
            }
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

    /// Gives a term of one class (`state`, of value `value` in it) its list, with that class's
    /// run settled and a pending run in the current class (room reserved before).
    fn give_list(&mut self, state: &mut u32, value: u32) {
        let (class, list) = (*state & !SINGLE, self.lists.len() as u32);
        self.lists.push([self.class, value]);
        self.settle(list, class, value);
        *state = list;
    }

    /// Logs a settled run of list `list`: `count` in class `class` (room for one entry reserved
    /// before; the two more of a large run taken fallibly, see `large_refused`).
    #[inline]
    fn settle(&mut self, list: u32, class: u32, count: u32) {
        let packing = Packing::of(self.k);
        match packing.pack(class, count) {
            Some(packed) => self.runs.push([list, packed]),
            None => self.settle_large(list, class, count, packing),
        }
    }

    /// [`ClassCounts::settle`] of a run whose count does not fit its packing.
    #[cold]
    fn settle_large(&mut self, list: u32, class: u32, count: u32, packing: Packing) {
        #[cfg(test)]
        let refused = REFUSE_LARGE.with(std::cell::Cell::get);
        #[cfg(not(test))]
        let refused = false;
        if refused || self.runs.try_reserve(3).is_err() {
            self.large_refused = true;
            return;
        }
        self.runs.extend([[list, packing.large()], [list, class], [list, count]]);
    }

    /// The error of a large run refused its entries.
    fn check_large(&self) -> Result<()> {
        if self.large_refused {
            return Err(memory::refused(
                (self.runs.len() + 3) as f64 * 8.0,
                "the class counts of the training terms (runs of large counts)",
            ));
        }
        Ok(())
    }

    /// The counts of a term in class `state` of [`value`](Self::value) `value`, into `out`
    /// (`k` long), with few classes ([`ClassCounts::into_lists`] with many).
    fn counts(&self, state: u32, value: u32, out: &mut [u32]) {
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
    fn prefetch_row(&self, state: u32) {
        if state & SINGLE == 0
            && let Some(n) = self.rows.get(row_of(state) * self.k)
        {
            super::index::prefetch(n);
        }
    }

    /// A copy (memory refused is an error, not an abort).
    pub(super) fn try_clone(&self) -> Result<ClassCounts> {
        Ok(ClassCounts {
            rows: memory::copy_huge(&self.rows, WHAT)?,
            lists: memory::copy_huge(&self.lists, WHAT)?,
            runs: memory::copy(&self.runs, WHAT)?,
            their_lists: Vec::new(),
            ..*self
        })
    }

    /// Room for `terms` more terms to get their row or list, and with many classes for two
    /// settled runs each (memory refused is an error). Refuses rows past [`MAX_ROWS`] (lists
    /// past [`MAX_LISTS`]).
    pub(super) fn reserve(&mut self, terms: usize) -> Result<()> {
        let refused = |bytes: usize| memory::refused(bytes as f64, WHAT);
        if self.listed() {
            if self.lists.len().saturating_add(terms) >= MAX_LISTS {
                return Err(super::builder::too_many(
                    MAX_LISTS as u64 - 1,
                    "distinct terms in two classes or more",
                ));
            }
            self.check_large()?;
            // (Rows and lists are read at random.)
            memory::reserve_huge(&mut self.lists, terms, WHAT)?;
            let runs = &mut self.runs;
            let more = terms.saturating_mul(2);
            return runs
                .try_reserve(more)
                .map_err(|_| refused(runs.len().saturating_add(more).saturating_mul(8)));
        }
        let (k, v) = (self.k, &mut self.rows);
        if (v.len() / k).saturating_add(terms) >= MAX_ROWS {
            return Err(super::builder::too_many(
                MAX_ROWS as u64 - 1,
                "distinct terms in two classes or more",
            ));
        }
        let more = terms.saturating_mul(k);
        memory::reserve_huge(v, more, WHAT)
    }

    /// Room for `scale` times the rows (lists and runs) made so far and an eighth more (a hint,
    /// as [`VocabularyBuilder::reserve_ahead`](super::VocabularyBuilder::reserve_ahead)).
    pub(super) fn reserve_ahead(&mut self, scale: f64) {
        // (Rows and lists are read at random; the runs are appended in order.)
        memory::reserve_scaled_huge(&mut self.rows, scale);
        memory::reserve_scaled_huge(&mut self.lists, scale);
        memory::reserve_scaled(&mut self.runs, scale);
    }

    /// Readies the append of `theirs` (another builder's counts, of the same classes), of
    /// which `both` terms may be known here too: room for their rows (or lists), and with many
    /// classes the map of their lists to be filled by [`ClassCounts::merge`] and
    /// [`ClassCounts::append`], then used by [`ClassCounts::absorb`].
    pub(super) fn start_append(&mut self, theirs: &ClassCounts, both: usize) -> Result<()> {
        self.reserve(both.saturating_add(theirs.rows()))?;
        if self.listed() {
            self.their_lists = memory::with_capacity(theirs.lists.len(), WHAT)?;
            self.their_lists.resize(theirs.lists.len(), NOT_MET);
        }
        Ok(())
    }

    /// Ends the append of `theirs` (after every term of theirs is merged or appended): with
    /// many classes, their settled runs are logged here, under the lists their terms have here.
    /// A list not met is an internal error.
    pub(super) fn absorb(&mut self, theirs: &ClassCounts) -> Result<()> {
        if !self.listed() {
            return Ok(());
        }
        theirs.check_large()?;
        let map = std::mem::take(&mut self.their_lists);
        let mine = |list: u32| match map.get(list as usize) {
            Some(&mine) if mine != NOT_MET => Ok(mine),
            _ => Err(crate::Error::Internal("a list of class counts not met in an append".into())),
        };
        // (Of the same classes: packed the same way; the entries of a large run stay together.)
        memory::reserve(&mut self.runs, theirs.runs.len(), WHAT)?;
        for &[list, packed] in &theirs.runs {
            self.runs.push([mine(list)?, packed]);
        }
        Ok(())
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
        if self.listed() {
            self.merge_listed((mine, my_value), (theirs, their_state, their_value));
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
        let mut their_counts = [0u32; DENSE_CLASSES];
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
        if self.listed() {
            // Its list copied (its runs come with `absorb`), its pending run kept.
            let list = self.lists.len() as u32;
            self.lists.push(theirs.lists[their_state as usize]);
            self.their_lists[their_state as usize] = list;
            return list;
        }
        let k = self.k;
        let row = self.rows.len() / k;
        self.rows.extend_from_slice(&theirs.rows[row_of(their_state) * k..][..k]);
        with_run(row, run_of(their_state))
    }

    /// [`ClassCounts::merge`] with many classes, of a term known on both sides (neither
    /// [`UNSEEN`]): this side's pending run is settled (a term of one class gets its list), the
    /// other side's class, or pending run, is logged here, and their settled runs are noted to
    /// come with [`ClassCounts::absorb`]. The list is settled up to the merged value: no
    /// pending run.
    fn merge_listed(
        &mut self,
        (mine, my_value): (&mut u32, u32),
        (theirs, their_state, their_value): (&ClassCounts, u32, u32),
    ) {
        if *mine & SINGLE != 0 {
            // (Its pending run, set here, is overwritten below.)
            self.give_list(mine, my_value);
        } else if let Some([run, count]) = pending_run(self.lists[*mine as usize], my_value) {
            self.settle(*mine, run, count);
        }
        if their_state & SINGLE != 0 {
            self.settle(*mine, their_state & !SINGLE, their_value);
        } else {
            if let Some([run, count]) = pending_run(theirs.lists[their_state as usize], their_value) {
                self.settle(*mine, run, count);
            }
            self.their_lists[their_state as usize] = *mine;
        }
        self.lists[*mine as usize] = [self.class, my_value.saturating_add(their_value)];
    }

    /// These counts made ready to be read term by term for the class sums ([`Summing`]): the
    /// rows as they are, or the lists' settled runs grouped by list (`tick` ticked now and
    /// then). Counts borrowed are left as they are, to count on (a measured fit's, for the
    /// refit on every row).
    pub(super) fn summing<'a>(
        counts: Cow<'a, ClassCounts>,
        tick: &dyn Fn(u64) -> Result<()>,
    ) -> Result<Summing<'a>> {
        Ok(match counts {
            counts if !counts.listed() => Summing::Rows { counts, row: [0; DENSE_CLASSES] },
            Cow::Owned(counts) => Summing::Lists { lists: counts.into_lists(tick)?, listed: Vec::new() },
            Cow::Borrowed(counts) => Summing::Lists {
                lists: counts.grouped(Cow::Borrowed(&counts.lists), tick)?,
                listed: Vec::new(),
            },
        })
    }

    /// With many classes, the settled runs grouped by list, for the class sums
    /// ([`Lists::counts`]); `tick` is ticked now and then. More runs than a u32 counts is an
    /// error. The runs are given back once grouped.
    fn into_lists(mut self, tick: &dyn Fn(u64) -> Result<()>) -> Result<Lists<'static>> {
        let lists = std::mem::take(&mut self.lists);
        self.grouped(Cow::Owned(lists), tick)
    }

    /// [`ClassCounts::into_lists`] of these runs, with `lists` (these counts' lists, moved or
    /// borrowed).
    fn grouped<'a>(&self, lists: Cow<'a, [[u32; 2]]>, tick: &dyn Fn(u64) -> Result<()>) -> Result<Lists<'a>> {
        self.check_large()?;
        let packing = Packing::of(self.k);
        let (presence, runs) = (self.presence, &self.runs);
        if u32::try_from(runs.len()).is_err() {
            return Err(super::builder::too_many(u64::from(u32::MAX), "(term, class) counts"));
        }
        let mut offsets: Vec<u32> = memory::zeroed(lists.len() + 1, WHAT)?;
        for r in runs {
            offsets[r[0] as usize + 1] += 1;
        }
        for l in 0..lists.len() {
            offsets[l + 1] += offsets[l];
        }
        let mut fill: Vec<u32> = memory::copy(&offsets[..lists.len()], WHAT)?;
        // (Every entry is written below: the zeros are the kernel's, not written first.)
        let mut entries: Vec<u32> = memory::zeroed(runs.len(), WHAT)?;
        for (i, &[list, packed]) in runs.iter().enumerate() {
            if i % 65536 == 65535 {
                tick(65536)?;
            }
            let at = &mut fill[list as usize];
            entries[*at as usize] = packed;
            *at += 1;
        }
        // (A counting sort: stable, so a large run's three entries stay together.)
        Ok(Lists { presence, lists, offsets, entries, packing })
    }
}

/// Class counts read term by term, in any order, into the class sums
/// ([`ClassCounts::summing`]), each kind with its scratch.
pub(super) enum Summing<'a> {
    /// Few classes: the rows (owned, or borrowed from counts left to count on), and a term's
    /// counts of every class.
    Rows { counts: Cow<'a, ClassCounts>, row: [u32; DENSE_CLASSES] },
    /// Many classes: the lists, and a term's (class, count) of the classes it occurs in.
    Lists { lists: Lists<'a>, listed: Vec<(u32, u32)> },
}

impl Summing<'_> {
    /// Prefetches what [`Summing::push`] reads of a term in class `state` (a hint).
    #[inline(always)]
    pub(super) fn prefetch(&self, state: u32) {
        match self {
            Summing::Rows { counts, .. } => counts.prefetch_row(state),
            Summing::Lists { lists, .. } => lists.prefetch(state),
        }
    }

    /// Appends to `sums` the counts of the next term: class state `state`, `count`
    /// occurrences in `df` texts.
    pub(super) fn push(
        &mut self,
        (state, count, df): (u32, u32, u32),
        sums: &mut TermClassSums,
    ) -> Result<()> {
        match self {
            Summing::Rows { counts, row } => {
                let row = &mut row[..counts.k];
                counts.counts(state, counts.value(count, df), row);
                sums.push(row)
            }
            Summing::Lists { lists, listed } => {
                lists.counts(state, lists.value(count, df), listed)?;
                sums.push_listed(listed)
            }
        }
    }
}

/// With many classes, each list's settled runs grouped ([`ClassCounts::into_lists`]).
pub(super) struct Lists<'a> {
    presence: bool,
    /// The lists (owned, or borrowed from counts left to count on).
    lists: Cow<'a, [[u32; 2]]>,
    /// List `l`'s runs are `entries[offsets[l]..offsets[l + 1]]`.
    offsets: Vec<u32>,
    /// The class and count of each settled run, packed (a large run: its mark, class, count).
    entries: Vec<u32>,
    packing: Packing,
}

impl Lists<'_> {
    /// As [`ClassCounts::value`].
    #[inline]
    fn value(&self, count: u32, df: u32) -> u32 {
        if self.presence { df } else { count }
    }

    /// Prefetches the list of a term in class `state`, if it has one (a hint).
    #[inline(always)]
    fn prefetch(&self, state: u32) {
        if state & SINGLE == 0
            && let (Some(l), Some(o)) = (self.lists.get(state as usize), self.offsets.get(state as usize))
        {
            super::index::prefetch(l);
            super::index::prefetch(o);
        }
    }

    /// The counts of a term in class `state` of [`value`](Self::value) `value`, into `out`:
    /// (class, count) of each class it occurs in, ascending (the runs of a class summed,
    /// saturating, as a row sums them). `out` grows fallibly (a term's classes are as many as
    /// the data has).
    fn counts(&self, state: u32, value: u32, out: &mut Vec<(u32, u32)>) -> Result<()> {
        out.clear();
        memory::reserve(out, 1, WHAT)?;
        match state {
            UNSEEN => {}
            _ if state & SINGLE != 0 => out.push((state & !SINGLE, value)),
            _ => {
                let l = state as usize;
                let runs = &self.entries[self.offsets[l] as usize..self.offsets[l + 1] as usize];
                memory::reserve(out, runs.len() + 1, WHAT)?;
                let mut runs = runs.iter();
                while let Some(&packed) = runs.next() {
                    match self.packing.unpack(packed) {
                        Some(run) => out.push(run),
                        // A large run: its class and count follow.
                        None => match (runs.next(), runs.next()) {
                            (Some(&class), Some(&count)) => out.push((class, count)),
                            _ => {
                                return Err(crate::Error::Internal(
                                    "a large run of class counts cut short".into(),
                                ));
                            }
                        },
                    }
                }
                if let Some([run, count]) = pending_run(self.lists[l], value) {
                    out.push((run, count));
                }
                out.sort_unstable_by_key(|&(c, _)| c);
                out.dedup_by(|later, kept| {
                    let same = later.0 == kept.0;
                    if same {
                        kept.1 = kept.1.saturating_add(later.1);
                    }
                    same
                });
            }
        }
        Ok(())
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
    /// The summed value of each entry (never 0): a count, exact in 4 bytes where an `f64`
    /// took 8 (at a million texts of 77 classes, 10M entries: the peak of training was where
    /// they are made).
    pub sums: Vec<u32>,
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
        Ok(TermClassSums { offsets, classes, sums, totals: memory::zeroed(k, WHAT)? })
    }

    /// Gives back the room reserved for entries that did not come.
    pub(super) fn shrink_to_fit(&mut self) {
        self.classes.shrink_to_fit();
        self.sums.shrink_to_fit();
    }

    /// Appends the next term's counts given as (class, count) of the classes it occurs in,
    /// ascending (each count above 0): what [`TermClassSums::push`] makes of the dense counts.
    fn push_listed(&mut self, counts: &[(u32, u32)]) -> Result<()> {
        memory::reserve(&mut self.classes, counts.len(), WHAT)?;
        memory::reserve(&mut self.sums, counts.len(), WHAT)?;
        for &(c, n) in counts {
            let Some(total) = self.totals.get_mut(c as usize) else {
                return Err(crate::Error::Internal(format!("class {c} of {} summed", self.totals.len())));
            };
            self.classes.push(c);
            self.sums.push(n);
            *total += n as f64;
        }
        self.end_term()
    }

    /// Appends the next term's `counts` (one per class).
    fn push(&mut self, counts: &[u32]) -> Result<()> {
        // Every class is written at the end, and the end moves past those counted: no branch
        // on the counts, which follow no pattern.
        let mut end = self.classes.len();
        memory::reserve(&mut self.classes, counts.len(), WHAT)?;
        memory::reserve(&mut self.sums, counts.len(), WHAT)?;
        self.classes.resize(end + counts.len(), 0);
        self.sums.resize(end + counts.len(), 0);
        for ((c, &n), total) in counts.iter().enumerate().zip(&mut self.totals) {
            self.classes[end] = c as u32;
            self.sums[end] = n;
            // (Adding a zero count leaves a total's bits as they are.)
            *total += n as f64;
            end += usize::from(n > 0);
        }
        self.classes.truncate(end);
        self.sums.truncate(end);
        self.end_term()
    }

    /// Ends the entries of the term just pushed.
    fn end_term(&mut self) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::{MAX_CLASSES, Packing};

    /// Every class below `k` packs with every count that fits, and unpacks to itself; the
    /// first count that does not fit is refused; the mark of a large run unpacks to nothing.
    #[test]
    fn runs_pack_in_32_bits_by_the_classes() {
        for (k, count_bits) in
            [(1, 31), (2, 30), (17, 27), (77, 25), (128, 24), (1 << 20, 11), (MAX_CLASSES, 1)]
        {
            let p = Packing::of(k);
            assert_eq!(p.count_bits, count_bits, "{k} classes");
            let most = (1u32 << count_bits) - 1;
            for class in [0, (k / 2) as u32, k as u32 - 1] {
                for count in [0, 1, most] {
                    let packed = p.pack(class, count).unwrap();
                    assert_eq!(p.unpack(packed), Some((class, count)), "{k} classes");
                    assert_ne!(packed, p.large());
                }
                assert_eq!(p.pack(class, most + 1), None, "{k} classes");
                assert_eq!(p.pack(class, u32::MAX), None, "{k} classes");
            }
            assert_eq!(p.unpack(p.large()), None);
        }
    }
}
