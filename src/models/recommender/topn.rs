//! Top-k selection with a bounded heap and a deterministic order.
//!
//! Higher scores come first; equal scores are ordered by the smaller item index. NaN scores
//! are skipped. Selecting k of n costs O(n + m log k) where m ≪ n is the number of items that
//! beat the current k-th best (most candidates are rejected by one comparison).

use super::factors::{dot, dots_grid, with_simd};
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

/// Users scored together by [`top_k_block`].
pub const BLOCK: usize = 8;
/// Items per tile of [`top_k_block`].
const TILE: usize = 64;

/// [`top_k`] for up to [`BLOCK`] users at once, each item's factor row read from memory once
/// for all of them (items go by tiles that stay in cache): the score of user `b` for item `i` is `(base[b] + bias[i]) + dot(users[b], q_i)`
/// (`dot(users[b], q_i)` alone when `biases` is `None`; 4 users × 2 items at a time by
/// [`dots_grid`]), the very bits of [`dot`] and of
/// [`top_k`] with that score, so the lists are the same as one user at a time.
/// `items` holds `stride`-long rows; `excludes[b]` is sorted.
pub fn top_k_block(
    users: &[&[f32]],
    biases: Option<(&[f32], &[f32])>,
    items: &[f32],
    stride: usize,
    excludes: &[&[u32]],
    k: usize,
) -> Vec<Vec<(u32, f32)>> {
    debug_assert!(users.len() <= BLOCK && excludes.len() == users.len());
    let n_items = items.len().checked_div(stride).unwrap_or(0);
    let nb = users.len().min(BLOCK);
    let mut tops: Vec<TopK> = (0..nb).map(|_| TopK::new(k.min(n_items))).collect();
    let mut skips: Vec<usize> = vec![0; nb];
    let mut scores = [[0f32; TILE]; BLOCK];
    with_simd(
        #[inline(always)]
        || {
            // A tile of items (TILE rows, a few tens of KB) stays in cache while every user of
            // the block is scored against it with `dot`.
            for (t, tile) in items.chunks(TILE * stride).enumerate() {
                let first = t * TILE;
                let rows = tile.len() / stride;
                let q = |n: usize| &tile[n * stride..(n + 1) * stride];
                // Four users (the last one repeated to fill a group) against two items at a
                // time: each chunk of the six rows is loaded once for eight multiply-adds.
                for g in (0..nb).step_by(4) {
                    let group: [&[f32]; 4] = std::array::from_fn(|j| users[(g + j).min(nb - 1)]);
                    let members = (nb - g).min(4);
                    let mut n = 0;
                    while n + 2 <= rows {
                        let d = dots_grid(group, [q(n), q(n + 1)]);
                        for j in 0..members {
                            scores[g + j][n] = d[j][0];
                            scores[g + j][n + 1] = d[j][1];
                        }
                        n += 2;
                    }
                    if n < rows {
                        for j in 0..members {
                            scores[g + j][n] = dot(group[j], q(n));
                        }
                    }
                }
                for b in 0..nb {
                    let exclude = excludes[b];
                    let (at, top) = (&mut skips[b], &mut tops[b]);
                    for (n, &d) in scores[b].iter().take(tile.len() / stride).enumerate() {
                        let item = first + n;
                        while *at < exclude.len() && (exclude[*at] as usize) < item {
                            *at += 1;
                        }
                        if exclude.get(*at) == Some(&(item as u32)) {
                            continue;
                        }
                        let s = match biases {
                            Some((base, bias)) => base[b] + bias[item] + d,
                            None => d,
                        };
                        if top.threshold().is_some_and(|t| s < t) {
                            continue;
                        }
                        top.push(item as u32, s);
                    }
                }
            }
        },
    );
    tops.into_iter().map(TopK::into_sorted).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_ranks_as_one_user_at_a_time() {
        use crate::models::recommender::factors::{Factors, dot};
        use crate::models::split::rng;
        let (n_users, n_items, k) = (11, 301, 13);
        let p = Factors::normal(n_users, k, 0.0, 0.3, &mut rng(1));
        let q = Factors::normal(n_items, k, 0.0, 0.3, &mut rng(2));
        let bias: Vec<f32> = (0..n_items).map(|i| (i % 7) as f32 * 0.01).collect();
        let base: Vec<f32> = (0..n_users).map(|u| 3.0 + u as f32 * 0.1).collect();
        let excludes: Vec<Vec<u32>> =
            (0..n_users as u32).map(|u| (0..n_items as u32).filter(|i| i % (u + 2) == 0).collect()).collect();
        for (lo, hi) in [(0, 8), (8, 11)] {
            let rows: Vec<&[f32]> = (lo..hi).map(|u| p.row(u)).collect();
            let ex: Vec<&[u32]> = (lo..hi).map(|u| &excludes[u][..]).collect();
            for biased in [true, false] {
                let b = biased.then_some((&base[lo..hi], &bias[..]));
                let got = top_k_block(&rows, b, &q.data, q.stride, &ex, 10);
                for (n, u) in (lo..hi).enumerate() {
                    let want = top_k(n_items, 10, &excludes[u], |i| {
                        let d = dot(p.row(u), q.row(i));
                        if biased { base[u] + bias[i] + d } else { d }
                    });
                    assert_eq!(got[n], want, "user {u} biased {biased}");
                }
            }
        }
    }

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
