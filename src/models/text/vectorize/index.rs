//! The two open-addressing hash tables: [`Index`] (training: 32-bit tags, the caller checks the
//! bytes) and [`TermIndex`] (a trained vocabulary: full 64-bit hashes), with the byte comparison
//! and the prefetch hint their loops use.

/// The training-time table ([`VocabularyBuilder`](super::VocabularyBuilder)): open addressing (linear probing) from a
/// term's 64-bit hash to its provisional id. A slot keeps the hash's high 32 bits (its [`tag`];
/// they also choose the home slot), 8 bytes a slot so that the table of a large corpus takes half
/// the cache; the caller confirms a tag match against the term's bytes, so lookups stay exact.
#[derive(Debug, Default, Clone)]
pub(super) struct Index {
    /// `(tag, id)`; `id == EMPTY` marks a free slot.
    pub(super) slots: Vec<(u32, u32)>,
    /// `64 - log2(slots.len())`, at least 32: the home slot depends on the tag alone.
    pub(super) shift: u32,
}

/// The part of a 64-bit hash that [`Index`] keeps.
#[inline]
pub(super) fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// A hash with the given tag (and so the same home slot in every [`Index`]).
#[inline]
pub(super) fn untag(tag: u32) -> u64 {
    (tag as u64) << 32
}

pub(super) const EMPTY: u32 = u32::MAX;

impl Index {
    /// A table for `n` terms, at most [three quarters](Index::holds) full.
    pub(super) fn with_capacity(n: usize) -> Index {
        let bits = Self::bits(n);
        assert!(bits <= 32, "a vocabulary of more than 2^31 terms");
        Index { slots: crate::models::memory::table(1 << bits, (0, EMPTY)), shift: 64 - bits }
    }

    /// [`Index::with_capacity`] for a count that comes from the data: too many terms, or
    /// memory the system refuses, is an error (`what` names the table in it), not a panic or
    /// an abort.
    pub(super) fn try_with_capacity(n: usize, what: &str) -> crate::Result<Index> {
        let bits = Self::bits(n);
        if bits > 32 {
            return Err(crate::Error::data(
                "the training texts have more than 2^31 distinct terms (use fewer n-grams with the option 'ngrams')",
            ));
        }
        Ok(Index { slots: crate::models::memory::try_table(1 << bits, (0, EMPTY), what)?, shift: 64 - bits })
    }

    /// A copy (memory refused is an error naming `what`, not an abort).
    pub(super) fn try_clone(&self, what: &str) -> crate::Result<Index> {
        let mut slots = crate::models::memory::with_capacity(self.slots.len(), what)?;
        crate::models::memory::huge_pages(&slots);
        slots.extend_from_slice(&self.slots);
        Ok(Index { slots, shift: self.shift })
    }

    /// log2 of the slots of the smallest table that [holds](Index::holds) `n` terms.
    fn bits(n: usize) -> u32 {
        n.max(4).saturating_mul(4).div_ceil(3).next_power_of_two().trailing_zeros()
    }

    /// Whether the table holds `n` terms: at most three quarters of its slots taken (a table
    /// is made twice as large when it would pass that). Linear probing stays short at that
    /// load (a lookup reads a few neighbouring slots, 8 to a cache line), and a large corpus's
    /// table takes half the memory it took at half full (the 4.7M word pairs of half a million
    /// generated texts: 67 MB against 134).
    pub(super) fn holds(&self, n: usize) -> bool {
        n.saturating_mul(4) <= self.slots.len().saturating_mul(3)
    }

    /// The home slot of `hash`.
    #[inline]
    pub(super) fn home(&self, hash: u64) -> &(u32, u32) {
        &self.slots[(hash >> self.shift) as usize]
    }

    #[inline]
    pub(super) fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut i = (hash >> self.shift) as usize;
        let t = tag(hash);
        loop {
            let (h, id) = self.slots[i];
            if id == EMPTY {
                return None;
            }
            if h == t && is(id) {
                return Some(id);
            }
            i = (i + 1) & mask;
        }
    }

    /// Prefetch hints for a run of lookups of `hashes(j)` in this index whose records are
    /// `records`, made before lookup `i`: the home slot of the hash [`AHEAD`] lookups on, and
    /// the record named by the slot of the one `AHEAD / 2` on (its slot asked for earlier).
    #[inline(always)]
    pub(super) fn prefetch_ahead<R>(&self, records: &[R], i: usize, hash: impl Fn(usize) -> Option<u64>) {
        if let Some(h) = hash(i + AHEAD) {
            prefetch(self.home(h));
        }
        if let Some(h) = hash(i + AHEAD / 2) {
            let id = self.first(h);
            if id != EMPTY {
                prefetch(&records[id as usize]);
            }
        }
    }

    /// The id in the first slot of `hash`'s chain with its tag, or [`EMPTY`].
    #[inline]
    pub(super) fn first(&self, hash: u64) -> u32 {
        let mask = self.slots.len() - 1;
        let mut i = (hash >> self.shift) as usize;
        let t = tag(hash);
        loop {
            let (h, id) = self.slots[i];
            if id == EMPTY || h == t {
                return id;
            }
            i = (i + 1) & mask;
        }
    }

    /// Inserts a term known to be absent.
    pub(super) fn insert(&mut self, hash: u64, id: u32) {
        let mask = self.slots.len() - 1;
        let mut i = (hash >> self.shift) as usize;
        while self.slots[i].1 != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = (tag(hash), id);
    }
}

