//! [`VocabularyBuilder`]: counts the training documents' terms (words by their bytes, longer
//! n-grams as pairs of ids; staged probes on a large table; two builders appended), then
//! prunes, spells out and sorts them into a [`Vocabulary`] and the documents' weighted rows, or
//! (counting by class, [`VocabularyBuilder::by_class`]) each term's sums by class.

use super::super::tokenize::{Gram, Tokens, combine, term_hash};
use super::by_class::{ClassCounts, MAX_CLASSES, TermClassSums, UNSEEN};
use super::index::{AHEAD, EMPTY, Index, prefetch, same_bytes, tag, untag};
use super::seen_twice::SeenTwice;
use super::vocabulary::Vocabulary;
use super::weighting::{SparseRows, Weighting, idf, write_counts};
use crate::Result;
use crate::models::control::Control;
use crate::models::memory;
use std::borrow::Cow;
use std::sync::Arc;

/// Index size (slots) from which [`VocabularyBuilder::add`] probes in stages: below it (1 MiB of
/// slots, up to 64k terms: Banking77, not ChnSentiCorp) the counts' tables mostly stay in the
/// CPU caches and the stages would only add passes (measured: +3% training time on Banking77).
const STAGED_FROM: usize = 1 << 17;

/// [`prefetch`] of `bytes[i]`, nothing when `i` is out of range (an empty term's bounds).
#[inline(always)]
fn prefetch_byte(bytes: &[u8], i: usize) {
    if let Some(b) = bytes.get(i) {
        prefetch(b);
    }
}

/// A term kept by [`VocabularyBuilder::finish`]: its sort key (first 8 bytes, big-endian) and
/// what the passes in sorted order need of its record (so that they read none at random).
#[derive(Clone, Copy)]
struct Entry {
    prefix: u64,
    /// Provisional id.
    id: u32,
    start: u32,
    end: u32,
    df: u32,
    count: u32,
    /// Its class state, when counting by class ([`TermStats::pos`]).
    pos: u32,
}

/// The kept terms of [`VocabularyBuilder::finish`] and [`VocabularyBuilder::finish_by_class`]
/// in vocabulary order ([`VocabularyBuilder::sorted_terms`]).
struct Sorted {
    vocab: Vocabulary,
    /// Their entries (`id`: the provisional id, words first then pairs).
    entries: Vec<Entry>,
    /// Provisional id → id in the vocabulary (`u32::MAX`: dropped), when asked for.
    remap: Vec<u32>,
}

/// A term seen in training: where its bytes are, the [`tag`] of its hash, and its counts
/// (28 bytes: the records outgrow the caches on a large corpus).
#[derive(Clone, Copy)]
struct TermStats {
    start: u32,
    end: u32,
    tag: u32,
    /// Total occurrences (saturating).
    count: u32,
    /// Document frequency.
    df: u32,
    /// The last document it occurred in.
    last_doc: u32,
    /// Its position in `features` for `last_doc`; counting by class, its class state instead
    /// ([`ClassCounts`]).
    pos: u32,
}

/// Adds `record` (of `hash`) to `records` and to their `index`, which is rebuilt twice as
/// large once half full; returns its id.
fn add_record(records: &mut Vec<TermStats>, index: &mut Index, record: TermStats, hash: u64) -> u32 {
    let id = records.len() as u32;
    records.push(record);
    if !index.holds(records.len()) {
        *index = index_of(records);
    } else {
        index.insert(hash, id);
    }
    id
}

/// Adds the counts of `later`, the same term counted by another builder, to `mine`.
fn add_counts(mine: &mut TermStats, later: &TermStats) {
    mine.count = mine.count.saturating_add(later.count);
    mine.df += later.df;
}

/// Where a term counted by another builder goes when it is appended: its counts added to
/// the record `found` of `records` (whose id `remap` notes), or new to them (`EMPTY` noted,
/// true returned).
fn merge_into(
    records: &mut [TermStats],
    found: Option<u32>,
    later: &TermStats,
    remap: &mut Vec<u32>,
) -> bool {
    match found {
        Some(id) => {
            add_counts(&mut records[id as usize], later);
            remap.push(id);
            false
        }
        None => {
            remap.push(EMPTY);
            true
        }
    }
}

/// A point of a vocabulary's growth ([`VocabularyBuilder::growth`]): the distinct terms (words
/// and word pairs apart) counted after `bytes` bytes of text.
#[derive(Clone, Copy, Debug)]
pub struct Growth {
    bytes: usize,
    terms: usize,
    pairs: usize,
}

/// The distinct terms expected after `total` bytes of text, from `(bytes, terms)` counted at
/// two points of the same text (`then` before `now`): Heaps' law, `terms = c · bytes^β`, fitted
/// to the two (β kept within 0 and 1: distinct terms grow at most as fast as the text). Words
/// grow with β about ½, word pairs with about 0.8 (IMDB: 15k words and 95k pairs after a
/// sixteenth of a half, 60k and 820k after all of it). `now` when the points cannot tell.
pub(super) fn heaps(then: (usize, usize), now: (usize, usize), total: usize) -> usize {
    if then.1 == 0 || now.0 <= then.0 || total <= now.0 {
        return now.1;
    }
    let ratio = |a: usize, b: usize| (a as f64 / b as f64).ln();
    let beta = (ratio(now.1, then.1) / ratio(now.0, then.0)).clamp(0.0, 1.0);
    // (`as` saturates a float too large for a usize.)
    (now.1 as f64 * (total as f64 / now.0 as f64).powf(beta)) as usize
}

/// The `min_df` of a training without the option ([`VocabularyBuilder::auto_min_df`]) for texts
/// of `distinct` terms, `twice` when some term occurs in two texts: 2 above
/// [`LARGE_VOCABULARY`] terms, else 1. (An append that ends the counting decides with it what
/// it may leave out, before the builder it makes exists.)
fn chosen_min_df(distinct: usize, twice: bool) -> u32 {
    if distinct > LARGE_VOCABULARY && twice { 2 } else { 1 }
}

/// The error of training texts with more than `limit` of `what` (distinct terms, their bytes,
/// texts...): more than a text model holds.
pub(super) fn too_many(limit: u64, what: &str) -> crate::Error {
    crate::Error::data(format!(
        "the training texts have more than {limit} {what}, more than a text model holds (train on fewer texts, or with 'ngrams' [1,1])"
    ))
}

/// Word pairs of a text (of one length) from which [`VocabularyBuilder::add`] prefetches their
/// slots and records in a window ahead rather than all at once.
pub(super) const WINDOW_FROM: usize = 64;

/// A vocabulary spelled out in sorted order ([`VocabularyBuilder::spell_vocabulary`]), its
/// lookup table made or still to be made.
enum Spelt {
    Indexed(Vocabulary),
    Unindexed {
        text: String,
        ends: Vec<u32>,
        hashes: Vec<u64>,
    },
    /// The terms' hashes alone, for a vocabulary [`Vocabulary::unspelled`].
    Hashes(Vec<u64>),
}

impl Spelt {
    /// The same vocabulary, its lookup table made now if it was spelled out and still to be
    /// made.
    fn indexed(self) -> Spelt {
        match self {
            Spelt::Unindexed { text, ends, hashes } => Spelt::Indexed(Vocabulary::new(text, ends, hashes)),
            spelt => spelt,
        }
    }

    /// The vocabulary of terms spelled out ([`VocabularyBuilder::spell_vocabulary`] with
    /// `spell`), with its lookup table.
    fn spelled_out(self) -> Result<Vocabulary> {
        self.vocabulary().ok_or_else(|| crate::Error::Internal("a vocabulary not spelled out".into()))
    }

    /// The vocabulary, with its lookup table; None for hashes alone that are not unique.
    fn vocabulary(self) -> Option<Vocabulary> {
        match self {
            Spelt::Indexed(vocab) => Some(vocab),
            Spelt::Unindexed { text, ends, hashes } => Some(Vocabulary::new(text, ends, hashes)),
            Spelt::Hashes(hashes) => Vocabulary::unspelled(&hashes),
        }
    }
}

/// Kept terms from which they are sorted on two cores ([`VocabularyBuilder::sort_kept`]) and
/// [`VocabularyBuilder::finish_by_class_then`] sums the classes on a second core (below, a
/// thread would cost more than it saves).
const BESIDE_FROM: usize = 1 << 14;

/// Distinct training terms above which the default `min_df` is 2
/// ([`VocabularyBuilder::auto_min_df`]). "Large" means the same for the kept terms: above it,
/// [`VocabularyBuilder::finish_by_class_then`] makes the vocabulary's lookup table once the
/// kept terms' entries are given back.
pub const LARGE_VOCABULARY: usize = 1_000_000;

/// A word pair left uncounted ([`VocabularyBuilder::only_seen_twice`]) in place of its id: the
/// longer n-grams that start with it are left out too. Pair ids stay below `PAIR - 1`.
const LEFT_OUT: u32 = u32::MAX;

/// The provisional ids of word pairs carry this bit (their records are in
/// [`VocabularyBuilder::pairs`]); other terms' ids are below it.
const PAIR: u32 = 1 << 31;

/// What the builder's allocations are called in memory errors.
const WHAT: &str = "the vocabulary of the training texts";

/// What follows an append ([`VocabularyBuilder::try_append_then`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// More texts may be counted on (every term is kept).
    MoreTexts,
    /// The counting ends with it: the builder is finished at `min_df` (None: as
    /// [`VocabularyBuilder::auto_min_df`] will choose). From a `min_df` of 2 on, a word pair new
    /// to this builder that the other counted in one text only can never be kept, and is left
    /// out (counted in [`VocabularyBuilder::distinct_terms`] still).
    Finish {
        /// The fit's `min_df`, None when it is chosen from the texts.
        min_df: Option<u32>,
    },
}

/// The order of the terms a builder is finished into ([`VocabularyBuilder::finish_by_class_in`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermOrder {
    /// Sorted by their bytes: the model does not depend on how the texts were counted (on one
    /// thread or two, and who took which), and the same data gives the same bytes.
    Sorted,
    /// In the order the builder holds them (words, then word pairs, as counted: it depends on
    /// the threads' timing). For a model that is scored and dropped, never stored (the measured
    /// fit of the default call, whose refit is the served model): the sort is left out. A
    /// term's weights do not depend on its id, nor the class totals (integer sums) on the
    /// order, so the scores are the same to the bit for multinomial and complement naive Bayes,
    /// whose weights are made term by term. Not for Bernoulli, whose bias sums a float term by
    /// term in id order.
    Any,
}

