//! Naive Bayes over sparse term features: multinomial, complement and Bernoulli.
//!
//! All three fit into one linear form, which keeps prediction a row lookup per term:
//!
//! `score(c) = bias[c] + Σ_f x_f · W[f][c]`
//!
//! | algorithm | `W[f][c]` | `bias[c]` |
//! |---|---|---|
//! | multinomial | `ln((N_cf + α) / (N_c + α·V))` | `ln P(c)` |
//! | complement (Rennie et al. 2003, eq. 6) | `−ln((N_~c,f + α) / (N_~c + α·V))` | `ln P(c)` |
//! | bernoulli | `ln p_cf − ln(1 − p_cf)`, `p_cf = (D_cf + α) / (D_c + 2α)` | `ln P(c) + Σ_f ln(1 − p_cf)` |
//!
//! `N_cf` is the summed feature value of term `f` in class `c`, `N_c = Σ_f N_cf`, `~c` means
//! every class but `c`, `V` the vocabulary size, `D_cf` the number of class-`c` documents
//! containing `f` and `D_c` the class's documents. `P(c)` is the class's share of the training
//! documents (`priors = 'learned'`) or `1/k` (`'uniform'`). Bernoulli treats any non-zero value
//! as presence.
//!
//! **Storage.** Most (term, class) pairs never occur in training (`N_cf = 0`), and for those
//! `W[f][c]` is a per-class constant (complement NB: plus a per-term constant). So `W` is kept
//! sparse and exact as
//!
//! `W[f][c] = default[c] + base[f] + delta[f][c]`
//!
//! with `delta` stored (as `f32`, CSR by term) only for the pairs seen in training, and `base`
//! only for complement NB (else 0). Scores then are
//! `bias[c] + X·default[c] + Σ_f x_f·base[f] + Σ_(f,c) seen x_f·delta[f][c]` with `X = Σ_f x_f`,
//! summed in `f64`. A dense `V × k` matrix would take 250 MB for 800k terms and 81 classes.
//! With few classes (two: spam, sentiment) the dense `delta` rows take no more memory than the
//! sparse ones, and one read per term instead of three, so they are built in memory too (not
//! stored), with the same sums bit for bit.

use super::vectorize::SparseRows;
use crate::models::control::Control;
use crate::models::finite::all_finite;
use crate::models::memory;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Which Naive Bayes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    /// Multinomial NB (the default).
    Multinomial,
    /// Complement NB (Rennie, Shih, Teevan & Karger 2003), without weight normalisation.
    Complement,
    /// Bernoulli NB over term presence.
    Bernoulli,
}

impl Algorithm {
    /// The option value.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Multinomial => "multinomial",
            Algorithm::Complement => "complement",
            Algorithm::Bernoulli => "bernoulli",
        }
    }
}

/// Where the class prior comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Priors {
    /// Class frequencies of the training rows.
    Learned,
    /// Equal for every class.
    Uniform,
}

impl Priors {
    /// The option value.
    pub fn name(self) -> &'static str {
        match self {
            Priors::Learned => "learned",
            Priors::Uniform => "uniform",
        }
    }
}

/// A fitted Naive Bayes in linear form (see the module documentation).
#[derive(Debug)]
pub struct NaiveBayes {
    algorithm: Algorithm,
    n_classes: usize,
    bias: Vec<f64>,
    /// `W[f][c]` of a pair not seen in training, less `base[f]`.
    default: Vec<f64>,
    /// Complement NB: the per-term part of `W`; empty for the others.
    base: Vec<f32>,
    /// `offsets[f]..offsets[f + 1]` indexes the seen classes of term `f` (ascending) in
    /// `classes` and their `delta`s.
    offsets: Vec<u32>,
    classes: Vec<u32>,
    deltas: Vec<f32>,
    /// Dense rows of the same `delta`s (`k` values, 0 for a pair not seen), built in memory (not
    /// stored) where they pay: with few classes for every term (row `f`; two classes: 8 bytes a
    /// term against at least 12 sparse, and one read per term at prediction instead of three),
    /// else for the terms seen in at least a quarter of the classes (row `dense_of[f]`; one
    /// vectorised pass over the classes instead of scattered adds, at most twice the sparse
    /// size). Empty when no term has one.
    dense: Vec<f32>,
    /// Per term its row in `dense` or [`NO_ROW`]; empty when every term has its row `f`.
    dense_of: Vec<u32>,
}

