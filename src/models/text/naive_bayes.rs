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
//! as presence. `W` is stored as `f32`, row-major by feature (one contiguous row of `k` classes
//! per term); scores are summed in `f64`.

use super::vectorize::SparseRows;
use serde::{Deserialize, Serialize};

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
#[derive(Debug, Serialize, Deserialize)]
pub struct NaiveBayes {
    algorithm: Algorithm,
    n_classes: usize,
    bias: Vec<f64>,
    /// `n_features × n_classes`, row-major.
    weights: Vec<f32>,
}

impl NaiveBayes {
    /// Fits on `rows` (over `n_features` terms) with class ids `y` (all `< n_classes`).
    pub fn fit(
        rows: &SparseRows,
        y: &[u32],
        n_classes: usize,
        n_features: usize,
        algorithm: Algorithm,
        alpha: f64,
        priors: Priors,
    ) -> NaiveBayes {
        let k = n_classes;
        let mut docs = vec![0f64; k];
        // One dense buffer: first the summed feature values per (feature, class) — exact in f32
        // for counts below 2^24 — then, in place, the weights.
        let mut weights = vec![0f32; n_features * k];
        for (i, &c) in y.iter().enumerate() {
            let c = c as usize;
            docs[c] += 1.0;
            let (fs, vs) = rows.row(i);
            for (&f, &v) in fs.iter().zip(vs) {
                weights[f as usize * k + c] += if algorithm == Algorithm::Bernoulli { 1.0 } else { v };
            }
        }
        let n_docs: f64 = docs.iter().sum();
        let mut bias: Vec<f64> = match priors {
            Priors::Learned => docs.iter().map(|&d| (d / n_docs).ln()).collect(),
            Priors::Uniform => vec![-(k as f64).ln(); k],
        };
        let v = n_features as f64;
        match algorithm {
            Algorithm::Multinomial => {
                let totals = class_totals(&weights, k);
                let denom: Vec<f64> = totals.iter().map(|t| (t + alpha * v).ln()).collect();
                for row in weights.chunks_exact_mut(k) {
                    for (w, d) in row.iter_mut().zip(&denom) {
                        *w = ((*w as f64 + alpha).ln() - d) as f32;
                    }
                }
            }
            Algorithm::Complement => {
                let totals = class_totals(&weights, k);
                let all: f64 = totals.iter().sum();
                let denom: Vec<f64> = totals.iter().map(|t| (all - t + alpha * v).ln()).collect();
                for row in weights.chunks_exact_mut(k) {
                    let row_total: f64 = row.iter().map(|&x| x as f64).sum();
                    for (w, d) in row.iter_mut().zip(&denom) {
                        *w = -((row_total - *w as f64 + alpha).ln() - d) as f32;
                    }
                }
            }
            Algorithm::Bernoulli => {
                for row in weights.chunks_exact_mut(k) {
                    for c in 0..k {
                        let p = (row[c] as f64 + alpha) / (docs[c] + 2.0 * alpha);
                        let absent = (1.0 - p).ln();
                        bias[c] += absent;
                        row[c] = (p.ln() - absent) as f32;
                    }
                }
            }
        }
        NaiveBayes { algorithm, n_classes: k, bias, weights }
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

    /// `W[f][·]`: the per-class weights of feature `f`.
    #[inline]
    pub fn row(&self, f: u32) -> &[f32] {
        let k = self.n_classes;
        &self.weights[f as usize * k..(f as usize + 1) * k]
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.weights.len() / self.n_classes.max(1)
    }

    /// Writes the class scores of one sparse document into `out` (length `n_classes`).
    /// Bernoulli counts every listed feature as present.
    pub fn scores(&self, features: &[u32], values: &[f32], out: &mut [f64]) {
        out.copy_from_slice(&self.bias);
        let bernoulli = self.algorithm == Algorithm::Bernoulli;
        for (&f, &v) in features.iter().zip(values) {
            let x = if bernoulli { 1.0 } else { v as f64 };
            for (o, &w) in out.iter_mut().zip(self.row(f)) {
                *o += x * w as f64;
            }
        }
    }
}

fn class_totals(sums: &[f32], k: usize) -> Vec<f64> {
    let mut totals = vec![0f64; k];
    for row in sums.chunks_exact(k) {
        for (t, s) in totals.iter_mut().zip(row) {
            *t += *s as f64;
        }
    }
    totals
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
        let nb = NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Multinomial, 1.0, Priors::Learned);
        close(nb.bias()[0], (2.0f64 / 3.0).ln());
        close(nb.bias()[1], (1.0f64 / 3.0).ln());
        close(nb.row(0)[0] as f64, (4.0f64 / 7.0).ln());
        close(nb.row(2)[0] as f64, (1.0f64 / 7.0).ln());
        close(nb.row(0)[1] as f64, (1.0f64 / 6.0).ln());
        close(nb.row(2)[1] as f64, (3.0f64 / 6.0).ln());
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

    #[test]
    fn alpha_and_uniform_priors() {
        // alpha = 0.5: P(a|0) = (3 + 0.5) / (4 + 1.5) = 3.5/5.5.
        let (rows, y) = corpus();
        let nb = NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Multinomial, 0.5, Priors::Uniform);
        close(nb.row(0)[0] as f64, (3.5f64 / 5.5).ln());
        close(nb.bias()[0], 0.5f64.ln());
        close(nb.bias()[1], 0.5f64.ln());
    }

    #[test]
    fn complement_by_hand() {
        // Complement of class 0 = class 1's counts (a=0 b=1 c=2, total 3):
        //   θ~(a|0) = (0+1)/(3+3) = 1/6 -> W = −ln(1/6); θ~(c|0) = 3/6.
        // Complement of class 1 = class 0's counts (a=3 b=1 c=0, total 4): θ~(a|1) = 4/7.
        let (rows, y) = corpus();
        let nb = NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Complement, 1.0, Priors::Learned);
        close(nb.row(0)[0] as f64, -(1.0f64 / 6.0).ln());
        close(nb.row(2)[0] as f64, -(3.0f64 / 6.0).ln());
        close(nb.row(0)[1] as f64, -(4.0f64 / 7.0).ln());
        close(nb.bias()[1], (1.0f64 / 3.0).ln());
    }

    #[test]
    fn bernoulli_by_hand() {
        // Document frequencies: class 0 (2 docs): a 2, b 1, c 0; class 1 (1 doc): a 0, b 1, c 1.
        // alpha = 1: p(a|0) = 3/4, p(b|0) = 2/4, p(c|0) = 1/4; p(a|1) = 1/3, p(b|1) = 2/3, p(c|1) = 2/3.
        let (rows, y) = corpus();
        let nb = NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Bernoulli, 1.0, Priors::Learned);
        // Document "a" (present: a; absent: b, c) in class 0: ln(2/3) + ln(3/4) + ln(1/2) + ln(3/4).
        let mut s = [0.0; 2];
        nb.scores(&[0], &[5.0], &mut s);
        close(s[0], (2.0f64 / 3.0 * 0.75 * 0.5 * 0.75).ln());
        close(s[1], (1.0f64 / 3.0 * (1.0 / 3.0) * (1.0 / 3.0) * (1.0 / 3.0)).ln());
    }

    #[test]
    fn empty_document_gets_the_prior() {
        let (rows, y) = corpus();
        let nb = NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Multinomial, 1.0, Priors::Learned);
        let mut s = [0.0; 2];
        nb.scores(&[], &[], &mut s);
        softmax(&mut s);
        close(s[0], 2.0 / 3.0);
    }
}