/// Collects the terms of the training documents, then prunes them into a [`Vocabulary`].
/// Words (and, unless the words are counted, every n-gram) are interned by hash into one
/// string; longer n-grams are pairs of ids (the n-gram one word shorter, the last word): no
/// allocation per term or occurrence.
#[derive(Default)]
pub struct VocabularyBuilder {
    /// The bytes of every term, in provisional id order.
    text: String,
    /// Provisional term id → its statistics.
    terms: Vec<TermStats>,
    index: Index,
    /// With `ngrams` (1, n), n ≥ 2 (the default is (1, 2)): the n-grams of two words or more,
    /// keyed by ids instead of bytes: a record's `start` is the id of the n-gram without its
    /// last word (a word's id, or a pair's with [`PAIR`]), its `end` the last word's id, its
    /// tag the n-gram's hash's. A lookup reads a slot and a record, with no bytes to compare,
    /// and only the n-grams that [`VocabularyBuilder::finish`] keeps are ever spelled out. Ids
    /// in the rows carry [`PAIR`].
    pairs: Vec<TermStats>,
    pair_index: Index,
    /// Word pairs of one text left out by the append that ended the counting
    /// ([`After::Finish`]): distinct terms still, never kept.
    left_out: usize,
    /// Every document's distinct terms (provisional ids, in order of first occurrence) and
    /// their counts, concatenated: the rows, merged as the terms come (the record of a term
    /// knows its position in the current row).
    features: Vec<u32>,
    counts: Vec<f32>,
    /// Where each document's row starts, and the end (empty when counting by class: no rows).
    doc_offsets: Vec<usize>,
    /// Documents counted.
    docs: usize,
    /// Scratch: the n-grams of the current document and their first candidate ids.
    grams: Vec<Gram>,
    cands: Vec<u32>,
    /// Scratch: the current document's word ids, the ids and hashes of its n-grams one word
    /// shorter, and the hashes of the n-grams being counted (pairs mode).
    ids: Vec<u32>,
    prefixes: Vec<u32>,
    prefix_hashes: Vec<u64>,
    pair_hashes: Vec<u64>,
    /// Some pair's first part is a pair (n-grams of three words or more): the pairs are then
    /// spelled out in id order on one thread ([`VocabularyBuilder::kept_entries`]).
    longer: bool,
    /// Counting by class ([`VocabularyBuilder::by_class`]): each term's counts per class,
    /// instead of the rows (`features`, `counts` stay empty).
    by_class: Option<ClassCounts>,
    /// The n-grams that may occur twice ([`VocabularyBuilder::only_seen_twice`]): the word
    /// pairs outside it are not counted.
    seen_twice: Option<Arc<SeenTwice>>,
    /// The distinct word pairs to estimate in place of the filter's
    /// ([`VocabularyBuilder::estimate_pairs_as`]).
    pairs_estimate: Option<usize>,
    /// Probe in stages whatever the table's size (tests of that path).
    #[cfg(test)]
    pub(super) always_staged: bool,
    /// Look the pairs of an appended builder up on two cores whatever their number (tests).
    #[cfg(test)]
    pub(in crate::models::text) always_beside: bool,
    /// Count every n-gram by its bytes, as before pairs (tests and fuzzing compare the two).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(super) no_pairs: bool,
}

impl VocabularyBuilder {
    /// A builder that counts each term's occurrences per class (of `k`, at most
    /// [`MAX_CLASSES`]; with `presence`, the texts it occurs in) instead of keeping the
    /// documents' rows: texts are added with [`VocabularyBuilder::try_add_in_class`] and
    /// [`VocabularyBuilder::finish_by_class`] gives the sums a Naive Bayes fit reads. The
    /// vocabulary is the same as the rows' builder's.
    /// Refuses `k` out of `1..=MAX_CLASSES`.
    pub fn by_class(k: usize, presence: bool) -> Result<VocabularyBuilder> {
        if !(1..=MAX_CLASSES).contains(&k) {
            return Err(crate::Error::Internal(format!("{k} classes counted by class (1 to {MAX_CLASSES})")));
        }
        Ok(VocabularyBuilder {
            by_class: Some(ClassCounts::new(k, presence)),
            ..VocabularyBuilder::default()
        })
    }

    /// Counts only the n-grams of two words or more that `seen` says may occur twice (it marked
    /// every n-gram of the texts to come, see [`SeenTwice`]), and those they start: the others
    /// occur in one text at most, so with a `min_df` of 2 or more the vocabulary, the counts and
    /// the model are the same, with no record kept for them. [`VocabularyBuilder::distinct_terms`]
    /// is then an estimate. Words are all counted.
    pub fn only_seen_twice(&mut self, seen: Arc<SeenTwice>) {
        self.seen_twice = Some(seen);
    }

    /// Estimates the distinct word pairs (counting only those seen twice) as `estimate` (None:
    /// the filter's, as it does until told): a measured fit counted with the filter of every
    /// text, its refit's, for which it leaves its counts, estimates its own texts' pairs by a
    /// filter of those alone.
    pub fn estimate_pairs_as(&mut self, estimate: Option<usize>) {
        self.pairs_estimate = estimate;
    }

    /// The filter of the n-grams seen twice this builder counts with
    /// ([`VocabularyBuilder::only_seen_twice`]), if any.
    pub fn seen_twice(&self) -> Option<&Arc<SeenTwice>> {
        self.seen_twice.as_ref()
    }

    /// [`VocabularyBuilder::try_add`] of a text of class `class` (`< k`) to a builder that
    /// counts by class.
    pub fn try_add_in_class(&mut self, tokens: &Tokens, lo: usize, hi: usize, class: u32) -> Result<()> {
        match &mut self.by_class {
            Some(counts) => counts.set_class(class)?,
            None => {
                return Err(crate::Error::Internal("a text of a class added to a builder of rows".into()));
            }
        }
        self.try_add_counted(tokens, lo, hi)
    }

    /// Records the n-grams (`lo..=hi`) of one document (in a builder that counts by class: of
    /// the class of the last [`VocabularyBuilder::try_add_in_class`]; use that).
    ///
    /// The table and the term records outgrow the CPU caches on a large corpus, so the n-grams
    /// are first probed read-only in stages (prefetch the hash slots, then the records of the
    /// candidates, then their bytes) and then recorded one by one as usual, which now finds its
    /// data in cache (the word pairs of a long text in a window ahead of their recording).
    pub fn add(&mut self, tokens: &Tokens, lo: usize, hi: usize) {
        if self.doc_offsets.is_empty() && self.by_class.is_none() {
            self.doc_offsets.push(0);
        }
        if self.index.slots.is_empty() {
            // The first text (unless `try_add` made them), or appended to (`try_append` drops
            // them): the tables are made when they are needed.
            self.index = index_of(&self.terms);
            self.pair_index = index_of(&self.pairs);
        }
        let doc = self.docs as u32;
        #[cfg(test)]
        let staged = |index: &Index| index.slots.len() >= STAGED_FROM || self.always_staged;
        #[cfg(not(test))]
        let staged = |index: &Index| index.slots.len() >= STAGED_FROM;
        if self.pairs_mode(lo, hi) {
            self.add_with_pairs(tokens, hi, doc, staged(&self.index), staged(&self.pair_index));
            self.end_doc();
            return;
        }
        if !staged(&self.index) {
            // A small table stays in cache: the stages would only add passes.
            tokens.for_each_ngram_hashed(lo, hi, |term, hash| {
                self.record(term, hash, doc);
            });
            self.end_doc();
            return;
        }
        let mut grams = std::mem::take(&mut self.grams);
        grams.clear();
        tokens.ngrams_into(lo, hi, &mut grams);
        self.probe_ahead(&grams);
        let text = tokens.text();
        for g in &grams {
            self.record(&text[g.start as usize..g.end as usize], g.hash, doc);
        }
        self.grams = grams;
        self.end_doc();
    }

    /// Ends the document being counted (and its row, when there are rows).
    fn end_doc(&mut self) {
        self.docs += 1;
        if self.by_class.is_none() {
            self.doc_offsets.push(self.features.len());
        }
    }

    /// Counts every n-gram by its bytes, as before pairs (fuzzing compares the two ways).
    #[cfg(any(test, feature = "fuzzing"))]
    #[doc(hidden)]
    pub fn count_by_bytes(&mut self) {
        self.no_pairs = true;
    }

    /// Whether the n-grams `lo..=hi` are counted as words and pairs ([`Self::pairs`]):
    /// [`VocabularyBuilder::counts_pairs`], unless every n-gram is counted by its bytes (tests).
    fn pairs_mode(&self, lo: usize, hi: usize) -> bool {
        #[cfg(any(test, feature = "fuzzing"))]
        if self.no_pairs {
            return false;
        }
        Self::counts_pairs(lo, hi)
    }

    /// Whether the n-grams `lo..=hi` are counted as words and pairs: when the words are
    /// counted (`lo` 1) and there are longer n-grams (the default (1, 2), and (1, 3)). Only
    /// then does [`VocabularyBuilder::only_seen_twice`] leave anything out.
    pub fn counts_pairs(lo: usize, hi: usize) -> bool {
        lo == 1 && hi >= 2
    }

    /// [`VocabularyBuilder::add`] of the words and word pairs of one document, in the order the
    /// n-grams come (the words, then the pairs in text order), with the tables probed ahead
    /// when they are large (the words in stages, the pairs in a window).
    fn add_with_pairs(&mut self, tokens: &Tokens, hi: usize, doc: u32, stage_words: bool, stage_pairs: bool) {
        let hashes = tokens.hashes();
        self.longer |= hi > 2 && hashes.len() > 2;
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        if stage_words {
            let mut grams = std::mem::take(&mut self.grams);
            grams.clear();
            tokens.ngrams_into(1, 1, &mut grams);
            self.probe_ahead(&grams);
            let text = tokens.text();
            ids.extend(
                grams.iter().map(|g| self.record(&text[g.start as usize..g.end as usize], g.hash, doc)),
            );
            self.grams = grams;
        } else {
            ids.extend(hashes.iter().enumerate().map(|(i, &h)| self.record(tokens.get(i), h, doc)));
        }
        // The n-grams of each length from 2 on, in text order: the one at `i` is the pair of
        // the (n - 1)-gram at `i` (`prefixes[i]`, its hash `prefix_hashes[i]`) and the word at
        // `i + n - 1`.
        let (mut prefixes, mut prefix_hashes) =
            (std::mem::take(&mut self.prefixes), std::mem::take(&mut self.prefix_hashes));
        prefixes.clear();
        prefixes.extend_from_slice(&ids);
        prefix_hashes.clear();
        prefix_hashes.extend_from_slice(hashes);
        let mut pair_hashes = std::mem::take(&mut self.pair_hashes);
        let seen = self.seen_twice.take();
        for n in 2..=hi.min(ids.len()) {
            let count = ids.len() - n + 1;
            pair_hashes.clear();
            pair_hashes.extend((0..count).map(|i| combine(prefix_hashes[i], hashes[i + n - 1])));
            // A slot, then the record it names, at random: prefetched ahead, all the text's
            // slots then all their records at once, or for a long text (more than
            // `WINDOW_FROM` pairs) in a window, the slot `AHEAD` pairs on and the record of a
            // slot asked for by then `AHEAD / 2` on: all at once asked for more lines than the
            // CPU keeps in flight (IMDB's one-thread counting 3–5% slower), while a window
            // leaves the first records of a short text unfetched (a million generated
            // 250-byte texts: 5% slower).
            let window = stage_pairs && pair_hashes.len() > WINDOW_FROM;
            // Only the n-grams seen twice (when asked): the others, and those that start with
            // one left out, are marked left out before anything is looked up for them.
            if let Some(seen) = &seen {
                for &h in pair_hashes.iter() {
                    seen.prefetch(h);
                }
                for (prefix, &h) in prefixes.iter_mut().zip(pair_hashes.iter()) {
                    if *prefix == LEFT_OUT || !seen.maybe_twice(h) {
                        *prefix = LEFT_OUT;
                    }
                }
            }
            let counted = |i: usize| prefixes[i] != LEFT_OUT;
            if stage_pairs {
                // All of them, or the window's first slots and records.
                let (slots, records) = if window { (AHEAD, AHEAD / 2) } else { (count, count) };
                for (i, &h) in pair_hashes.iter().enumerate().take(slots) {
                    if counted(i) {
                        prefetch(self.pair_index.home(h));
                    }
                }
                for (i, &h) in pair_hashes.iter().enumerate().take(records) {
                    if counted(i) {
                        let id = self.pair_index.first(h);
                        if id != EMPTY {
                            prefetch(&self.pairs[id as usize]);
                        }
                    }
                }
                // Then, counting by class, the class rows of the records found.
                if self.by_class.is_some() {
                    for (i, &h) in pair_hashes.iter().enumerate().take(if window { AHEAD / 4 } else { count })
                    {
                        if counted(i) {
                            self.prefetch_class_row(h);
                        }
                    }
                }
            }
            for (i, &h) in pair_hashes.iter().enumerate() {
                if window {
                    let ahead = |j: usize| pair_hashes.get(j).copied().filter(|_| prefixes[j] != LEFT_OUT);
                    self.pair_index.prefetch_ahead(&self.pairs, i, ahead);
                    if self.by_class.is_some()
                        && let Some(h) = ahead(i + AHEAD / 4)
                    {
                        self.prefetch_class_row(h);
                    }
                }
                if prefixes[i] != LEFT_OUT {
                    prefixes[i] = self.record_pair(prefixes[i], ids[i + n - 1], h, doc);
                }
            }
            prefixes.truncate(count);
            std::mem::swap(&mut prefix_hashes, &mut pair_hashes);
            prefix_hashes.truncate(count);
        }
        self.ids = ids;
        self.seen_twice = seen;
        (self.prefixes, self.prefix_hashes, self.pair_hashes) = (prefixes, prefix_hashes, pair_hashes);
    }