/// Stored values from which [`NaiveBayes::fit`] sums the classes on two threads.
const PARALLEL_FIT_FROM: usize = 1 << 18;

/// `(term, class, N_cf)` pairs and the classes' `N_c`, as [`class_sums`] gives them.
type ClassSums = (Vec<(u32, u32, f64)>, Vec<f64>);

/// `(pairs, totals)` of the classes `classes`: for each class in order, `(term, class, N_cf)`
/// for every term seen in it (in order of first occurrence), and its `N_c` (summed in that
/// order).
fn class_sums(
    rows: &SparseRows,
    by_class: &[Vec<u32>],
    classes: std::ops::Range<usize>,
    n_features: usize,
    bernoulli: bool,
    tick: &dyn Fn(u64) -> Result<()>,
) -> Result<ClassSums> {
    // Per thread: one accumulator and one mark per term (sizes from the data: fallible).
    let mut acc: Vec<f64> = memory::zeroed(n_features, WHAT)?;
    let mut seen: Vec<u32> = memory::with_capacity(n_features, WHAT)?;
    seen.resize(n_features, u32::MAX);
    let mut touched: Vec<u32> = Vec::new();
    let mut pairs: Vec<(u32, u32, f64)> = Vec::new();
    let mut totals = memory::with_capacity(classes.len(), WHAT)?;
    for c in classes {
        touched.clear();
        for &d in &by_class[c] {
            let (fs, vs) = rows.row(d as usize);
            tick(4 + fs.len() as u64)?;
            for (&f, &v) in fs.iter().zip(vs) {
                let i = f as usize;
                if seen[i] != c as u32 {
                    seen[i] = c as u32;
                    acc[i] = 0.0;
                    touched.push(f);
                }
                acc[i] += if bernoulli { 1.0 } else { v as f64 };
            }
        }
        memory::reserve(&mut pairs, touched.len(), WHAT)?;
        let mut total = 0.0;
        for &f in &touched {
            let n = acc[f as usize];
            total += n;
            pairs.push((f, c as u32, n));
        }
        totals.push(total);
    }
    Ok((pairs, totals))
}

/// What the allocations of [`NaiveBayes::fit`] are for, in a refusal.
const WHAT: &str = "the naive Bayes counts";

/// The first class of the second group: where the classes' stored values pass half of all.
fn split_classes(rows: &SparseRows, by_class: &[Vec<u32>]) -> usize {
    let size = |d: &u32| rows.offsets[*d as usize + 1] - rows.offsets[*d as usize];
    let work: Vec<usize> = by_class.iter().map(|docs| docs.iter().map(size).sum()).collect();
    let half = work.iter().sum::<usize>() / 2;
    let mut sum = 0;
    for (c, w) in work.iter().enumerate() {
        if sum + w / 2 >= half {
            return c.max(1);
        }
        sum += w;
    }
    work.len()
}

/// No dense row (see [`NaiveBayes::dense_of`]).
const NO_ROW: u32 = u32::MAX;

