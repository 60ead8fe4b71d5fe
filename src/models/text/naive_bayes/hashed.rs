//! [`HashedWeights`]: a prediction-time copy of a multinomial or complement model's weights in
//! one open-addressing table keyed by each term's 64-bit hash, a term's hash and all its
//! weights in one slot of at most a cache line (16 words).
//!
//! Scoring by vocabulary id reads, per known n-gram, the vocabulary's slot, then the term's
//! offsets, its dense-row index and its weights: three to five cache misses scattered over
//! tables larger than the caches (an 8-class IMDB model: 380k terms). Here a known n-gram costs
//! one (its slot), an unknown one the same one as before. The sums are those of
//! [`NaiveBayes::add`] in the same order, so the scores are the same bit for bit (tests), up to
//! the sign of a zero: a pair not seen in training adds `+0.0` here and nothing there, which
//! differs only for a class score of `-0.0` (never a trained model's: its biases are logs of
//! priors below 1).

use super::{Algorithm, NaiveBayes};
use crate::models::text::vectorize::prefetch;

/// Words in a slot at most (64 bytes, a cache line): the hash (2), complement NB's per-term
/// base (1), a weight per class; so at most 14 classes (13 for complement NB).
const MAX_SLOT_WORDS: usize = 16;

/// The hash a free slot shows. No term has it (else no table is made), and an n-gram with it
/// stops at the first free slot: a miss.
const FREE: u64 = u64::MAX;

/// How many n-grams ahead the slots are prefetched.
const AHEAD: usize = 16;

/// The weights of a [`NaiveBayes`] by term hash (see the module documentation): open
/// addressing (linear probing), a power of two slots, at most half of them used. Most n-grams
/// of a text are not in the model (word pairs), and their probes run to a free slot, one cache
/// line a slot: the emptier the table, the faster. Measured on the 8-class IMDB set (353k
/// terms): 41k texts/s with 2²⁰ slots (a third used), 36k with exactly twice as many slots as
/// terms, 32k (no gain) three quarters full; 16-bit fingerprints in an array of their own,
/// probed first, were slower still (33k).
pub struct HashedWeights {
    /// The slots, `stride` words each from `start` (so that a slot never straddles a cache line):
    /// the hash (low word, high word), then with `has_base` the term's `base` (f32 bits), then
    /// its `delta` for each class (f32 bits, 0 for a pair not seen in training).
    words: Vec<u32>,
    start: usize,
    stride: usize,
    /// `64 - log2(slots)`: the home slot is the hash's top bits.
    shift: u32,
    mask: usize,
    has_base: bool,
    bias: Vec<f64>,
    default: Vec<f64>,
}

impl std::fmt::Debug for HashedWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashedWeights")
            .field("slots", &(self.mask + 1))
            .field("stride", &self.stride)
            .field("classes", &self.bias.len())
            .finish()
    }
}

