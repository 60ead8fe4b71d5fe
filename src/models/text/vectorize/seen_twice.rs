//! [`SeenTwice`]: which n-grams of the training texts may occur twice, so that counting can
//! leave out those that occur once (with `min_df` 2 or more they are dropped anyway, and on a
//! large corpus they are most of the distinct n-grams: a million generated texts have 9.6M
//! distinct terms, of which `min_df` 2 keeps 2.4M).
//!
//! Bloom filters of one 64-bit word per n-gram (blocked: all of an n-gram's bits in one word).
//! Each part of the texts is marked by one thread into its own [`Marks`]: an n-gram goes into
//! `once`; if all its bits were already set there, into `twice`. The parts' marks are then
//! joined: an n-gram is in the joined `twice` when it is in a part's `twice`, or in the `once`
//! of two parts. An n-gram that occurs twice is therefore always in it (no false negative),
//! while one that occurs once is there only by chance (a false positive, which counting then
//! counts exactly and `min_df` drops). Every occurrence of an n-gram gets the same answer, so
//! the n-grams counted are counted in full. The marks depend on the parts only, not on the
//! threads' timing.

use super::super::tokenize::{Tokenizer, Tokens};
use crate::Result;
use crate::models::memory;

/// Bits set per n-gram in its word.
const BITS: u32 = 4;

/// What is said in memory errors.
const WHAT: &str = "the filter of the n-grams seen twice";

/// The n-grams of one part of the texts, marked once and twice (see the module).
#[derive(Debug)]
pub struct Marks {
    once: Vec<u64>,
    twice: Vec<u64>,
    /// Insertions that set a bit of `once`: at most the part's distinct n-grams.
    new: usize,
}

impl Marks {
    /// Empty marks of `words` 64-bit words (at least one) each, taken fallibly (the size comes
    /// from the data). The parts to be joined must have the same size.
    pub fn new(words: usize) -> Result<Marks> {
        let words = words.max(1);
        Ok(Marks { once: memory::zeroed(words, WHAT)?, twice: memory::zeroed(words, WHAT)?, new: 0 })
    }

    /// The 64-bit words of each of its filters.
    pub fn words(&self) -> usize {
        self.once.len()
    }

    /// The marks of two parts (of one size) as those of one: an n-gram is in `twice` when it is
    /// in a part's `twice`, or in the `once` of both. (`new` is the larger part's: still a
    /// lower bound of the distinct n-grams marked.)
    pub fn join(mut a: Marks, b: Marks) -> Marks {
        debug_assert_eq!(a.once.len(), b.once.len(), "marks of two sizes");
        for (i, (twice, once)) in a.twice.iter_mut().zip(a.once.iter_mut()).enumerate() {
            *twice |= b.twice[i] | (*once & b.once[i]);
            *once |= b.once[i];
        }
        a.new = a.new.max(b.new);
        a
    }

    /// The filter of these marks, and their `once`, with which more marks may be joined to it
    /// later ([`SeenTwice::resume`]).
    pub fn split(self) -> (SeenTwice, Vec<u64>) {
        let set = self.once.iter().map(|w| u64::from(w.count_ones())).sum();
        let seen =
            SeenTwice { estimate: estimate(set, self.once.len()), at_least: self.new, twice: self.twice };
        (seen, self.once)
    }

    /// Notes the n-grams of two to `hi` words of `text` (`scratch`: its tokens and their
    /// hashes, reused from text to text); returns how many.
    pub fn mark(
        &mut self,
        tokenizer: &Tokenizer,
        text: &str,
        hi: usize,
        scratch: &mut (Tokens, Vec<u64>),
    ) -> usize {
        let (tokens, hashes) = scratch;
        tokenizer.tokenize_hashes(text, tokens);
        hashes.clear();
        tokens.ngram_hashes_into(2, hi, hashes);
        self.insert_all(hashes);
        hashes.len()
    }

    /// Notes one occurrence of each n-gram of `hashes` (prefetched first: the filters outgrow
    /// the caches).
    pub fn insert_all(&mut self, hashes: &[u64]) {
        let words = self.once.len();
        for &h in hashes {
            super::index::prefetch(&self.once[place(h, words).0]);
        }
        for &h in hashes {
            let (w, mask) = place(h, words);
            let before = self.once[w];
            if before & mask == mask {
                self.twice[w] |= mask;
            } else {
                self.once[w] = before | mask;
                self.new += 1;
            }
        }
    }
}

/// The joined marks of every part: see the module.
#[derive(Debug)]
pub struct SeenTwice {
    twice: Vec<u64>,
    /// A lower bound of the distinct n-grams marked: the most any one part found.
    at_least: usize,
    /// An estimate of the distinct n-grams marked, from the share of bits set in the parts'
    /// `once` joined.
    estimate: usize,
}

impl SeenTwice {
    /// Joins the marks of two parts (of one size).
    pub fn join(a: Marks, b: Marks) -> SeenTwice {
        Marks::join(a, b).split().0
    }

    /// These marks as one part again (`once`: their parts' joined, [`Marks::split`]), to be
    /// marked on with more texts ([`Marks::mark`]): an n-gram seen twice in all of them is then
    /// in `twice`, and the lower bound counts on from the most any part found (an insertion that
    /// sets a bit is of an n-gram not marked before).
    pub fn resume(self, once: Vec<u64>) -> Marks {
        debug_assert_eq!(self.twice.len(), once.len(), "marks of two sizes");
        Marks { once, twice: self.twice, new: self.at_least }
    }

