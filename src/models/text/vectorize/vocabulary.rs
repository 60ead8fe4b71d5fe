//! [`Vocabulary`]: the sorted terms of a trained model, their lookup (by bytes, or by 64-bit
//! hash alone) and their (de)serialisation as a sequence of terms (only sorted, both ways).

use super::super::tokenize::term_hash;
use super::index::{EMPTY, TermIndex, prefetch, same_bytes};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;

/// How many n-grams ahead [`Vocabulary::find_hashed`] prefetches the home slot. On this 2-core
/// VM a random read outside the core's L2 costs about as much as 16 lookups (measured:
/// 8.5–18 ns a lookup in tables of 20k–1.6M terms, against 9–34 ns without prefetching).
const LOOKUP_AHEAD: usize = 16;

#[cfg(test)]
thread_local! {
    /// [`Vocabulary::unspelled`] finds hashes that collide on this thread (tests of the terms
    /// spelled out then).
    pub(crate) static SPELL_ALWAYS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Vocabularies made [`Vocabulary::unspelled`] on this thread (tests).
    pub(crate) static UNSPELLED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The terms (n-grams) a model knows, sorted; a term's id is its position. The terms live in one
/// string (no allocation per term) with a hash index over them. A measured fit's model, scored
/// and dropped, may hold them unsorted ([`TermOrder::Any`](super::TermOrder::Any)): such a
/// vocabulary refuses to be serialised, so it can never be stored as a model that would not
/// load. It may also hold their hashes alone (a measured fit's, `Vocabulary::unspelled`), where no two share
/// one.
#[derive(Debug, Default)]
pub struct Vocabulary {
    /// Every term, concatenated in id order (empty where not spelled out).
    text: String,
    /// End of each term in `text` (empty where not spelled out).
    ends: Vec<u32>,
    index: TermIndex,
    /// The terms are in the order they were counted, not sorted.
    unsorted: bool,
    /// Number of terms.
    len: usize,
}

impl Vocabulary {
    /// Builds from the concatenated sorted, distinct terms, their ends and their [`term_hash`]es.
    pub(super) fn new(text: String, ends: Vec<u32>, hashes: Vec<u64>) -> Self {
        let len = ends.len();
        Vocabulary { text, ends, index: TermIndex::new(&hashes), unsorted: false, len }
    }

    /// An unsorted vocabulary ([`Vocabulary::unsorted`]) of distinct terms known by their
    /// [`term_hash`]es alone, in any order, without their bytes: a measured fit's, scored and
    /// dropped (at a million generated texts the terms' bytes and ends took 37 MB of it). None
    /// where two hashes are the same (the terms must then be spelled out, see
    /// [`Vocabulary::hashes_are_unique`]). Its terms read as empty ([`Vocabulary::term`]).
    pub(super) fn unspelled(hashes: &[u64]) -> Option<Self> {
        let index = TermIndex::new(hashes);
        #[cfg(test)]
        if SPELL_ALWAYS.with(std::cell::Cell::get) {
            return None;
        }
        #[cfg(test)]
        UNSPELLED.with(|n| n.set(n.get() + usize::from(index.unique)));
        index.unique.then(|| Vocabulary { index, unsorted: true, len: hashes.len(), ..Vocabulary::default() })
    }

    /// Whether the terms' bytes are held (not so in a vocabulary [`Vocabulary::unspelled`]).
    fn spelled(&self) -> bool {
        self.ends.len() == self.len
    }

    /// The same vocabulary, whose terms (distinct) were given in any order: it scores as a
    /// sorted one would, and is never serialised.
    pub(super) fn unsorted(self) -> Self {
        Vocabulary { unsorted: true, ..self }
    }

    /// The id of `term`, whose [`term_hash`] is `hash`, if known (comparing the bytes; by the
    /// hash alone in a vocabulary of hashes alone, `Vocabulary::unspelled`, whose hashes are
    /// unique).
    #[inline]
    pub fn find(&self, term: &str, hash: u64) -> Option<u32> {
        if !self.spelled() {
            return self.index.find(hash, |_| true);
        }
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
        let (index, slots) = (&self.index, &self.index.slots);
        if slots.is_empty() {
            return;
        }
        let start = ids.len();
        ids.resize(start + hashes.len(), EMPTY);
        let mut n = start;
        for (k, &h) in hashes.iter().enumerate() {
            if let Some(&next) = hashes.get(k + LOOKUP_AHEAD) {
                prefetch(index.home(next));
            }
            let mut i = index.home_of(h);
            // The chain ends at this hash (a hit) or at a free slot (a miss: `EMPTY`; a free slot
            // may show hash 0, so its id decides).
            let id = loop {
                let slot = slots[i];
                if slot.hash == h || slot.id == EMPTY {
                    break slot.id;
                }
                i = index.next(i);
            };
            ids[n] = id;
            n += (id != EMPTY) as usize;
        }
        ids.truncate(n);
    }

    /// Bytes the terms and their lookup table take in memory.
    pub fn memory_bytes(&self) -> usize {
        self.text.capacity() + 4 * self.ends.capacity() + std::mem::size_of_val(self.index.slots.as_slice())
    }

    /// The (hash, id) of every term, in table order.
    pub fn hashed_ids(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.index.slots.iter().filter(|s| s.id != EMPTY).map(|s| (s.hash, s.id))
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

    /// The term of `id` (empty in a vocabulary of hashes alone, `Vocabulary::unspelled`).
    #[inline]
    pub fn term(&self, id: u32) -> &str {
        if !self.spelled() {
            return "";
        }
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
        self.len
    }

    /// True when no term is known.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Serialised as the sequence of terms (as a `Vec<String>` would be); an unsorted vocabulary
/// is an error (its model would not decode).
impl Serialize for Vocabulary {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.unsorted {
            return Err(serde::ser::Error::custom("an unsorted vocabulary (a measured fit's) is not stored"));
        }
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