    /// Counting by class, prefetches the class row (or list) of the pair of `hash`'s first
    /// candidate record, whose slot and record were prefetched before.
    #[inline]
    fn prefetch_class_row(&self, hash: u64) {
        let id = self.pair_index.first(hash);
        if let (Some(counts), Some(t)) = (&self.by_class, self.pairs.get(id as usize)) {
            counts.prefetch(t.pos);
        }
    }

    /// Prefetches what recording `grams` reads: their slots, then the records of the first
    /// candidates, then their bytes.
    fn probe_ahead(&mut self, grams: &[Gram]) {
        for g in grams {
            prefetch(self.index.home(g.hash));
        }
        self.cands.clear();
        for g in grams {
            let id = self.index.first(g.hash);
            if id != EMPTY {
                prefetch(&self.terms[id as usize]);
            }
            self.cands.push(id);
        }
        for &id in &self.cands {
            if id != EMPTY {
                let t = &self.terms[id as usize];
                prefetch_byte(self.text.as_bytes(), t.start as usize);
                if let Some(counts) = &self.by_class {
                    counts.prefetch(t.pos);
                }
            }
        }
    }

    /// [`VocabularyBuilder::add`], after reserving what the document can add to the tables
    /// (every n-gram a new term): memory the system refuses is an error, not an abort. The
    /// reservation grows the tables as `add` would, only a document earlier, so the vocabulary
    /// and the rows are the same. A builder that counts by class takes
    /// [`VocabularyBuilder::try_add_in_class`] instead.
    pub fn try_add(&mut self, tokens: &Tokens, lo: usize, hi: usize) -> Result<()> {
        if self.by_class.is_some() {
            return Err(crate::Error::Internal(
                "a text without its class added to a builder by class".into(),
            ));
        }
        self.try_add_counted(tokens, lo, hi)
    }

    /// [`VocabularyBuilder::try_add`] in either mode.
    fn try_add_counted(&mut self, tokens: &Tokens, lo: usize, hi: usize) -> Result<()> {
        let n = tokens.len();
        if self.by_class.is_none() {
            // `add` pushes the text's end to the rows' offsets (and the first text's start).
            memory::reserve(&mut self.doc_offsets, 2, WHAT)?;
        }
        // n-grams of the document, and the bytes of all of them: an n-gram of k tokens is a
        // slice of the joined text, and the k-grams together cover it at most k times.
        let grams: usize = (lo..=hi).map(|k| n.saturating_sub(k - 1)).sum();
        // In pairs mode the bigrams are pairs, and only the words' bytes are kept.
        let (words, pairs, bytes) = if self.pairs_mode(lo, hi) {
            (n, grams - n, tokens.text().len())
        } else {
            (grams, 0, (lo..=hi).map(|k| k.saturating_mul(tokens.text().len() + 1)).sum::<usize>())
        };
        self.check_u32(words, bytes, grams, 1)?;
        self.check_pairs(pairs)?;
        match &mut self.by_class {
            // A row is made only for a term counted before, in another class.
            Some(counts) => counts.reserve((words + pairs).min(self.terms.len() + self.pairs.len()))?,
            None => {
                memory::reserve(&mut self.features, grams, WHAT)?;
                memory::reserve(&mut self.counts, grams, WHAT)?;
            }
        }
        // (Read at random, as the tables are.)
        memory::reserve_huge(&mut self.terms, words, WHAT)?;
        memory::reserve_huge(&mut self.pairs, pairs, WHAT)?;
        if pairs > 0 {
            // The scratch of `add_with_pairs`, a value per word (cleared, then filled).
            for v in [&mut self.ids, &mut self.prefixes] {
                v.clear();
                memory::reserve(v, n, WHAT)?;
            }
            for v in [&mut self.prefix_hashes, &mut self.pair_hashes] {
                v.clear();
                memory::reserve(v, n, WHAT)?;
            }
        }
        self.text.try_reserve(bytes).map_err(|_| memory::refused((self.text.len() + bytes) as f64, WHAT))?;
        // (Made here, fallibly, when an append dropped them: even for an empty text.)
        try_grow(&mut self.index, &self.terms, self.terms.len().saturating_add(words))?;
        try_grow(&mut self.pair_index, &self.pairs, self.pairs.len().saturating_add(pairs))?;
        self.add(tokens, lo, hi);
        Ok(())
    }

    /// Reserves, at once, room for `scale` times what the texts counted so far take (their
    /// (text, term) pairs, term records and term bytes) and an eighth more (the rate varies from
    /// text to text, and `try_add` makes room for a whole text before counting it), when that is
    /// more than there is. Called early in a long run of texts with `scale` = all their bytes ÷
    /// the bytes counted, it saves the tables growing by doubling, whose copies the allocator
    /// keeps (measured on IMDB: a process peak of 335 MB where the tables take 180). A hint:
    /// memory refused now is left to
    /// [`VocabularyBuilder::try_add`], and an estimate too large costs address space, not
    /// resident memory (the pages are touched as they fill). Distinct terms grow more slowly than
    /// the text, so they are over-estimated; the pairs grow with it.
    pub fn reserve_ahead(&mut self, scale: f64) {
        if !(scale.is_finite() && scale > 1.0) {
            return;
        }
        memory::reserve_scaled(&mut self.features, scale);
        memory::reserve_scaled(&mut self.counts, scale);
        // (The records are read at random, as the tables are.)
        memory::reserve_scaled_huge(&mut self.terms, scale);
        memory::reserve_scaled_huge(&mut self.pairs, scale);
        if let Some(counts) = &mut self.by_class {
            counts.reserve_ahead(scale);
        }
        let want = (self.text.len() as f64 * scale * 1.125) as usize;
        let _ = self.text.try_reserve_exact(want.saturating_sub(self.text.len()));
    }

    /// Where the vocabulary stands after `bytes` bytes of text: its distinct terms (for
    /// [`VocabularyBuilder::size_tables_ahead`]).
    pub fn growth(&self, bytes: usize) -> Growth {
        Growth { bytes, terms: self.terms.len(), pairs: self.pairs.len() }
    }

    /// Makes the lookup tables as large as the terms of `total` bytes of text will need, from
    /// the vocabulary's growth between `earlier` and now, after `seen` bytes, so that they
    /// are not rebuilt each time they double (a rebuild inserts every term again, at random:
    /// about 4% of IMDB's training). The estimate is Heaps' law (`heaps`) fitted to the two
    /// points, taken a tenth short: a table too small grows as before, and one a power of two
    /// too large would cost memory the counting never uses. A hint: memory refused now is left
    /// to [`VocabularyBuilder::try_add`]. The vocabulary is the same whatever the tables' size.
    pub fn size_tables_ahead(&mut self, earlier: Growth, seen: usize, total: usize) {
        let now = self.growth(seen);
        let want = |then: usize, n: usize| {
            (heaps((earlier.bytes, then), (now.bytes, n), total) as f64 * 0.9) as usize
        };
        let (terms, pairs) = (want(earlier.terms, now.terms), want(earlier.pairs, now.pairs));
        if terms > self.terms.len() {
            let _ = try_grow(&mut self.index, &self.terms, terms);
        }
        if pairs > self.pairs.len() {
            let _ = try_grow(&mut self.pair_index, &self.pairs, pairs);
        }
    }

    /// The slots of the words' and the pairs' tables (tests of `size_tables_ahead`).
    #[cfg(test)]
    pub(super) fn table_slots(&self) -> [usize; 2] {
        [self.index.slots.len(), self.pair_index.slots.len()]
    }

    /// Room for (text, term) pairs, term records and term bytes (tests of `reserve_ahead`).
    #[cfg(test)]
    pub(super) fn capacities(&self) -> [usize; 3] {
        [self.features.capacity().min(self.counts.capacity()), self.terms.capacity(), self.text.capacity()]
    }

    /// Refuses what would overflow the builder's u32 fields (term ids, their byte offsets in
    /// `text`, the positions of stored values, document numbers) once `terms` more terms,
    /// `bytes` more bytes of term text, `values` more stored values and `docs` more documents
    /// are added: a corpus that large is an error, not a silent wrap that mixes up counts.
    pub(super) fn check_u32(&self, terms: usize, bytes: usize, values: usize, docs: usize) -> Result<()> {
        // u32::MAX itself is a marker (EMPTY, `last_doc` of an unseen term).
        let over = |now: usize, more: usize| now.saturating_add(more) >= u32::MAX as usize;
        let what = if over(self.terms.len(), terms) {
            "distinct terms"
        } else if over(self.text.len(), bytes) {
            "bytes of distinct terms"
        } else if over(self.features.len(), values) {
            "(text, term) pairs"
        } else if over(self.docs + 1, docs) {
            "texts"
        } else {
            return Ok(());
        };
        Err(too_many(u64::from(u32::MAX - 1), what))
    }

    /// Refuses `more` word pairs when their ids would reach [`PAIR`] (they carry it).
    fn check_pairs(&self, more: usize) -> Result<()> {
        if self.pairs.len().saturating_add(more) >= (PAIR - 1) as usize {
            return Err(too_many(u64::from(PAIR - 2), "distinct word pairs"));
        }
        Ok(())
    }

