//! Probe (not a benchmark) behind the visiting order of `svd::fit`: SVD test RMSE for several
//! visiting orders and float widths, every run from Surprise's starting factors for the seed,
//! on the MovieLens-1M-shaped split of `bench_rec_large` (or `PROBE_TRAIN`/`PROBE_TEST`, files
//! of `user item rating` lines, such as MovieLens 100K's `ua.base`/`ua.test`). Prints per seed:
//! `ours` (`svd::fit`), Surprise's loop in f64 in Surprise's order (users as they first appear,
//! their ratings in input order: Surprise's own RMSE), and the same loop in f32 in the orders
//! of `modes`: 0 Surprise's, 4 users reshuffled and each user's ratings rotated every epoch (the
//! order `svd::fit` used before), 9 the most active users first and ratings by item (`svd::fit`
//! now), 10 the same users with ratings in one seeded shuffle, 11 the least active first.
//!
//! `cargo run --release --example svd_order_probe -- SEED...`

#[path = "support/ratings_gen.rs"]
mod ratings_gen;
use ratings_gen::ML_1M;
use sqlml::models::Control;
use sqlml::models::recommender::init::NumpyNormal;
use sqlml::models::recommender::ratings::{Csr, Triple};
use sqlml::models::recommender::svd::{self, Fitted, SgdParams};
use sqlml::models::split::rng;
use std::collections::HashMap;