    /// A copy, or an error when the memory is refused.
    pub fn clone_of(seen: &SeenTwice) -> Result<SeenTwice> {
        Ok(SeenTwice { twice: memory::copy(&seen.twice, WHAT)?, ..*seen })
    }

    /// Whether the n-gram of hash `hash` may have occurred twice or more: always true when it
    /// did, rarely when it occurred once.
    #[inline]
    pub fn maybe_twice(&self, hash: u64) -> bool {
        let (w, mask) = place(hash, self.twice.len());
        self.twice[w] & mask == mask
    }

    /// Prefetches the word [`SeenTwice::maybe_twice`] reads for `hash` (a hint).
    #[inline(always)]
    pub fn prefetch(&self, hash: u64) {
        super::index::prefetch(&self.twice[place(hash, self.twice.len()).0]);
    }

    /// A lower bound of the distinct n-grams marked.
    pub fn distinct_at_least(&self) -> usize {
        self.at_least
    }

    /// An estimate of the distinct n-grams marked (within a few percent while the filters are
    /// far from full).
    pub fn distinct_estimate(&self) -> usize {
        self.estimate.max(self.at_least)
    }
}

/// The distinct n-grams estimated from `set` bits of `words` 64-bit words set in the joined
/// `once`: with m bits and k bits an n-gram, n n-grams leave a share 1 - e^(-kn/m) of the bits
/// set, so n = -(m / k) ln(1 - share).
fn estimate(set: u64, words: usize) -> usize {
    let m = (words * 64) as f64;
    let share = (set as f64 / m).min(1.0 - 1.0 / m);
    (-(m / f64::from(BITS)) * (1.0 - share).ln()).round() as usize
}

/// The word (of `words`) and the bits of the n-gram of hash `hash`: the word from the hash's
/// high bits (multiply-shift), the bits from four 6-bit fields of its low bits.
#[inline]
fn place(hash: u64, words: usize) -> (usize, u64) {
    // (In u128: no overflow whatever the filter's length; the word is below it.)
    let w = (u128::from(hash >> 32) * words as u128) >> 32;
    let mut mask = 0u64;
    for i in 0..BITS {
        mask |= 1 << ((hash >> (6 * i)) & 63);
    }
    (w as usize, mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::text::tokenize::term_hash;

    /// Every n-gram seen twice (in one part or in both) is found; most of those seen once are
    /// not; the bounds hold.
    #[test]
    fn twice_is_always_found_and_once_mostly_not() {
        let hashes: Vec<u64> = (0..40_000).map(|i| term_hash(&format!("term {i}"))).collect();
        let (twice_in_a, rest) = hashes.split_at(5_000);
        let (across, once) = rest.split_at(5_000);
        let (mut a, mut b) = (Marks::new(1 << 13).unwrap(), Marks::new(1 << 13).unwrap());
        a.insert_all(twice_in_a);
        a.insert_all(across);
        b.insert_all(across);
        a.insert_all(twice_in_a);
        let (first, second) = once.split_at(once.len() / 2);
        a.insert_all(first);
        b.insert_all(second);
        let seen = SeenTwice::join(a, b);
        assert!(twice_in_a.iter().chain(across).all(|&h| seen.maybe_twice(h)));
        let false_positives = once.iter().filter(|&&h| seen.maybe_twice(h)).count();
        assert!(false_positives < once.len() / 10, "{false_positives} of {}", once.len());
        let (low, estimate) = (seen.distinct_at_least(), seen.distinct_estimate());
        assert!((20_000..=25_000).contains(&low), "{low}");
        assert!(estimate.abs_diff(hashes.len()) < hashes.len() / 20, "{estimate}");
        // Bits stay inside the filters whatever their size.
        let (mut tiny, empty) = (Marks::new(0).unwrap(), Marks::new(0).unwrap());
        tiny.insert_all(&hashes);
        tiny.insert_all(&hashes);
        let seen = SeenTwice::join(tiny, empty);
        assert!(hashes.iter().all(|&h| seen.maybe_twice(h)));
        // Joined marks marked on with more texts (the refit resumes a measured fit's marks with
        // the held-out texts): every n-gram seen twice in all of them, few seen once, the
        // estimate of one join of them all, a lower bound that counts on.
        let parts: Vec<&[u64]> = vec![twice_in_a, across, across, twice_in_a, first, second];
        let marks = |range: std::ops::Range<usize>| {
            let mut m = Marks::new(1 << 13).unwrap();
            parts[range].iter().for_each(|p| m.insert_all(p));
            m
        };
        let all = Marks::join(marks(0..2), marks(2..6)).split().0;
        let (measured, measured_once) = Marks::join(marks(0..1), marks(1..4)).split();
        let mut resumed = SeenTwice::clone_of(&measured).unwrap().resume(measured_once);
        let before = resumed.new;
        resumed.insert_all(first);
        resumed.insert_all(second);
        assert!(resumed.new > before);
        let resumed = resumed.split().0;
        assert_eq!(resumed.estimate, all.estimate);
        assert!(resumed.at_least <= hashes.len() && resumed.at_least >= measured.at_least);
        assert!(twice_in_a.iter().chain(across).all(|&h| resumed.maybe_twice(h) && all.maybe_twice(h)));
        let false_positives = once.iter().filter(|&&h| resumed.maybe_twice(h)).count();
        assert!(false_positives < once.len() / 10, "{false_positives} of {}", once.len());
        // A size the system refuses is an error naming the filter.
        assert!(Marks::new(usize::MAX / 16).unwrap_err().to_string().contains(WHAT));
    }
}
