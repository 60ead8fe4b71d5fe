//! The per-epoch validation (`val_loss` of the training log): the RMSE of a compact, user-major
//! sample of the held-out rows, scored after every SGD epoch.

use super::factors::{self, Factors};
use super::{metrics, parallel, svd};
use crate::Result;
use crate::models::control::Control;
use crate::models::memory;

/// The held-out rows scored after every epoch and the step between them ([`by_user_order`]).
pub(super) type ValRows = (Vec<(u32, u32, u32)>, usize);

/// At most this many held-out rows are scored after every epoch (the per-epoch `val_loss`):
/// every `step`-th row, `step = ⌈rows / VAL_ROWS⌉`. The report's metrics use every row.
pub const VAL_ROWS: usize = 200_000;

/// Every `step`-th held-out row (all of them up to [`VAL_ROWS`]) as (user, item, row index),
/// `u32::MAX` for an unknown id, sorted by user, then item: the order in which
/// [`epoch_val_rmse`] scores them, as SGD visits ratings (one user's factors stay in cache; a
/// compact copy read front to back). Also returns `step`.
pub(super) fn by_user_order(test: &[(Option<u32>, Option<u32>, f32)]) -> Result<ValRows> {
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

/// RMSE of clipped estimates on held-out rows during training (the per-epoch `val_loss`),
/// scored on both cores in `order` ([`by_user_order`]: every `step`-th row) and summed in the
/// rows' order.
#[allow(clippy::too_many_arguments)]
pub(super) fn epoch_val_rmse(
    test: &[(Option<u32>, Option<u32>, f32)],
    (order, step): &ValRows,
    m: &svd::Fitted,
    user_factors: &Factors,
    biased: bool,
    mean: f32,
    scale: (f64, f64),
    control: &Control<'_>,
) -> Result<Option<f64>> {
    if test.is_empty() {
        return Ok(None);
    }
    let step = *step;
    let work = user_factors.stride as u64;
    let known = |x: u32| (x != u32::MAX).then_some(x as usize);
    let zero = vec![0f32; user_factors.stride];
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
            let pairs: [(&[f32], &[f32]); 4] = std::array::from_fn(pair);
            let dots = factors::dots4(pairs.map(|p| p.0), pairs.map(|p| p.1));
            std::array::from_fn::<f64, 4, _>(|j| {
                let e = match (known(rows[j].0), known(rows[j].1)) {
                    (Some(u), Some(i)) => m.global_mean + m.user_bias[u] + m.item_bias[i] + dots[j],
                    _ if !biased => mean,
                    (u, i) => {
                        m.global_mean + u.map_or(0.0, |u| m.user_bias[u]) + i.map_or(0.0, |i| m.item_bias[i])
                    }
                };
                f64::from(e).clamp(scale.0, scale.1)
            })
        },
    )?;
    let scored = groups.into_iter().flatten();
    let mut pairs = memory::with_capacity::<(f64, f64)>(order.len(), "the held-out scores")?;
    pairs.resize(order.len(), (0.0, 0.0));
    for (&(_, _, n), e) in order.iter().zip(scored) {
        pairs[n as usize / step] = (e, f64::from(test[n as usize].2));
    }
    Ok(Some(metrics::rmse(&pairs)))
}
