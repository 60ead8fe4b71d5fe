//! The per-epoch validation (`val_loss` of the training log): the RMSE of a compact, user-major
//! sample of the held-out rows, scored after every SGD epoch.

use super::factors::{self, Factors};
use super::prepare::HeldOutRow;
use super::{metrics, parallel, svd};
use crate::Result;
use crate::models::control::Control;
use crate::models::memory;

/// The held-out rows scored after every epoch and the step between them ([`by_user_order`]).
pub(super) type ValRows = (Vec<(u32, u32, u32)>, usize);

/// At most this many held-out rows are scored after every epoch (the per-epoch `val_loss`):
/// every `step`-th row, `step = ⌈rows / VAL_ROWS⌉`. The report's metrics use every row.
///
/// `val_loss` follows the fit from epoch to epoch: the same rows every epoch, so its changes
/// are measured on the same sample; its level has a sampling error of about 0.5% of the RMSE
/// at 10,000 rows (MovieLens 100K, `seed` 42: the last epoch's 0.93838 over all 20,000
/// held-out rows, 0.93411 over every second one; the report's `rmse` is the former). With 20
/// epochs, scoring 20,000 rows after each cost as much as a seventh of the fit of a 10,000-item
/// catalogue (`bench_rec_large`); it was 200,000 rows.
pub const VAL_ROWS: usize = 10_000;

/// Every `step`-th held-out row (all of them up to [`VAL_ROWS`]) as (user, item, row index),
/// `u32::MAX` for an unknown id, sorted by user, then item: the order in which
/// [`Validation::rmse`] scores them, as SGD visits ratings (one user's factors stay in cache; a
/// compact copy read front to back). Also returns `step`.
pub(super) fn by_user_order(test: &[HeldOutRow]) -> Result<ValRows> {
    let step = test.len().div_ceil(VAL_ROWS).max(1);
    let rows = test.len().div_ceil(step);
    let mut order = memory::with_capacity::<(u32, u32, u32)>(rows, "the held-out rows' order")?;
    order.extend(
        test.iter()
            .enumerate()
            .step_by(step)
            .map(|(n, &(u, i, _))| (u.unwrap_or(u32::MAX), i.unwrap_or(u32::MAX), n as u32)),
    );
    order.sort_unstable();
    Ok((order, step))
}

/// Item factors larger than SGD's prefetch threshold ([`super::svd::PREFETCH_ABOVE_BYTES`])
/// are prefetched this many groups of four rows ahead by the per-epoch validation.
const VAL_PREFETCH_GROUPS: usize = 2;

/// The per-epoch validation of the SGD trainers: the RMSE of clipped estimates on held-out
/// rows after every epoch (the `val_loss`), scored on both cores in the order of
/// [`by_user_order`] (every `step`-th row) and summed in the rows' order.
pub(super) struct Validation<'a> {
    test: &'a [HeldOutRow],
    rows: ValRows,
    /// The scores in the rows' order, kept from epoch to epoch (a buffer made and freed every
    /// epoch costs its page faults every epoch: 160 KB at 10,000 scored rows).
    pairs: Vec<(f64, f64)>,
    /// Whether the model has biases (without, a row with an unknown id scores `mean`).
    biased: bool,
    mean: f32,
    /// Estimates are clipped to this.
    scale: (f64, f64),
}

impl<'a> Validation<'a> {
    /// The validation on `test` of a model `biased` or not, with mean rating `mean`, estimates
    /// clipped to `scale`.
    pub(super) fn new(test: &'a [HeldOutRow], biased: bool, mean: f32, scale: (f64, f64)) -> Result<Self> {
        Ok(Validation { test, rows: by_user_order(test)?, pairs: Vec::new(), biased, mean, scale })
    }

