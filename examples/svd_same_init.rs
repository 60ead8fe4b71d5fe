//! Same start, same result: sqlml's SVD trained from the initial factors Surprise's SVD draws,
//! on Surprise's own folds, against Surprise's RMSE with that start. Prints one JSON line.
//!
//! ```text
//! /tmp/peers/bin/python bench/surprise_folds.py --init 42      # writes target/bench/folds
//! cargo run --release --example svd_same_init [-- FOLDS_DIR]   # default $BENCH_FOLDS, else target/bench/folds
//! ```
//!
//! The 5-fold RMSE of SVD moves by about ±0.0013 with the random start alone (for Surprise and
//! for us), which hides any difference between the two implementations' updates. Given the same
//! start, the only differences left are the visiting order (ours: users shuffled every epoch;
//! Surprise's: a fixed order) and f32 against f64 arithmetic; the per-fold RMSEs then agree to
//! a few 1e-4 (see the README's results). The folds and the factors are written by
//! `bench/surprise_folds.py` from the data in `../shared/data` at run time; none of it is kept
//! in the repository.

#[path = "support/movielens.rs"]
mod movielens;
use movielens::{Rating, read_ratings};
use serde_json::{Value as Json, json};
use sqlml::models::Control;
use sqlml::models::recommender::factors::Factors;
use sqlml::models::recommender::ratings::{Csr, Triple};
use sqlml::models::recommender::svd::{self, Fitted, SgdParams};
use std::path::Path;

/// `rows × k` little-endian f32 values from `path`, as a padded factor matrix.
fn read_factors(path: &Path, rows: usize, k: usize) -> Result<Factors, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() != rows * k * 4 {
        return Err(format!("{}: {} bytes, expected {rows} × {k} f32", path.display(), bytes.len()).into());
    }
    let mut m = Factors::zeros(rows, k);
    for (r, chunk) in bytes.chunks_exact(k * 4).enumerate() {
        for (f, b) in chunk.chunks_exact(4).enumerate() {
            m.data[r * m.stride + f] = f32::from_le_bytes(b.try_into()?);
        }
    }
    Ok(m)
}

/// The sorted distinct ids of a column: an id's position is its dense index (as in sqlml).
fn sorted_ids(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut v: Vec<i64> = ids.collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn fold_rmse(dir: &Path, n: usize, p: &SgdParams) -> Result<f64, Box<dyn std::error::Error>> {
    let train: Vec<Rating> = read_ratings(&dir.join(format!("train_{n}.tsv")).to_string_lossy())?;
    let test: Vec<Rating> = read_ratings(&dir.join(format!("test_{n}.tsv")).to_string_lossy())?;
    let users = sorted_ids(train.iter().map(|r| r.0));
    let items = sorted_ids(train.iter().map(|r| r.1));
    let index = |ids: &[i64], id: i64| ids.binary_search(&id).ok().map(|i| i as u32);
    let triples: Vec<Triple> = train
        .iter()
        .map(|&(u, i, r)| Triple {
            user: index(&users, u).unwrap_or(0),
            item: index(&items, i).unwrap_or(0),
            value: r as f32,
        })
        .collect();
    let mean = train.iter().map(|r| r.2).sum::<f64>() / train.len() as f64;
    let history = Csr::build(users.len(), &triples, false);
    let init = Fitted {
        global_mean: mean as f32,
        user_bias: vec![0.0; users.len()],
        item_bias: vec![0.0; items.len()],
        user_factors: read_factors(&dir.join(format!("init_pu_{n}.f32")), users.len(), p.n_factors)?,
        item_factors: read_factors(&dir.join(format!("init_qi_{n}.f32")), items.len(), p.n_factors)?,
    };
    let m = svd::fit(&history, init, p, &Control::new(), |_, _, _| Ok(()))?;
    let se: f64 = test
        .iter()
        .map(|&(u, i, r)| {
            let (u, i) = (index(&users, u), index(&items, i));
            // Surprise's estimate: μ plus whichever bias is known, plus q·p when both are.
            let e = match (u, i) {
                (Some(u), Some(i)) => f64::from(m.estimate(u as usize, i as usize)),
                _ => {
                    f64::from(m.global_mean)
                        + u.map_or(0.0, |u| f64::from(m.user_bias[u as usize]))
                        + i.map_or(0.0, |i| f64::from(m.item_bias[i as usize]))
                }
            };
            (e.clamp(1.0, 5.0) - r).powi(2)
        })
        .sum();
    Ok((se / test.len() as f64).sqrt())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BENCH_FOLDS").ok().filter(|d| !d.is_empty()))
        .unwrap_or_else(|| "target/bench/folds".to_string());
    let dir = Path::new(&dir);
    let surprise: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("init_rmse.json")).map_err(|e| {
            format!("{e}: run `bench/surprise_folds.py --init 42` in the peers' venv first")
        })?)?;
    let p = SgdParams::default();
    let ours: Vec<f64> = (0..5).map(|n| fold_rmse(dir, n, &p)).collect::<Result<_, _>>()?;
    let theirs: Vec<f64> = surprise["fold_rmse"]
        .as_array()
        .map(|a| a.iter().filter_map(Json::as_f64).collect())
        .unwrap_or_default();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max_diff = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    println!(
        "{}",
        json!({
            "task": "svd_check", "dataset": "ml-100k", "check": "same initial factors as Surprise",
            "surprise_seed": surprise["seed"], "sqlml_fold_rmse": ours, "surprise_fold_rmse": theirs,
            "sqlml_cv_rmse": mean(&ours), "surprise_cv_rmse": mean(&theirs), "max_fold_difference": max_diff,
        })
    );
    Ok(())
}
