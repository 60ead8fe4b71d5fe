//! Probe (not a benchmark) behind the visiting order of `svd::fit`: SVD test RMSE for several
//! visiting orders and float widths, every run from Surprise's starting factors for the seed,
//! on the MovieLens-1M-shaped split of `bench_rec_large` (or `PROBE_TRAIN`/`PROBE_TEST`, files
//! of `user item rating` lines, such as MovieLens 100K's `ua.base`/`ua.test`). Dense ids are
//! given in the order ids first appear (Surprise's inner ids). Prints per seed:
//! - `ours`: `svd::fit`;
//! - `surprise_f64`: Surprise's loop in f64 in Surprise's order (users as they first appear,
//!   their ratings in input order): Surprise's own test RMSE;
//! - `orders_f32`: the same loop in f32, in the orders of [`Order`].
//!
//! `cargo run --release --example svd_order_probe -- SEED...`

#[path = "support/ratings_gen.rs"]
mod ratings_gen;
use rand::Rng as _;
use rand::seq::SliceRandom;
use ratings_gen::ML_1M;
use sqlml::models::Control;
use sqlml::models::recommender::factors::Factors;
use sqlml::models::recommender::init::NumpyNormal;
use sqlml::models::recommender::ratings::{Csr, Triple};
use sqlml::models::recommender::svd::{self, Fitted, SgdParams};
use sqlml::models::split::rng;
use std::collections::HashMap;
use std::ops::{Add, Mul, Sub};

/// The visiting orders compared.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Order {
    /// Surprise's: users as they first appear, ratings in input order, every epoch.
    Surprise,
    /// Users by raw id, ratings in input order (Surprise's order on a table stored user by user).
    UsersById,
    /// Users reshuffled and each user's ratings rotated every epoch (`svd::fit` before).
    Reshuffled,
    /// The most active users first, ratings by item (`svd::fit` now).
    MostActiveFirst,
    /// The most active users first, ratings in one seeded shuffle.
    MostActiveFirstShuffled,
    /// The least active users first, ratings by item.
    LeastActiveFirst,
}

/// The arithmetic the SGD loop needs, for f32 and f64.
trait Float: Copy + From<f32> + Into<f64> + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> {}
impl Float for f32 {}
impl Float for f64 {}

/// Surprise's SVD state in `T`.
struct Sgd<T> {
    k: usize,
    pu: Vec<T>,
    qi: Vec<T>,
    bu: Vec<T>,
    bi: Vec<T>,
    mu: T,
}

impl<T: Float> Sgd<T> {
    fn new(pu: &Factors, qi: &Factors, k: usize, mu: f64) -> Self {
        let flat =
            |m: &Factors| (0..m.rows()).flat_map(|r| m.row(r)[..k].iter().map(|&x| T::from(x))).collect();
        let zero = T::from(0.0);
        Sgd {
            k,
            pu: flat(pu),
            qi: flat(qi),
            bu: vec![zero; pu.rows()],
            bi: vec![zero; qi.rows()],
            mu: T::from(mu as f32),
        }
    }

    /// Surprise's `SVD.sgd` update for each rating of `users` in turn.
    fn epoch(&mut self, users: &[usize], lists: &[Vec<(usize, f32)>]) {
        let (k, lr, reg) = (self.k, T::from(0.005), T::from(0.02));
        for &u in users {
            for &(i, r) in &lists[u] {
                let mut dot = T::from(0.0);
                for f in 0..k {
                    dot = dot + self.qi[i * k + f] * self.pu[u * k + f];
                }
                let err = T::from(r) - (self.mu + self.bu[u] + self.bi[i] + dot);
                self.bu[u] = self.bu[u] + lr * (err - reg * self.bu[u]);
                self.bi[i] = self.bi[i] + lr * (err - reg * self.bi[i]);
                for f in 0..k {
                    let (pf, qf) = (self.pu[u * k + f], self.qi[i * k + f]);
                    self.pu[u * k + f] = pf + lr * (err * qf - reg * pf);
                    self.qi[i * k + f] = qf + lr * (err * pf - reg * qf);
                }
            }
        }
    }

    /// Surprise's estimate: μ plus whichever bias is known, plus q·p when both are.
    fn estimate(&self, u: Option<u32>, i: Option<u32>) -> f64 {
        let k = self.k;
        let mut e = self.mu.into();
        if let Some(u) = u {
            e += self.bu[u as usize].into();
        }
        if let Some(i) = i {
            e += self.bi[i as usize].into();
        }
        if let (Some(u), Some(i)) = (u, i) {
            e += (0..k)
                .map(|f| (self.qi[i as usize * k + f] * self.pu[u as usize * k + f]).into())
                .sum::<f64>();
        }
        e
    }
}

fn read(path: String) -> Vec<(i64, i64, f64)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect()
}

