//! Counting by class: each term's occurrences (or documents) per class, kept while the texts are
//! counted instead of the documents' rows, which is all a Naive Bayes fit with count or
//! presence weighting reads ([`TermClassSums`]). The rows of a large corpus are its largest
//! table (IMDB reviews: 12M (text, term) values, 96 MB, against 12 MB of class counts) and
//! three passes (appending, renumbering, summing by class) that counting by class does not make.

use crate::Result;
use crate::models::memory;

/// Classes up to which a text model is counted by class (a term's counts then take at most a
/// 64-byte cache line); with more, the rows are smaller (most terms occur in few classes).
pub const MAX_CLASSES: usize = 16;

/// What the allocations are called in memory errors.
const WHAT: &str = "the class counts of the training terms";

/// The per-class counts of a [`VocabularyBuilder`](super::VocabularyBuilder) that counts by
/// class: `k` consecutive `u32` per term (saturating), words and pairs apart, indexed by their
/// provisional ids.
#[derive(Clone, Debug, Default)]
pub(super) struct ClassCounts {
    k: usize,
    /// Count each term once per text (binary weighting, Bernoulli NB), not each occurrence.
    presence: bool,
    /// The class of the text being counted.
    class: usize,
    words: Vec<u32>,
    pairs: Vec<u32>,
}

impl ClassCounts {
    /// Counts for `k` classes (`1..=MAX_CLASSES`), of occurrences or (`presence`) of texts.
    pub(super) fn new(k: usize, presence: bool) -> ClassCounts {
        ClassCounts { k, presence, ..ClassCounts::default() }
    }

    /// Number of classes.
    pub(super) fn k(&self) -> usize {
        self.k
    }

    /// Sets the class of the texts counted next; refuses one out of range.
    pub(super) fn set_class(&mut self, class: u32) -> Result<()> {
        if class as usize >= self.k {
            return Err(crate::Error::Internal(format!("class {class} of {} counted", self.k)));
        }
        self.class = class as usize;
        Ok(())
    }

    fn of(&mut self, pair: bool) -> &mut Vec<u32> {
        if pair { &mut self.pairs } else { &mut self.words }
    }

    /// The counts of the word (or `pair`) `id`.
    pub(super) fn row(&self, pair: bool, id: u32) -> &[u32] {
        let v = if pair { &self.pairs } else { &self.words };
        &v[id as usize * self.k..][..self.k]
    }

    /// Counts an occurrence of the word (or `pair`) `id`, `first` in its text.
    #[inline]
    pub(super) fn occur(&mut self, pair: bool, id: u32, first: bool) {
        if first || !self.presence {
            let at = id as usize * self.k + self.class;
            let n = &mut self.of(pair)[at];
            *n = n.saturating_add(1);
        }
    }

    /// Makes the (zero) counts of a new word (or `pair`).
    #[inline]
    pub(super) fn new_term(&mut self, pair: bool) {
        let k = self.k;
        let v = self.of(pair);
        v.resize(v.len() + k, 0);
    }

    /// Room for `words` more words and `pairs` more pairs (memory refused is an error); `exact`
    /// takes no more.
    pub(super) fn reserve(&mut self, words: usize, pairs: usize, exact: bool) -> Result<()> {
        let k = self.k;
        for (v, n) in [(&mut self.words, words), (&mut self.pairs, pairs)] {
            let more = n.saturating_mul(k);
            let done = if exact { v.try_reserve_exact(more) } else { v.try_reserve(more) };
            done.map_err(|_| memory::refused((v.len().saturating_add(more) * 4) as f64, WHAT))?;
        }
        Ok(())
    }

    /// Room for `scale` times the terms counted so far and an eighth more (a hint, as
    /// [`VocabularyBuilder::reserve_ahead`](super::VocabularyBuilder::reserve_ahead)).
    pub(super) fn reserve_ahead(&mut self, scale: f64) {
        for v in [&mut self.words, &mut self.pairs] {
            let want = (v.len() as f64 * scale * 1.125) as usize;
            let _ = v.try_reserve_exact(want.saturating_sub(v.len()));
        }
    }

    /// Adds `counts` (another builder's, of the same classes) to those of the word (or `pair`)
    /// `id`.
    pub(super) fn merge(&mut self, pair: bool, id: u32, counts: &[u32]) {
        let k = self.k;
        let mine = &mut self.of(pair)[id as usize * k..][..k];
        for (m, &n) in mine.iter_mut().zip(counts) {
            *m = m.saturating_add(n);
        }
    }

    /// Appends the counts of a new word (or `pair`) (room reserved before).
    pub(super) fn append(&mut self, pair: bool, counts: &[u32]) {
        self.of(pair).extend_from_slice(counts);
    }
}

/// Each kept term's summed value per class, by term in vocabulary order (the classes ascending,
/// only those it occurs in), and each class's total over the kept terms: what
/// [`NaiveBayes::from_class_sums`](crate::models::text::naive_bayes::NaiveBayes::from_class_sums)
/// fits. The same sums, bit for bit, as summing the documents' rows by class (the counts are
/// integers, exact in `f64`).
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
    /// Sums for `k` classes, room for `terms` terms (memory refused is an error).
    pub(super) fn with_terms(k: usize, terms: usize) -> Result<TermClassSums> {
        let mut offsets = memory::with_capacity(terms + 1, WHAT)?;
        offsets.push(0);
        Ok(TermClassSums { offsets, classes: Vec::new(), sums: Vec::new(), totals: vec![0.0; k] })
    }

    /// Appends the next term's `counts` (one per class).
    pub(super) fn push(&mut self, counts: &[u32]) -> Result<()> {
        let seen = counts.iter().filter(|&&n| n > 0).count();
        memory::reserve(&mut self.classes, seen, WHAT)?;
        memory::reserve(&mut self.sums, seen, WHAT)?;
        for (c, &n) in counts.iter().enumerate() {
            if n > 0 {
                self.classes.push(c as u32);
                self.sums.push(n as f64);
                self.totals[c] += n as f64;
            }
        }
        let end = u32::try_from(self.classes.len()).map_err(|_| {
            crate::Error::data(format!(
                "the corpus has more than {} (term, class) pairs, more than a naive Bayes model holds (use fewer texts, raise 'min_df' or lower 'max_features')",
                u32::MAX
            ))
        })?;
        self.offsets.push(end);
        Ok(())
    }

    /// Number of terms.
    pub fn terms(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
}
