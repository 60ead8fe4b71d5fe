//! Fitting: the classes' term sums (on two threads for a large corpus), the weights of each
//! algorithm in linear form, and the dense rows built from them.

use super::{Algorithm, NO_ROW, NaiveBayes, Priors};
use crate::models::control::Control;
use crate::models::memory;
use crate::models::text::vectorize::{SparseRows, TermClassSums};
use crate::{Error, Result};
use std::borrow::Borrow;

/// Stored values from which [`NaiveBayes::fit`] sums the classes on two threads.
pub(super) const PARALLEL_FIT_FROM: usize = 1 << 18;

/// The classes' term sums, as [`class_sums`] gives them: for each class in order, the terms
/// seen in it (in order of first occurrence) and a value of each term's `N_cf` (the sum itself,
/// or multinomial NB's weight of it), one after another; where each class's terms end; and each
/// class's `N_c`. (The class of a value is known from where it lies: a (term, class) pair takes
/// 8 or 12 bytes, where a triple took 16.)
#[derive(Debug, Default, PartialEq)]
pub(super) struct ClassSums<T> {
    pub terms: Vec<u32>,
    pub values: Vec<T>,
    /// The end of each class's terms in `terms`.
    pub ends: Vec<usize>,
    pub totals: Vec<f64>,
}

impl<T> ClassSums<T> {
    /// Appends the sums of the classes after `self`'s (`more` starts at the next class).
    pub(super) fn extend(&mut self, more: ClassSums<T>) -> Result<()> {
        let base = self.terms.len();
        memory::reserve(&mut self.terms, more.terms.len(), WHAT)?;
        memory::reserve(&mut self.values, more.values.len(), WHAT)?;
        self.terms.extend(more.terms);
        self.values.extend(more.values);
        self.ends.extend(more.ends.iter().map(|e| e + base));
        self.totals.extend(more.totals);
        Ok(())
    }
}

/// The CSR by term of the classes' sums of `rows` ([`class_sums`] of every class of `y`'s,
/// each pair's `N_cf` kept as `value` of it), with the classes' `N_c`. The classes come in two
/// groups of about equal work, the second on a helper thread for a large corpus; each class's
/// sums are made the same way on either thread and the groups are concatenated in class order,
/// so the result does not depend on the threads. `rows` is handed to `then` as soon as the sums
/// are made, before they are turned by term; returns what `then` gave too.
fn sums_by_term<R: Borrow<SparseRows>, V: memory::Zeroable + Send, T>(
    rows: R,
    (y, k): (&[u32], usize),
    (n_features, bernoulli): (usize, bool),
    value: &(dyn Fn(f64) -> V + Sync),
    control: &Control<'_>,
    then: impl FnOnce(R) -> Result<T>,
) -> Result<(ByTerm<V>, Vec<f64>, T)> {
    // The documents grouped by class (stable), so one dense accumulator over terms serves
    // every class in turn and each class's sums come out in one pass.
    let mut by_class: Vec<Vec<u32>> = vec![Vec::new(); k];
    for (i, &c) in y.iter().enumerate() {
        by_class[c as usize].push(i as u32);
    }
    let summed = rows.borrow();
    let split = split_classes(summed, &by_class);
    let two = summed.features.len() >= PARALLEL_FIT_FROM && split > 0 && split < k && Control::second_cpu();
    let sums_of = |classes: std::ops::Range<usize>, tick: &dyn Fn(u64) -> Result<()>| {
        class_sums(summed, &by_class, classes, n_features, bernoulli, value, tick)
    };
    // This thread ticks the control; a helper stops at its next text once the control's check
    // failed (`Control::beside`).
    let tick = |work: u64| control.tick(work);
    let sums = if two {
        let (first, second) =
            control.beside("the helper thread of the naive Bayes fit", true, &tick, |p, tick| {
                sums_of(if p == 0 { 0..split } else { split..k }, tick)
            })?;
        let mut first = first?;
        first.extend(second?)?;
        first
    } else {
        sums_of(0..k, &tick)?
    };
    // The offsets are u32 (stored so): more (term, class) pairs than that cannot be indexed.
    if u32::try_from(sums.terms.len()).is_err() {
        return Err(Error::data(format!(
            "the corpus has {} (term, class) pairs, more than a naive Bayes model holds ({}) (use fewer texts, raise 'min_df' or lower 'max_features')",
            sums.terms.len(),
            u32::MAX
        )));
    }
    drop(by_class);
    let kept = then(rows)?;
    let ClassSums { terms, values, ends, totals } = sums;
    Ok((by_term(&terms, &values, &ends, n_features)?, totals, kept))
}