impl NaiveBayes {
    /// Fits on `rows` (over `n_features` terms) with class ids `y` (all `< n_classes`). The
    /// sizes come from the data: a refused allocation is an error, and so is a panic of the
    /// helper thread ([`Error::Internal`]).
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        rows: &SparseRows,
        y: &[u32],
        n_classes: usize,
        n_features: usize,
        algorithm: Algorithm,
        alpha: f64,
        priors: Priors,
        control: &Control<'_>,
    ) -> Result<NaiveBayes> {
        let k = n_classes;
        let bernoulli = algorithm == Algorithm::Bernoulli;
        let mut docs = vec![0f64; k];
        y.iter().for_each(|&c| docs[c as usize] += 1.0);
        // The documents grouped by class (stable), so one dense accumulator over terms serves
        // every class in turn and each class's sums come out in one pass.
        let mut by_class: Vec<Vec<u32>> = vec![Vec::new(); k];
        for (i, &c) in y.iter().enumerate() {
            by_class[c as usize].push(i as u32);
        }
        // (term, class, N_cf) for every pair seen, in class order, and N_c: the classes in two
        // groups of about equal work, the second on a helper thread for a large corpus. Each
        // class's sums are made the same way on either thread, and the groups are concatenated
        // in class order, so the model does not depend on the threads.
        let sums_of = |classes: std::ops::Range<usize>, tick: &dyn Fn(u64) -> Result<()>| {
            class_sums(rows, &by_class, classes, n_features, bernoulli, tick)
        };
        // This thread ticks the control; the helper stops at its next text once the control's
        // check failed (its stop flag).
        let tick = |work: u64| control.tick(work);
        let stop = control.stop_flag();
        let helper_tick = |_: u64| {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                Err(Error::data("stopped with the calling thread"))
            } else {
                Ok(())
            }
        };
        let split = split_classes(rows, &by_class);
        let ((mut pairs, mut totals), (more_pairs, more_totals)) = if rows.features.len() >= PARALLEL_FIT_FROM
            && split > 0
            && split < k
            && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
        {
            std::thread::scope(|scope| {
                let helper =
                    std::thread::Builder::new().spawn_scoped(scope, || sums_of(split..k, &helper_tick));
                // A panic here goes on once the scope joined the helper (the caller's catch).
                let first = sums_of(0..split, &tick);
                let second = match helper {
                    Ok(h) => {
                        // The check keeps running while the helper finishes (unless it failed).
                        let waited = if first.is_err() { Ok(()) } else { control.wait(|| h.is_finished()) };
                        let second = h
                            .join()
                            .map_err(|p| Error::panicked("the helper thread of the naive Bayes fit", p))?;
                        waited?;
                        second
                    }
                    Err(_) => sums_of(split..k, &tick),
                };
                Ok::<_, Error>((first?, second?))
            })?
        } else {
            (sums_of(0..k, &tick)?, (Vec::new(), Vec::new()))
        };
        pairs.extend(more_pairs);
        totals.extend(more_totals);
        // The offsets are u32 (stored so): more (term, class) pairs than that cannot be indexed.
        if u32::try_from(pairs.len()).is_err() {
            return Err(Error::data(format!(
                "the corpus has {} (term, class) pairs, more than a naive Bayes model holds ({}) (use fewer texts, raise 'min_df' or lower 'max_features')",
                pairs.len(),
                u32::MAX
            )));
        }
        let mut per_term: Vec<u32> = memory::zeroed(n_features + 1, WHAT)?;
        for &(f, _, _) in &pairs {
            per_term[f as usize + 1] += 1;
        }
        drop(by_class);
        // Transpose to CSR by term; classes stay ascending within a term.
        for f in 0..n_features {
            per_term[f + 1] += per_term[f];
        }
        let offsets = per_term;
        let mut fill: Vec<u32> = offsets[..n_features].to_vec();
        let mut classes: Vec<u32> = memory::zeroed(pairs.len(), WHAT)?;
        let mut sums: Vec<f64> = memory::zeroed(pairs.len(), WHAT)?;
        for &(f, c, n) in &pairs {
            let slot = &mut fill[f as usize];
            classes[*slot as usize] = c;
            sums[*slot as usize] = n;
            *slot += 1;
        }
        drop((pairs, fill));

        let n_docs: f64 = docs.iter().sum();
        let mut bias: Vec<f64> = match priors {
            Priors::Learned => docs.iter().map(|&d| (d / n_docs).ln()).collect(),
            Priors::Uniform => vec![-(k as f64).ln(); k],
        };
        let v = n_features as f64;
        let mut deltas: Vec<f32> = memory::zeroed(sums.len(), WHAT)?;
        let mut base = Vec::new();
        let default: Vec<f64>;
        match algorithm {
            Algorithm::Multinomial => {
                // W = ln(N_cf + α) − ln(N_c + αV) = [ln α − ln(N_c + αV)] + ln(1 + N_cf/α)
                default = totals.iter().map(|t| alpha.ln() - (t + alpha * v).ln()).collect();
                for (d, &n) in deltas.iter_mut().zip(&sums) {
                    *d = (n / alpha).ln_1p() as f32;
                }
            }
            Algorithm::Complement => {
                // W = −ln(R_f − N_cf + α) + ln(N_~c + αV), R_f = Σ_c N_cf
                //   = ln(N_~c + αV) + [−ln(R_f + α)] + ln((R_f + α) / (R_f − N_cf + α))
                let all: f64 = totals.iter().sum();
                default = totals.iter().map(|t| (all - t + alpha * v).ln()).collect();
                base = vec![0f32; n_features];
                for f in 0..n_features {
                    let (a, b) = (offsets[f] as usize, offsets[f + 1] as usize);
                    let r: f64 = sums[a..b].iter().sum();
                    base[f] = -(r + alpha).ln() as f32;
                    for e in a..b {
                        deltas[e] = ((r + alpha).ln() - (r - sums[e] + alpha).ln()) as f32;
                    }
                }
            }
            Algorithm::Bernoulli => {
                // p = (D_cf + α) / (D_c + 2α); W = ln p − ln(1 − p); bias += Σ_f ln(1 − p).
                let p0: Vec<f64> = docs.iter().map(|&d| alpha / (d + 2.0 * alpha)).collect();
                default = p0.iter().map(|&p| p.ln() - (-p).ln_1p()).collect();
                let mut absent: Vec<f64> = p0.iter().map(|&p| v * (-p).ln_1p()).collect();
                for (e, (&c, &n)) in classes.iter().zip(&sums).enumerate() {
                    let c = c as usize;
                    let p = (n + alpha) / (docs[c] + 2.0 * alpha);
                    absent[c] += (-p).ln_1p() - (-p0[c]).ln_1p();
                    deltas[e] = (p.ln() - (-p).ln_1p() - default[c]) as f32;
                }
                bias.iter_mut().zip(&absent).for_each(|(b, a)| *b += a);
            }
        }
        Ok(NaiveBayes {
            algorithm,
            n_classes: k,
            bias,
            default,
            base,
            offsets,
            classes,
            deltas,
            dense: Vec::new(),
            dense_of: Vec::new(),
        }
        .with_dense_rows())
    }

    /// Builds [`NaiveBayes::dense`] where it pays.
    fn with_dense_rows(mut self) -> Self {
        let (k, n) = (self.n_classes, self.n_features());
        let sparse = self.offsets.len() + self.classes.len() + self.deltas.len();
        let seen = |f: usize| (self.offsets[f + 1] - self.offsets[f]) as usize;
        let every = n.checked_mul(k).is_some_and(|dense| dense <= sparse);
        let rows: Vec<usize> =
            if every { (0..n).collect() } else { (0..n).filter(|&f| seen(f) * 4 >= k).collect() };
        if rows.is_empty() {
            return self;
        }
        if !every {
            self.dense_of = vec![NO_ROW; n];
        }
        self.dense = vec![0.0; rows.len() * k];
        for (r, &f) in rows.iter().enumerate() {
            if !every {
                self.dense_of[f] = r as u32;
            }
            let (a, b) = (self.offsets[f] as usize, self.offsets[f + 1] as usize);
            for (&c, &d) in self.classes[a..b].iter().zip(&self.deltas[a..b]) {
                self.dense[r * k + c as usize] = d;
            }
        }
        self
    }

    /// The dense row of term `f`, if it has one.
    #[inline]
    fn dense_row(&self, f: u32) -> Option<&[f32]> {
        let r = match self.dense_of.get(f as usize) {
            Some(&NO_ROW) => return None,
            Some(&r) => r as usize,
            None if self.every_term_dense() => f as usize,
            None => return None,
        };
        let k = self.n_classes;
        Some(&self.dense[r * k..r * k + k])
    }

    /// Whether every weight is finite. A smoothing `alpha` too small for the counts makes some
    /// infinite (for multinomial NB `ln(1 + N/α)` overflows; for Bernoulli NB a term in every
    /// document of a class gets `p = 1` and `ln(1 − p) = −∞`), and such a model answers NaN.
    pub fn all_finite(&self) -> bool {
        let finite64 = |v: &[f64]| v.iter().all(|x| x.is_finite());
        finite64(&self.bias) && finite64(&self.default) && all_finite(&self.base) && all_finite(&self.deltas)
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Per-class constant term.
    pub fn bias(&self) -> &[f64] {
        &self.bias
    }

    /// `W[f][·]`: the per-class weights of feature `f`, written into `out` (length `n_classes`).
    pub fn row_into(&self, f: u32, out: &mut [f64]) {
        let base = self.base.get(f as usize).map_or(0.0, |&b| b as f64);
        for (o, d) in out.iter_mut().zip(&self.default) {
            *o = d + base;
        }
        let (a, b) = (self.offsets[f as usize] as usize, self.offsets[f as usize + 1] as usize);
        for (&c, &d) in self.classes[a..b].iter().zip(&self.deltas[a..b]) {
            out[c as usize] += d as f64;
        }
    }

    /// `W[f][c]`.
    pub fn weight(&self, f: u32, c: usize) -> f64 {
        let base = self.base.get(f as usize).map_or(0.0, |&b| b as f64);
        let (a, b) = (self.offsets[f as usize] as usize, self.offsets[f as usize + 1] as usize);
        let seen = self.classes[a..b].binary_search(&(c as u32)).map_or(0.0, |i| self.deltas[a + i] as f64);
        self.default[c] + base + seen
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of stored (term, class) weights.
    pub fn stored_weights(&self) -> usize {
        self.deltas.len()
    }

    /// Starts a score accumulation: `out = bias`, see [`NaiveBayes::add`] and
    /// [`NaiveBayes::finish`].
    #[inline]
    pub fn start(&self, out: &mut [f64]) -> Acc {
        out.copy_from_slice(&self.bias);
        Acc { total: 0.0, base: 0.0 }
    }

    /// A prefetch hint for the first read [`NaiveBayes::add`] makes for feature `f`.
    #[inline]
    pub fn prefetch_offsets(&self, f: u32) {
        if self.every_term_dense() {
            super::vectorize::prefetch(&self.dense[f as usize * self.n_classes]);
            return;
        }
        super::vectorize::prefetch(&self.offsets[f as usize]);
        if let Some(r) = self.dense_of.get(f as usize) {
            super::vectorize::prefetch(r);
        }
    }

    /// A prefetch hint for the weights [`NaiveBayes::add`] reads for feature `f` (after
    /// [`NaiveBayes::prefetch_offsets`], so that the offset is at hand).
    #[inline]
    pub fn prefetch_weights(&self, f: u32) {
        if let Some(b) = self.base.get(f as usize) {
            super::vectorize::prefetch(b);
        }
        if self.every_term_dense() {
            // `prefetch_offsets` asked for the row already.
            return;
        }
        if let Some(row) = self.dense_row(f) {
            super::vectorize::prefetch(&row[0]);
            return;
        }
        let a = self.offsets[f as usize] as usize;
        if a < self.deltas.len() {
            super::vectorize::prefetch(&self.classes[a]);
            super::vectorize::prefetch(&self.deltas[a]);
        }
    }

    /// Every term has its dense row, row `f` (see [`NaiveBayes::dense`]).
    #[inline]
    fn every_term_dense(&self) -> bool {
        self.dense_of.is_empty() && !self.dense.is_empty()
    }

    /// Adds `x` occurrences (or weight) of feature `f`.
    #[inline]
    pub fn add(&self, acc: &mut Acc, f: u32, x: f64, out: &mut [f64]) {
        acc.total += x;
        if let Some(&b) = self.base.get(f as usize) {
            acc.base += x * b as f64;
        }
        if let Some(row) = self.dense_row(f) {
            // Adding x · 0 for a pair not seen leaves the sum as the sparse path has it.
            for (o, &d) in out.iter_mut().zip(row) {
                *o += x * d as f64;
            }
            return;
        }
        let (a, b) = (self.offsets[f as usize] as usize, self.offsets[f as usize + 1] as usize);
        for (&c, &d) in self.classes[a..b].iter().zip(&self.deltas[a..b]) {
            out[c as usize] += x * d as f64;
        }
    }

    /// Adds the parts shared by the unseen pairs.
    #[inline]
    pub fn finish(&self, acc: Acc, out: &mut [f64]) {
        for (o, d) in out.iter_mut().zip(&self.default) {
            *o += acc.total * d + acc.base;
        }
    }

    /// Writes the class scores of one sparse document into `out` (length `n_classes`).
    /// Bernoulli counts every listed feature as present.
    pub fn scores(&self, features: &[u32], values: &[f32], out: &mut [f64]) {
        let bernoulli = self.algorithm == Algorithm::Bernoulli;
        // The features' weights lie at random in a table larger than the caches: ask for all of
        // them first, so that their loads overlap (hints only: the sums are the same).
        for &f in features {
            self.prefetch_offsets(f);
        }
        for &f in features {
            self.prefetch_weights(f);
        }
        let mut acc = self.start(out);
        for (&f, &v) in features.iter().zip(values) {
            self.add(&mut acc, f, if bernoulli { 1.0 } else { v as f64 }, out);
        }
        self.finish(acc, out);
    }
}

/// Running sums of a score accumulation.
pub struct Acc {
    total: f64,
    base: f64,
}

/// The stored form: per-term counts of stored weights instead of offsets (one byte each in
/// postcard's varints).
#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    algorithm: Algorithm,
    n_classes: u32,
    bias: Cow<'a, [f64]>,
    default: Cow<'a, [f64]>,
    base: Cow<'a, [f32]>,
    lens: Vec<u32>,
    classes: Cow<'a, [u32]>,
    deltas: Cow<'a, [f32]>,
}

