//! Rating-error and top-N ranking metrics.
//!
//! Ranking metrics use binary relevance and the full catalogue: for each user, the top-k list
//! is ranked over all items the user did not rate in training, and compared with the user's
//! relevant held-out items. Precision@k divides by k (a short list is not rewarded);
//! recall@k divides by the number of relevant items; NDCG@k uses gain 1 and discount
//! `1 / log2(rank + 1)`, normalised by the ideal list of `min(k, relevant)` hits.

/// Root mean squared error of paired predictions and truths (0 for no pairs).
pub fn rmse(pairs: &[(f64, f64)]) -> f64 {
    Errors::of(pairs).rmse()
}

/// Mean absolute error of paired predictions and truths (0 for no pairs).
pub fn mae(pairs: &[(f64, f64)]) -> f64 {
    Errors::of(pairs).mae()
}

/// The running sums of [`rmse`] and [`mae`], fed one pair at a time in order (so a caller
/// need not hold every pair): the same additions from the same start, so the same bits.
#[derive(Clone, Copy, Debug)]
pub struct Errors {
    squares: f64,
    absolute: f64,
    n: usize,
}

impl Default for Errors {
    fn default() -> Errors {
        // −0.0, where `Iterator::sum` of floats starts.
        Errors { squares: -0.0, absolute: -0.0, n: 0 }
    }
}

impl Errors {
    /// The sums of `pairs`.
    pub fn of(pairs: &[(f64, f64)]) -> Errors {
        let mut e = Errors::default();
        pairs.iter().for_each(|&(p, t)| e.add(p, t));
        e
    }

    /// Adds the pair (prediction `p`, truth `t`).
    #[inline]
    pub fn add(&mut self, p: f64, t: f64) {
        self.squares += (p - t) * (p - t);
        self.absolute += (p - t).abs();
        self.n += 1;
    }

    /// Root-mean-square error of the pairs added (0 for none).
    pub fn rmse(&self) -> f64 {
        if self.n == 0 { 0.0 } else { (self.squares / self.n as f64).sqrt() }
    }

    /// Mean absolute error of the pairs added (0 for none).
    pub fn mae(&self) -> f64 {
        if self.n == 0 { 0.0 } else { self.absolute / self.n as f64 }
    }
}

/// Precision, recall and NDCG of one ranked list against the sorted set `relevant` of relevant
/// items the model knows; `total` (≥ `relevant.len()`) also counts relevant items it cannot
/// recommend (unseen in training), which count as misses.
pub fn ranking_at_k(recommended: &[u32], relevant: &[u32], total: usize, k: usize) -> (f64, f64, f64) {
    let total = total.max(relevant.len());
    if total == 0 || k == 0 {
        return (0.0, 0.0, 0.0);
    }
    let mut hits = 0usize;
    let mut dcg = 0.0;
    for (rank, item) in recommended.iter().take(k).enumerate() {
        if relevant.binary_search(item).is_ok() {
            hits += 1;
            dcg += 1.0 / ((rank + 2) as f64).log2();
        }
    }
    let ideal: f64 = (0..k.min(total)).map(|r| 1.0 / ((r + 2) as f64).log2()).sum();
    (hits as f64 / k as f64, hits as f64 / total as f64, dcg / ideal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors() {
        let pairs = [(3.0, 4.0), (5.0, 2.0)];
        assert_eq!(rmse(&pairs), 5f64.sqrt());
        assert_eq!(mae(&pairs), 2.0);
        assert_eq!(rmse(&[]), 0.0);
    }

    #[test]
    fn ranking_by_hand() {
        // Relevant {2, 7, 9}; list [7, 1, 9, 4]; k = 4: hits at ranks 1 and 3.
        let (p, r, n) = ranking_at_k(&[7, 1, 9, 4], &[2, 7, 9], 3, 4);
        assert_eq!(p, 0.5);
        assert!((r - 2.0 / 3.0).abs() < 1e-12);
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((n - dcg / idcg).abs() < 1e-12);
        assert_eq!(ranking_at_k(&[2, 7, 9], &[2, 7, 9], 3, 3), (1.0, 1.0, 1.0));
        assert_eq!(ranking_at_k(&[1], &[], 0, 3), (0.0, 0.0, 0.0));
        // One more relevant item the model never saw: recall and NDCG drop, precision not.
        let (p2, r2, _) = ranking_at_k(&[7, 1, 9, 4], &[2, 7, 9], 4, 4);
        assert_eq!((p2, r2), (0.5, 0.5));
    }
}