/// The sums of the classes `classes` ([`ClassSums`]), each pair's `N_cf` kept as `value` of it.
pub(super) fn class_sums<T>(
    rows: &SparseRows,
    by_class: &[Vec<u32>],
    classes: std::ops::Range<usize>,
    n_features: usize,
    bernoulli: bool,
    value: &dyn Fn(f64) -> T,
    tick: &dyn Fn(u64) -> Result<()>,
) -> Result<ClassSums<T>> {
    // Per thread: one accumulator and one mark per term (sizes from the data: fallible).
    let mut acc: Vec<f64> = memory::zeroed(n_features, WHAT)?;
    let mut seen: Vec<u32> = memory::with_capacity(n_features, WHAT)?;
    seen.resize(n_features, u32::MAX);
    let mut out = ClassSums {
        terms: Vec::new(),
        values: Vec::new(),
        ends: memory::with_capacity(classes.len(), WHAT)?,
        totals: memory::with_capacity(classes.len(), WHAT)?,
    };
    for c in classes {
        let first = out.terms.len();
        for &d in &by_class[c] {
            let (fs, vs) = rows.row(d as usize);
            tick(4 + fs.len() as u64)?;
            for (&f, &v) in fs.iter().zip(vs) {
                let i = f as usize;
                if seen[i] != c as u32 {
                    seen[i] = c as u32;
                    acc[i] = 0.0;
                    memory::reserve(&mut out.terms, 1, WHAT)?;
                    out.terms.push(f);
                }
                acc[i] += if bernoulli { 1.0 } else { v as f64 };
            }
        }
        memory::reserve(&mut out.values, out.terms.len() - first, WHAT)?;
        let mut total = 0.0;
        for &f in &out.terms[first..] {
            let n = acc[f as usize];
            total += n;
            out.values.push(value(n));
        }
        out.ends.push(out.terms.len());
        out.totals.push(total);
    }
    Ok(out)
}

/// A CSR by term: its offsets, each pair's class (ascending within a term) and value.
type ByTerm<V> = (Vec<u32>, Vec<u32>, Vec<V>);

/// The CSR by term of `values`, one per (term, class) pair of `terms` (class by class, each
/// class's pairs ending at `ends`; so the classes come ascending within a term).
fn by_term<V: memory::Zeroable>(
    terms: &[u32],
    values: &[V],
    ends: &[usize],
    n_features: usize,
) -> Result<ByTerm<V>> {
    let mut offsets: Vec<u32> = memory::zeroed(n_features + 1, WHAT)?;
    for &f in terms {
        offsets[f as usize + 1] += 1;
    }
    for f in 0..n_features {
        offsets[f + 1] += offsets[f];
    }
    let mut fill: Vec<u32> = memory::with_capacity(n_features, WHAT)?;
    fill.extend_from_slice(&offsets[..n_features]);
    let mut classes: Vec<u32> = memory::zeroed(terms.len(), WHAT)?;
    let mut out: Vec<V> = memory::zeroed(terms.len(), WHAT)?;
    let mut start = 0;
    for (c, &end) in ends.iter().enumerate() {
        for (&f, &v) in terms[start..end].iter().zip(&values[start..end]) {
            let slot = &mut fill[f as usize];
            classes[*slot as usize] = c as u32;
            out[*slot as usize] = v;
            *slot += 1;
        }
        start = end;
    }
    Ok((offsets, classes, out))
}

/// Multinomial NB's `ln(1 + N_cf/α)` of a sum (see [`NaiveBayes::multinomial`]): most sums
/// are small counts, whose logarithms are looked up (the same values).
struct MultinomialDelta {
    alpha: f64,
    small: Vec<f32>,
}

impl MultinomialDelta {
    fn new(alpha: f64) -> Self {
        MultinomialDelta {
            alpha,
            small: (0..SMALL_COUNTS).map(|n| (n as f64 / alpha).ln_1p() as f32).collect(),
        }
    }

    fn of(&self, n: f64) -> f32 {
        match self.small.get(n as usize) {
            Some(&w) if n == n.trunc() && n >= 0.0 => w,
            _ => (n / self.alpha).ln_1p() as f32,
        }
    }
}

/// What the allocations of [`NaiveBayes::fit`] are for, in a refusal.
const WHAT: &str = "the naive Bayes counts";