impl Serialize for NaiveBayes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        Stored {
            algorithm: self.algorithm,
            n_classes: self.n_classes as u32,
            bias: Cow::Borrowed(&self.bias),
            default: Cow::Borrowed(&self.default),
            base: Cow::Borrowed(&self.base),
            lens: self.offsets.windows(2).map(|w| w[1] - w[0]).collect(),
            classes: Cow::Borrowed(&self.classes),
            deltas: Cow::Borrowed(&self.deltas),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for NaiveBayes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = Stored::deserialize(d)?;
        let k = s.n_classes as usize;
        let bad = |what: &str| serde::de::Error::custom(format!("inconsistent naive Bayes weights: {what}"));
        let mut offsets = Vec::with_capacity(s.lens.len() + 1);
        offsets.push(0u32);
        let mut end = 0u64;
        for &l in &s.lens {
            end += l as u64;
            offsets.push(u32::try_from(end).map_err(|_| bad("too many weights"))?);
        }
        let (classes, deltas) = (s.classes.into_owned(), s.deltas.into_owned());
        if k == 0 || s.bias.len() != k || s.default.len() != k {
            return Err(bad("class count"));
        }
        if end as usize != classes.len() || classes.len() != deltas.len() {
            return Err(bad("weight count"));
        }
        if !(s.base.is_empty() || s.base.len() == s.lens.len()) {
            return Err(bad("term count"));
        }
        for w in offsets.windows(2) {
            let cs = &classes[w[0] as usize..w[1] as usize];
            if cs.iter().any(|&c| c as usize >= k) || cs.windows(2).any(|p| p[0] >= p[1]) {
                return Err(bad("class ids"));
            }
        }
        Ok(NaiveBayes {
            algorithm: s.algorithm,
            n_classes: k,
            bias: s.bias.into_owned(),
            default: s.default.into_owned(),
            base: s.base.into_owned(),
            offsets,
            classes,
            deltas,
            dense: Vec::new(),
            dense_of: Vec::new(),
        }
        .with_dense_rows())
    }
}

