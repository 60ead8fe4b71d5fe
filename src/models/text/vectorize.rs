//! From tokens to feature vectors: the vocabulary (with `min_df` and `max_features`), n-grams and
//! the term weighting.
//!
//! Feature ids are positions in the **sorted** vocabulary, so the fitted model never depends on
//! hash order and the same data gives the same bytes. The tables are our own open-addressing
//! tables over [`term_hash`] (XXH3 of each token, combined per n-gram): the hashes are computed
//! once per token and reused for every n-gram and table, and a trained vocabulary looks terms
//! up by their full 64-bit hash alone ([`Vocabulary::find_hashed`]). The hash is fixed (no
//! seed): the tables are built from trusted training data or one document at a time, so hash
//! flooding does not apply.

use super::tokenize::{Gram, Tokens, term_hash};
use crate::Result;
use crate::models::memory;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;

/// How a term's occurrences in one document become its feature value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Weighting {
    /// Number of occurrences.
    Count,
    /// 1 if the term occurs, else 0.
    Binary,
    /// Sublinear TF-IDF: `(1 + ln tf) · idf`, `idf = ln((1 + n) / (1 + df)) + 1`, then the
    /// document vector is scaled to unit L2 norm (scikit-learn's `TfidfVectorizer(sublinear_tf=True)`).
    TfIdf,
}

impl Weighting {
    /// The option value.
    pub fn name(self) -> &'static str {
        match self {
            Weighting::Count => "count",
            Weighting::Binary => "binary",
            Weighting::TfIdf => "tfidf",
        }
    }
}

/// The training-time table ([`VocabularyBuilder`]): open addressing (linear probing) from a
/// term's 64-bit hash to its provisional id. A slot keeps the hash's high 32 bits (its [`tag`];
/// they also choose the home slot), 8 bytes a slot so that the table of a large corpus takes half
/// the cache; the caller confirms a tag match against the term's bytes, so lookups stay exact.
#[derive(Debug, Default, Clone)]
struct Index {
    /// `(tag, id)`; `id == EMPTY` marks a free slot.
    slots: Vec<(u32, u32)>,
    /// `64 - log2(slots.len())`, at least 32: the home slot depends on the tag alone.
    shift: u32,
}

/// The part of a 64-bit hash that [`Index`] keeps.
#[inline]
fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// A hash with the given tag (and so the same home slot in every [`Index`]).
#[inline]
fn untag(tag: u32) -> u64 {
    (tag as u64) << 32
}

const EMPTY: u32 = u32::MAX;

impl Index {
    /// A table for `n` terms at most half full.
    fn with_capacity(n: usize) -> Index {
        let bits = (n.max(4) * 2).next_power_of_two().trailing_zeros();
        assert!(bits <= 32, "a vocabulary of more than 2^31 terms");
        Index { slots: vec![(0, EMPTY); 1 << bits], shift: 64 - bits }
    }

    /// The home slot of `hash`.
    #[inline]
    fn home(&self, hash: u64) -> &(u32, u32) {
        &self.slots[(hash >> self.shift) as usize]
    }

    #[inline]
    fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
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

    /// The id in the first slot of `hash`'s chain with its tag, or [`EMPTY`].
    #[inline]
    fn first(&self, hash: u64) -> u32 {
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
    fn insert(&mut self, hash: u64, id: u32) {
        let mask = self.slots.len() - 1;
        let mut i = (hash >> self.shift) as usize;
        while self.slots[i].1 != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = (tag(hash), id);
    }
}

/// The lookup table of a [`Vocabulary`]: open addressing (linear probing) from a term's full
/// 64-bit [`term_hash`] to its id, at most half full: 16-byte slots, 32 to 64 bytes a term in
/// memory (twice the training table's slots, for one read per n-gram at prediction). With every term's hash distinct (see
/// [`Vocabulary::hashes_are_unique`]) a lookup by hash needs no other read: one cache line per
/// n-gram, where checking the bytes would take three dependent ones (slot, term bounds, bytes).
#[derive(Debug, Default, Clone)]
struct TermIndex {
    slots: Vec<Slot>,
    /// `64 - log2(slots.len())`: the home slot is the hash's top bits.
    shift: u32,
    /// No two terms share a hash.
    unique: bool,
}

/// One slot of a [`TermIndex`]; `id == EMPTY` marks a free slot.
#[derive(Clone, Copy, Debug)]
struct Slot {
    hash: u64,
    id: u32,
}

impl TermIndex {
    /// The index of `hashes[id]` for every id.
    fn new(hashes: &[u64]) -> TermIndex {
        let bits = (hashes.len().max(4) * 2).next_power_of_two().trailing_zeros();
        assert!(bits <= 32, "a vocabulary of more than 2^31 terms");
        let mut index =
            TermIndex { slots: vec![Slot { hash: 0, id: EMPTY }; 1 << bits], shift: 64 - bits, unique: true };
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
    fn home(&self, hash: u64) -> &Slot {
        &self.slots[(hash >> self.shift) as usize]
    }

    /// The first id in `hash`'s chain that has this hash and satisfies `is`.
    #[inline]
    fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
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
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
    match n {
        0..4 => a == b,
        4..8 => {
            let half = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().unwrap());
            half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4)
        }
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// Index size (slots) from which [`VocabularyBuilder::add`] probes in stages: below it (1 MiB of
/// slots, up to 64k terms: Banking77, not ChnSentiCorp) the counts' tables mostly stay in the
/// CPU caches and the stages would only add passes (measured: +3% training time on Banking77).
const STAGED_FROM: usize = 1 << 17;

/// How many n-grams ahead [`Vocabulary::find_hashed`] prefetches the home slot. On this 2-core
/// VM a random read outside the core's L2 costs about as much as 16 lookups (measured:
/// 8.5–18 ns a lookup in tables of 20k–1.6M terms, against 9–34 ns without prefetching).
const LOOKUP_AHEAD: usize = 16;

/// How many items ahead the loops over scattered data prefetch.
const AHEAD: usize = 16;

/// [`prefetch`] of `bytes[i]`, nothing when `i` is out of range (an empty term's bounds).
#[inline(always)]
fn prefetch_byte(bytes: &[u8], i: usize) {
    if let Some(b) = bytes.get(i) {
        prefetch(b);
    }
}

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

/// The terms (n-grams) a model knows, sorted; a term's id is its position. The terms live in one
/// string (no allocation per term) with a hash index over them.
#[derive(Debug, Default)]
pub struct Vocabulary {
    /// Every term, concatenated in id order.
    text: String,
    /// End of each term in `text`.
    ends: Vec<u32>,
    index: TermIndex,
}

impl Vocabulary {
    /// Builds from the concatenated sorted, distinct terms, their ends and their [`term_hash`]es.
    fn new(text: String, ends: Vec<u32>, hashes: Vec<u64>) -> Self {
        Vocabulary { text, ends, index: TermIndex::new(&hashes) }
    }

