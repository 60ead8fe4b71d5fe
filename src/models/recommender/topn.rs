//! Top-k selection with a bounded heap and a deterministic order.
//!
//! Higher scores come first; equal scores are ordered by the smaller item index. NaN scores
//! are skipped. Selecting k of n costs O(n + m log k) where m ≪ n is the number of items that
//! beat the current k-th best (most candidates are rejected by one comparison).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A candidate; `Ord` is "worse first" so the heap's top is the candidate to evict.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Candidate {
    score: f32,
    item: u32,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        // Worse = lower score, then higher index.
        other.score.total_cmp(&self.score).then(self.item.cmp(&other.item))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keeps the k best (item, score) pairs seen so far.
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Candidate>,
}

impl TopK {
    /// An empty selection of at most `k` items.
    pub fn new(k: usize) -> Self {
        TopK { k, heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1) }
    }

    /// Offers one item. Items must be offered in increasing index order for the tie rule to
    /// need no comparison of indices on the fast path (it is still applied exactly).
    #[inline]
    pub fn push(&mut self, item: u32, score: f32) {
        if self.k == 0 || score.is_nan() {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Candidate { score, item });
            return;
        }
        let candidate = Candidate { score, item };
        if let Some(mut worst) = self.heap.peek_mut()
            && candidate < *worst
        {
            *worst = candidate;
        }
    }

    /// The lowest score that still gets in, once k items are held.
    #[inline]
    pub fn threshold(&self) -> Option<f32> {
        if self.heap.len() < self.k { None } else { self.heap.peek().map(|c| c.score) }
    }

    /// The selection, best first.
    pub fn into_sorted(self) -> Vec<(u32, f32)> {
        // Ascending in "worse first" order = best first.
        self.heap.into_sorted_vec().into_iter().map(|c| (c.item, c.score)).collect()
    }
}

/// The `k` best items by `score(item)` among `0..n_items`, skipping the sorted list `exclude`.
pub fn top_k(
    n_items: usize,
    k: usize,
    exclude: &[u32],
    mut score: impl FnMut(usize) -> f32,
) -> Vec<(u32, f32)> {
    // `k` may come from an argument: no more than there are items.
    let mut top = TopK::new(k.min(n_items));
    let mut skip = exclude.iter().copied().peekable();
    for item in 0..n_items {
        while skip.next_if(|&e| (e as usize) < item).is_some() {}
        if skip.peek() == Some(&(item as u32)) {
            continue;
        }
        let s = score(item);
        if top.threshold().is_some_and(|t| s < t) {
            continue;
        }
        top.push(item as u32, s);
    }
    top.into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_first_ties_by_index_exclusions_skipped() {
        let scores = [0.5f32, 0.9, 0.5, 0.9, 0.1, f32::NAN, 0.95];
        let got = top_k(scores.len(), 3, &[6], |i| scores[i]);
        assert_eq!(got, vec![(1, 0.9), (3, 0.9), (0, 0.5)]);
        let all = top_k(scores.len(), 10, &[], |i| scores[i]);
        assert_eq!(all.iter().map(|p| p.0).collect::<Vec<_>>(), vec![6, 1, 3, 0, 2, 4]);
        assert!(top_k(3, 0, &[], |_| 1.0).is_empty());
    }

    #[test]
    fn matches_a_full_sort() {
        let scores: Vec<f32> = (0..1000u32).map(|i| ((i * 7919) % 101) as f32).collect();
        let exclude: Vec<u32> = (0..1000).step_by(3).collect();
        let got = top_k(1000, 25, &exclude, |i| scores[i]);
        let mut want: Vec<(u32, f32)> =
            (0..1000u32).filter(|i| i % 3 != 0).map(|i| (i, scores[i as usize])).collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        want.truncate(25);
        assert_eq!(got, want);
    }
}
