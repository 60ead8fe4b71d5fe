//! Implicit-feedback ALS (Hu, Koren, Volinsky 2008, "Collaborative Filtering for Implicit
//! Feedback Datasets").
//!
//! Every (user, item) cell has a preference `p = 1` if the user interacted with the item
//! (weight `r > 0`) and 0 otherwise, and a confidence `c = 1 + alpha·r`. ALS minimises
//! `Σ_all c (p − x_uᵀ y_i)² + λ (Σ|x_u|² + Σ|y_i|²)` by solving, in turn, for every user
//!
//! ```text
//! (YᵀY + Yᵀ(C_u − I)Y + λI) x_u = Yᵀ C_u p_u
//! ```
//!
//! and the same for items. `YᵀY` is computed once per half-iteration, so a user costs only its
//! own interactions. The k×k system is solved approximately by a few conjugate-gradient steps
//! warm-started from the previous solution (Takács, Pilászy, Tikk 2011; what the `implicit`
//! library does), which converges to the exact ALS solution over the iterations at a fraction
//! of the cost of a Cholesky factorisation per user.

use super::factors::{Factors, dot};
use super::ratings::Csr;
use crate::Result;
use crate::models::control::Control;
use rand_chacha::ChaCha8Rng;

/// Hyperparameters of implicit ALS (names and defaults of the `implicit` library).
#[derive(Clone, Debug, PartialEq)]
pub struct AlsParams {
    /// Number of latent factors.
    pub factors: usize,
    /// Alternations (users then items).
    pub iterations: usize,
    /// λ.
    pub regularization: f32,
    /// Confidence scale: `c = 1 + alpha·weight`.
    pub alpha: f32,
    /// Conjugate-gradient steps per solve.
    pub cg_steps: usize,
}

/// Trains on the interactions, given grouped by user and by item (values = weights > 0).
/// `on_iteration(iteration, loss, user_factors, item_factors)` runs after every iteration with
/// the training loss normalised as the `implicit` library reports it. An error from
/// `on_iteration` (a diverged loss) or from `control` (ticked after every user and item, and
/// every row of the Gram matrices) ends the training.
pub fn fit(
    by_user: &Csr,
    by_item: &Csr,
    p: &AlsParams,
    rng: &mut ChaCha8Rng,
    control: &Control<'_>,
    mut on_iteration: impl FnMut(usize, f64, &Factors, &Factors) -> Result<()>,
) -> Result<(Factors, Factors)> {
    let mut users = Factors::normal(by_user.rows(), p.factors, 0.0, 0.01, rng);
    let mut items = Factors::normal(by_item.rows(), p.factors, 0.0, 0.01, rng);
    for iteration in 0..p.iterations {
        solve_side(&mut users, &items, by_user, p, control)?;
        solve_side(&mut items, &users, by_item, p, control)?;
        let loss = loss(&users, &items, by_user, p, control)?;
        on_iteration(iteration, loss, &users, &items)?;
    }
    Ok((users, items))
}

/// `YᵀY` as a padded `stride × stride` matrix (row-major), accumulated in f64.
fn gram(y: &Factors, control: &Control<'_>) -> Result<Vec<f32>> {
    let s = y.stride;
    let mut g = vec![0f64; s * s];
    let row_work = (y.k * y.k) as u64;
    for r in 0..y.rows() {
        control.tick(row_work)?;
        let row = y.row(r);
        for a in 0..y.k {
            let ra = f64::from(row[a]);
            if ra == 0.0 {
                continue;
            }
            for b in 0..y.k {
                g[a * s + b] += ra * f64::from(row[b]);
            }
        }
    }
    Ok(g.into_iter().map(|x| x as f32).collect())
}

/// Updates every row of `x` given the fixed other side `y`.
fn solve_side(x: &mut Factors, y: &Factors, rows: &Csr, p: &AlsParams, control: &Control<'_>) -> Result<()> {
    let s = x.stride;
    let g = gram(y, control)?;
    let mut r = vec![0f32; s];
    let mut d = vec![0f32; s];
    let mut ad = vec![0f32; s];
    for u in 0..rows.rows() {
        let (cols, weights) = rows.row(u);
        control.tick(((cols.len() + s) * s * (p.cg_steps + 1)) as u64)?;
        let xu = x.row_mut(u);
        // r = b − A x, with b = Σ c y and A v = (G + λI) v + Σ (c − 1)(yᵀv) y.
        apply_gram(&g, xu, p.regularization, &mut r);
        r.iter_mut().for_each(|v| *v = -*v);
        for (&i, &w) in cols.iter().zip(weights) {
            let yi = y.row(i as usize);
            let c = 1.0 + p.alpha * w;
            let coef = c - (c - 1.0) * dot(yi, xu);
            super::factors::axpy(coef, yi, &mut r);
        }
        d.copy_from_slice(&r);
        let mut rs_old = dot(&r, &r);
        for _ in 0..p.cg_steps {
            if rs_old < 1e-20 {
                break;
            }
            apply_gram(&g, &d, p.regularization, &mut ad);
            for (&i, &w) in cols.iter().zip(weights) {
                let yi = y.row(i as usize);
                let coef = p.alpha * w * dot(yi, &d);
                super::factors::axpy(coef, yi, &mut ad);
            }
            let step = rs_old / dot(&d, &ad);
            super::factors::axpy(step, &d, xu);
            super::factors::axpy(-step, &ad, &mut r);
            let rs_new = dot(&r, &r);
            let beta = rs_new / rs_old;
            for (dv, rv) in d.iter_mut().zip(&r) {
                *dv = rv + beta * *dv;
            }
            rs_old = rs_new;
        }
    }
    Ok(())
}