fn main() {
    let seeds: Vec<u64> = std::env::args().skip(1).map(|s| s.parse().unwrap()).collect();
    let (train, test) = match (std::env::var("PROBE_TRAIN"), std::env::var("PROBE_TEST")) {
        (Ok(a), Ok(b)) => (read(a), read(b)),
        _ => ratings_gen::split(&ratings_gen::generate(ML_1M, 1), 0.2, 42),
    };
    let (mut um, mut im) = (HashMap::new(), HashMap::new());
    let mut triples = Vec::new();
    for &(u, i, r) in &train {
        let n = um.len() as u32;
        let user = *um.entry(u).or_insert(n);
        let n = im.len() as u32;
        let item = *im.entry(i).or_insert(n);
        triples.push(Triple { user, item, value: r as f32 });
    }
    let (nu, ni) = (um.len(), im.len());
    let mu = train.iter().map(|t| t.2).sum::<f64>() / train.len() as f64;
    let p = SgdParams::default();
    let k = p.n_factors;
    let mut by_user: Vec<Vec<(usize, f32)>> = vec![Vec::new(); nu];
    for t in &triples {
        by_user[t.user as usize].push((t.item as usize, t.value));
    }
    let mut users_by_id: Vec<(i64, usize)> = um.iter().map(|(&raw, &d)| (raw, d as usize)).collect();
    users_by_id.sort_unstable();
    let users_by_id: Vec<usize> = users_by_id.into_iter().map(|p| p.1).collect();
    let rmse = |estimate: &dyn Fn(Option<u32>, Option<u32>) -> f64| {
        let se: f64 = test
            .iter()
            .map(|&(u, i, r)| {
                let e = estimate(um.get(&u).copied(), im.get(&i).copied()).clamp(1.0, 5.0);
                (e - r) * (e - r)
            })
            .sum();
        (se / test.len() as f64).sqrt()
    };
    for &seed in &seeds {
        let start = || {
            let mut normal = NumpyNormal::new(seed);
            let c = Control::new();
            let pu = normal.factors(&(0..nu as u32).collect::<Vec<_>>(), k, 0.0, 0.1, &c).unwrap();
            let qi = normal.factors(&(0..ni as u32).collect::<Vec<_>>(), k, 0.0, 0.1, &c).unwrap();
            (pu, qi)
        };
        let (pu, qi) = start();
        let m = Fitted {
            global_mean: mu as f32,
            user_bias: vec![0.0; nu],
            item_bias: vec![0.0; ni],
            user_factors: pu,
            item_factors: qi,
        };
        let fitted =
            svd::fit(&Csr::build(nu, &triples, false), m, &p, &Control::new(), |_, _, _| Ok(())).unwrap();
        let ours = rmse(&|u, i| {
            let (bu, bi) = (
                u.map_or(0.0, |u| fitted.user_bias[u as usize]),
                i.map_or(0.0, |i| fitted.item_bias[i as usize]),
            );
            match (u, i) {
                (Some(u), Some(i)) => f64::from(fitted.estimate(u as usize, i as usize)),
                _ => f64::from(fitted.global_mean + bu + bi),
            }
        });
        let surprise = {
            let (pu, qi) = start();
            let mut s = Sgd::<f64>::new(&pu, &qi, k, mu);
            let users: Vec<usize> = (0..nu).collect();
            for _ in 0..p.n_epochs {
                s.epoch(&users, &by_user);
            }
            rmse(&|u, i| s.estimate(u, i))
        };
        let run = |order: Order| {
            let (pu, qi) = start();
            let mut s = Sgd::<f32>::new(&pu, &qi, k, mu);
            let mut r = rng(seed ^ 0x5eed);
            let mut lists = by_user.clone();
            let mut users: Vec<usize> = match order {
                Order::Surprise | Order::Reshuffled => (0..nu).collect(),
                _ => users_by_id.clone(),
            };
            let by_count = |users: &mut Vec<usize>, most_first: bool| {
                users.sort_by_key(
                    |&u| if most_first { usize::MAX - by_user[u].len() } else { by_user[u].len() },
                )
            };
            match order {
                Order::MostActiveFirst | Order::LeastActiveFirst => {
                    by_count(&mut users, order == Order::MostActiveFirst);
                    lists.iter_mut().for_each(|l| l.sort_by_key(|x| x.0));
                }
                Order::MostActiveFirstShuffled => {
                    by_count(&mut users, true);
                    lists.iter_mut().for_each(|l| l.shuffle(&mut r));
                }
                Order::Reshuffled => lists.iter_mut().for_each(|l| l.shuffle(&mut r)),
                Order::Surprise | Order::UsersById => {}
            }
            for _ in 0..p.n_epochs {
                if order == Order::Reshuffled {
                    users.shuffle(&mut r);
                    for &u in &users {
                        let turn = r.random_range(0..lists[u].len().max(1));
                        lists[u].rotate_left(turn);
                    }
                }
                s.epoch(&users, &lists);
            }
            format!("{order:?} {:.5}", rmse(&|u, i| s.estimate(u, i)))
        };
        let orders: Vec<String> = [
            Order::Surprise,
            Order::UsersById,
            Order::Reshuffled,
            Order::MostActiveFirst,
            Order::MostActiveFirstShuffled,
            Order::LeastActiveFirst,
        ]
        .into_iter()
        .map(run)
        .collect();
        println!(
            "{}",
            serde_json::json!({"seed": seed, "ours": format!("{ours:.5}"), "surprise_f64": format!("{surprise:.5}"), "orders_f32": orders})
        );
    }
}