/// The lookup table of a [`Vocabulary`](super::Vocabulary): open addressing (linear probing) from a term's full
/// 64-bit [`term_hash`](super::super::tokenize::term_hash) to its id, in 16-byte slots at most half full (twice the
/// training table's slots, for one read per n-gram at prediction). With every term's hash distinct (see
/// [`Vocabulary::hashes_are_unique`](super::Vocabulary::hashes_are_unique)) a lookup by hash needs no other read: one
/// cache line per n-gram, where checking the bytes would take three dependent ones (slot, term bounds, bytes).
///
/// The slots are a power of two up to [`POWER_OF_TWO_UP_TO`], then exactly twice the terms: a power of two leaves the
/// table a quarter to half full, which speeds the lookups of n-grams it does not hold (they probe to a free slot), but
/// took 134 MB for the 2.37M terms of a million generated texts, where twice the terms take 76 MB. A hash's home slot
/// is the high part of `hash × slots`, which for a power of two is its top bits.
#[derive(Debug, Default, Clone)]
pub(super) struct TermIndex {
    pub(super) slots: Vec<Slot>,
    /// No two terms share a hash.
    pub(super) unique: bool,
}

/// The slots up to which a [`TermIndex`] is a power of two (64 MiB).
const POWER_OF_TWO_UP_TO: usize = 1 << 22;

/// One slot of a [`TermIndex`]; `id == EMPTY` marks a free slot.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    pub(super) hash: u64,
    pub(super) id: u32,
}

impl TermIndex {
    /// The index of `hashes[id]` for every id.
    pub(super) fn new(hashes: &[u64]) -> TermIndex {
        let twice = hashes.len().max(4) * 2;
        let n = Some(twice.next_power_of_two()).filter(|&p| p <= POWER_OF_TWO_UP_TO).unwrap_or(twice);
        Self::with_slots(hashes, n)
    }

    /// The index of `hashes[id]` for every id, in `n` slots (more than the hashes).
    fn with_slots(hashes: &[u64], n: usize) -> TermIndex {
        assert!(n > hashes.len() && n <= 1 << 32, "a vocabulary of more than 2^31 terms");
        let slots = crate::models::memory::table(n, Slot { hash: 0, id: EMPTY });
        let mut index = TermIndex { slots, unique: true };
        for (id, &hash) in hashes.iter().enumerate() {
            // The slots are written at random: prefetch those `AHEAD` terms on.
            if let Some(&next) = hashes.get(id + AHEAD) {
                prefetch(index.home(next));
            }
            let mut i = index.home_of(hash);
            while index.slots[i].id != EMPTY {
                index.unique &= index.slots[i].hash != hash;
                i = index.next(i);
            }
            index.slots[i] = Slot { hash, id: id as u32 };
        }
        index
    }

    /// The home slot of `hash` (the table has slots).
    #[inline]
    pub(super) fn home_of(&self, hash: u64) -> usize {
        ((hash as u128 * self.slots.len() as u128) >> 64) as usize
    }

    /// The slot after `i`, the first after the last.
    #[inline]
    pub(super) fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() { 0 } else { i + 1 }
    }

    #[inline]
    pub(super) fn home(&self, hash: u64) -> &Slot {
        &self.slots[self.home_of(hash)]
    }

    /// The first id in `hash`'s chain that has this hash and satisfies `is`.
    #[inline]
    pub(super) fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = self.home_of(hash);
        loop {
            let slot = self.slots[i];
            if slot.id == EMPTY {
                return None;
            }
            if slot.hash == hash && is(slot.id) {
                return Some(slot.id);
            }
            i = self.next(i);
        }
    }
}

/// `a == b`, without a library call for the short strings terms mostly are.
#[inline]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
    match n {
        0 => true,
        // The first, middle and last bytes are all of them (`==` would call `memcmp`, and the
        // commonest words are this short).
        1..4 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..8 => {
            let half = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().unwrap());
            half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4)
        }
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// How many items ahead the loops over scattered data prefetch.
pub(super) const AHEAD: usize = 16;

/// Asks the CPU to start loading the cache line of `x` (a hint; no effect on results).
#[inline(always)]
pub(crate) fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is only a hint: it never faults, reads no value and writes
        // nothing, and SSE is part of the x86_64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every term is found and no other hash is, whatever the number of slots: a power of two
    /// or not, and with chains that run past the last slot to the first.
    #[test]
    fn term_index_finds_every_term_in_any_number_of_slots() {
        let mut hashes: Vec<u64> =
            (0..1000u64).map(|i| xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes())).collect();
        // Homes in the last slots: their chains wrap around.
        hashes.extend([u64::MAX, u64::MAX - 1, u64::MAX - 2, 0, 1]);
        let unknown: Vec<u64> =
            (1000..3000u64).map(|i| xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes())).collect();
        let twice = hashes.len() * 2;
        for n in [hashes.len() + 1, twice, twice + 1, twice + 7, twice.next_power_of_two()] {
            let index = TermIndex::with_slots(&hashes, n);
            assert_eq!(index.slots.len(), n);
            assert!(index.unique);
            assert_eq!(index.home_of(u64::MAX), n - 1);
            for (id, &h) in hashes.iter().enumerate() {
                assert_eq!(index.find(h, |_| true), Some(id as u32), "{n} slots");
            }
            assert!(unknown.iter().all(|&h| index.find(h, |_| true).is_none()), "{n} slots");
        }
        assert!(TermIndex::default().find(7, |_| true).is_none());
        // A power of two up to POWER_OF_TWO_UP_TO slots, then exactly twice the terms.
        assert_eq!(TermIndex::new(&hashes).slots.len(), twice.next_power_of_two());
        let many: Vec<u64> =
            (0..POWER_OF_TWO_UP_TO as u64 / 2 + 1).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
        let index = TermIndex::new(&many);
        assert_eq!(index.slots.len(), 2 * many.len());
        assert!(many.iter().step_by(997).all(|&h| index.find(h, |_| true).is_some()));
    }
}