/// `out = (G + λI) v`.
fn apply_gram(g: &[f32], v: &[f32], lambda: f32, out: &mut [f32]) {
    let s = v.len();
    for (a, o) in out.iter_mut().enumerate() {
        *o = dot(&g[a * s..(a + 1) * s], v) + lambda * v[a];
    }
}

/// The objective over all cells, divided by the total confidence (as `implicit` reports it):
/// `Σ_u [x_uᵀ G x_u + Σ_obs (c (1 − s)² − s²)] + λ(|X|² + |Y|²)`, with `s = x_uᵀ y_i`.
fn loss(
    users: &Factors,
    items: &Factors,
    by_user: &Csr,
    p: &AlsParams,
    control: &Control<'_>,
) -> Result<f64> {
    let g = gram(items, control)?;
    let mut gx = vec![0f32; users.stride];
    let mut total = 0.0f64;
    let mut confidence = 0.0f64;
    for u in 0..by_user.rows() {
        let xu = users.row(u);
        control.tick(((by_user.row_len(u) + users.stride) * users.stride) as u64)?;
        apply_gram(&g, xu, 0.0, &mut gx);
        total += f64::from(dot(xu, &gx));
        let (cols, weights) = by_user.row(u);
        for (&i, &w) in cols.iter().zip(weights) {
            let s = f64::from(dot(xu, items.row(i as usize)));
            let c = 1.0 + f64::from(p.alpha * w);
            total += c * (1.0 - s) * (1.0 - s) - s * s;
            confidence += c - 1.0;
        }
    }
    let reg = f64::from(dot(&users.data, &users.data) + dot(&items.data, &items.data));
    total += f64::from(p.regularization) * reg;
    let cells = (by_user.rows() * items.rows()) as f64;
    Ok(total / (confidence + cells).max(1.0))
}

#[cfg(test)]
mod tests {
    use super::super::ratings::Triple;
    use super::*;
    use crate::models::split::rng;

    #[test]
    fn cg_solves_the_normal_equations() {
        // One user, three items; with many CG steps the solution must satisfy the system.
        let mut r = rng(1);
        let y = Factors::normal(3, 3, 0.0, 1.0, &mut r);
        let t = |item, value| Triple { user: 0, item, value };
        let by_user = Csr::build(1, &[t(0, 2.0), t(2, 1.0)], false);
        let p = AlsParams { factors: 3, iterations: 1, regularization: 0.1, alpha: 1.5, cg_steps: 3 };
        let mut x = Factors::zeros(1, 3);
        solve_side(&mut x, &y, &by_user, &p, &Control::new()).unwrap();
        // Check (G + λI + Σ(c−1) y yᵀ) x = Σ c y.
        let g = gram(&y, &Control::new()).unwrap();
        let mut lhs = vec![0f32; 8];
        apply_gram(&g, x.row(0), 0.1, &mut lhs);
        let mut rhs = vec![0f32; 8];
        for (i, w) in [(0usize, 2.0f32), (2, 1.0)] {
            let c = 1.0 + 1.5 * w;
            super::super::factors::axpy((c - 1.0) * dot(y.row(i), x.row(0)), y.row(i), &mut lhs);
            super::super::factors::axpy(c, y.row(i), &mut rhs);
        }
        for k in 0..3 {
            assert!((lhs[k] - rhs[k]).abs() < 1e-3, "{lhs:?} vs {rhs:?}");
        }
    }

    #[test]
    fn loss_decreases() {
        // Two groups of users who each consume one group of items.
        let mut triples = Vec::new();
        for u in 0..20u32 {
            for i in 0..10u32 {
                if (u < 10) == (i < 5) && (u + i) % 4 != 0 {
                    triples.push(Triple { user: u, item: i, value: 1.0 });
                }
            }
        }
        let (bu, bi) = (Csr::build(20, &triples, false), Csr::build(10, &triples, true));
        let p = AlsParams { factors: 4, iterations: 8, regularization: 0.01, alpha: 5.0, cg_steps: 3 };
        let mut losses = Vec::new();
        let (x, y) = fit(&bu, &bi, &p, &mut rng(2), &Control::new(), |_, l, _, _| {
            losses.push(l);
            Ok(())
        })
        .unwrap();
        assert!(losses[7] < losses[0], "{losses:?}");
        // A held-out cell in the user's own group outranks the other group's items.
        let score = |u: usize, i: usize| dot(x.row(u), y.row(i));
        assert!(
            score(0, 4) > score(0, 7) && score(0, 4) > score(0, 9),
            "user 0: own-group item 4 must rank first"
        );
    }
}
