//! Fitting: the classes' term sums (on two threads for a large corpus), the weights of each
//! algorithm in linear form, and the dense rows built from them.

use super::{Algorithm, NO_ROW, NaiveBayes, Priors};
use crate::models::control::Control;
use crate::models::memory;
use crate::models::text::vectorize::{SparseRows, TermClassSums};
use crate::{Error, Result};

/// Stored values from which [`NaiveBayes::fit`] sums the classes on two threads.
pub(super) const PARALLEL_FIT_FROM: usize = 1 << 18;

/// `(term, class, N_cf)` pairs and the classes' `N_c`, as [`class_sums`] gives them.
type ClassSums = (Vec<(u32, u32, f64)>, Vec<f64>);

/// `(pairs, totals)` of the classes `classes`: for each class in order, `(term, class, N_cf)`
/// for every term seen in it (in order of first occurrence), and its `N_c` (summed in that
/// order).
pub(super) fn class_sums(
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

/// Counts below which a multinomial weight's logarithm is looked up rather than computed (most
/// sums of a large vocabulary are counts of a few occurrences; the same values either way).
const SMALL_COUNTS: usize = 1024;

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
        // This thread ticks the control; a helper stops at its next text once the control's
        // check failed (`Control::beside`).
        let tick = |work: u64| control.tick(work);
        let split = split_classes(rows, &by_class);
        let ((mut pairs, mut totals), (more_pairs, more_totals)) =
            if rows.features.len() >= PARALLEL_FIT_FROM && split > 0 && split < k && Control::second_cpu() {
                let (first, second) =
                    control.beside("the helper thread of the naive Bayes fit", true, &tick, |p, tick| {
                        sums_of(if p == 0 { 0..split } else { split..k }, tick)
                    })?;
                (first?, second?)
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
        Self::weights(offsets, classes, sums, &totals, &docs, algorithm, alpha, priors)
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
    /// `sums`), the classes' totals and their numbers of documents.
    #[allow(clippy::too_many_arguments)]
    fn weights(
        offsets: Vec<u32>,
        classes: Vec<u32>,
        sums: Vec<f64>,
        totals: &[f64],
        docs: &[f64],
        algorithm: Algorithm,
        alpha: f64,
        priors: Priors,
    ) -> Result<NaiveBayes> {
        let (k, n_features) = (docs.len(), offsets.len().saturating_sub(1));
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
                // Most sums are small counts: their logarithms are looked up (the same values).
                let small: Vec<f32> = (0..SMALL_COUNTS).map(|n| (n as f64 / alpha).ln_1p() as f32).collect();
                for (d, &n) in deltas.iter_mut().zip(&sums) {
                    *d = match small.get(n as usize) {
                        Some(&w) if n == n.trunc() && n >= 0.0 => w,
                        _ => (n / alpha).ln_1p() as f32,
                    };
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
}
