//! Generated rating sets with the shapes of real ones (MovieLens 1M and 25M, a 10k-item
//! catalogue), for the large-catalogue and scaling benchmarks. No data file is copied: the rows
//! are made here, from a seed, in a second or so per ten million.
//!
//! Shape: every user rates at least 20 distinct items (as in MovieLens); activity is long-tailed
//! (20 plus a log-normal draw, rescaled to the wanted total, capped at a third of the items),
//! and so is item popularity (log-normal weights: on the MovieLens 1M shape the most rated item
//! has about 4,000 ratings, the median one 150, the least a few; MovieLens 1M has 3,428, 123
//! and 1).
//! Ratings come from a rank-8 model with user and item biases (popular items rated a little
//! higher) and noise, rounded to whole stars 1..5 or, for `half_stars`, to 0.5..5 in halves
//! (MovieLens 25M). Rows come out in a seeded random order; (user, item) pairs are distinct.
#![allow(dead_code)]

/// One (user id, item id, rating).
pub type Row = (i64, i64, f64);

/// The size and kind of a generated set.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Label in the JSON output.
    pub name: &'static str,
    /// Users.
    pub users: usize,
    /// Items.
    pub items: usize,
    /// Ratings (distinct (user, item) pairs).
    pub ratings: usize,
    /// 0.5..5 in halves instead of whole stars 1..5.
    pub half_stars: bool,
}

/// MovieLens 1M: 6,040 users, 3,706 items, 1,000,209 ratings, whole stars.
pub const ML_1M: Shape =
    Shape { name: "gen-ml-1m", users: 6_040, items: 3_706, ratings: 1_000_209, half_stars: false };
/// MovieLens 25M: 162,541 users, 59,047 items, 25,000,095 ratings, half stars.
pub const ML_25M: Shape =
    Shape { name: "gen-ml-25m", users: 162_541, items: 59_047, ratings: 25_000_095, half_stars: true };
/// The large catalogue: 100,000 ratings over 10,000 items (1,000 users).
pub const CATALOGUE_10K: Shape =
    Shape { name: "gen-100k-10k-items", users: 1_000, items: 10_000, ratings: 100_000, half_stars: false };

/// The ML-25M shape scaled to `ratings` (users and items in proportion, at least 1,000 items):
/// the 1M and 10M rows of the scaling table.
pub fn ml25m_like(ratings: usize, name: &'static str) -> Shape {
    let f = ratings as f64 / ML_25M.ratings as f64;
    let users = ((ML_25M.users as f64 * f) as usize).max(ratings / 1000).max(100);
    let items = ((ML_25M.items as f64 * f.sqrt()) as usize).max(1_000);
    Shape { name, users, items, ratings, half_stars: true }
}

/// SplitMix64: small, fast and good enough for generating data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
    /// N(0, 1) by Box–Muller (one of the pair).
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Walker's alias table: O(1) draws from a discrete distribution.
struct Alias {
    prob: Vec<f64>,
    alias: Vec<u32>,
}