    /// Appends the documents `later` counted (the texts after this builder's, in order): the
    /// result is the builder that would have counted all of them one after the other (the same
    /// terms with the same counts and document frequencies, the same rows; only the provisional
    /// ids differ, and [`VocabularyBuilder::finish`] does not depend on those). `control` is
    /// ticked with the work done now and then; its error ends the merge, and a builder whose
    /// append failed is half merged: drop it. Many word pairs are looked up on two cores.
    pub fn try_append(&mut self, later: VocabularyBuilder, control: &Control<'_>) -> Result<()> {
        self.try_append_then(later, After::MoreTexts, control)
    }

    /// [`VocabularyBuilder::try_append`], told what follows it: when the counting ends with it
    /// at a `min_df` of 2 or more ([`After::Finish`]), the word pairs new to this builder that
    /// `later` counted in one text only are left out (on the star ratings, 400k of the 440k
    /// pairs it would add): the same vocabulary, counts and model, in less time and memory.
    /// Counting by class, where the pairs are looked up on two cores; otherwise the same as
    /// `try_append`.
    pub fn try_append_then(
        &mut self,
        later: VocabularyBuilder,
        after: After,
        control: &Control<'_>,
    ) -> Result<()> {
        let tick = &|work| control.tick(work);
        if self.by_class_shape() != later.by_class_shape() {
            return Err(crate::Error::Internal("builders of different counts appended".into()));
        }
        if later.docs == 0 {
            return Ok(());
        }
        if self.docs == 0 {
            *self = later;
            return Ok(());
        }
        // (Made again if an append before dropped them.)
        try_grow(&mut self.index, &self.terms, self.terms.len())?;
        try_grow(&mut self.pair_index, &self.pairs, self.pairs.len())?;
        let VocabularyBuilder {
            text,
            terms,
            index,
            pairs,
            pair_index,
            mut features,
            counts,
            doc_offsets,
            docs: later_docs,
            by_class: later_counts,
            longer,
            left_out,
            ..
        } = later;
        self.longer |= longer;
        self.left_out += left_out;
        // Its tables are not needed: its terms are looked up in this one's. Dropped before the
        // room for rows is taken, which may copy this one's rows: at a million texts the peak
        // of training was there, 21 MB above both threads' counts, with the tables held.
        drop((index, pair_index));
        if let (Some(mine), Some(theirs)) = (&mut self.by_class, &later_counts) {
            // A term of both may get its row (at most one each), and the later rows come along.
            let both = (terms.len() + pairs.len()).min(self.terms.len() + self.pairs.len());
            mine.start_append(theirs, both)?;
        }
        // First the later terms this builder knows (counts added, ids noted), then room for
        // exactly the new ones, appended in their order: no growth by doubling at this size.
        let mut remap: Vec<u32> = memory::with_capacity(terms.len(), WHAT)?;
        let (mut new_terms, mut new_bytes) = (0, 0);
        for (i, t) in terms.iter().enumerate() {
            // The lookups read at random a slot, then the record it names, then that record's
            // bytes: prefetch each stage ahead of the next (the slot `AHEAD` terms on, the record
            // of a slot read by then, its bytes a few terms later).
            self.index.prefetch_ahead(&self.terms, i, |j| terms.get(j).map(|t| untag(t.tag)));
            if let Some(next) = terms.get(i + AHEAD / 4) {
                let id = self.index.first(untag(next.tag));
                if id != EMPTY {
                    prefetch_byte(self.text.as_bytes(), self.terms[id as usize].start as usize);
                }
            }
            let term = &text.as_bytes()[t.start as usize..t.end as usize];
            let (mine, words) = (&self.terms, &self.text);
            // The home slot and the tag depend on the tag alone (see `Index`).
            let found = self.index.find(untag(t.tag), |id| {
                let m = &mine[id as usize];
                same_bytes(&words.as_bytes()[m.start as usize..m.end as usize], term)
            });
            if let (Some(mine), Some(theirs), Some(id)) = (&mut self.by_class, &later_counts, found) {
                merge_classes(mine, &mut self.terms[id as usize], theirs, t);
            }
            if merge_into(&mut self.terms, found, t, &mut remap) {
                new_terms += 1;
                new_bytes += term.len();
            }
            if i % 4096 == 4095 {
                tick(4096 * 8)?;
            }
        }
        self.check_u32(new_terms, new_bytes, 0, later_docs)?;
        self.text
            .try_reserve_exact(new_bytes)
            .map_err(|_| memory::refused((self.text.len() + new_bytes) as f64, WHAT))?;
        self.terms.try_reserve_exact(new_terms).map_err(|_| {
            memory::refused(((self.terms.len() + new_terms) * size_of::<TermStats>()) as f64, WHAT)
        })?;
        // The table is not extended with the new terms: `finish` needs no table, so it is
        // dropped here (a large one is tens of MB) and rebuilt only if more texts come.
        self.index = Index::default();
        for (t, id) in terms.iter().zip(remap.iter_mut()) {
            if *id != EMPTY {
                continue;
            }
            let pos = match (&mut self.by_class, &later_counts) {
                (Some(mine), Some(theirs)) => mine.append(theirs, t.pos),
                _ => 0,
            };
            *id = self.terms.len() as u32;
            let start = self.text.len() as u32;
            self.text.push_str(&text[t.start as usize..t.end as usize]);
            let end = self.text.len() as u32;
            self.terms.push(TermStats { start, end, last_doc: u32::MAX, pos, ..*t });
        }
        drop((text, terms));
        let pair_remap = self.append_pairs(pairs, later_counts.as_ref(), &remap, after, control)?;
        if let (Some(mine), Some(theirs)) = (&mut self.by_class, &later_counts) {
            mine.absorb(theirs)?;
        }
        drop(later_counts);
        for f in features.iter_mut() {
            *f = if *f & PAIR != 0 { pair_remap[(*f & !PAIR) as usize] | PAIR } else { remap[*f as usize] };
        }
        drop((remap, pair_remap));
        append_exact(&mut self.features, features)?;
        append_exact(&mut self.counts, counts)?;
        let base = self.doc_offsets.last().copied().unwrap_or(0);
        memory::reserve(&mut self.doc_offsets, doc_offsets.len().saturating_sub(1), WHAT)?;
        self.doc_offsets.extend(doc_offsets.iter().skip(1).map(|&o| base + o));
        self.docs += later_docs;
        Ok(())
    }

    /// A copy of what this builder counted, to count more texts into, or append to, while
    /// this one is finished (memory refused is an error, not an abort; the scratch is not
    /// copied).
    pub fn try_clone(&self) -> Result<VocabularyBuilder> {
        let mut text = String::new();
        text.try_reserve_exact(self.text.len()).map_err(|_| memory::refused(self.text.len() as f64, WHAT))?;
        text.push_str(&self.text);
        let by_class = match &self.by_class {
            Some(counts) => Some(counts.try_clone()?),
            None => None,
        };
        Ok(VocabularyBuilder {
            text,
            terms: memory::copy_huge(&self.terms, WHAT)?,
            index: self.index.try_clone(WHAT)?,
            pairs: memory::copy_huge(&self.pairs, WHAT)?,
            pair_index: self.pair_index.try_clone(WHAT)?,
            features: memory::copy(&self.features, WHAT)?,
            counts: memory::copy(&self.counts, WHAT)?,
            doc_offsets: memory::copy(&self.doc_offsets, WHAT)?,
            docs: self.docs,
            longer: self.longer,
            left_out: self.left_out,
            by_class,
            seen_twice: self.seen_twice.clone(),
            pairs_estimate: self.pairs_estimate,
            #[cfg(test)]
            always_staged: self.always_staged,
            #[cfg(test)]
            always_beside: self.always_beside,
            #[cfg(any(test, feature = "fuzzing"))]
            no_pairs: self.no_pairs,
            ..VocabularyBuilder::default()
        })
    }

    /// The pairs of [`VocabularyBuilder::try_append`]: `later`'s pairs, renumbered (its word ids
    /// by `words`, its pair ids as they are merged, in order: a pair's first part has a lower
    /// id), are added to this builder's counts or appended; returns their ids here. The pairs'
    /// table is dropped, as the words' is.
    ///
    /// When every pair is of two words (a pair's id here then depends on its words alone), from
    /// [`APPEND_BESIDE_FROM`] pairs and with a second CPU, the pairs are first looked up on two
    /// cores, each half of them on its own (reading this builder only), and then merged in
    /// order here: the same ids and counts as looking each up as it is merged.
    fn append_pairs(
        &mut self,
        later: Vec<TermStats>,
        later_counts: Option<&ClassCounts>,
        words: &[u32],
        after: After,
        control: &Control<'_>,
    ) -> Result<Vec<u32>> {
        let tick = &|work| control.tick(work);
        #[cfg(test)]
        let many = later.len() >= APPEND_BESIDE_FROM || self.always_beside;
        #[cfg(not(test))]
        let many = later.len() >= APPEND_BESIDE_FROM;
        if !self.longer && many && Control::second_cpu() {
            let mut found: Vec<u32> = memory::with_capacity(later.len(), WHAT)?;
            found.resize(later.len(), EMPTY);
            let mid = later.len() / 2;
            let (first, second) = found.split_at_mut(mid);
            let this = &*self;
            let (a, b) = control.both(
                "the thread looking up word pairs",
                true,
                |tick| this.find_pairs(&later[..mid], words, first, tick),
                |tick| this.find_pairs(&later[mid..], words, second, tick),
            )?;
            a?;
            b?;
            // (Counting by class only: rows, which read the ids of the left out, are never
            // counted by class.)
            let leave_out = later_counts.is_some() && self.never_kept_once(&found, &later, after);
            return self.merge_pairs(later, later_counts, words, found, leave_out, tick);
        }
        let mut remap: Vec<u32> = memory::with_capacity(later.len(), WHAT)?;
        let mut new_pairs = 0;
        // The id here of a pair's first part: a word, or a pair of a lower id (renumbered before).
        let prefix = |start: u32, pairs: &[u32]| {
            if start & PAIR == 0 {
                words[start as usize]
            } else {
                match pairs[(start & !PAIR) as usize] {
                    EMPTY => EMPTY,
                    id => id | PAIR,
                }
            }
        };
        for (i, p) in later.iter().enumerate() {
            // A slot, then the record it names, at random: prefetch each ahead.
            self.pair_index.prefetch_ahead(&self.pairs, i, |j| later.get(j).map(|p| untag(p.tag)));
            // A prefix new to this builder (EMPTY) makes a pair it cannot know.
            let a = prefix(p.start, &remap);
            let b = words[p.end as usize];
            let mine = &self.pairs;
            let found = self.pair_index.find(untag(p.tag), |id| {
                let m = &mine[id as usize];
                m.start == a && m.end == b
            });
            if let (Some(mine), Some(theirs), Some(id)) = (&mut self.by_class, later_counts, found) {
                merge_classes(mine, &mut self.pairs[id as usize], theirs, p);
            }
            if merge_into(&mut self.pairs, found, p, &mut remap) {
                new_pairs += 1;
            }
            if i % 4096 == 4095 {
                tick(4096 * 8)?;
            }
        }
        self.reserve_new_pairs(new_pairs)?;
        for (i, p) in later.iter().enumerate() {
            if remap[i] == EMPTY {
                remap[i] =
                    self.push_new_pair(p, later_counts, prefix(p.start, &remap), words[p.end as usize]);
            }
        }
        Ok(remap)
    }

