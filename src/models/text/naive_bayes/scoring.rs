//! Scoring: the score accumulation of one document ([`Acc`]), its prefetch hints, and the
//! weights of a term.

use super::{Algorithm, NO_ROW, NaiveBayes};
use crate::models::text::vectorize;

impl NaiveBayes {
    /// The dense row of term `f`, if it has one.
    #[inline]
    pub(super) fn dense_row(&self, f: u32) -> Option<&[f32]> {
        let r = match self.dense_of.get(f as usize) {
            Some(&NO_ROW) => return None,
            Some(&r) => r as usize,
            None if self.every_term_dense() => f as usize,
            None => return None,
        };
        let k = self.n_classes;
        Some(&self.dense[r * k..r * k + k])
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
            vectorize::prefetch(&self.dense[f as usize * self.n_classes]);
            return;
        }
        vectorize::prefetch(&self.offsets[f as usize]);
        if let Some(r) = self.dense_of.get(f as usize) {
            vectorize::prefetch(r);
        }
    }

    /// A prefetch hint for the weights [`NaiveBayes::add`] reads for feature `f` (after
    /// [`NaiveBayes::prefetch_offsets`], so that the offset is at hand).
    #[inline]
    pub fn prefetch_weights(&self, f: u32) {
        if let Some(b) = self.base.get(f as usize) {
            vectorize::prefetch(b);
        }
        if self.every_term_dense() {
            // `prefetch_offsets` asked for the row already.
            return;
        }
        if let Some(row) = self.dense_row(f) {
            vectorize::prefetch(&row[0]);
            return;
        }
        let a = self.offsets[f as usize] as usize;
        if a < self.deltas.len() {
            vectorize::prefetch(&self.classes[a]);
            vectorize::prefetch(&self.deltas[a]);
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