impl Alias {
    fn new(weights: &[f64]) -> Alias {
        let n = weights.len();
        let sum: f64 = weights.iter().sum();
        let mut prob: Vec<f64> = weights.iter().map(|w| w * n as f64 / sum).collect();
        let mut alias = vec![0u32; n];
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| prob[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            alias[s] = l as u32;
            prob[l] -= 1.0 - prob[s];
            if prob[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        for i in large.into_iter().chain(small) {
            prob[i] = 1.0;
        }
        Alias { prob, alias }
    }
    fn draw(&self, rng: &mut Rng) -> usize {
        let i = rng.below(self.prob.len());
        if rng.uniform() < self.prob[i] { i } else { self.alias[i] as usize }
    }
}

/// Log-normal popularity weights `exp(1.15 z)`, `z` the normal quantile of the item's rank:
/// a median item gets the mean share of ratings or a little less, the top items tens of times
/// more and the last ones a few ratings.
fn popularity(items: usize) -> Vec<f64> {
    (0..items).map(|r| (1.15 * normal_quantile(1.0 - (r as f64 + 0.5) / items as f64)).exp()).collect()
}

/// The standard normal quantile (Acklam's rational approximation, relative error 1e-9).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -39.69683028665376,
        220.9460984245205,
        -275.9285104469687,
        138.357751867269,
        -30.66479806614716,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
    const C: [f64; 6] = [
        -0.007784894002430293,
        -0.3223964580411365,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The rows of `shape` as (user id, item id, rating), ids from 1, in a random order.
pub fn generate(shape: Shape, seed: u64) -> Vec<(i64, i64, f64)> {
    let mut rng = Rng::new(seed);
    let (users, items) = (shape.users, shape.items);
    // Activity: 20 + log-normal, rescaled to the total, capped at a third of the items.
    let min = 20.min(items / 3).max(1);
    let cap = (items / 3).max(min);
    let raw: Vec<f64> = (0..users).map(|_| (4.2 + 1.25 * rng.normal()).exp()).collect();
    let extra = shape.ratings.saturating_sub(min * users) as f64;
    let mut scale = extra / raw.iter().sum::<f64>();
    let mut counts = vec![min; users];
    for _ in 0..30 {
        counts = raw.iter().map(|r| (min + (r * scale) as usize).min(cap)).collect();
        let total: usize = counts.iter().sum();
        if total >= shape.ratings {
            break;
        }
        scale *= 1.0 + (shape.ratings - total) as f64 / extra.max(1.0);
    }
    // Trim or pad to the exact total.
    let mut total: usize = counts.iter().sum();
    let mut u = 0;
    while total != shape.ratings {
        if total > shape.ratings && counts[u] > min {
            counts[u] -= 1;
            total -= 1;
        } else if total < shape.ratings && counts[u] < cap {
            counts[u] += 1;
            total += 1;
        }
        u = (u + 1) % users;
    }
    // Popularity in a random item order (item ids do not sort by popularity).
    let weights = popularity(items);
    let mut item_of_rank: Vec<usize> = (0..items).collect();
    for i in (1..items).rev() {
        item_of_rank.swap(i, rng.below(i + 1));
    }
    let alias = Alias::new(&weights);
    let mut rank_of_item = vec![0usize; items];
    for (rank, &i) in item_of_rank.iter().enumerate() {
        rank_of_item[i] = rank;
    }
    let k = 8;
    let user_f: Vec<f32> = (0..users * k).map(|_| (0.45 * rng.normal()) as f32).collect();
    let item_f: Vec<f32> = (0..items * k).map(|_| (0.45 * rng.normal()) as f32).collect();
    let user_b: Vec<f32> = (0..users).map(|_| (0.35 * rng.normal()) as f32).collect();
    let item_b: Vec<f32> = (0..items)
        .map(|i| (0.4 * rng.normal() + 0.3 - 0.6 * rank_of_item[i] as f64 / items as f64) as f32)
        .collect();
    let mut rows = Vec::with_capacity(shape.ratings);
    let mut seen = vec![false; items];
    let mut mine = Vec::new();
    for (u, &n) in counts.iter().enumerate() {
        mine.clear();
        while mine.len() < n {
            let i = item_of_rank[alias.draw(&mut rng)];
            if !std::mem::replace(&mut seen[i], true) {
                mine.push(i);
            }
        }
        for &i in &mine {
            seen[i] = false;
            let dot: f32 = (0..k).map(|f| user_f[u * k + f] * item_f[i * k + f]).sum();
            let r = 3.55 + f64::from(user_b[u] + item_b[i] + dot) + 0.8 * rng.normal();
            let r = if shape.half_stars { (r * 2.0).round() / 2.0 } else { r.round() };
            let lo = if shape.half_stars { 0.5 } else { 1.0 };
            rows.push((u as i64 + 1, i as i64 + 1, r.clamp(lo, 5.0)));
        }
    }
    for n in (1..rows.len()).rev() {
        rows.swap(n, rng.below(n + 1));
    }
    rows
}

/// Splits rows into (train, test) with a seeded shuffle: the last `test_fraction` go to test.
pub fn split(rows: &[Row], test_fraction: f64, seed: u64) -> (Vec<Row>, Vec<Row>) {
    let mut rng = Rng::new(seed);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    for n in (1..order.len()).rev() {
        order.swap(n, rng.below(n + 1));
    }
    let n_test = (rows.len() as f64 * test_fraction).round() as usize;
    let (train, test) = order.split_at(rows.len() - n_test);
    (train.iter().map(|&i| rows[i]).collect(), test.iter().map(|&i| rows[i]).collect())
}

/// Writes rows as `user\titem\trating` lines (what `bench/surprise_generated.py` reads).
pub fn write_tsv(path: &std::path::Path, rows: &[(i64, i64, f64)]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for &(u, i, r) in rows {
        writeln!(out, "{u}\t{i}\t{r}")?;
    }
    out.flush()
}

/// Summary facts of a generated set: activity and popularity quantiles.
pub fn describe(rows: &[(i64, i64, f64)], shape: Shape) -> serde_json::Value {
    let mut per_user = vec![0usize; shape.users + 1];
    let mut per_item = vec![0usize; shape.items + 1];
    let mut sum = 0.0;
    for &(u, i, r) in rows {
        per_user[u as usize] += 1;
        per_item[i as usize] += 1;
        sum += r;
    }
    let q = |mut v: Vec<usize>| {
        v.retain(|&c| c > 0);
        v.sort_unstable();
        let at = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
        serde_json::json!({"n": v.len(), "min": v[0], "median": at(0.5), "p90": at(0.9), "max": v[v.len() - 1]})
    };
    serde_json::json!({
        "name": shape.name, "ratings": rows.len(), "mean_rating": sum / rows.len() as f64,
        "ratings_per_user": q(per_user), "ratings_per_item": q(per_item),
    })
}
