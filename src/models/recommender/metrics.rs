//! Rating-error and top-N ranking metrics.
//!
//! Ranking metrics use binary relevance and the full catalogue: for each user, the top-k list
//! is ranked over all items the user did not rate in training, and compared with the user's
//! relevant held-out items. Precision@k divides by k (a short list is not rewarded);
//! recall@k divides by the number of relevant items; NDCG@k uses gain 1 and discount
//! `1 / log2(rank + 1)`, normalised by the ideal list of `min(k, relevant)` hits.

/// Root mean squared error of paired predictions and truths (0 for no pairs).
pub fn rmse(pairs: &[(f64, f64)]) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    (pairs.iter().map(|(p, t)| (p - t) * (p - t)).sum::<f64>() / pairs.len() as f64).sqrt()
}

/// Mean absolute error of paired predictions and truths (0 for no pairs).
pub fn mae(pairs: &[(f64, f64)]) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    pairs.iter().map(|(p, t)| (p - t).abs()).sum::<f64>() / pairs.len() as f64
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