    /// The id of `term`, whose [`term_hash`] is `hash`, if known (comparing the bytes).
    #[inline]
    pub fn find(&self, term: &str, hash: u64) -> Option<u32> {
        self.index.find(hash, |id| same_bytes(self.term(id).as_bytes(), term.as_bytes()))
    }

    /// True when no two terms share their 64-bit [`term_hash`], so that
    /// [`Vocabulary::find_hashed`] may identify terms by hash alone. (Two of a million random
    /// terms collide with a chance of about 3·10⁻⁸; a vocabulary where they do is looked up by
    /// its bytes, with [`Vocabulary::find`].)
    pub fn hashes_are_unique(&self) -> bool {
        self.index.unique
    }

    /// Appends to `ids` the id of each of `hashes` (the [`term_hash`]es of n-grams) that is the
    /// hash of a known term, in order; only where [`Vocabulary::hashes_are_unique`]. An unseen
    /// n-gram is taken for a known term only when its 64-bit hash equals one of the `V` terms'
    /// hashes: for ordinary text a chance of about `V · 2⁻⁶⁴` per n-gram (5·10⁻¹⁴ for a million
    /// terms). The hash is not cryptographic, so text crafted to collide can do it, with no
    /// effect beyond that text's own prediction.
    ///
    /// Hits and misses alternate at random in real text, so the loop does not branch on them:
    /// each probe writes its result and advances the length by one only on a hit. The home slot of
    /// the n-gram `LOOKUP_AHEAD` (16) places on is prefetched, so that the cache misses of different
    /// n-grams overlap instead of queueing one after another.
    pub fn find_hashed(&self, hashes: &[u64], ids: &mut Vec<u32>) {
        debug_assert!(self.hashes_are_unique());
        let slots = &self.index.slots;
        if slots.is_empty() {
            return;
        }
        let (mask, shift) = (slots.len() - 1, self.index.shift);
        let start = ids.len();
        ids.resize(start + hashes.len(), EMPTY);
        let mut n = start;
        for (k, &h) in hashes.iter().enumerate() {
            if let Some(&next) = hashes.get(k + LOOKUP_AHEAD) {
                prefetch(self.index.home(next));
            }
            let mut i = (h >> shift) as usize;
            // The chain ends at this hash (a hit) or at a free slot (a miss: `EMPTY`; a free slot
            // may show hash 0, so its id decides).
            let id = loop {
                let slot = slots[i];
                if slot.hash == h || slot.id == EMPTY {
                    break slot.id;
                }
                i = (i + 1) & mask;
            };
            ids[n] = id;
            n += (id != EMPTY) as usize;
        }
        ids.truncate(n);
    }

    /// Makes [`Vocabulary::hashes_are_unique`] false, as for a vocabulary whose hashes collide
    /// (tests of the lookup by bytes).
    #[cfg(test)]
    pub(crate) fn force_byte_lookups(&mut self) {
        self.index.unique = false;
    }

    /// The id of `term`, if known.
    pub fn id(&self, term: &str) -> Option<u32> {
        self.find(term, term_hash(term))
    }

    /// The term of `id`.
    #[inline]
    pub fn term(&self, id: u32) -> &str {
        let (a, b) = self.bounds(id);
        &self.text[a..b]
    }

    #[inline]
    fn bounds(&self, id: u32) -> (usize, usize) {
        let i = id as usize;
        let a = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        (a, self.ends[i] as usize)
    }

    /// Number of terms.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when no term is known.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// Serialised as the sequence of terms (as a `Vec<String>` would be).
impl Serialize for Vocabulary {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq((0..self.len() as u32).map(|i| self.term(i)))
    }
}

impl<'de> Deserialize<'de> for Vocabulary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Terms;
        impl<'de> serde::de::Visitor<'de> for Terms {
            type Value = (String, Vec<u32>);
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sorted sequence of terms")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut text = String::new();
                // The length comes from the stored bytes: trust it only as far as a hint goes.
                let mut ends = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(Term(t)) = seq.next_element::<Term<'de>>()? {
                    let prev_end = ends.last().map_or(0, |&e| e as usize);
                    let prev_start = if ends.len() >= 2 { ends[ends.len() - 2] as usize } else { 0 };
                    if !ends.is_empty() && &text[prev_start..prev_end] >= t.as_ref() {
                        return Err(serde::de::Error::custom("vocabulary is not sorted"));
                    }
                    text.push_str(&t);
                    ends.push(u32::try_from(text.len()).map_err(serde::de::Error::custom)?);
                }
                Ok((text, ends))
            }
        }
        /// One term, borrowed from the input when the format allows.
        struct Term<'a>(Cow<'a, str>);
        impl<'de> Deserialize<'de> for Term<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = Term<'de>;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a term")
                    }
                    fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Term<'de>, E> {
                        Ok(Term(Cow::Borrowed(v)))
                    }
                    fn visit_str<E>(self, v: &str) -> std::result::Result<Term<'de>, E> {
                        Ok(Term(Cow::Owned(v.to_string())))
                    }
                    fn visit_string<E>(self, v: String) -> std::result::Result<Term<'de>, E> {
                        Ok(Term(Cow::Owned(v)))
                    }
                }
                d.deserialize_str(V)
            }
        }
        let (text, ends) = d.deserialize_seq(Terms)?;
        let hashes: Vec<u64> = {
            let mut a = 0;
            ends.iter()
                .map(|&e| {
                    let h = term_hash(&text[a..e as usize]);
                    a = e as usize;
                    h
                })
                .collect()
        };
        Ok(Vocabulary::new(text, ends, hashes))
    }
}