impl HashedWeights {
    /// The table of `nb`'s weights for `terms` ((hash, id) of each of the `n_terms` terms, no two
    /// hashes alike), or `None` where it does not apply (Bernoulli NB; weights that do not fit a
    /// slot: more than 14 classes, or 13 for complement NB; a term whose hash is the free marker; more than
    /// 2³¹ terms), when it would take more than `max_bytes`, or when its memory is refused
    /// (prediction then reads the weights by id, as before).
    pub fn build(
        nb: &NaiveBayes,
        n_terms: usize,
        terms: impl Iterator<Item = (u64, u32)>,
        max_bytes: usize,
    ) -> Option<HashedWeights> {
        let k = nb.n_classes;
        let has_base = !nb.base.is_empty();
        let words = 2 + usize::from(has_base) + k;
        if nb.algorithm == Algorithm::Bernoulli || words > MAX_SLOT_WORDS || n_terms > 1 << 31 {
            return None;
        }
        let stride = words.next_power_of_two().max(4);
        let bits = (n_terms.max(2) * 2).next_power_of_two().trailing_zeros();
        let slots = 1usize << bits;
        // Room to start the slots on a cache line.
        let len = slots.checked_mul(stride)?.checked_add(16)?;
        if len.saturating_mul(4) > max_bytes {
            return None;
        }
        let mut words = Vec::new();
        words.try_reserve_exact(len).ok()?;
        let start = (64 - words.as_ptr() as usize % 64) % 64 / 4;
        // One n-gram, one slot read at random.
        crate::models::memory::huge_pages(&words);
        words.resize(len, 0);
        let mut table = HashedWeights {
            words,
            start,
            stride,
            shift: 64 - bits,
            mask: slots - 1,
            has_base,
            bias: nb.bias.clone(),
            default: nb.default.clone(),
        };
        for s in 0..slots {
            table.set_hash(s, FREE);
        }
        let first = 2 + usize::from(has_base);
        for (n, (hash, id)) in terms.enumerate() {
            // (More terms than counted could fill the table, and a probe would never end.)
            if hash == FREE || id as usize >= nb.n_features() || n >= n_terms {
                return None;
            }
            let mut s = table.home(hash);
            while table.hash(s) != FREE {
                s = table.next(s);
            }
            table.set_hash(s, hash);
            let at = table.start + s * stride;
            if let Some(&b) = nb.base.get(id as usize) {
                table.words[at + 2] = b.to_bits();
            }
            let (a, b) = (nb.offsets[id as usize] as usize, nb.offsets[id as usize + 1] as usize);
            for (&c, &d) in nb.classes[a..b].iter().zip(&nb.deltas[a..b]) {
                table.words[at + first + c as usize] = d.to_bits();
            }
        }
        Some(table)
    }

    /// The home slot of `hash`: its top bits.
    #[inline]
    fn home(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
    }

    #[inline]
    fn next(&self, slot: usize) -> usize {
        (slot + 1) & self.mask
    }

    #[inline]
    fn hash(&self, slot: usize) -> u64 {
        let at = self.start + slot * self.stride;
        self.words[at] as u64 | (self.words[at + 1] as u64) << 32
    }

    fn set_hash(&mut self, slot: usize, hash: u64) {
        let at = self.start + slot * self.stride;
        (self.words[at], self.words[at + 1]) = (hash as u32, (hash >> 32) as u32);
    }

    /// The class scores of a text whose n-grams have the [`term_hash`](crate::models::text::tokenize::term_hash)es `hashes`
    /// (each occurrence counted once, in order): what [`NaiveBayes::start`], [`NaiveBayes::add`]
    /// of each known term and [`NaiveBayes::finish`] give.
    pub fn scores(&self, hashes: &[u64], out: &mut [f64]) {
        out.copy_from_slice(&self.bias);
        let (mut total, mut base) = (0.0f64, 0.0f64);
        let first = 2 + usize::from(self.has_base);
        let k = out.len();
        for (j, &h) in hashes.iter().enumerate() {
            if let Some(&next) = hashes.get(j + AHEAD) {
                prefetch(&self.words[self.start + self.home(next) * self.stride]);
            }
            let mut s = self.home(h);
            loop {
                let found = self.hash(s);
                if found == FREE {
                    break;
                }
                if found == h {
                    // As `NaiveBayes::add` with x = 1: a dense row adds 1 · 0 for a pair not seen.
                    let at = self.start + s * self.stride;
                    total += 1.0;
                    if self.has_base {
                        base += f32::from_bits(self.words[at + 2]) as f64;
                    }
                    for (o, &d) in out.iter_mut().zip(&self.words[at + first..at + first + k]) {
                        *o += f32::from_bits(d) as f64;
                    }
                    break;
                }
                s = self.next(s);
            }
        }
        for (o, d) in out.iter_mut().zip(&self.default) {
            *o += total * d + base;
        }
    }

    /// Bytes the table takes.
    pub fn bytes(&self) -> usize {
        self.words.capacity() * 4
    }
}
