//! Times the ranking kernel of the training report on one thread: top 10 of 9,200 items (100
//! factors) for 224 users, as the report ranks them at 10,000 items, by
//! [`topn::top_k_block`] (blocks of 8 users against tiles of 64 items, 4 users × 2 items per
//! kernel call, `factors::dots_grid`) against the previous kernel: the same blocks and tiles,
//! each user scored against four items at a time by `factors::dots4`, which loads the user's
//! row again for every item. Both give the same lists (checked). Prints one JSON object: medians of
//! `BENCH_REPEATS` (default 15) runs, in milliseconds.
//!
//! `cargo run --release --example rank_kernel_bench`

use serde_json::json;
use sqlml::models::recommender::factors::{Factors, dot, dots4, with_simd};
use sqlml::models::recommender::topn::{self, BLOCK, TopK};
use sqlml::models::split::rng;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let repeats: usize = std::env::var("BENCH_REPEATS").ok().and_then(|s| s.parse().ok()).unwrap_or(15);
    let (n_users, n_items, k) = (224, 9200, 100);
    let p = Factors::normal(n_users, k, 0.0, 0.1, &mut rng(1));
    let q = Factors::normal(n_items, k, 0.0, 0.1, &mut rng(2));
    let stride = q.stride;
    let grid = || {
        let mut lists = Vec::new();
        for lo in (0..n_users).step_by(BLOCK) {
            let rows: Vec<&[f32]> = (lo..(lo + BLOCK).min(n_users)).map(|u| p.row(u)).collect();
            let ex: Vec<&[u32]> = vec![&[]; rows.len()];
            lists.extend(topn::top_k_block(&rows, None, &q.data, stride, &ex, 10));
        }
        lists
    };
    // The previous `top_k_block`: the same blocks of 8 users and tiles of 64 items, each user
    // scored against four items at a time by `dots4`.
    let block_by_dots4 = || {
        with_simd(
            #[inline(always)]
            || {
                let mut lists = Vec::new();
                let mut scores = [[0f32; 64]; BLOCK];
                for lo in (0..n_users).step_by(BLOCK) {
                    let users: Vec<&[f32]> = (lo..(lo + BLOCK).min(n_users)).map(|u| p.row(u)).collect();
                    let mut tops: Vec<TopK> = users.iter().map(|_| TopK::new(10)).collect();
                    for (t, tile) in q.data.chunks(64 * stride).enumerate() {
                        let rows = tile.len() / stride;
                        let r = |n: usize| &tile[n * stride..(n + 1) * stride];
                        for (b, user) in users.iter().enumerate() {
                            let mut n = 0;
                            while n + 4 <= rows {
                                scores[b][n..n + 4]
                                    .copy_from_slice(&dots4([user; 4], [r(n), r(n + 1), r(n + 2), r(n + 3)]));
                                n += 4;
                            }
                            for (m, score) in scores[b].iter_mut().enumerate().take(rows).skip(n) {
                                *score = dot(user, r(m));
                            }
                        }
                        for (b, top) in tops.iter_mut().enumerate() {
                            for (n, &s) in scores[b][..rows].iter().enumerate() {
                                if top.threshold().is_some_and(|t| s < t) {
                                    continue;
                                }
                                top.push((t * 64 + n) as u32, s);
                            }
                        }
                    }
                    lists.extend(tops.into_iter().map(TopK::into_sorted));
                }
                lists
            },
        )
    };
    assert_eq!(grid(), block_by_dots4(), "the two kernels rank differently");
    let time = |f: &dyn Fn() -> Vec<Vec<(u32, f32)>>| {
        median(
            (0..repeats)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(f());
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect(),
        )
    };
    let (a, b) = (time(&block_by_dots4), time(&grid));
    println!(
        "{}",
        json!({"task": "rank_kernel", "users": n_users, "items": n_items, "factors": k, "repeats": repeats,
               "dots4_block_ms": a, "dots_grid_block_ms": b, "speedup": a / b})
    );
}