    /// The `val_loss` of `m` with user factors `user_factors` (SVD++ folds its implicit part
    /// into them); None without held-out rows.
    pub(super) fn rmse(
        &mut self,
        m: &svd::Fitted,
        user_factors: &Factors,
        control: &Control<'_>,
    ) -> Result<Option<f64>> {
        let Validation { test, rows: (order, step), pairs, biased, mean, scale } = self;
        let (test, biased, mean, scale) = (*test, *biased, *mean, *scale);
        if test.is_empty() {
            return Ok(None);
        }
        let step = *step;
        let work = user_factors.stride as u64;
        let known = |x: u32| (x != u32::MAX).then_some(x as usize);
        let zero = vec![0f32; user_factors.stride];
        let prefetch_items =
            std::mem::size_of_val(&m.item_factors.data[..]) > super::svd::PREFETCH_ABOVE_BYTES;
        // Four rows at a time: their dot products overlap ([`factors::dots4`], the bits of `dot`).
        let groups = parallel::map(
            order.len().div_ceil(4),
            4 * work,
            control,
            "the held-out scores",
            #[inline(always)]
            |g| {
                let rows: [(u32, u32, u32); 4] =
                    std::array::from_fn(|j| order.get(4 * g + j).copied().unwrap_or((u32::MAX, u32::MAX, 0)));
                let pair = |j: usize| match (known(rows[j].0), known(rows[j].1)) {
                    (Some(u), Some(i)) => (user_factors.row(u), m.item_factors.row(i)),
                    _ => (&zero[..], &zero[..]),
                };
                // The item rows of the group after next, asked for now: rows are sorted by user,
                // so the user's factors stay in cache but the items' come from memory once the
                // item factors outgrow the cache (a hint: no effect on the values).
                if prefetch_items {
                    for &(_, i, _) in order.iter().skip(4 * (g + VAL_PREFETCH_GROUPS)).take(4) {
                        if let Some(i) = known(i) {
                            factors::prefetch(m.item_factors.row(i));
                        }
                    }
                }
                let pairs: [(&[f32], &[f32]); 4] = std::array::from_fn(pair);
                let dots = factors::dots4(pairs.map(|p| p.0), pairs.map(|p| p.1));
                std::array::from_fn::<f64, 4, _>(|j| {
                    let e = match (known(rows[j].0), known(rows[j].1)) {
                        (Some(u), Some(i)) => m.global_mean + m.user_bias[u] + m.item_bias[i] + dots[j],
                        _ if !biased => mean,
                        (u, i) => {
                            m.global_mean
                                + u.map_or(0.0, |u| m.user_bias[u])
                                + i.map_or(0.0, |i| m.item_bias[i])
                        }
                    };
                    f64::from(e).clamp(scale.0, scale.1)
                })
            },
        )?;
        let scored = groups.into_iter().flatten();
        pairs.clear();
        memory::reserve(pairs, order.len(), "the held-out scores")?;
        pairs.resize(order.len(), (0.0, 0.0));
        for (&(_, _, n), e) in order.iter().zip(scored) {
            pairs[n as usize / step] = (e, f64::from(test[n as usize].2));
        }
        Ok(Some(metrics::rmse(pairs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::split::rng;

    /// With item factors large enough to be prefetched (6,000 items of 100 factors: 2.5 MB),
    /// the per-epoch RMSE is that of every `step`-th row's estimate one at a time, in the rows'
    /// order (unknown users and items included), bit for bit.
    #[test]
    fn prefetching_validation_scores_as_one_row_at_a_time() {
        let (n_users, n_items, k) = (300usize, 6_000usize, 100);
        let m = svd::Fitted {
            global_mean: 3.5,
            user_bias: (0..n_users).map(|u| (u % 13) as f32 * 0.01 - 0.05).collect(),
            item_bias: (0..n_items).map(|i| (i % 17) as f32 * 0.02 - 0.1).collect(),
            user_factors: Factors::normal(n_users, k, 0.0, 0.3, &mut rng(1)),
            item_factors: Factors::normal(n_items, k, 0.0, 0.3, &mut rng(2)),
        };
        assert!(std::mem::size_of_val(&m.item_factors.data[..]) > super::svd::PREFETCH_ABOVE_BYTES);
        let test: Vec<(Option<u32>, Option<u32>, f32)> = (0..20_003u32)
            .map(|n| {
                let u = (n.wrapping_mul(2_654_435_761) % 311) as usize;
                let i = (n.wrapping_mul(40_503) % 6_007) as usize;
                ((u < n_users).then_some(u as u32), (i < n_items).then_some(i as u32), (n % 5 + 1) as f32)
            })
            .collect();
        let scale = (1.0, 5.0);
        let step = by_user_order(&test).unwrap().1;
        assert_eq!(step, 3, "every third row of 20,003");
        let mut validation = Validation::new(&test, true, 3.5, scale).unwrap();
        for biased in [true, false] {
            // The same validation for both: what the first call left in its buffer does not
            // matter.
            validation.biased = biased;
            let got = validation.rmse(&m, &m.user_factors, &Control::new()).unwrap().unwrap();
            let pairs: Vec<(f64, f64)> = test
                .iter()
                .step_by(step)
                .map(|&(u, i, r)| {
                    let e = match (u, i) {
                        (Some(u), Some(i)) => m.estimate(u as usize, i as usize),
                        _ if !biased => 3.5,
                        (u, i) => {
                            m.global_mean
                                + u.map_or(0.0, |u| m.user_bias[u as usize])
                                + i.map_or(0.0, |i| m.item_bias[i as usize])
                        }
                    };
                    (f64::from(e).clamp(scale.0, scale.1), f64::from(r))
                })
                .collect();
            assert_eq!(got.to_bits(), metrics::rmse(&pairs).to_bits(), "biased {biased}");
        }
    }
}