    /// Whether the pairs of `later` new to this builder (`found` EMPTY) that occur in one text
    /// can be left out of an append: the counting ends with it (`after`) at a `min_df` of 2 or
    /// more, given or as [`VocabularyBuilder::auto_min_df`] will choose it for the builder with
    /// every pair appended (its distinct terms, and whether a term occurs in two texts: a pair
    /// found here does).
    fn never_kept_once(&self, found: &[u32], later: &[TermStats], after: After) -> bool {
        match after {
            After::MoreTexts => false,
            After::Finish { min_df: Some(min_df) } => min_df >= 2,
            After::Finish { min_df: None } => {
                let new = found.iter().filter(|&&id| id == EMPTY).count();
                // (A pair found here occurs in two texts: the records are scanned only if none is.)
                let twice = new < found.len() || self.any_twice() || later.iter().any(TermStats::twice);
                chosen_min_df(self.distinct_with(new), twice) >= 2
            }
        }
    }

    /// The ids here of `later`'s pairs of two words (`words` renumbers their words), looked up
    /// in this builder's pairs ([`EMPTY`]: new to it), into `out`.
    fn find_pairs(
        &self,
        later: &[TermStats],
        words: &[u32],
        out: &mut [u32],
        tick: &dyn Fn(u64) -> Result<()>,
    ) -> Result<()> {
        for (i, (p, id)) in later.iter().zip(out).enumerate() {
            // A slot, then the record it names, at random: prefetch each ahead.
            self.pair_index.prefetch_ahead(&self.pairs, i, |j| later.get(j).map(|p| untag(p.tag)));
            let (a, b) = (words[p.start as usize], words[p.end as usize]);
            *id = self
                .pair_index
                .find(untag(p.tag), |m| {
                    let m = &self.pairs[m as usize];
                    m.start == a && m.end == b
                })
                .unwrap_or(EMPTY);
            if i % 4096 == 4095 {
                tick(4096 * 4)?;
            }
        }
        Ok(())
    }

    /// The rest of [`VocabularyBuilder::append_pairs`] once `later`'s pairs are looked up
    /// (`found`: their ids here, [`EMPTY`] where new): the counts added in order, the new pairs
    /// appended; returns their ids here.
    fn merge_pairs(
        &mut self,
        later: Vec<TermStats>,
        later_counts: Option<&ClassCounts>,
        words: &[u32],
        mut found: Vec<u32>,
        leave_out: bool,
        tick: &dyn Fn(u64) -> Result<()>,
    ) -> Result<Vec<u32>> {
        // With `leave_out`, the new pairs of one text are not added (their id stays EMPTY).
        let added = |p: &TermStats| !leave_out || p.twice();
        let new_pairs = found.iter().zip(&later).filter(|&(&id, p)| id == EMPTY && added(p)).count();
        self.left_out += found.iter().filter(|&&id| id == EMPTY).count() - new_pairs;
        self.reserve_new_pairs(new_pairs)?;
        for (i, p) in later.iter().enumerate() {
            // The records are known: prefetch ahead.
            if let Some(&next) = found.get(i + AHEAD)
                && let Some(r) = self.pairs.get(next as usize)
            {
                prefetch(r);
            }
            // Then the class rows (or lists) of both sides, at random too.
            if let (Some(counts), Some(theirs)) = (&self.by_class, later_counts) {
                if let Some(&next) = found.get(i + AHEAD / 2)
                    && let Some(r) = self.pairs.get(next as usize)
                {
                    counts.prefetch_held(r.pos);
                }
                if let Some(p) = later.get(i + AHEAD / 2) {
                    theirs.prefetch_held(p.pos);
                }
            }
            let id = &mut found[i];
            if *id == EMPTY {
                if added(p) {
                    // New here: appended in order, its first part a word.
                    *id = self.push_new_pair(p, later_counts, words[p.start as usize], words[p.end as usize]);
                }
            } else {
                let mine = &mut self.pairs[*id as usize];
                if let (Some(counts), Some(theirs)) = (&mut self.by_class, later_counts) {
                    merge_classes(counts, mine, theirs, p);
                }
                add_counts(mine, p);
            }
            if i % 4096 == 4095 {
                tick(4096 * 4)?;
            }
        }
        Ok(found)
    }

    /// Appends the pair `later` of another builder (its class counts `later_counts`), new to
    /// this one, as (`start`, `end`) here (room reserved before); returns its id.
    fn push_new_pair(
        &mut self,
        later: &TermStats,
        later_counts: Option<&ClassCounts>,
        start: u32,
        end: u32,
    ) -> u32 {
        let pos = match (&mut self.by_class, later_counts) {
            (Some(mine), Some(theirs)) => mine.append(theirs, later.pos),
            _ => 0,
        };
        self.pairs.push(TermStats { start, end, last_doc: u32::MAX, pos, ..*later });
        self.pairs.len() as u32 - 1
    }

    /// Room for `new_pairs` more pairs, exactly (refused past [`PAIR`]); the pairs' table is
    /// dropped: it is not extended with them, as `finish` needs none.
    fn reserve_new_pairs(&mut self, new_pairs: usize) -> Result<()> {
        self.check_pairs(new_pairs)?;
        self.pairs.try_reserve_exact(new_pairs).map_err(|_| {
            memory::refused(((self.pairs.len() + new_pairs) * size_of::<TermStats>()) as f64, WHAT)
        })?;
        self.pair_index = Index::default();
        Ok(())
    }

    /// Counts one occurrence of `term` in document `doc`; returns its provisional id.
    #[inline]
    fn record(&mut self, term: &str, hash: u64, doc: u32) -> u32 {
        let (text, terms) = (&self.text, &self.terms);
        let found = self.index.find(hash, |id| {
            let t = &terms[id as usize];
            same_bytes(&text.as_bytes()[t.start as usize..t.end as usize], term.as_bytes())
        });
        let id = match found {
            Some(id) => id,
            None => {
                let start = self.text.len() as u32;
                self.text.push_str(term);
                let end = self.text.len() as u32;
                let t = TermStats::new(start, end, hash, self.by_class.is_some());
                add_record(&mut self.terms, &mut self.index, t, hash)
            }
        };
        self.occur(false, id, doc);
        id
    }

    /// Counts one occurrence of the word (or `pair`) `id` in document `doc`: in its record and
    /// the document's row, or by class.
    #[inline]
    fn occur(&mut self, pair: bool, id: u32, doc: u32) {
        let t = if pair { &mut self.pairs[id as usize] } else { &mut self.terms[id as usize] };
        match &mut self.by_class {
            None => occur(t, if pair { id | PAIR } else { id }, doc, &mut self.features, &mut self.counts),
            Some(counts) => occur_in_class(t, doc, counts),
        }
    }

    /// Counts one occurrence of the pair (`a`, `b`) (the provisional ids of an n-gram and of
    /// the word after it; `hash` is the longer n-gram's) in document `doc`; returns its id, with
    /// [`PAIR`].
    #[inline]
    fn record_pair(&mut self, a: u32, b: u32, hash: u64, doc: u32) -> u32 {
        let pairs = &self.pairs;
        let found = self.pair_index.find(hash, |id| {
            let p = &pairs[id as usize];
            p.start == a && p.end == b
        });
        let id = match found {
            Some(id) => id,
            None => {
                let t = TermStats::new(a, b, hash, self.by_class.is_some());
                add_record(&mut self.pairs, &mut self.pair_index, t, hash)
            }
        };
        self.occur(true, id, doc);
        id | PAIR
    }

    /// Number of distinct terms seen so far, the word pairs an append left out
    /// ([`After::Finish`]) among them. When only the n-grams seen twice are counted
    /// ([`VocabularyBuilder::only_seen_twice`]), an estimate: the words, and the word pairs
    /// counted or the filter's estimate of the distinct n-grams, whichever is more (at least
    /// the filter's lower bound, which the caller checked was above [`LARGE_VOCABULARY`]).
    pub fn distinct_terms(&self) -> usize {
        self.distinct_with(0)
    }

    /// [`VocabularyBuilder::distinct_terms`] once `more` new word pairs are added.
    fn distinct_with(&self, more: usize) -> usize {
        let pairs = match (&self.seen_twice, self.pairs_estimate) {
            (Some(_), Some(estimate)) => estimate,
            (seen, _) => seen.as_ref().map_or(0, |s| s.distinct_estimate()),
        };
        self.terms.len() + (self.pairs.len() + self.left_out + more).max(pairs)
    }

    /// Whether a term counted here occurs in two texts or more.
    fn any_twice(&self) -> bool {
        self.terms.iter().chain(&self.pairs).any(TermStats::twice)
    }

    /// Word pairs of one text left out by an append ([`After::Finish`]; tests).
    #[cfg(test)]
    pub(in crate::models::text) fn left_out_pairs(&self) -> usize {
        self.left_out
    }

    /// Number of texts counted.
    pub fn texts(&self) -> usize {
        self.docs
    }

    /// The classes and whether texts are counted rather than occurrences, of a builder that
    /// counts by class ([`VocabularyBuilder::by_class`]); None for one of rows.
    pub fn by_class_shape(&self) -> Option<(usize, bool)> {
        self.by_class.as_ref().map(ClassCounts::shape)
    }

    /// Whether [`VocabularyBuilder::distinct_terms`] is an estimate.
    pub fn distinct_estimated(&self) -> bool {
        self.seen_twice.is_some()
    }

    /// The `min_df` of a training without the option: 1, or 2 when the texts have more than
    /// [`LARGE_VOCABULARY`] distinct terms and some term occurs in two texts. In a vocabulary
    /// that large most terms are n-grams of a single text (IMDB reviews: 1.5M terms, 71% of
    /// them), which cost memory and time at training and prediction and carry little: dropping
    /// them gave IMDB 0.8557 accuracy against 0.8517, its star ratings 0.3659 against 0.3630.
    /// Smaller sets keep every term (`min_df: 2` cost SMS spam 0.5–0.8 points).
    pub fn auto_min_df(&self) -> u32 {
        chosen_min_df(self.distinct_terms(), self.any_twice())
    }

    /// The first 8 bytes of a term (its record `t`: a word's, or a spelled pair's), big-endian,
    /// zero-padded: ordering by it and then by the bytes is the bytes' order, with most
    /// comparisons settled by one integer compare.
    fn prefix(&self, t: &TermStats) -> u64 {
        prefix_of(&self.text.as_bytes()[t.start as usize..t.end as usize])
    }

