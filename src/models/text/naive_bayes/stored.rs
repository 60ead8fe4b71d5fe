//! The stored model format: [`NaiveBayes`] serialized as per-term counts of its weights, and
//! checked when it is read back.

use super::{Algorithm, NaiveBayes};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

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