/// Documents as sparse rows (CSR): row `i` has features `features[offsets[i]..offsets[i+1]]`
/// (distinct; ascending with TF-IDF weighting, else in order of first occurrence) with the
/// matching `values`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SparseRows {
    /// Row starts; `offsets.len() == rows + 1`.
    pub offsets: Vec<usize>,
    /// Feature ids.
    pub features: Vec<u32>,
    /// Feature values.
    pub values: Vec<f32>,
}

impl SparseRows {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Features and values of row `i`.
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.offsets[i], self.offsets[i + 1]);
        (&self.features[a..b], &self.values[a..b])
    }
}

/// A term kept by [`VocabularyBuilder::finish`]: its sort key (first 8 bytes, big-endian) and
/// what the passes in sorted order need of its record.
#[derive(Clone, Copy)]
struct Entry {
    prefix: u64,
    /// Provisional id.
    id: u32,
    start: u32,
    end: u32,
    df: u32,
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
    /// Its position in `features` for `last_doc`.
    pos: u32,
}

/// Distinct training terms above which the default `min_df` is 2
/// ([`VocabularyBuilder::auto_min_df`]).
pub const LARGE_VOCABULARY: usize = 1_000_000;

/// What the builder's allocations are called in memory errors.
const WHAT: &str = "the vocabulary of the training texts";

/// Collects the terms of the training documents, then prunes them into a [`Vocabulary`].
/// Terms are interned by hash into one string: no allocation per term or occurrence.
#[derive(Default)]
pub struct VocabularyBuilder {
    /// The bytes of every term, in provisional id order.
    text: String,
    /// Provisional term id → its statistics.
    terms: Vec<TermStats>,
    index: Index,
    /// Every document's distinct terms (provisional ids, in order of first occurrence) and
    /// their counts, concatenated: the rows, merged as the terms come (the record of a term
    /// knows its position in the current row).
    features: Vec<u32>,
    counts: Vec<f32>,
    doc_offsets: Vec<usize>,
    /// Scratch: the n-grams of the current document and their first candidate ids.
    grams: Vec<Gram>,
    cands: Vec<u32>,
    /// Probe in stages whatever the table's size (tests of that path).
    #[cfg(test)]
    always_staged: bool,
}

impl VocabularyBuilder {
    /// Records the n-grams (`lo..=hi`) of one document.
    ///
    /// The table and the term records outgrow the CPU caches on a large corpus, so the n-grams
    /// are first probed read-only in stages (prefetch the hash slots, then the records of the
    /// candidates, then their bytes) and then recorded one by one as usual, which now finds its
    /// data in cache.
    pub fn add(&mut self, tokens: &Tokens, lo: usize, hi: usize) {
        if self.doc_offsets.is_empty() {
            self.doc_offsets.push(0);
            self.index = Index::with_capacity(1 << 14);
        }
        let doc = (self.doc_offsets.len() - 1) as u32;
        #[cfg(test)]
        let small = self.index.slots.len() < STAGED_FROM && !self.always_staged;
        #[cfg(not(test))]
        let small = self.index.slots.len() < STAGED_FROM;
        if small {
            // A small table stays in cache: the stages would only add passes.
            tokens.for_each_ngram_hashed(lo, hi, |term, hash| self.record(term, hash, doc));
            self.doc_offsets.push(self.features.len());
            return;
        }
        let mut grams = std::mem::take(&mut self.grams);
        grams.clear();
        tokens.ngrams_into(lo, hi, &mut grams);
        for g in &grams {
            prefetch(self.index.home(g.hash));
        }
        self.cands.clear();
        for g in &grams {
            let id = self.index.first(g.hash);
            if id != EMPTY {
                prefetch(&self.terms[id as usize]);
            }
            self.cands.push(id);
        }
        for &id in &self.cands {
            if id != EMPTY {
                prefetch_byte(self.text.as_bytes(), self.terms[id as usize].start as usize);
            }
        }
        let text = tokens.text();
        for g in &grams {
            self.record(&text[g.start as usize..g.end as usize], g.hash, doc);
        }
        self.grams = grams;
        self.doc_offsets.push(self.features.len());
    }

    /// [`VocabularyBuilder::add`], after reserving what the document can add to the tables
    /// (every n-gram a new term): memory the system refuses is an error, not an abort. The
    /// reservation grows the tables as `add` would, only a document earlier, so the vocabulary
    /// and the rows are the same.
    pub fn try_add(&mut self, tokens: &Tokens, lo: usize, hi: usize) -> Result<()> {
        let n = tokens.len();
        if n == 0 {
            self.check_u32(0, 0, 0, 1)?;
            self.add(tokens, lo, hi);
            return Ok(());
        }
        // n-grams of the document, and the bytes of all of them: an n-gram of k tokens is a
        // slice of the joined text, and the k-grams together cover it at most k times.
        let grams: usize = (lo..=hi).map(|k| n.saturating_sub(k - 1)).sum();
        let bytes = (lo..=hi).map(|k| k.saturating_mul(tokens.text().len() + 1)).sum::<usize>();
        self.check_u32(grams, bytes, grams, 1)?;
        memory::reserve(&mut self.features, grams, WHAT)?;
        memory::reserve(&mut self.counts, grams, WHAT)?;
        memory::reserve(&mut self.terms, grams, WHAT)?;
        self.text.try_reserve(bytes).map_err(|_| memory::refused((self.text.len() + bytes) as f64, WHAT))?;
        let terms = self.terms.len().saturating_add(grams);
        if !self.doc_offsets.is_empty() {
            self.try_grow_index(terms)?;
        }
        self.add(tokens, lo, hi);
        Ok(())
    }

