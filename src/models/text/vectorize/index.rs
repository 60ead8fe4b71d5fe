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
/// 64-bit [`term_hash`](super::super::tokenize::term_hash) to its id, at most half full: 16-byte slots, 32 to 64 bytes a term in
/// memory (twice the training table's slots, for one read per n-gram at prediction). With every term's hash distinct (see
/// [`Vocabulary::hashes_are_unique`](super::Vocabulary::hashes_are_unique)) a lookup by hash needs no other read: one cache line per
/// n-gram, where checking the bytes would take three dependent ones (slot, term bounds, bytes).
#[derive(Debug, Default, Clone)]
pub(super) struct TermIndex {
    pub(super) slots: Vec<Slot>,
    /// `64 - log2(slots.len())`: the home slot is the hash's top bits.
    pub(super) shift: u32,
    /// No two terms share a hash.
    pub(super) unique: bool,
}

/// One slot of a [`TermIndex`]; `id == EMPTY` marks a free slot.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    pub(super) hash: u64,
    pub(super) id: u32,
}

impl TermIndex {
    /// The index of `hashes[id]` for every id.
    pub(super) fn new(hashes: &[u64]) -> TermIndex {
        let bits = (hashes.len().max(4) * 2).next_power_of_two().trailing_zeros();
        assert!(bits <= 32, "a vocabulary of more than 2^31 terms");
        let slots = crate::models::memory::table(1 << bits, Slot { hash: 0, id: EMPTY });
        let mut index = TermIndex { slots, shift: 64 - bits, unique: true };
        let mask = index.slots.len() - 1;
        for (id, &hash) in hashes.iter().enumerate() {
            // The slots are written at random: prefetch those `AHEAD` terms on.
            if let Some(&next) = hashes.get(id + AHEAD) {
                prefetch(index.home(next));
            }
            let mut i = (hash >> index.shift) as usize;
            while index.slots[i].id != EMPTY {
                index.unique &= index.slots[i].hash != hash;
                i = (i + 1) & mask;
            }
            index.slots[i] = Slot { hash, id: id as u32 };
        }
        index
    }

    #[inline]
    pub(super) fn home(&self, hash: u64) -> &Slot {
        &self.slots[(hash >> self.shift) as usize]
    }

    /// The first id in `hash`'s chain that has this hash and satisfies `is`.
    #[inline]
    pub(super) fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = (hash >> self.shift) as usize;
        loop {
            let slot = self.slots.get(i)?;
            if slot.id == EMPTY {
                return None;
            }
            if slot.hash == hash && is(slot.id) {
                return Some(slot.id);
            }
            i = (i + 1) & mask;
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