/// Turns scores into probabilities in place (softmax, shifted by the maximum).
pub fn softmax(scores: &mut [f64]) {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    scores.iter_mut().for_each(|s| *s /= sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Corpus over the vocabulary [a, b, c] (feature ids 0, 1, 2), counts per document:
    ///   doc0 class 0: a×2, b×1
    ///   doc1 class 0: a×1
    ///   doc2 class 1: b×1, c×2
    fn corpus() -> (SparseRows, Vec<u32>) {
        let rows = SparseRows {
            offsets: vec![0, 2, 3, 5],
            features: vec![0, 1, 0, 1, 2],
            values: vec![2.0, 1.0, 1.0, 1.0, 2.0],
        };
        (rows, vec![0, 0, 1])
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-6, "{a} != {b}");
    }

    #[test]
    fn multinomial_by_hand() {
        // alpha = 1, V = 3. Class 0 counts a=3 b=1 c=0, N_0 = 4 -> denominators 4 + 3 = 7:
        //   P(a|0) = 4/7, P(b|0) = 2/7, P(c|0) = 1/7.
        // Class 1 counts a=0 b=1 c=2, N_1 = 3 -> 3 + 3 = 6: P(a|1) = 1/6, P(b|1) = 2/6, P(c|1) = 3/6.
        // Priors 2/3 and 1/3.
        let (rows, y) = corpus();
        let nb =
            NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Multinomial, 1.0, Priors::Learned, &Control::new())
                .unwrap();
        close(nb.bias()[0], (2.0f64 / 3.0).ln());
        close(nb.bias()[1], (1.0f64 / 3.0).ln());
        close(nb.weight(0, 0), (4.0f64 / 7.0).ln());
        close(nb.weight(2, 0), (1.0f64 / 7.0).ln());
        close(nb.weight(0, 1), (1.0f64 / 6.0).ln());
        close(nb.weight(2, 1), (3.0f64 / 6.0).ln());
        // Document "a c": class 0: ln(2/3) + ln(4/7) + ln(1/7); class 1: ln(1/3) + ln(1/6) + ln(3/6).
        let mut s = [0.0; 2];
        nb.scores(&[0, 2], &[1.0, 1.0], &mut s);
        close(s[0], (2.0f64 / 3.0 * 4.0 / 7.0 / 7.0).ln());
        close(s[1], (1.0f64 / 3.0 / 6.0 * 3.0 / 6.0).ln());
        // p(0) = (8/147) / (8/147 + 1/36)
        softmax(&mut s);
        let (p0, p1) = (8.0 / 147.0, 1.0 / 36.0);
        close(s[0], p0 / (p0 + p1));
    }

    /// A failing interrupt check ends the fit on both threads (before: the fit had no check at
    /// all); without one, the large corpus (two threads) fits, to the bytes of one thread's
    /// sums and the same bytes twice.
    #[test]
    fn a_failing_check_ends_the_fit() {
        let mut rows = SparseRows { offsets: vec![0], ..Default::default() };
        let mut y = Vec::new();
        for d in 0..(2 * PARALLEL_FIT_FROM / 8) as u32 {
            for j in 0..8 {
                rows.features.push((d * 7 + j * 13) % 1000);
                rows.values.push(1.0);
            }
            rows.offsets.push(rows.features.len());
            y.push(d % 4);
        }
        let fit = |control: &Control<'_>| {
            NaiveBayes::fit(&rows, &y, 4, 1000, Algorithm::Multinomial, 1.0, Priors::Learned, control)
        };
        // The two threads' groups, concatenated, are the one-thread sums: the same model bytes.
        let by_class: Vec<Vec<u32>> =
            (0..4).map(|c| (0..y.len() as u32).filter(|&d| y[d as usize] == c).collect()).collect();
        let ok = |_: u64| Ok(());
        let split = split_classes(&rows, &by_class);
        assert!(split > 0 && split < 4);
        let (mut pairs, mut totals) = class_sums(&rows, &by_class, 0..split, 1000, false, &ok).unwrap();
        let (more_pairs, more_totals) = class_sums(&rows, &by_class, split..4, 1000, false, &ok).unwrap();
        pairs.extend(more_pairs);
        totals.extend(more_totals);
        assert_eq!((pairs, totals), class_sums(&rows, &by_class, 0..4, 1000, false, &ok).unwrap());
        let a = postcard::to_stdvec(&fit(&Control::new()).unwrap()).unwrap();
        assert_eq!(a, postcard::to_stdvec(&fit(&Control::new()).unwrap()).unwrap());
        let check = || Err(Error::data("interrupted"));
        let control = Control::new().with_check(&check);
        std::thread::sleep(crate::models::control::CHECK_EVERY);
        assert_eq!(fit(&control).err().map(|e| e.to_string()).as_deref(), Some("interrupted"));
    }

    /// The dense rows give the same bits as the sparse weights (every algorithm, a random
    /// corpus): every row with few classes, the rows of the frequent terms with many.
    #[test]
    fn dense_rows_score_as_sparse() {
        let mut random = crate::models::text::xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = |m: u64| random() % m;
        for k in [2usize, 3, 40] {
            let mut rows = SparseRows { offsets: vec![0], ..Default::default() };
            let mut y = Vec::new();
            for _ in 0..200 {
                for _ in 0..1 + next(6) {
                    // Skewed toward low ids: some terms occur in many classes.
                    rows.features.push((next(300) * next(300) / 300) as u32);
                    rows.values.push(1.0 + next(3) as f32);
                }
                rows.offsets.push(rows.features.len());
                y.push(next(k as u64) as u32);
            }
            for algorithm in [Algorithm::Multinomial, Algorithm::Complement, Algorithm::Bernoulli] {
                let nb = NaiveBayes::fit(&rows, &y, k, 300, algorithm, 0.1, Priors::Learned, &Control::new())
                    .unwrap();
                // Every row dense for few classes; some rows (the frequent terms) for many.
                let with_row = (0..300).filter(|&f| nb.dense_row(f).is_some()).count();
                assert_eq!(with_row == 300, k < 40, "{k}: {with_row} rows");
                assert!(with_row > 0, "{k}");
                let bytes = postcard::to_stdvec(&nb).unwrap();
                let mut sparse: NaiveBayes = postcard::from_bytes(&bytes).unwrap();
                assert_eq!((&sparse.dense, &sparse.dense_of), (&nb.dense, &nb.dense_of));
                sparse.dense.clear();
                sparse.dense_of.clear();
                for d in 0..rows.rows() {
                    let (f, v) = rows.row(d);
                    let (mut a, mut b) = (vec![0.0; k], vec![0.0; k]);
                    nb.scores(f, v, &mut a);
                    sparse.scores(f, v, &mut b);
                    assert_eq!(
                        a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                    );
                }
            }
        }
    }

    #[test]
    fn alpha_and_uniform_priors() {
        // alpha = 0.5: P(a|0) = (3 + 0.5) / (4 + 1.5) = 3.5/5.5.
        let (rows, y) = corpus();
        let nb =
            NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Multinomial, 0.5, Priors::Uniform, &Control::new())
                .unwrap();
        close(nb.weight(0, 0), (3.5f64 / 5.5).ln());
        close(nb.bias()[0], 0.5f64.ln());
        close(nb.bias()[1], 0.5f64.ln());
    }

    #[test]
    fn complement_by_hand() {
        // Complement of class 0 = class 1's counts (a=0 b=1 c=2, total 3):
        //   θ~(a|0) = (0+1)/(3+3) = 1/6 -> W = −ln(1/6); θ~(c|0) = 3/6.
        // Complement of class 1 = class 0's counts (a=3 b=1 c=0, total 4): θ~(a|1) = 4/7.
        let (rows, y) = corpus();
        let nb =
            NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Complement, 1.0, Priors::Learned, &Control::new())
                .unwrap();
        close(nb.weight(0, 0), -(1.0f64 / 6.0).ln());
        close(nb.weight(2, 0), -(3.0f64 / 6.0).ln());
        close(nb.weight(0, 1), -(4.0f64 / 7.0).ln());
        close(nb.bias()[1], (1.0f64 / 3.0).ln());
    }

    #[test]
    fn bernoulli_by_hand() {
        // Document frequencies: class 0 (2 docs): a 2, b 1, c 0; class 1 (1 doc): a 0, b 1, c 1.
        // alpha = 1: p(a|0) = 3/4, p(b|0) = 2/4, p(c|0) = 1/4; p(a|1) = 1/3, p(b|1) = 2/3, p(c|1) = 2/3.
        let (rows, y) = corpus();
        let nb =
            NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Bernoulli, 1.0, Priors::Learned, &Control::new())
                .unwrap();
        // Document "a" (present: a; absent: b, c) in class 0: ln(2/3) + ln(3/4) + ln(1/2) + ln(3/4).
        let mut s = [0.0; 2];
        nb.scores(&[0], &[5.0], &mut s);
        close(s[0], (2.0f64 / 3.0 * 0.75 * 0.5 * 0.75).ln());
        close(s[1], (1.0f64 / 3.0 * (1.0 / 3.0) * (1.0 / 3.0) * (1.0 / 3.0)).ln());
    }

    #[test]
    fn weights_that_overflow_are_found() {
        let (rows, y) = corpus();
        for algorithm in [Algorithm::Multinomial, Algorithm::Complement, Algorithm::Bernoulli] {
            assert!(
                NaiveBayes::fit(&rows, &y, 2, 3, algorithm, 0.1, Priors::Learned, &Control::new())
                    .unwrap()
                    .all_finite()
            );
        }
        // N/α overflows: ln(1 + N/α) is infinite.
        let nb = NaiveBayes::fit(
            &rows,
            &y,
            2,
            3,
            Algorithm::Multinomial,
            1e-320,
            Priors::Learned,
            &Control::new(),
        )
        .unwrap();
        assert!(!nb.all_finite());
        // Term a is in both documents of class 0: p = (2 + α) / (2 + 2α) rounds to 1.
        let nb =
            NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Bernoulli, 1e-20, Priors::Learned, &Control::new())
                .unwrap();
        assert!(!nb.all_finite());
    }

    #[test]
    fn empty_document_gets_the_prior() {
        let (rows, y) = corpus();
        let nb =
            NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Multinomial, 1.0, Priors::Learned, &Control::new())
                .unwrap();
        let mut s = [0.0; 2];
        nb.scores(&[], &[], &mut s);
        softmax(&mut s);
        close(s[0], 2.0 / 3.0);
    }
}