    /// Refuses what would overflow the builder's u32 fields (term ids, their byte offsets in
    /// `text`, the positions of stored values, document numbers) once `terms` more terms,
    /// `bytes` more bytes of term text, `values` more stored values and `docs` more documents
    /// are added: a corpus that large is an error, not a silent wrap that mixes up counts.
    fn check_u32(&self, terms: usize, bytes: usize, values: usize, docs: usize) -> Result<()> {
        // u32::MAX itself is a marker (EMPTY, `last_doc` of an unseen term).
        let over = |now: usize, more: usize| now.saturating_add(more) >= u32::MAX as usize;
        let what = if over(self.terms.len(), terms) {
            "distinct terms"
        } else if over(self.text.len(), bytes) {
            "bytes of distinct terms"
        } else if over(self.features.len(), values) {
            "(text, term) pairs"
        } else if over(self.doc_offsets.len(), docs) {
            "texts"
        } else {
            return Ok(());
        };
        Err(crate::Error::data(format!(
            "the training texts have more than {} {what}, more than a text model holds (train on fewer texts, or with 'ngrams' [1,1])",
            u32::MAX - 1
        )))
    }

    /// Grows the hash table now if `terms` terms would make `record` grow it (memory the
    /// system refuses is an error, not an abort), to the size `record` would give it.
    fn try_grow_index(&mut self, terms: usize) -> Result<()> {
        if terms.saturating_mul(2) <= self.index.slots.len() {
            return Ok(());
        }
        let bits = (terms.max(4).saturating_mul(4)).next_power_of_two().trailing_zeros();
        if bits > 32 {
            return Err(crate::Error::data(
                "the training texts have more than 2^30 distinct terms (use fewer n-grams with the option 'ngrams')",
            ));
        }
        let mut slots = memory::with_capacity(1usize << bits, WHAT)?;
        slots.resize(1 << bits, (0, EMPTY));
        let mut index = Index { slots, shift: 64 - bits };
        for (i, t) in self.terms.iter().enumerate() {
            if let Some(next) = self.terms.get(i + AHEAD) {
                prefetch(index.home(untag(next.tag)));
            }
            index.insert(untag(t.tag), i as u32);
        }
        self.index = index;
        Ok(())
    }

    /// Appends the documents `later` counted (the texts after this builder's, in order): the
    /// result is the builder that would have counted all of them one after the other (the same
    /// terms with the same counts and document frequencies, the same rows; only the provisional
    /// ids differ, and [`VocabularyBuilder::finish`] does not depend on those). `tick` is called
    /// with the work done now and then; its error ends the merge.
    pub fn try_append(&mut self, later: VocabularyBuilder, tick: &dyn Fn(u64) -> Result<()>) -> Result<()> {
        if later.doc_offsets.is_empty() {
            return Ok(());
        }
        if self.doc_offsets.is_empty() {
            *self = later;
            return Ok(());
        }
        let VocabularyBuilder { text, terms, index, mut features, counts, doc_offsets, .. } = later;
        // Its table is not needed: its terms are looked up in this one.
        drop(index);
        // First the later terms this builder knows (counts added, ids noted), then room for
        // exactly the new ones, appended in their order: no growth by doubling at this size.
        let mut remap: Vec<u32> = memory::with_capacity(terms.len(), WHAT)?;
        let (mut new_terms, mut new_bytes) = (0, 0);
        for (i, t) in terms.iter().enumerate() {
            // The lookups read at random a slot, then the record it names, then that record's
            // bytes: prefetch each stage ahead of the next (the slot `AHEAD` terms on, the record
            // of a slot read by then, its bytes a few terms later).
            if let Some(next) = terms.get(i + AHEAD) {
                prefetch(self.index.home(untag(next.tag)));
            }
            if let Some(next) = terms.get(i + AHEAD / 2) {
                let id = self.index.first(untag(next.tag));
                if id != EMPTY {
                    prefetch(&self.terms[id as usize]);
                }
            }
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
            match found {
                Some(id) => {
                    let m = &mut self.terms[id as usize];
                    m.count = m.count.saturating_add(t.count);
                    m.df += t.df;
                    remap.push(id);
                }
                None => {
                    new_terms += 1;
                    new_bytes += term.len();
                    remap.push(EMPTY);
                }
            }
            if i % 4096 == 4095 {
                tick(4096 * 8)?;
            }
        }
        self.check_u32(new_terms, new_bytes, 0, doc_offsets.len())?;
        self.text
            .try_reserve_exact(new_bytes)
            .map_err(|_| memory::refused((self.text.len() + new_bytes) as f64, WHAT))?;
        self.terms.try_reserve_exact(new_terms).map_err(|_| {
            memory::refused(((self.terms.len() + new_terms) * size_of::<TermStats>()) as f64, WHAT)
        })?;
        self.try_grow_index(self.terms.len() + new_terms)?;
        for (t, id) in terms.iter().zip(remap.iter_mut()) {
            if *id != EMPTY {
                continue;
            }
            *id = self.terms.len() as u32;
            let start = self.text.len() as u32;
            self.text.push_str(&text[t.start as usize..t.end as usize]);
            let end = self.text.len() as u32;
            self.terms.push(TermStats { start, end, last_doc: u32::MAX, pos: 0, ..*t });
            self.index.insert(untag(t.tag), *id);
        }
        drop((text, terms));
        for f in features.iter_mut() {
            *f = remap[*f as usize];
        }
        drop(remap);
        append_exact(&mut self.features, features)?;
        append_exact(&mut self.counts, counts)?;
        let base = self.doc_offsets.last().copied().unwrap_or(0);
        self.doc_offsets.extend(doc_offsets[1..].iter().map(|&o| base + o));
        Ok(())
    }