    /// Keeps the terms found in at least `min_df` documents, then (if `max_features` is set) the
    /// `max_features` most frequent of those by total count (ties: alphabetical), and returns the
    /// sorted vocabulary with the documents as weighted sparse rows over it. Ticks `control`
    /// along the way (tens of millions of terms take a while to sort and renumber).
    pub fn finish(
        mut self,
        min_df: usize,
        max_features: Option<usize>,
        weighting: Weighting,
        control: &Control<'_>,
    ) -> Result<(Vocabulary, SparseRows, Vec<f32>)> {
        if self.by_class.is_some() {
            return Err(crate::Error::Internal("the rows of a builder that counts by class".into()));
        }
        // Counting is done: the filter's memory goes back now (its last holder may be this).
        self.seen_twice = None;
        let words = self.terms.len() as u32;
        let slot = |t: u32| if t & PAIR != 0 { words + (t & !PAIR) } else { t };
        let Sorted { vocab, entries, remap } = self.sorted_terms(min_df, max_features, true, control)?;
        let n_docs = self.docs;
        // Sizes from the data: taken fallibly.
        let mut idfs = Vec::new();
        if weighting == Weighting::TfIdf {
            idfs = memory::with_capacity(entries.len(), WHAT)?;
            idfs.extend(entries.iter().map(|e| idf(n_docs, e.df as usize)));
        }
        drop(entries);
        let mut rows = SparseRows { offsets: memory::with_capacity(n_docs + 1, WHAT)?, ..Default::default() };
        rows.offsets.push(0);
        let (mut features, mut counts) = (self.features, self.counts);
        if weighting == Weighting::TfIdf {
            // The L2 norm sums in feature order: keep the rows sorted. Each row is renumbered
            // into `row`, then weighted over the rows' start (never past its own: the pruned
            // terms are dropped), so the rows are not copied.
            let mut row: Vec<(u32, f32)> = Vec::new();
            let mut w = 0;
            for d in 0..n_docs {
                row.clear();
                let span = self.doc_offsets[d]..self.doc_offsets[d + 1];
                control.tick(span.len() as u64 + 1)?;
                memory::reserve(&mut row, span.len(), WHAT)?;
                row.extend(
                    features[span.clone()]
                        .iter()
                        .zip(&counts[span])
                        .map(|(&t, &n)| (remap[slot(t) as usize], n))
                        .filter(|&(f, _)| f != u32::MAX),
                );
                write_counts(&mut row, &idfs, &mut features[w..], &mut counts[w..]);
                w += row.len();
                rows.offsets.push(w);
            }
            features.truncate(w);
            counts.truncate(w);
            (rows.features, rows.values) = (features, counts);
        } else {
            // The rows are merged already: renumber and drop the pruned terms in place.
            let binary = weighting == Weighting::Binary;
            let mut w = 0;
            for d in 0..n_docs {
                control.tick((self.doc_offsets[d + 1] - self.doc_offsets[d]) as u64 + 1)?;
                for k in self.doc_offsets[d]..self.doc_offsets[d + 1] {
                    // `remap` is read at random: prefetch ahead.
                    if let Some(&t) = features.get(k + AHEAD) {
                        prefetch(&remap[slot(t) as usize]);
                    }
                    let f = remap[slot(features[k]) as usize];
                    if f != u32::MAX {
                        features[w] = f;
                        counts[w] = if binary { 1.0 } else { counts[k] };
                        w += 1;
                    }
                }
                rows.offsets.push(w);
            }
            features.truncate(w);
            counts.truncate(w);
            (rows.features, rows.values) = (features, counts);
        }
        rows.features.shrink_to_fit();
        rows.values.shrink_to_fit();
        Ok((vocab, rows, idfs))
    }

    /// [`VocabularyBuilder::finish`] of a builder that counts by class: the same vocabulary,
    /// with each kept term's counts per class ([`TermClassSums`]) instead of the rows.
    pub fn finish_by_class(
        self,
        min_df: usize,
        max_features: Option<usize>,
        control: &Control<'_>,
    ) -> Result<(Vocabulary, TermClassSums)> {
        self.finish_by_class_then(min_df, max_features, control, Ok)
    }

    /// [`VocabularyBuilder::finish_by_class_in`] with the terms sorted.
    pub fn finish_by_class_then<R: Send>(
        mut self,
        min_df: usize,
        max_features: Option<usize>,
        control: &Control<'_>,
        then: impl FnOnce(TermClassSums) -> Result<R> + Send,
    ) -> Result<(Vocabulary, R)> {
        self.finish_by_class_in(false, min_df, max_features, TermOrder::Sorted, control, then)
    }

    /// [`VocabularyBuilder::finish_by_class`], with `then` (a Naive Bayes fit) applied to the
    /// class sums, the terms in `order`. With a large vocabulary and a second CPU, the class
    /// sums and `then` run on a helper thread while this one spells out the vocabulary and
    /// builds its lookup table (the same results: the two read the kept terms in their order and
    /// write nothing they share).
    ///
    /// Unless `keep`, the counts are given back as they are read, and the builder is left with
    /// none: drop it. With `keep`, they are left as they were, to count more texts on (a
    /// measured fit's, for the refit on every row: no copy of them is made): the records, the
    /// class counts and the terms' text are read, not given back, and what the finish writes in
    /// them is put back, so that counting on gives what counting every text gives. On an error
    /// the builder may be left part finished: drop it.
    pub fn finish_by_class_in<R: Send>(
        &mut self,
        keep: bool,
        min_df: usize,
        max_features: Option<usize>,
        order: TermOrder,
        control: &Control<'_>,
        then: impl FnOnce(TermClassSums) -> Result<R> + Send,
    ) -> Result<(Vocabulary, R)> {
        // (The kept pairs are spelled after the words' bytes, which the records point into:
        // kept, the text is cut back to those once the finish is done.)
        let words = self.text.len();
        if self.by_class.is_none() {
            return Err(crate::Error::Internal("the class counts of a builder of rows".into()));
        }
        let taken = if keep {
            None
        } else {
            // Counting is done: the filter's memory goes back now (its last holder may be this).
            self.seen_twice = None;
            self.by_class.take()
        };
        let (entries, _) = self.sort_kept(min_df, max_features, order, keep, control)?;
        let this = &*self;
        let counts = match (taken, &this.by_class) {
            (Some(counts), _) => Cow::Owned(counts),
            (None, Some(counts)) => Cow::Borrowed(counts),
            (None, None) => return Err(crate::Error::Internal("the class counts taken twice".into())),
        };
        let sums =
            |counts: Cow<'_, ClassCounts>, tick: &dyn Fn(u64) -> Result<()>| -> Result<TermClassSums> {
                let mut sums = TermClassSums::with_terms(counts.k(), entries.len(), counts.rows())?;
                let mut summing = ClassCounts::summing(counts, tick)?;
                for (i, e) in entries.iter().enumerate() {
                    if i % 4096 == 4095 {
                        tick(4096)?;
                    }
                    // The class rows (or lists) are read at random: prefetch ahead.
                    if let Some(next) = entries.get(i + AHEAD) {
                        summing.prefetch(next.pos);
                    }
                    summing.push((e.pos, e.count, e.df), &mut sums)?;
                }
                sums.shrink_to_fit();
                Ok(sums)
            };
        let two = entries.len() >= BESIDE_FROM && Control::second_cpu();
        // A large vocabulary's lookup table is made once the entries are given back (at a
        // million texts they are 76 MB, at the peak of training); a smaller one's beside the
        // fit, on the spelling thread.
        let later = entries.len() > LARGE_VOCABULARY;
        // A measured fit's vocabulary (scored and dropped) whose counts are kept is known by the
        // terms' hashes alone, where they are unique; else its terms are spelled out after all,
        // from the counts kept.
        let by_hash = order == TermOrder::Any && keep;
        let (vocab, fitted) = control.both(
            "the thread summing the classes",
            two,
            |tick| -> Result<Spelt> {
                let (spelt, _) = this.spell_vocabulary(&entries, None, !by_hash, tick)?;
                Ok(if later { spelt } else { spelt.indexed() })
            },
            // (Unless kept, the class rows of every distinct term are given back before the fit.)
            move |tick| sums(counts, tick).and_then(then),
        )?;
        drop(entries);
        let vocab = match vocab?.vocabulary() {
            Some(vocab) => vocab,
            None => {
                // (The same entries, in the same order: the counts are as they were.)
                let (entries, _) = self.sort_kept(min_df, max_features, order, keep, control)?;
                let (spelt, _) = self.spell_vocabulary(&entries, None, true, &|work| control.tick(work))?;
                spelt.spelled_out()?
            }
        };
        let finished = (if order == TermOrder::Any { vocab.unsorted() } else { vocab }, fitted?);
        if keep {
            self.text.truncate(words);
        }
        Ok(finished)
    }

    /// The kept terms of [`VocabularyBuilder::finish`] in vocabulary order, with the map from
    /// provisional ids where `remap`.
    fn sorted_terms(
        &mut self,
        min_df: usize,
        max_features: Option<usize>,
        remap: bool,
        control: &Control<'_>,
    ) -> Result<Sorted> {
        let (entries, provisional) =
            self.sort_kept(min_df, max_features, TermOrder::Sorted, false, control)?;
        let (vocab, remap) =
            self.spell_vocabulary(&entries, remap.then_some(provisional), true, &|work| control.tick(work))?;
        Ok(Sorted { vocab: vocab.spelled_out()?, entries, remap })
    }

    /// The entries of the kept terms, in vocabulary order (or as the builder holds them, with
    /// [`TermOrder::Any`]), and the count of provisional ids. The term records are given back,
    /// or kept as they were (`keep`).
    fn sort_kept(
        &mut self,
        min_df: usize,
        max_features: Option<usize>,
        order: TermOrder,
        keep: bool,
        control: &Control<'_>,
    ) -> Result<(Vec<Entry>, usize)> {
        let provisional = self.terms.len() + self.pairs.len();
        let mut runs = self.kept_entries(min_df, keep, control)?;
        let text = self.text.as_bytes();
        let by_bytes = vocabulary_order(text);
        let total: usize = runs.iter().map(Vec::len).sum();
        if order == TermOrder::Any
            || (runs.len() > 1 && (max_features.is_some_and(|cap| cap < total) || total < BESIDE_FROM))
        {
            runs = vec![concatenate(runs)?];
        }
        // Terms are distinct, so (prefix, then bytes) is a total order, the same whichever way
        // it is reached: two runs are each sorted on its own core and merged, and so are the
        // halves of one run from `BESIDE_FROM` entries on.
        control.look()?;
        let entries = match <[Vec<Entry>; 2]>::try_from(runs) {
            Ok([mut a, mut b]) => {
                sort_both(&mut a, &mut b, text, control)?;
                merge_sorted(&a, &b, by_bytes, control, true)?
            }
            Err(runs) => {
                let mut entries = concatenate(runs)?;
                if let Some(cap) = max_features.filter(|&cap| cap < entries.len()) {
                    let by_count = |a: &Entry, b: &Entry| b.count.cmp(&a.count).then_with(|| by_bytes(a, b));
                    entries.select_nth_unstable_by(cap - 1, by_count);
                    entries.truncate(cap);
                }
                if order == TermOrder::Any {
                    // (The kept terms are the same: only their order is left as it is.)
                    entries
                } else if entries.len() >= BESIDE_FROM && Control::second_cpu() {
                    let mid = entries.len() / 2;
                    let (a, b) = entries.split_at_mut(mid);
                    sort_both(a, b, text, control)?;
                    let (a, b) = entries.split_at(mid);
                    merge_sorted(a, b, by_bytes, control, true)?
                } else {
                    sort_entries(&mut entries, text, &|work| control.tick(work))?;
                    entries
                }
            }
        };
        Ok((entries, provisional))
    }

    /// The vocabulary of `entries` (sorted, from [`VocabularyBuilder::sort_kept`]): their
    /// bytes, ends and hashes (their hashes alone unless `spell`), its lookup table not made
    /// yet; with `remap` (the count of provisional ids), the map from provisional ids to the
    /// vocabulary's (`u32::MAX`: dropped).
    fn spell_vocabulary(
        &self,
        entries: &[Entry],
        remap: Option<usize>,
        spell: bool,
        tick: &dyn Fn(u64) -> Result<()>,
    ) -> Result<(Spelt, Vec<u32>)> {
        let mut remap = if let Some(provisional) = remap {
            let mut m = memory::with_capacity(provisional, WHAT)?;
            m.resize(provisional, u32::MAX);
            m
        } else {
            Vec::new()
        };
        // (An upper bound: the kept terms' lengths would take a pass of their own.)
        let mut text = String::new();
        let room = if spell { self.text.len() } else { 0 };
        text.try_reserve_exact(room).map_err(|_| memory::refused(room as f64, WHAT))?;
        let mut ends = memory::with_capacity(if spell { entries.len() } else { 0 }, WHAT)?;
        let mut hashes = memory::with_capacity(entries.len(), WHAT)?;
        for (new, e) in entries.iter().enumerate() {
            // Sorted order reads the bytes and writes `remap` at random: prefetch ahead.
            if let Some(next) = entries.get(new + AHEAD) {
                prefetch_byte(self.text.as_bytes(), next.start as usize);
                if let Some(r) = remap.get(next.id as usize) {
                    prefetch(r);
                }
            }
            if new % 4096 == 4095 {
                tick(4096)?;
            }
            if let Some(r) = remap.get_mut(e.id as usize) {
                *r = new as u32;
            }
            let term = &self.text[e.start as usize..e.end as usize];
            // The records keep 32 bits of the hash; the index wants all 64.
            hashes.push(term_hash(term));
            if spell {
                text.push_str(term);
                ends.push(text.len() as u32);
            }
        }
        if !spell {
            return Ok((Spelt::Hashes(hashes), remap));
        }
        if text.len() < text.capacity() / 2 {
            text.shrink_to_fit();
        }
        Ok((Spelt::Unindexed { text, ends, hashes }, remap))
    }
}

