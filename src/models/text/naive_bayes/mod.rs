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

mod fit;
mod hashed;
mod scoring;
mod stored;
#[cfg(test)]
mod tests;

pub use hashed::HashedWeights;
pub use scoring::Acc;

use crate::models::finite::all_finite;
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

/// No dense row (see [`NaiveBayes::dense_of`]).
const NO_ROW: u32 = u32::MAX;

impl NaiveBayes {
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

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Bytes the weights take in memory (their arrays' capacities, dense rows included).
    pub fn memory_bytes(&self) -> usize {
        8 * (self.bias.capacity() + self.default.capacity())
            + 4 * (self.base.capacity()
                + self.offsets.capacity()
                + self.classes.capacity()
                + self.deltas.capacity()
                + self.dense.capacity()
                + self.dense_of.capacity())
    }

    /// Number of stored (term, class) weights.
    pub fn stored_weights(&self) -> usize {
        self.deltas.len()
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
