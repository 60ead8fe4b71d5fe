//! Term weighting: how a document's term ids become a sparse row of feature values (counts,
//! presence or sublinear TF-IDF, L2-normalised), and the rows themselves ([`SparseRows`]).

use crate::models::memory;
use serde::{Deserialize, Serialize};

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

    /// The rows `picks` (each below [`SparseRows::rows`]), in that order: `self` itself when
    /// they are all of them in order, else a copy (sized from the data: fallible).
    pub fn into_picked(self, picks: &[usize]) -> crate::Result<SparseRows> {
        if picks.len() == self.rows() && picks.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self);
        }
        let values: usize = picks.iter().map(|&p| self.offsets[p + 1] - self.offsets[p]).sum();
        let what = "the training rows scored for the training loss";
        let mut out = SparseRows {
            offsets: memory::with_capacity(picks.len() + 1, what)?,
            features: memory::with_capacity(values, what)?,
            values: memory::with_capacity(values, what)?,
        };
        out.offsets.push(0);
        for &p in picks {
            let (f, v) = self.row(p);
            out.features.extend_from_slice(f);
            out.values.extend_from_slice(v);
            out.offsets.push(out.features.len());
        }
        Ok(out)
    }
}

/// scikit-learn's smoothed inverse document frequency.
pub(super) fn idf(n_docs: usize, df: usize) -> f32 {
    (((1 + n_docs) as f64 / (1 + df) as f64).ln() + 1.0) as f32
}

/// As [`push_row`] with TF-IDF weighting, from distinct `(feature, count)` pairs (any order;
/// sorted in place): the same values, in the same order, written over the first `row.len()`
/// of `features` and `values` (so that the rows can be weighted where they are).
pub(super) fn write_counts(row: &mut [(u32, f32)], idf: &[f32], features: &mut [u32], values: &mut [f32]) {
    row.sort_unstable_by_key(|&(f, _)| f);
    let (features, values) = (&mut features[..row.len()], &mut values[..row.len()]);
    for ((&(f, tf), feature), value) in row.iter().zip(features.iter_mut()).zip(values.iter_mut()) {
        *feature = f;
        *value = tf_idf(tf, idf[f as usize]);
    }
    l2_normalize(values);
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