impl VocabularyBuilder {
    /// The entries of the terms found in at least `min_df` texts, words then pairs, each in id
    /// order (ids: words first, then pairs), carrying what the passes in sorted order need so
    /// that they read no term record at random (the records outgrow the caches on a large
    /// corpus); the records are given back. The kept pairs are spelled out ("first second") at
    /// the end of the terms' text as they are met, the others never. With many pairs, all of two
    /// words, and a second CPU, each half of the pairs is spelled on its own core (into its own
    /// string, appended after): the entries then come in two runs (the words and the first
    /// half's pairs, then the second half's), which are sorted where they are; else in one.
    fn kept_entries(&mut self, min_df: usize, keep: bool, control: &Control<'_>) -> Result<Vec<Vec<Entry>>> {
        if self.terms.len().saturating_add(self.pairs.len()) >= u32::MAX as usize {
            return Err(too_many(u64::from(u32::MAX - 1), "distinct terms"));
        }
        let kept_words = self.terms.iter().filter(|t| t.kept(min_df)).count();
        let mut entries: Vec<Entry> = memory::with_capacity(kept_words, WHAT)?;
        entries.extend(
            (0..)
                .zip(&self.terms)
                .filter(|(_, t)| t.kept(min_df))
                .map(|(id, t)| entry(id, t, self.prefix(t))),
        );
        let words = self.terms.len() as u32;
        let n = self.pairs.len();
        let (terms, text) = (&self.terms, &self.text);
        let mut pairs = std::mem::take(&mut self.pairs);
        // With longer n-grams, a kept pair's record gets its bounds in the spelled string (a
        // longer one reads them): kept, the bounds it had are noted, and put back after.
        let mut noted = Vec::new();
        let spelled = if !self.longer && n >= SPELL_BESIDE_FROM && Control::second_cpu() {
            let mid = even_split(&pairs, min_df, entries.len());
            let (first, second) = pairs.split_at_mut(mid);
            let (a, b) = control.both(
                "the thread spelling out word pairs",
                true,
                |tick| spell_kept(terms, text, first, words, min_df, entries, Bounds::Unread, tick),
                |tick| {
                    let first_id = words + mid as u32;
                    spell_kept(terms, text, second, first_id, min_df, Vec::new(), Bounds::Unread, tick)
                },
            )?;
            vec![a?, b?]
        } else {
            let bounds = match (self.longer, keep) {
                (false, _) => Bounds::Unread,
                (true, false) => Bounds::Written,
                (true, true) => Bounds::Noted(&mut noted),
            };
            let tick = &|work| control.tick(work);
            vec![spell_kept(terms, text, &mut pairs, words, min_df, entries, bounds, tick)?]
        };
        if keep {
            for (i, [start, end]) in noted {
                (pairs[i].start, pairs[i].end) = (start, end);
            }
            self.pairs = pairs;
        } else {
            // The records are not read again: their memory (28 bytes a distinct term, most of
            // them dropped by `min_df`) is given back before the entries are sorted.
            drop(pairs);
            self.terms = Vec::new();
        }
        // Each part's text goes after the terms' (and the parts before it): the bounds of its
        // pairs' entries are moved there.
        let mut runs = Vec::with_capacity(spelled.len());
        for Spelled { text: bytes, mut entries, from } in spelled {
            let base = self.text.len();
            self.check_u32(0, bytes.len(), 0, 0)?;
            self.text
                .try_reserve(bytes.len())
                .map_err(|_| memory::refused((base + bytes.len()) as f64, WHAT))?;
            self.text.push_str(&bytes);
            let base = base as u32;
            for e in &mut entries[from..] {
                (e.start, e.end) = (e.start + base, e.end + base);
            }
            runs.push(entries);
        }
        Ok(runs)
    }
}

/// Where to split `pairs` so that the kept ones (in at least `min_df` texts) of the first part
/// and `words` kept words are about as many as those of the second part: the two runs of
/// [`VocabularyBuilder::kept_entries`] are then spelled and sorted in about the same time (the
/// second builder's pairs, appended last, are mostly of one text). Estimated from every
/// [`SPLIT_SAMPLE`]th pair. Any split gives the same vocabulary.
fn even_split(pairs: &[TermStats], min_df: usize, words: usize) -> usize {
    let sampled = sampled_kept(pairs, min_df);
    // Kept pairs for the first part (sampled), past the words.
    let want = (words / SPLIT_SAMPLE + sampled).div_ceil(2).saturating_sub(words / SPLIT_SAMPLE);
    let mut seen = 0;
    for (i, p) in pairs.iter().step_by(SPLIT_SAMPLE).enumerate() {
        if seen >= want {
            return i * SPLIT_SAMPLE;
        }
        seen += usize::from(p.kept(min_df));
    }
    pairs.len()
}

/// The pairs kept (in at least `min_df` texts) of every [`SPLIT_SAMPLE`]th of `pairs`.
fn sampled_kept(pairs: &[TermStats], min_df: usize) -> usize {
    pairs.iter().step_by(SPLIT_SAMPLE).filter(|p| p.kept(min_df)).count()
}

/// The sampling stride of [`even_split`] and of the entries' room in [`spell_kept`].
const SPLIT_SAMPLE: usize = 32;

/// The pairs [`spell_kept`] spelled: their bytes, and the entries it was given followed by
/// theirs (from `from` on: bounds in `text`).
struct Spelled {
    text: String,
    entries: Vec<Entry>,
    from: usize,
}

/// Word pairs of an appended builder from which [`VocabularyBuilder::append_pairs`] looks them
/// up on two cores.
const APPEND_BESIDE_FROM: usize = 1 << 16;

/// Pairs from which [`VocabularyBuilder::kept_entries`] spells them out on two cores.
const SPELL_BESIDE_FROM: usize = 1 << 16;

/// The [`Entry`] of the term `t` of provisional id `id`, whose first 8 bytes are `prefix`.
fn entry(id: u32, t: &TermStats, prefix: u64) -> Entry {
    Entry { prefix, id, start: t.start, end: t.end, df: t.df, count: t.count, pos: t.pos }
}

/// The first 8 bytes of `bytes` as a big-endian integer (zeros after a shorter term): the sort
/// key of an [`Entry`].
fn prefix_of(bytes: &[u8]) -> u64 {
    match bytes.first_chunk::<8>() {
        Some(first) => u64::from_be_bytes(*first),
        // (Byte by byte: a copy of a variable length would call `memcpy`.)
        None => bytes.iter().enumerate().fold(0, |key, (i, &b)| key | (b as u64) << (56 - 8 * i)),
    }
}

/// What [`spell_kept`] does with a kept pair's record, where a longer n-gram reads the spelled
/// bounds of its first part.
enum Bounds<'a> {
    /// Nothing: every pair is of two words (no pair's first part is a pair).
    Unread,
    /// Its bounds in the new string are written in it (the records are given back after).
    Written,
    /// Written, and the bounds it had noted here, to be put back (the records are kept).
    Noted(&'a mut Vec<(usize, [u32; 2])>),
}

/// Spells out the pairs of `pairs` found in at least `min_df` texts (provisional ids from
/// `first_id`) into a new string, and makes their entries, whose bounds are in that string.
/// A pair's first part is a word (of `words`, spelled in `text`) or, with longer n-grams (whose
/// `bounds` are written), a pair of a lower id of this same slice, spelled before it, and kept
/// (it occurs in every text the pair occurs in); its last part is a word.
#[allow(clippy::too_many_arguments)]
fn spell_kept(
    words: &[TermStats],
    text: &str,
    pairs: &mut [TermStats],
    first_id: u32,
    min_df: usize,
    mut entries: Vec<Entry>,
    mut bounds: Bounds<'_>,
    tick: &dyn Fn(u64) -> Result<()>,
) -> Result<Spelled> {
    let (mut out, from) = (String::new(), entries.len());
    // Room for the kept pairs as sampled, and an eighth more (a hint: the entries grow past
    // it, by doubling and a copy; room refused is left to the pushes).
    let expected = sampled_kept(pairs, min_df).saturating_mul(SPLIT_SAMPLE);
    let _ = entries.try_reserve_exact(expected + expected / 8);
    let pair_base = first_id as usize - words.len();
    for i in 0..pairs.len() {
        if i % 4096 == 4095 {
            tick(4096)?;
        }
        let p = pairs[i];
        if !p.kept(min_df) {
            // (Only read, the records of the pairs dropped, most of them, are not written.)
            continue;
        }
        let last = &words[p.end as usize];
        let last = &text[last.start as usize..last.end as usize];
        // A kept pair's first part is kept too: it occurs in every text the pair occurs in.
        let (first, in_out) = if p.start & PAIR == 0 {
            (words[p.start as usize], false)
        } else {
            let j = ((p.start & !PAIR) as usize).checked_sub(pair_base).filter(|&j| j < i);
            let j = j
                .filter(|&j| !matches!(bounds, Bounds::Unread) && pairs[j].kept(min_df))
                .ok_or_else(|| crate::Error::Internal("a pair's first part not spelled here".into()))?;
            (pairs[j], true)
        };
        debug_assert!(first.end > first.start, "a kept pair's first part is spelled");
        let len = (first.end - first.start) as usize + 1 + last.len();
        if out.len().saturating_add(len) >= u32::MAX as usize {
            return Err(too_many(u64::from(u32::MAX - 1), "bytes of distinct terms"));
        }
        out.try_reserve(len).map_err(|_| memory::refused((out.len() + len) as f64, WHAT))?;
        memory::reserve(&mut entries, 1, WHAT)?;
        let start = out.len();
        if in_out {
            out.extend_from_within(first.start as usize..first.end as usize);
        } else {
            out.push_str(&text[first.start as usize..first.end as usize]);
        }
        out.push(' ');
        out.push_str(last);
        let (start, end) = (start as u32, out.len() as u32);
        match &mut bounds {
            Bounds::Unread => {}
            Bounds::Written => (pairs[i].start, pairs[i].end) = (start, end),
            Bounds::Noted(noted) => {
                memory::reserve(noted, 1, WHAT)?;
                noted.push((i, [p.start, p.end]));
                (pairs[i].start, pairs[i].end) = (start, end);
            }
        }
        let spelled = TermStats { start, end, ..p };
        entries.push(entry(first_id + i as u32, &spelled, prefix_of(&out.as_bytes()[start as usize..])));
    }
    Ok(Spelled { text: out, entries, from })
}