fn main() {
    let seeds: Vec<u64> = std::env::args().skip(1).map(|s| s.parse().unwrap()).collect();
    let read = |path: String| -> Vec<(i64, i64, f64)> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap())
            })
            .collect()
    };
    let (train, test) = match (std::env::var("PROBE_TRAIN"), std::env::var("PROBE_TEST")) {
        (Ok(a), Ok(b)) => (read(a), read(b)),
        _ => {
            let rows = ratings_gen::generate(ML_1M, 1);
            ratings_gen::split(&rows, 0.2, 42)
        }
    };
    // Dense ids by first appearance (Surprise's inner ids).
    let (mut um, mut im) = (HashMap::new(), HashMap::new());
    let mut triples = Vec::new();
    for &(u, i, r) in &train {
        let n = um.len() as u32;
        let uu = *um.entry(u).or_insert(n);
        let n = im.len() as u32;
        let ii = *im.entry(i).or_insert(n);
        triples.push(Triple { user: uu, item: ii, value: r as f32 });
    }
    let (nu, ni) = (um.len(), im.len());
    let mu = train.iter().map(|t| t.2).sum::<f64>() / train.len() as f64;
    let p = SgdParams::default();
    let k = p.n_factors;
    for &seed in &seeds {
        let start = || {
            let mut normal = NumpyNormal::new(seed);
            let order_u: Vec<u32> = (0..nu as u32).collect();
            let order_i: Vec<u32> = (0..ni as u32).collect();
            let c = Control::new();
            let pu = normal.factors(&order_u, k, 0.0, 0.1, &c).unwrap();
            let qi = normal.factors(&order_i, k, 0.0, 0.1, &c).unwrap();
            (pu, qi)
        };
        let rmse = |est: &dyn Fn(Option<u32>, Option<u32>) -> f64| {
            let mut s = 0.0;
            for &(u, i, r) in &test {
                let e = est(um.get(&u).copied(), im.get(&i).copied()).clamp(1.0, 5.0);
                s += (e - r) * (e - r);
            }
            (s / test.len() as f64).sqrt()
        };
        // (a) ours.
        let (pu, qi) = start();
        let m = Fitted {
            global_mean: mu as f32,
            user_bias: vec![0.0; nu],
            item_bias: vec![0.0; ni],
            user_factors: pu,
            item_factors: qi,
        };
        let csr = Csr::build(nu, &triples, false);
        let fitted = svd::fit(&csr, m, &p, &Control::new(), |_, _, _| Ok(())).unwrap();
        let ours = rmse(&|u, i| match (u, i) {
            (Some(u), Some(i)) => fitted.estimate(u as usize, i as usize) as f64,
            (Some(u), None) => (fitted.global_mean + fitted.user_bias[u as usize]) as f64,
            (None, Some(i)) => (fitted.global_mean + fitted.item_bias[i as usize]) as f64,
            _ => fitted.global_mean as f64,
        });
        let mut by_user: Vec<Vec<(usize, f32)>> = vec![Vec::new(); nu];
        for t in &triples {
            by_user[t.user as usize].push((t.item as usize, t.value));
        }
        // Dense-id (sorted raw id) order of users, as our CSR has them.
        let mut sorted_users: Vec<(i64, usize)> = um.iter().map(|(&raw, &d)| (raw, d as usize)).collect();
        sorted_users.sort_unstable();
        let sorted_users: Vec<usize> = sorted_users.into_iter().map(|p| p.1).collect();
        use rand::Rng as _;
        use rand::seq::SliceRandom;
        // mode: 0 Surprise order; 1 users by raw id, ratings input order, fixed; 2 one shuffle
        // (users and ratings), fixed; 3 users reshuffled each epoch, ratings fixed after one
        // shuffle; 4 users reshuffled + ratings rotated each epoch (ours); 5 full reshuffle of
        // every rating each epoch, grouped by user.
        let run = |mode: u32| {
            let (pu0, qi0) = start();
            let mut pu: Vec<f32> = (0..nu).flat_map(|u| pu0.row(u)[..k].to_vec()).collect();
            let mut qi: Vec<f32> = (0..ni).flat_map(|i| qi0.row(i)[..k].to_vec()).collect();
            let (mut bu, mut bi) = (vec![0f32; nu], vec![0f32; ni]);
            let (lr, reg, muf) = (0.005f32, 0.02f32, mu as f32);
            let mut r = rng(seed ^ 0x5eed);
            let mut lists = by_user.clone();
            let mut users: Vec<usize> = if mode == 1 { sorted_users.clone() } else { (0..nu).collect() };
            if (2..6).contains(&mode) {
                users.shuffle(&mut r);
                for l in lists.iter_mut() {
                    l.shuffle(&mut r);
                }
            }
            if mode >= 9 {
                users = sorted_users.clone();
                let desc = mode != 11;
                users.sort_by_key(|&u| if desc { usize::MAX - lists[u].len() } else { lists[u].len() });
                for l in lists.iter_mut() {
                    if mode == 10 { l.shuffle(&mut r) } else { l.sort_by_key(|x| x.0) }
                }
            }
            if mode == 6 {
                for l in lists.iter_mut() {
                    l.sort_by_key(|x| x.0);
                }
            }
            if mode == 7 || mode == 8 {
                for l in lists.iter_mut() {
                    l.shuffle(&mut r);
                }
            }
            for _ in 0..p.n_epochs {
                if (3..6).contains(&mode) {
                    users.shuffle(&mut r);
                }
                for &u in &users {
                    if mode == 4 || mode == 8 {
                        let len = lists[u].len();
                        let t = r.random_range(0..len);
                        lists[u].rotate_left(t);
                    }
                    if mode == 5 {
                        lists[u].shuffle(&mut r);
                    }
                    for &(i, rv) in &lists[u] {
                        let mut dot = 0f32;
                        for f in 0..k {
                            dot += qi[i * k + f] * pu[u * k + f];
                        }
                        let err = rv - (muf + bu[u] + bi[i] + dot);
                        bu[u] += lr * (err - reg * bu[u]);
                        bi[i] += lr * (err - reg * bi[i]);
                        for f in 0..k {
                            let (pf, qf) = (pu[u * k + f], qi[i * k + f]);
                            pu[u * k + f] += lr * (err * qf - reg * pf);
                            qi[i * k + f] += lr * (err * pf - reg * qf);
                        }
                    }
                }
            }
            rmse(&|u, i| {
                let mut e = mu;
                if let Some(u) = u {
                    e += bu[u as usize] as f64;
                }
                if let Some(i) = i {
                    e += bi[i as usize] as f64;
                }
                if let (Some(u), Some(i)) = (u, i) {
                    e +=
                        (0..k).map(|f| (qi[i as usize * k + f] * pu[u as usize * k + f]) as f64).sum::<f64>();
                }
                e
            })
        };
        // Surprise's loop in f64, in Surprise's order.
        let surprise = {
            let (pu0, qi0) = start();
            let mut pu: Vec<f64> =
                (0..nu).flat_map(|u| pu0.row(u)[..k].iter().map(|&x| f64::from(x))).collect();
            let mut qi: Vec<f64> =
                (0..ni).flat_map(|i| qi0.row(i)[..k].iter().map(|&x| f64::from(x))).collect();
            let (mut bu, mut bi) = (vec![0f64; nu], vec![0f64; ni]);
            let (lr, reg) = (0.005, 0.02);
            for _ in 0..p.n_epochs {
                for u in 0..nu {
                    for &(i, rv) in &by_user[u] {
                        let dot: f64 = (0..k).map(|f| qi[i * k + f] * pu[u * k + f]).sum();
                        let err = f64::from(rv) - (mu + bu[u] + bi[i] + dot);
                        bu[u] += lr * (err - reg * bu[u]);
                        bi[i] += lr * (err - reg * bi[i]);
                        for f in 0..k {
                            let (pf, qf) = (pu[u * k + f], qi[i * k + f]);
                            pu[u * k + f] += lr * (err * qf - reg * pf);
                            qi[i * k + f] += lr * (err * pf - reg * qf);
                        }
                    }
                }
            }
            rmse(&|u, i| {
                let mut e = mu + u.map_or(0.0, |u| bu[u as usize]) + i.map_or(0.0, |i| bi[i as usize]);
                if let (Some(u), Some(i)) = (u, i) {
                    e += (0..k).map(|f| qi[i as usize * k + f] * pu[u as usize * k + f]).sum::<f64>();
                }
                e
            })
        };
        let modes: Vec<String> = [0, 4, 9, 10, 11].into_iter().map(|m| format!("{:.5}", run(m))).collect();
        println!(
            "{{\"seed\": {seed}, \"ours\": {ours:.5}, \"surprise_f64\": {surprise:.5}, \"modes_f32\": {modes:?}}}"
        );
    }
}