    /// Counts one occurrence of `term` in document `doc`.
    #[inline]
    fn record(&mut self, term: &str, hash: u64, doc: u32) {
        let (text, terms) = (&self.text, &self.terms);
        let found = self.index.find(hash, |id| {
            let t = &terms[id as usize];
            same_bytes(&text.as_bytes()[t.start as usize..t.end as usize], term.as_bytes())
        });
        let id = match found {
            Some(id) => id,
            None => {
                let id = self.terms.len() as u32;
                let start = self.text.len() as u32;
                self.text.push_str(term);
                let end = self.text.len() as u32;
                self.terms.push(TermStats {
                    start,
                    end,
                    tag: tag(hash),
                    count: 0,
                    df: 0,
                    last_doc: u32::MAX,
                    pos: 0,
                });
                if self.terms.len() * 2 > self.index.slots.len() {
                    let mut index = Index::with_capacity(self.terms.len() * 2);
                    for (i, t) in self.terms.iter().enumerate() {
                        // The new slots are written at random: prefetch ahead.
                        if let Some(next) = self.terms.get(i + AHEAD) {
                            prefetch(index.home(untag(next.tag)));
                        }
                        index.insert(untag(t.tag), i as u32);
                    }
                    self.index = index;
                } else {
                    self.index.insert(hash, id);
                }
                id
            }
        };
        let t = &mut self.terms[id as usize];
        t.count = t.count.saturating_add(1);
        if t.last_doc == doc {
            self.counts[t.pos as usize] += 1.0;
        } else {
            t.last_doc = doc;
            t.df += 1;
            t.pos = self.features.len() as u32;
            self.features.push(id);
            self.counts.push(1.0);
        }
    }

    /// Number of distinct terms seen so far.
    pub fn distinct_terms(&self) -> usize {
        self.terms.len()
    }

    /// The `min_df` of a training without the option: 1, or 2 when the texts have more than
    /// [`LARGE_VOCABULARY`] distinct terms and some term occurs in two texts. In a vocabulary
    /// that large most terms are n-grams of a single text (IMDB reviews: 1.5M terms, 71% of
    /// them), which cost memory and time at training and prediction and carry little: dropping
    /// them gave IMDB 0.8557 accuracy against 0.8517, its star ratings 0.3659 against 0.3630.
    /// Smaller sets keep every term (`min_df: 2` cost SMS spam 0.5–0.8 points).
    pub fn auto_min_df(&self) -> u32 {
        if self.terms.len() > LARGE_VOCABULARY && self.terms.iter().any(|t| t.df >= 2) { 2 } else { 1 }
    }

    fn term(&self, id: u32) -> &str {
        let t = &self.terms[id as usize];
        &self.text[t.start as usize..t.end as usize]
    }

    /// The first 8 bytes of a term, big-endian, zero-padded: ordering by it and then by the
    /// bytes is the bytes' order, with most comparisons settled by one integer compare.
    fn prefix(&self, id: u32) -> u64 {
        let t = self.term(id).as_bytes();
        let mut buf = [0u8; 8];
        let n = t.len().min(8);
        buf[..n].copy_from_slice(&t[..n]);
        u64::from_be_bytes(buf)
    }