impl TermStats {
    /// Whether the term occurs in two texts or more.
    fn twice(&self) -> bool {
        self.df >= 2
    }

    /// A term not seen yet, at `start..end`, with `hash`'s tag, for a builder that counts
    /// `by_class` or not.
    fn new(start: u32, end: u32, hash: u64, by_class: bool) -> TermStats {
        let pos = if by_class { UNSEEN } else { 0 };
        TermStats { start, end, tag: tag(hash), count: 0, df: 0, last_doc: u32::MAX, pos }
    }

    /// Whether the term is kept with `min_df`: found in at least that many texts.
    #[inline]
    fn kept(&self, min_df: usize) -> bool {
        self.df as usize >= min_df
    }
}

/// Counts one occurrence of the term `t` (provisional id `id`, as the rows hold it) in document
/// `doc`: its position in the document's row (`features`, `counts`) is kept in its record.
#[inline]
fn occur(t: &mut TermStats, id: u32, doc: u32, features: &mut Vec<u32>, counts: &mut Vec<f32>) {
    t.count = t.count.saturating_add(1);
    if t.last_doc == doc {
        counts[t.pos as usize] += 1.0;
    } else {
        t.last_doc = doc;
        t.df += 1;
        t.pos = features.len() as u32;
        features.push(id);
        counts.push(1.0);
    }
}

/// Counts one occurrence of the term `t` in document `doc` (of the current class of `counts`)
/// when counting by class (no rows).
#[inline]
fn occur_in_class(t: &mut TermStats, doc: u32, counts: &mut ClassCounts) {
    let so_far = counts.value(t.count, t.df);
    let first = t.last_doc != doc;
    counts.occur(&mut t.pos, so_far);
    t.count = t.count.saturating_add(1);
    if first {
        t.last_doc = doc;
        t.df += 1;
    }
}

/// Merges the class state of `later` (of `theirs`) into the term `mine` (found in both
/// builders' terms) before its counts are added ([`merge_into`]).
fn merge_classes(counts: &mut ClassCounts, mine: &mut TermStats, theirs: &ClassCounts, later: &TermStats) {
    let (my_value, their_value) = (counts.value(mine.count, mine.df), theirs.value(later.count, later.df));
    counts.merge(&mut mine.pos, my_value, theirs, later.pos, their_value);
}

/// The fewest terms a counting table is made for (a text's terms fit without growing it).
const FIRST_TABLE: usize = 1 << 14;

/// A table of every one of `records`, at most half full.
fn index_of(records: &[TermStats]) -> Index {
    let mut index = Index::with_capacity(records.len().max(FIRST_TABLE));
    fill(&mut index, records);
    index
}

fn fill(index: &mut Index, records: &[TermStats]) {
    for (i, t) in records.iter().enumerate() {
        // The new slots are written at random: prefetch ahead.
        if let Some(next) = records.get(i + AHEAD) {
            prefetch(index.home(untag(next.tag)));
        }
        index.insert(untag(t.tag), i as u32);
    }
}

/// Makes `index` (of `records`) now, or grows it, if `n` records would make recording grow it
/// (memory the system refuses is an error, not an abort), to the size recording would give it.
fn try_grow(index: &mut Index, records: &[TermStats], n: usize) -> Result<()> {
    if !index.slots.is_empty() && index.holds(n) {
        return Ok(());
    }
    *index = Index::try_with_capacity(n.max(FIRST_TABLE), WHAT)?;
    fill(index, records);
    Ok(())
}

/// Appends `more` to `v`, growing `v` to the exact size (a large vector doubled would leave up
/// to half of it unused).
fn append_exact<T: Copy>(v: &mut Vec<T>, more: Vec<T>) -> Result<()> {
    if v.is_empty() && v.capacity() < more.len() {
        *v = more;
        return Ok(());
    }
    v.try_reserve_exact(more.len())
        .map_err(|_| memory::refused(((v.len() + more.len()) * std::mem::size_of::<T>()) as f64, WHAT))?;
    v.extend_from_slice(&more);
    Ok(())
}

/// Vocabulary order: of two entries whose terms' bytes are in `text`, the one whose bytes
/// come first (by their first 8 bytes, then the rest). Terms are distinct: a total order.
fn vocabulary_order(text: &[u8]) -> impl Fn(&Entry, &Entry) -> std::cmp::Ordering + Copy + '_ {
    let bytes = move |e: &Entry| &text[e.start as usize..e.end as usize];
    move |a: &Entry, b: &Entry| a.prefix.cmp(&b.prefix).then_with(|| bytes(a).cmp(bytes(b)))
}

/// Sorts `entries` into [`vocabulary_order`]: by their first 8 bytes (radix), then only the
/// runs sharing those by the rest.
fn sort_entries(entries: &mut [Entry], text: &[u8], tick: &dyn Fn(u64) -> Result<()>) -> Result<()> {
    radix_sort(entries, |e| e.prefix)?;
    let mut i = 0;
    while i < entries.len() {
        let mut j = i + 1;
        while j < entries.len() && entries[j].prefix == entries[i].prefix {
            j += 1;
        }
        tick((j - i) as u64)?;
        if j - i > 1 {
            entries[i..j].sort_unstable_by(vocabulary_order(text));
        }
        i = j;
        // The bytes the next groups compare are scattered: prefetch them.
        if let Some(e) = entries.get(i + AHEAD) {
            prefetch_byte(text, e.start as usize);
        }
    }
    Ok(())
}

/// The runs `a` and `b`, each sorted by `cmp`, merged into one (taken fallibly), `a`'s first
/// where they compare equal. The first half of the merged order is taken from the runs' fronts
/// on this thread, the second from their backs on a helper with `two_cores` (else here after).
pub(super) fn merge_sorted<T: Copy + Send + Sync>(
    a: &[T],
    b: &[T],
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering + Sync,
    control: &Control<'_>,
    two_cores: bool,
) -> Result<Vec<T>> {
    let n = a.len() + b.len();
    let mut out: Vec<T> = memory::with_capacity(n, WHAT)?;
    let (front, back) = out.spare_capacity_mut()[..n].split_at_mut(n / 2);
    let (first, second) = control.both(
        "the thread merging the sorted terms",
        two_cores,
        |_| merge_part(a, b, &cmp, front, false),
        |_| merge_part(a, b, &cmp, back, true),
    )?;
    if (first, second) != (n / 2, n - n / 2) {
        return Err(crate::Error::Internal(format!("{first} + {second} of {n} items merged")));
    }
    // SAFETY: `out` has room for `n` items, and the two merges wrote each of its first `n`
    // slots: `front` (the first n / 2) and `back` (the rest) whole, as the counts say.
    unsafe { out.set_len(n) };
    Ok(out)
}

/// Fills `out` with the first items of the merged order of `a` and `b` (`a`'s first among
/// equals) taken from their fronts, or with `back` its last items taken from their backs (the
/// last of equals is `b`'s); returns how many were written.
fn merge_part<T: Copy>(
    mut a: &[T],
    mut b: &[T],
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
    out: &mut [std::mem::MaybeUninit<T>],
    back: bool,
) -> usize {
    fn end<T>(s: &[T], back: bool) -> Option<(&T, &[T])> {
        if back { s.split_last() } else { s.split_first() }
    }
    let n = out.len();
    for written in 0..n {
        let item = match (end(a, back), end(b, back)) {
            (Some((x, rest_a)), Some((y, rest_b))) => {
                // From the fronts `b`'s goes first only if smaller; from the backs `a`'s goes
                // first (last in the order) only if larger.
                if cmp(y, x).is_lt() != back {
                    b = rest_b;
                    y
                } else {
                    a = rest_a;
                    x
                }
            }
            (Some((x, rest)), None) => {
                a = rest;
                x
            }
            (None, Some((y, rest))) => {
                b = rest;
                y
            }
            (None, None) => return written,
        };
        out[if back { n - 1 - written } else { written }].write(*item);
    }
    n
}

/// `a` and `b` each sorted ([`sort_entries`]) on its own core.
fn sort_both(a: &mut [Entry], b: &mut [Entry], text: &[u8], control: &Control<'_>) -> Result<()> {
    let (a, b) = control.both(
        "the thread sorting the terms",
        true,
        |tick| sort_entries(a, text, tick),
        |tick| sort_entries(b, text, tick),
    )?;
    a.and(b)
}

/// The runs one after the other (the first one's memory grown, taken fallibly).
fn concatenate(runs: Vec<Vec<Entry>>) -> Result<Vec<Entry>> {
    let mut runs = runs.into_iter();
    let mut all = runs.next().unwrap_or_default();
    for run in runs {
        memory::reserve(&mut all, run.len(), WHAT)?;
        all.extend_from_slice(&run);
    }
    Ok(all)
}

/// Sorts by the `u64` key (stable, LSD radix, 11-bit digits; a digit shared by every key costs
/// one counting pass and no move). Its buffer, as large as `v`, is taken fallibly.
pub(super) fn radix_sort<T: Copy>(v: &mut [T], key: impl Fn(&T) -> u64) -> Result<()> {
    const BITS: u32 = 11;
    let mut buf = memory::with_capacity(v.len(), WHAT)?;
    buf.extend_from_slice(v);
    // Each pass moves the items from one buffer to the other.
    let mut in_buf = false;
    let mut shift = 0;
    while shift < 64 {
        let digit = |e: &T| ((key(e) >> shift) & ((1 << BITS) - 1)) as usize;
        let (src, dst): (&[T], &mut [T]) = if in_buf { (&buf, &mut *v) } else { (&*v, &mut buf) };
        let mut counts = [0usize; 1 << BITS];
        src.iter().for_each(|e| counts[digit(e)] += 1);
        if counts.contains(&src.len()) {
            shift += BITS;
            continue;
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            (*c, sum) = (sum, sum + *c);
        }
        for e in src {
            let d = digit(e);
            dst[counts[d]] = *e;
            counts[d] += 1;
        }
        in_buf = !in_buf;
        shift += BITS;
    }
    if in_buf {
        v.copy_from_slice(&buf);
    }
    Ok(())
}
