//! [`VocabularyBuilder`]: counts the training documents' terms (staged probes on a large
//! table, two builders appended), then prunes and sorts them into a [`Vocabulary`] and the
//! documents' weighted rows.

use super::super::tokenize::{Gram, Tokens, term_hash};
use super::index::{AHEAD, EMPTY, Index, prefetch, same_bytes, tag, untag};
use super::vocabulary::Vocabulary;
use super::weighting::{SparseRows, Weighting, idf, push_counts};
use crate::Result;
use crate::models::control::Control;
use crate::models::memory;

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
    pub(super) always_staged: bool,
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
        } else if self.index.slots.is_empty() {
            // Appended to: the table is rebuilt when it is needed again (see `try_append`).
            self.rebuild_index();
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

    /// Reserves, at once, room for `scale` times what the texts counted so far take (their
    /// (text, term) pairs, term records and term bytes) and an eighth more (the rate varies from
    /// text to text, and `try_add` makes room for a whole text before counting it), when that is
    /// more than there is: called
    /// early in a long run of texts with `scale` = all their bytes ÷ the bytes counted, it saves
    /// the tables growing by doubling, whose copies the allocator keeps (measured on IMDB: a
    /// process peak of 335 MB where the tables take 180). A hint: memory refused now is left to
    /// [`VocabularyBuilder::try_add`], and an estimate too large costs address space, not
    /// resident memory (the pages are touched as they fill). Distinct terms grow more slowly than
    /// the text, so they are over-estimated; the pairs grow with it.
    pub fn reserve_ahead(&mut self, scale: f64) {
        fn ahead<T>(v: &mut Vec<T>, scale: f64) {
            let want = (v.len() as f64 * scale * 1.125) as usize;
            let _ = v.try_reserve_exact(want.saturating_sub(v.len()));
        }
        if !(scale.is_finite() && scale > 1.0) {
            return;
        }
        ahead(&mut self.features, scale);
        ahead(&mut self.counts, scale);
        ahead(&mut self.terms, scale);
        let want = (self.text.len() as f64 * scale * 1.125) as usize;
        let _ = self.text.try_reserve_exact(want.saturating_sub(self.text.len()));
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

    /// A new hash table of every term, at most half full.
    fn rebuild_index(&mut self) {
        let mut index = Index::with_capacity(self.terms.len());
        for (i, t) in self.terms.iter().enumerate() {
            // The new slots are written at random: prefetch ahead.
            if let Some(next) = self.terms.get(i + AHEAD) {
                prefetch(index.home(untag(next.tag)));
            }
            index.insert(untag(t.tag), i as u32);
        }
        self.index = index;
    }

    /// Grows the hash table now if `terms` terms would make `record` grow it (memory the
    /// system refuses is an error, not an abort), to the size `record` would give it.
    fn try_grow_index(&mut self, terms: usize) -> Result<()> {
        if terms.saturating_mul(2) <= self.index.slots.len() {
            return Ok(());
        }
        let bits = (terms.max(4).saturating_mul(2)).next_power_of_two().trailing_zeros();
        if bits > 32 {
            return Err(crate::Error::data(
                "the training texts have more than 2^31 distinct terms (use fewer n-grams with the option 'ngrams')",
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
        if self.index.slots.is_empty() {
            // Appended to before: its table was dropped.
            self.try_grow_index(self.terms.len())?;
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
        // The table is not extended with the new terms: `finish` needs no table, so it is
        // dropped here (a large one is tens of MB) and rebuilt only if more texts come.
        self.index = Index::default();
        for (t, id) in terms.iter().zip(remap.iter_mut()) {
            if *id != EMPTY {
                continue;
            }
            *id = self.terms.len() as u32;
            let start = self.text.len() as u32;
            self.text.push_str(&text[t.start as usize..t.end as usize]);
            let end = self.text.len() as u32;
            self.terms.push(TermStats { start, end, last_doc: u32::MAX, pos: 0, ..*t });
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
                    self.rebuild_index();
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
    /// sorted vocabulary with the documents as weighted sparse rows over it. Ticks `control`
    /// along the way (tens of millions of terms take a while to sort and renumber).
    pub fn finish(
        self,
        min_df: usize,
        max_features: Option<usize>,
        weighting: Weighting,
        control: &Control<'_>,
    ) -> Result<(Vocabulary, SparseRows, Vec<f32>)> {
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
        control.look()?;
        radix_sort(&mut entries, |e| e.prefix);
        control.look()?;
        let mut i = 0;
        while i < entries.len() {
            let mut j = i + 1;
            while j < entries.len() && entries[j].prefix == entries[i].prefix {
                j += 1;
            }
            control.tick((j - i) as u64)?;
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
            control.tick(1)?;
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
                control.tick(span.len() as u64 + 1)?;
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
                control.tick((self.doc_offsets[d + 1] - self.doc_offsets[d]) as u64 + 1)?;
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
        Ok((vocab, rows, idf))
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
pub(super) fn radix_sort<T: Copy>(v: &mut Vec<T>, key: impl Fn(&T) -> u64) {
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