    /// Keeps the terms found in at least `min_df` documents, then (if `max_features` is set) the
    /// `max_features` most frequent of those by total count (ties: alphabetical), and returns the
    /// sorted vocabulary with the documents as weighted sparse rows over it.
    pub fn finish(
        self,
        min_df: usize,
        max_features: Option<usize>,
        weighting: Weighting,
    ) -> (Vocabulary, SparseRows, Vec<f32>) {
        // Each kept term carries what the passes in sorted order need, so that they read no
        // term record at random (the records outgrow the caches on a large corpus).
        let mut entries: Vec<Entry> = (0..self.terms.len() as u32)
            .filter(|&id| self.terms[id as usize].df as usize >= min_df)
            .map(|id| {
                let t = &self.terms[id as usize];
                Entry { prefix: self.prefix(id), id, start: t.start, end: t.end, df: t.df }
            })
            .collect();
        let bytes = |e: &Entry| &self.text.as_bytes()[e.start as usize..e.end as usize];
        let by_bytes = |a: &Entry, b: &Entry| a.prefix.cmp(&b.prefix).then_with(|| bytes(a).cmp(bytes(b)));
        if let Some(cap) = max_features.filter(|&cap| cap < entries.len()) {
            let by_count = |a: &Entry, b: &Entry| {
                let count = |e: &Entry| self.terms[e.id as usize].count;
                count(b).cmp(&count(a)).then_with(|| by_bytes(a, b))
            };
            entries.select_nth_unstable_by(cap - 1, by_count);
            entries.truncate(cap);
        }
        // Integer order first; then only runs sharing their first 8 bytes compare bytes.
        radix_sort(&mut entries, |e| e.prefix);
        let mut i = 0;
        while i < entries.len() {
            let mut j = i + 1;
            while j < entries.len() && entries[j].prefix == entries[i].prefix {
                j += 1;
            }
            if j - i > 1 {
                entries[i..j].sort_unstable_by(by_bytes);
            }
            i = j;
            // The bytes the next groups compare are scattered: prefetch them.
            if let Some(e) = entries.get(i + AHEAD) {
                prefetch_byte(self.text.as_bytes(), e.start as usize);
            }
        }
        let mut remap = vec![u32::MAX; self.terms.len()];
        let mut df = Vec::with_capacity(entries.len());
        // (An upper bound: the kept terms' lengths would take a pass of their own.)
        let mut text = String::with_capacity(self.text.len());
        let mut ends = Vec::with_capacity(entries.len());
        let mut hashes = Vec::with_capacity(entries.len());
        for (new, e) in entries.iter().enumerate() {
            // Sorted order reads the bytes and writes `remap` at random: prefetch ahead.
            if let Some(next) = entries.get(new + AHEAD) {
                prefetch_byte(self.text.as_bytes(), next.start as usize);
                prefetch(&remap[next.id as usize]);
            }
            remap[e.id as usize] = new as u32;
            df.push(e.df);
            let term = &self.text[e.start as usize..e.end as usize];
            // The records keep 32 bits of the hash; the index wants all 64.
            hashes.push(term_hash(term));
            text.push_str(term);
            ends.push(text.len() as u32);
        }
        if text.len() < text.capacity() / 2 {
            text.shrink_to_fit();
        }
        let vocab = Vocabulary::new(text, ends, hashes);
        let n_docs = self.doc_offsets.len().saturating_sub(1);
        let idf = match weighting {
            Weighting::TfIdf => df.iter().map(|&d| idf(n_docs, d as usize)).collect(),
            _ => Vec::new(),
        };
        let mut rows = SparseRows { offsets: Vec::with_capacity(n_docs + 1), ..Default::default() };
        rows.offsets.push(0);
        let (mut features, mut counts) = (self.features, self.counts);
        if weighting == Weighting::TfIdf {
            // The L2 norm sums in feature order: keep the rows sorted.
            rows.features.reserve(features.len());
            rows.values.reserve(features.len());
            let mut row: Vec<(u32, f32)> = Vec::new();
            for d in 0..n_docs {
                row.clear();
                let span = self.doc_offsets[d]..self.doc_offsets[d + 1];
                row.extend(
                    features[span.clone()]
                        .iter()
                        .zip(&counts[span])
                        .map(|(&t, &n)| (remap[t as usize], n))
                        .filter(|&(f, _)| f != u32::MAX),
                );
                push_counts(&mut row, &idf, &mut rows.features, &mut rows.values);
                rows.offsets.push(rows.features.len());
            }
        } else {
            // The rows are merged already: renumber and drop the pruned terms in place.
            let binary = weighting == Weighting::Binary;
            let mut w = 0;
            for d in 0..n_docs {
                for k in self.doc_offsets[d]..self.doc_offsets[d + 1] {
                    // `remap` is read at random: prefetch ahead.
                    if let Some(&t) = features.get(k + AHEAD) {
                        prefetch(&remap[t as usize]);
                    }
                    let f = remap[features[k] as usize];
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
        (vocab, rows, idf)
    }
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

/// Sorts by the `u64` key (stable, LSD radix, 11-bit digits; a digit shared by every key costs
/// one counting pass and no move).
fn radix_sort<T: Copy>(v: &mut Vec<T>, key: impl Fn(&T) -> u64) {
    const BITS: u32 = 11;
    let mut buf = v.clone();
    let mut shift = 0;
    while shift < 64 {
        let digit = |e: &T| ((key(e) >> shift) & ((1 << BITS) - 1)) as usize;
        let mut counts = [0usize; 1 << BITS];
        v.iter().for_each(|e| counts[digit(e)] += 1);
        if counts.contains(&v.len()) {
            shift += BITS;
            continue;
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            (*c, sum) = (sum, sum + *c);
        }
        for e in v.iter() {
            let d = digit(e);
            buf[counts[d]] = *e;
            counts[d] += 1;
        }
        std::mem::swap(v, &mut buf);
        shift += BITS;
    }
}

/// scikit-learn's smoothed inverse document frequency.
fn idf(n_docs: usize, df: usize) -> f32 {
    (((1 + n_docs) as f64 / (1 + df) as f64).ln() + 1.0) as f32
}

/// As [`push_row`] with TF-IDF weighting, from distinct `(feature, count)` pairs (any order;
/// sorted in place): the same values, in the same order.
fn push_counts(row: &mut [(u32, f32)], idf: &[f32], features: &mut Vec<u32>, values: &mut Vec<f32>) {
    row.sort_unstable_by_key(|&(f, _)| f);
    let start = values.len();
    for &(f, tf) in row.iter() {
        features.push(f);
        values.push(tf_idf(tf, idf[f as usize]));
    }
    l2_normalize(&mut values[start..]);
}

/// The sublinear TF-IDF weight of a term found `tf` times.
#[inline]
fn tf_idf(tf: f32, idf: f32) -> f32 {
    (1.0 + tf.ln()) * idf
}

/// Scales a document's values to unit Euclidean norm (summed in f64); an all-zero row stays.
fn l2_normalize(values: &mut [f32]) {
    let norm = values.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>().sqrt();
    if norm > 0.0 {
        values.iter_mut().for_each(|v| *v = (*v as f64 / norm) as f32);
    }
}

/// Turns the feature ids of one document (any order, repeated per occurrence; sorted in place)
/// into distinct ascending features with weighted values, appended to `features`/`values`.
pub fn push_row(
    ids: &mut [u32],
    weighting: Weighting,
    idf: &[f32],
    features: &mut Vec<u32>,
    values: &mut Vec<f32>,
) {
    ids.sort_unstable();
    let start = values.len();
    let mut i = 0;
    while i < ids.len() {
        let f = ids[i];
        let mut j = i + 1;
        while j < ids.len() && ids[j] == f {
            j += 1;
        }
        let tf = (j - i) as f32;
        features.push(f);
        values.push(match weighting {
            Weighting::Count => tf,
            Weighting::Binary => 1.0,
            Weighting::TfIdf => tf_idf(tf, idf[f as usize]),
        });
        i = j;
    }
    if weighting == Weighting::TfIdf {
        l2_normalize(&mut values[start..]);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tokenize::{Tokenizer, TokenizerConfig};
    use super::*;

    fn build(
        docs: &[&str],
        lo: usize,
        hi: usize,
        min_df: usize,
        max: Option<usize>,
        w: Weighting,
    ) -> (Vocabulary, SparseRows, Vec<f32>) {
        let direct = build_with(docs, lo, hi, min_df, max, w, false);
        let staged = build_with(docs, lo, hi, min_df, max, w, true);
        // Both ways of counting give the same vocabulary and rows.
        assert_eq!(terms(&direct.0), terms(&staged.0));
        assert_eq!((&direct.1, &direct.2), (&staged.1, &staged.2));
        direct
    }

    fn build_with(
        docs: &[&str],
        lo: usize,
        hi: usize,
        min_df: usize,
        max: Option<usize>,
        w: Weighting,
        always_staged: bool,
    ) -> (Vocabulary, SparseRows, Vec<f32>) {
        let t = Tokenizer::new(TokenizerConfig::default());
        let mut b = VocabularyBuilder { always_staged, ..Default::default() };
        let mut toks = Tokens::default();
        for d in docs {
            t.tokenize(d, &mut toks);
            b.add(&toks, lo, hi);
        }
        b.finish(min_df, max, w)
    }

    fn terms(v: &Vocabulary) -> Vec<&str> {
        (0..v.len() as u32).map(|i| v.term(i)).collect()
    }

    #[test]
    fn sorted_vocabulary_and_counts() {
        let (v, rows, _) = build(&["b a b", "c a"], 1, 1, 1, None, Weighting::Count);
        assert_eq!(terms(&v), ["a", "b", "c"]);
        // Count and binary rows list terms in order of first occurrence.
        assert_eq!(rows.row(0), (&[1u32, 0][..], &[2.0f32, 1.0][..]));
        assert_eq!(rows.row(1), (&[2u32, 0][..], &[1.0f32, 1.0][..]));
        let (_, rows, _) = build(&["b a b", "c a"], 1, 1, 1, None, Weighting::Binary);
        assert_eq!(rows.row(0), (&[1u32, 0][..], &[1.0f32, 1.0][..]));
        let (_, rows, _) = build(&["b a b", "c a"], 1, 1, 1, None, Weighting::TfIdf);
        assert_eq!(rows.row(1).0, &[0u32, 2]);
    }

    /// `min_df` is 2 by default only past a million distinct terms, and only when some term
    /// is in two texts.
    #[test]
    fn automatic_min_df() {
        let t = Tokenizer::new(TokenizerConfig::default());
        let mut toks = Tokens::default();
        let mut b = VocabularyBuilder::default();
        let mut text = String::new();
        let mut d = 0u64;
        let add_doc = |b: &mut VocabularyBuilder, toks: &mut Tokens, text: &mut String, d: u64| {
            text.clear();
            for w in 0..100 {
                text.push_str(&format!("w{:x} ", d * 100 + w));
            }
            t.tokenize(text, toks);
            b.add(toks, 1, 1);
        };
        while b.distinct_terms() <= LARGE_VOCABULARY {
            assert_eq!(b.auto_min_df(), 1);
            add_doc(&mut b, &mut toks, &mut text, d);
            d += 1;
        }
        // Every term in one text only: nothing would be left.
        assert_eq!(b.auto_min_df(), 1);
        add_doc(&mut b, &mut toks, &mut text, 0);
        assert_eq!(b.auto_min_df(), 2);
    }

    #[test]
    fn min_df_and_max_features_prune() {
        let docs = ["a b b b", "a c", "a c d"];
        let (v, _, _) = build(&docs, 1, 1, 2, None, Weighting::Count);
        assert_eq!(terms(&v), ["a", "c"]);
        // totals: a 3, b 3, c 2, d 1 -> top 2 by count, ties alphabetical: a, b
        let (v, _, _) = build(&docs, 1, 1, 1, Some(2), Weighting::Count);
        assert_eq!(terms(&v), ["a", "b"]);
    }

    /// The rows merged during counting equal the rows made from each document's term ids per
    /// occurrence (first-occurrence order for counts and presence, `push_row` for TF-IDF), with
    /// pruning by `min_df` and `max_features`.
    #[test]
    fn merged_rows_match_rows_from_occurrences() {
        let words = ["a", "b", "c", "d", "e", "f", "gg", "h"];
        let mut next = crate::models::text::xorshift(0x9e37_79b9_7f4a_7c15);
        let docs: Vec<String> = (0..60)
            .map(|_| (0..next() % 12).map(|_| words[(next() % 8) as usize]).collect::<Vec<_>>().join(" "))
            .collect();
        let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let t = Tokenizer::new(TokenizerConfig::default());
        for w in [Weighting::Count, Weighting::Binary, Weighting::TfIdf] {
            for (min_df, max) in [(1, None), (3, None), (1, Some(20))] {
                let (v, rows, idf) = build(&docs, 1, 2, min_df, max, w);
                let mut toks = Tokens::default();
                for (d, text) in docs.iter().enumerate() {
                    t.tokenize(text, &mut toks);
                    let mut ids = Vec::new();
                    toks.for_each_ngram(1, 2, |g| ids.extend(v.id(g)));
                    let (mut f, mut x) = (Vec::new(), Vec::new());
                    if w == Weighting::TfIdf {
                        push_row(&mut ids, w, &idf, &mut f, &mut x);
                    } else {
                        for id in ids {
                            match f.iter().position(|&g| g == id) {
                                Some(i) if w == Weighting::Count => x[i] += 1.0,
                                Some(_) => {}
                                None => {
                                    f.push(id);
                                    x.push(1.0);
                                }
                            }
                        }
                    }
                    assert_eq!(rows.row(d), (&f[..], &x[..]), "{w:?} {min_df} {max:?} doc {d}");
                }
            }
        }
    }

    #[test]
    fn same_bytes_is_equality() {
        let s = b"abcdefghijklmnopqrstuvwxyz0123456789";
        for n in 0..=s.len() {
            for m in 0..=s.len() {
                let (a, b) = (&s[..n], &s[s.len() - m..]);
                assert_eq!(same_bytes(a, b), a == b);
                assert!(same_bytes(&s[..n], &s[..n]));
            }
            for i in 0..n {
                let mut t = s[..n].to_vec();
                t[i] ^= 1;
                assert!(!same_bytes(&s[..n], &t), "{n} {i}");
            }
        }
    }

    /// The lookup by hash finds what the lookup by bytes finds, in order, for known and
    /// unknown n-grams, on a small table and on a large one.
    #[test]
    fn find_hashed_matches_find() {
        let mut docs =
            vec!["the cat sat on the mat".to_string(), "a dog sat".into(), "the dog ate the cat food".into()];
        docs.extend((0..40_000).map(|i| format!("w{i} x{}", i % 7)));
        for n in [3, docs.len()] {
            let docs: Vec<&str> = docs[..n].iter().map(String::as_str).collect();
            let (v, _, _) = build(&docs, 1, 2, 1, None, Weighting::Count);
            assert!(v.hashes_are_unique());
            let t = Tokenizer::new(TokenizerConfig::default());
            let mut toks = Tokens::default();
            for text in [
                "the cat ate a mat",
                "zebra",
                "",
                "dog dog sat on the cat food zebra the",
                "w17 x3 w39999 x9",
            ] {
                t.tokenize(text, &mut toks);
                let (mut slow, mut hashes) = (Vec::new(), Vec::new());
                toks.for_each_ngram_hashed(1, 2, |g, h| {
                    slow.extend(v.find(g, h));
                    hashes.push(h);
                });
                let mut fast = vec![7];
                v.find_hashed(&hashes, &mut fast);
                assert_eq!(fast.remove(0), 7, "appends");
                assert_eq!(fast, slow, "{text}");
                // Known terms are found (the small vocabulary knows no `w…`).
                assert_eq!(
                    slow.is_empty(),
                    matches!(text, "zebra" | "") || (n == 3 && text.starts_with('w')),
                    "{text}"
                );
            }
        }
    }

    /// Terms are told apart by their 64-bit hash at prediction: no two of a large set of
    /// similar short terms share one (every 1- to 3-character string over 30 letters, CJK
    /// ideographs and kana, and every 2-gram of the 1- and 2-character ones: 865k terms). The
    /// word-at-a-time multiply hash used before failed this.
    #[test]
    fn term_hashes_do_not_collide() {
        let alphabet: Vec<char> = "abcqxyz09çé洗澡房水间卫生好差很不酒店的了是ぁアー".chars().collect();
        assert_eq!(alphabet.len(), 30);
        let mut short: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
        for &a in &alphabet {
            for &b in &alphabet {
                short.push(format!("{a}{b}"));
            }
        }
        let mut terms: Vec<String> = short.clone();
        for &a in &alphabet {
            for &b in &alphabet {
                for &c in &alphabet {
                    terms.push(format!("{a}{b}{c}"));
                }
            }
        }
        for a in &short {
            for b in &short {
                terms.push(format!("{a} {b}"));
            }
        }
        let mut hashes: Vec<u64> = terms.iter().map(|t| term_hash(t)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), terms.len());
    }

    /// Distinct terms with one hash (forced here): the index says so, and the lookup by bytes
    /// tells them apart.
    #[test]
    fn shared_hashes_fall_back_to_bytes() {
        let v = Vocabulary::new("abc".into(), vec![1, 2, 3], vec![7u64 << 60, 7 << 60, 9 << 60]);
        assert!(!v.hashes_are_unique());
        assert_eq!(
            [v.find("a", 7 << 60), v.find("b", 7 << 60), v.find("c", 9 << 60)],
            [Some(0), Some(1), Some(2)]
        );
        assert_eq!(v.find("x", 7 << 60), None);
        let v = Vocabulary::new("abc".into(), vec![1, 2, 3], vec![7u64 << 60, 8 << 60, 9 << 60]);
        assert!(v.hashes_are_unique());
    }

    #[test]
    fn radix_sort_sorts() {
        let mut next = crate::models::text::xorshift(0x1234_5678_9abc_def1);
        let mut v: Vec<(u64, u32)> = (0..5000u32).map(|i| (next() >> (i % 4 * 16), i)).collect();
        let mut want = v.clone();
        want.sort();
        radix_sort(&mut v, |e| e.0);
        assert_eq!(v, want);
    }

    #[test]
    fn bigrams() {
        let (v, _, _) = build(&["x y z"], 1, 2, 1, None, Weighting::Count);
        assert_eq!(terms(&v), ["x", "x y", "y", "y z", "z"]);
        let (v, _, _) = build(&["x y z"], 2, 2, 1, None, Weighting::Count);
        assert_eq!(terms(&v), ["x y", "y z"]);
    }

    #[test]
    fn sublinear_tfidf_by_hand() {
        // 2 docs; "a" in both (idf = ln(3/3)+1 = 1), "b" only in doc 0 (idf = ln(3/2)+1).
        // doc 0 = "a b b": a -> 1·1 = 1, b -> (1 + ln 2)·(1 + ln 1.5); then L2-normalised.
        let (_, rows, idf) = build(&["a b b", "a"], 1, 1, 1, None, Weighting::TfIdf);
        let ib = 1.0 + 1.5f64.ln();
        assert!((idf[0] as f64 - 1.0).abs() < 1e-6 && (idf[1] as f64 - ib).abs() < 1e-6);
        let b = (1.0 + 2f64.ln()) * ib;
        let n = (1.0 + b * b).sqrt();
        let (_, vals) = rows.row(0);
        assert!((vals[0] as f64 - 1.0 / n).abs() < 1e-6);
        assert!((vals[1] as f64 - b / n).abs() < 1e-6);
        assert_eq!(rows.row(1).1, &[1.0f32]);
    }

    #[test]
    fn vocabulary_round_trips_and_rejects_unsorted() {
        let (v, _, _) = build(&["b a"], 1, 1, 1, None, Weighting::Count);
        let bytes = postcard::to_stdvec(&v).unwrap();
        let back: Vocabulary = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.id("b"), Some(1));
        let bad = postcard::to_stdvec(&vec!["b", "a"]).unwrap();
        assert!(postcard::from_bytes::<Vocabulary>(&bad).is_err());
    }

    /// Sizes past the u32 fields are refused before anything is added (before: the term
    /// positions, ids and offsets wrapped silently on corpora of over 4 G stored values).
    #[test]
    fn u32_overflow_is_an_error() {
        let b = VocabularyBuilder::default();
        assert!(b.check_u32(10, 100, 1000, 1).is_ok());
        for (terms, bytes, values, docs, what) in [
            (u32::MAX as usize, 0, 0, 0, "distinct terms"),
            (0, u32::MAX as usize, 0, 0, "bytes of distinct terms"),
            (0, 0, u32::MAX as usize, 0, "(text, term) pairs"),
            (0, 0, 0, usize::MAX, "texts"),
        ] {
            let e = b.check_u32(terms, bytes, values, docs).unwrap_err().to_string();
            assert!(e.contains(what) && e.contains("more than a text model holds"), "{e}");
        }
    }
}