/// The first class of the second group: where the classes' stored values pass half of all.
pub(super) fn split_classes(rows: &SparseRows, by_class: &[Vec<u32>]) -> usize {
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

/// The classes' log-priors: learned from their numbers of documents, or uniform.
fn prior_bias(docs: &[f64], priors: Priors) -> Vec<f64> {
    let n_docs: f64 = docs.iter().sum();
    match priors {
        Priors::Learned => docs.iter().map(|&d| (d / n_docs).ln()).collect(),
        Priors::Uniform => vec![-(docs.len() as f64).ln(); docs.len()],
    }
}

/// Counts below which a multinomial weight's logarithm is looked up rather than computed (most
/// sums of a large vocabulary are counts of a few occurrences; the same values either way).
const SMALL_COUNTS: usize = 1024;

impl NaiveBayes {
    /// Fits on `rows` (over `n_features` terms) with class ids `y` (one a row, all
    /// `< n_classes`). The sizes come from the data: a refused allocation is an error; so are a
    /// panic of the helper thread and class ids that do not fit the rows ([`Error::Internal`]).
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
        let settings = (algorithm, alpha, priors);
        let (nb, ()) = Self::fit_then(rows, (y, n_classes), n_features, settings, control, |_| Ok(()))?;
        Ok(nb)
    }

    /// [`NaiveBayes::fit`] that hands `rows` to `then` as soon as the class sums are made,
    /// before they are turned by term and weighted: given owned rows, `then` can keep what it
    /// needs of them and let the rest go (a million TF-IDF texts: 360 MB of rows). Returns the
    /// model and what `then` gave.
    pub fn fit_then<R: Borrow<SparseRows>, T>(
        rows: R,
        (y, n_classes): (&[u32], usize),
        n_features: usize,
        (algorithm, alpha, priors): (Algorithm, f64, Priors),
        control: &Control<'_>,
        then: impl FnOnce(R) -> Result<T>,
    ) -> Result<(NaiveBayes, T)> {
        let n_rows = rows.borrow().rows();
        if y.len() != n_rows || y.iter().any(|&c| c as usize >= n_classes) {
            return Err(Error::Internal(format!(
                "{} class ids of {n_classes} classes for {n_rows} rows",
                y.len()
            )));
        }
        let mut docs = vec![0f64; n_classes];
        y.iter().for_each(|&c| docs[c as usize] += 1.0);
        let shape = (n_features, algorithm == Algorithm::Bernoulli);
        if algorithm == Algorithm::Multinomial {
            // Its weight of a pair is a function of the pair's sum alone: kept as the sums are
            // made (4 bytes a pair where the sum took 8), then turned by term (a million texts
            // of 77 classes: 11.5M pairs).
            let delta = MultinomialDelta::new(alpha);
            let ((offsets, classes, deltas), totals, kept) =
                sums_by_term(rows, (y, n_classes), shape, &|n| delta.of(n), control, then)?;
            return Ok((Self::multinomial(offsets, classes, deltas, &totals, &docs, alpha, priors), kept));
        }
        let ((offsets, classes, sums), totals, kept) =
            sums_by_term(rows, (y, n_classes), shape, &|n| n, control, then)?;
        Ok((Self::weights(offsets, classes, sums, &totals, &docs, algorithm, alpha, priors)?, kept))
    }

    /// Fits on the classes' term sums counted without rows
    /// ([`VocabularyBuilder::finish_by_class`](crate::models::text::vectorize::VocabularyBuilder::finish_by_class)),
    /// with class ids `y` (all `< n_classes`, one per training text): the model [`NaiveBayes::fit`]
    /// makes of those texts' rows with count weighting (binary weighting, or Bernoulli NB: when
    /// the texts were counted by presence), bit for bit (but see [`TermClassSums`] for a text
    /// with more than 2²⁴ occurrences of one term). Sums that are not a CSR over `n_classes`
    /// classes are an internal error.
    pub fn from_class_sums(
        sums: TermClassSums,
        y: &[u32],
        n_classes: usize,
        algorithm: Algorithm,
        alpha: f64,
        priors: Priors,
    ) -> Result<NaiveBayes> {
        let bad = |c: &u32| *c as usize >= n_classes;
        let o = &sums.offsets;
        let csr = o.first() == Some(&0)
            && o.windows(2).all(|w| w[0] <= w[1])
            && o.last().is_some_and(|&end| end as usize == sums.classes.len())
            && sums.sums.len() == sums.classes.len();
        if !csr || sums.totals.len() != n_classes || sums.classes.iter().any(bad) || y.iter().any(bad) {
            return Err(Error::Internal(format!(
                "class sums of {} classes for {n_classes}",
                sums.totals.len()
            )));
        }
        let mut docs = vec![0f64; n_classes];
        y.iter().for_each(|&c| docs[c as usize] += 1.0);
        let TermClassSums { offsets, classes, sums, totals } = sums;
        Self::weights(offsets, classes, sums, &totals, &docs, algorithm, alpha, priors)
    }

    /// The weights of `algorithm` from the term sums (CSR by term: `offsets`, `classes`,
    /// `sums`: counts, or the sums of a fit's rows), the classes' totals and their numbers of
    /// documents.
    #[allow(clippy::too_many_arguments)]
    fn weights<S: Copy + Into<f64>>(
        offsets: Vec<u32>,
        classes: Vec<u32>,
        sums: Vec<S>,
        totals: &[f64],
        docs: &[f64],
        algorithm: Algorithm,
        alpha: f64,
        priors: Priors,
    ) -> Result<NaiveBayes> {
        let (k, n_features) = (docs.len(), offsets.len().saturating_sub(1));
        let mut bias = prior_bias(docs, priors);
        let v = n_features as f64;
        let mut deltas: Vec<f32>;
        let mut base = Vec::new();
        let default: Vec<f64>;
        match algorithm {
            Algorithm::Multinomial => {
                let delta = MultinomialDelta::new(alpha);
                let mut deltas: Vec<f32> = memory::with_capacity(sums.len(), WHAT)?;
                deltas.extend(sums.iter().map(|&n| delta.of(n.into())));
                drop(sums);
                return Ok(Self::multinomial(offsets, classes, deltas, totals, docs, alpha, priors));
            }
            Algorithm::Complement => {
                deltas = memory::zeroed(sums.len(), WHAT)?;
                // W = −ln(R_f − N_cf + α) + ln(N_~c + αV), R_f = Σ_c N_cf
                //   = ln(N_~c + αV) + [−ln(R_f + α)] + ln((R_f + α) / (R_f − N_cf + α))
                let all: f64 = totals.iter().sum();
                default = totals.iter().map(|t| (all - t + alpha * v).ln()).collect();
                base = vec![0f32; n_features];
                for f in 0..n_features {
                    let (a, b) = (offsets[f] as usize, offsets[f + 1] as usize);
                    let r: f64 = sums[a..b].iter().map(|&n| n.into()).sum();
                    base[f] = -(r + alpha).ln() as f32;
                    for e in a..b {
                        deltas[e] = ((r + alpha).ln() - (r - sums[e].into() + alpha).ln()) as f32;
                    }
                }
            }
            Algorithm::Bernoulli => {
                deltas = memory::zeroed(sums.len(), WHAT)?;
                // p = (D_cf + α) / (D_c + 2α); W = ln p − ln(1 − p); bias += Σ_f ln(1 − p).
                let p0: Vec<f64> = docs.iter().map(|&d| alpha / (d + 2.0 * alpha)).collect();
                default = p0.iter().map(|&p| p.ln() - (-p).ln_1p()).collect();
                let mut absent: Vec<f64> = p0.iter().map(|&p| v * (-p).ln_1p()).collect();
                for (e, (&c, &n)) in classes.iter().zip(&sums).enumerate() {
                    let c = c as usize;
                    let p = (n.into() + alpha) / (docs[c] + 2.0 * alpha);
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

    /// Multinomial NB of its `deltas` ([`MultinomialDelta`], CSR by term), the classes'
    /// totals and their numbers of documents:
    /// `W = ln(N_cf + α) − ln(N_c + αV) = [ln α − ln(N_c + αV)] + ln(1 + N_cf/α)`.
    fn multinomial(
        offsets: Vec<u32>,
        classes: Vec<u32>,
        deltas: Vec<f32>,
        totals: &[f64],
        docs: &[f64],
        alpha: f64,
        priors: Priors,
    ) -> NaiveBayes {
        let v = offsets.len().saturating_sub(1) as f64;
        NaiveBayes {
            algorithm: Algorithm::Multinomial,
            n_classes: docs.len(),
            bias: prior_bias(docs, priors),
            default: totals.iter().map(|t| alpha.ln() - (t + alpha * v).ln()).collect(),
            base: Vec::new(),
            offsets,
            classes,
            deltas,
            dense: Vec::new(),
            dense_of: Vec::new(),
        }
        .with_dense_rows()
    }

    /// Builds [`NaiveBayes::dense`] where it pays.
    pub(super) fn with_dense_rows(mut self) -> Self {
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
            self.dense_of = memory::table(n, NO_ROW);
        }
        // (Read at random when texts are scored: see `memory::table`.)
        self.dense = memory::table(rows.len() * k, 0.0);
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
}
