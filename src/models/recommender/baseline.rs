//! Bias-only baselines: the reference point a factorisation must beat, and the popularity
//! order used for users the model has never seen.

use super::ratings::Csr;
use crate::Result;
use crate::models::control::Control;

/// Surprise's `BaselineOnly` with its default ALS options (10 epochs, reg_i 10, reg_u 15):
/// returns (b_u, b_i) for `r̂ = μ + b_u + b_i`.
///
/// The item pass reads the by-user rows too: each item's deviations are added in the order of
/// its by-item row (users ascending, a user's duplicates in input order), so `b_i` has the same
/// bits as over the transposed rows, without a by-item copy of every rating (64 MB at 8M).
/// Ticks `control` per row (ten passes over millions of ratings take seconds).
pub fn baseline_als(
    by_user: &Csr,
    n_items: usize,
    mean: f64,
    control: &Control<'_>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (reg_u, reg_i) = (15.0, 10.0);
    let mut bu = vec![0.0; by_user.rows()];
    let mut bi = vec![0.0; n_items];
    let mut counts = vec![0usize; n_items];
    for &i in &by_user.cols {
        counts[i as usize] += 1;
    }
    let mut dev = vec![0.0f64; n_items];
    for _ in 0..10 {
        // −0.0, the start of `Iterator::sum` for floats: an item without ratings keeps its bits.
        dev.fill(-0.0);
        for (u, &b_u) in bu.iter().enumerate() {
            let (items, ratings) = by_user.row(u);
            control.tick(items.len() as u64 + 1)?;
            for (&i, &r) in items.iter().zip(ratings) {
                dev[i as usize] += f64::from(r) - mean - b_u;
            }
        }
        for ((b, &d), &n) in bi.iter_mut().zip(&dev).zip(&counts) {
            *b = d / (reg_i + n as f64);
        }
        for (u, b) in bu.iter_mut().enumerate() {
            let (items, ratings) = by_user.row(u);
            control.tick(items.len() as u64 + 1)?;
            let dev: f64 =
                items.iter().zip(ratings).map(|(&i, &r)| f64::from(r) - mean - bi[i as usize]).sum();
            *b = dev / (reg_u + items.len() as f64);
        }
    }
    Ok((bu, bi))
}

/// Prior weight of the damped mean, in ratings: an item needs about this many ratings before
/// its own average outweighs the global mean.
pub const DAMPING: f64 = 10.0;

/// Popularity score of every item. Explicit ratings: the damped (Bayesian) mean
/// `(Σ r + DAMPING·μ) / (n + DAMPING)`, which ranks well-rated items with many ratings above
/// items with one perfect rating. Implicit feedback: the total interaction weight.
///
/// Read from the by-user rows: each item's ratings are added in the order of its by-item row
/// (users ascending, a user's duplicates in input order), so the sums are the same bits as
/// over `Csr::build(n_items, .., true)`, without building it.
pub fn popularity(by_user: &Csr, n_items: usize, mean: f64, implicit: bool) -> Vec<f32> {
    // −0.0, the start of `Iterator::sum` for floats, so that an empty sum has the same bits.
    let mut sums = vec![-0.0f64; n_items];
    let mut counts = vec![0usize; n_items];
    for (&i, &v) in by_user.cols.iter().zip(&by_user.values) {
        sums[i as usize] += f64::from(v);
        counts[i as usize] += 1;
    }
    sums.iter()
        .zip(&counts)
        .map(
            |(&sum, &n)| {
                if implicit { sum as f32 } else { ((sum + DAMPING * mean) / (n as f64 + DAMPING)) as f32 }
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::ratings::Triple;
    use super::*;

    #[test]
    fn damped_mean_prefers_many_good_ratings_over_one_perfect() {
        let t = |user, item, value| Triple { user, item, value };
        let mut triples = vec![t(0, 0, 5.0)];
        triples.extend((0..30).map(|u| t(u, 1, 4.5)));
        let by_user = Csr::build(30, &triples, false);
        let pop = popularity(&by_user, 2, 3.0, false);
        assert!(pop[1] > pop[0], "{pop:?}");
        assert!((pop[0] - (5.0 + 30.0) / 11.0).abs() < 1e-6);
        assert_eq!(popularity(&by_user, 2, 3.0, true), vec![5.0, 135.0]);
    }

    #[test]
    fn popularity_from_users_has_the_bits_of_the_by_item_sums() {
        let t = |user, item, value| Triple { user, item, value };
        let triples: Vec<Triple> =
            (0..500u32).map(|k| t((k * 7) % 23, (k * 13) % 17, 1.0 + (k % 9) as f32 * 0.37)).collect();
        let by_item = Csr::build(19, &triples, true);
        for implicit in [false, true] {
            let want: Vec<f32> = (0..19)
                .map(|i| {
                    let values = by_item.row(i).1;
                    let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
                    if implicit {
                        sum as f32
                    } else {
                        ((sum + DAMPING * 3.3) / (values.len() as f64 + DAMPING)) as f32
                    }
                })
                .collect();
            let got = popularity(&Csr::build(23, &triples, false), 19, 3.3, implicit);
            assert_eq!(
                got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn baseline_shrinks_toward_the_mean() {
        let t = |user, item, value| Triple { user, item, value };
        let triples = [t(0, 0, 5.0), t(1, 0, 5.0), t(0, 1, 1.0)];
        let (bu, bi) = baseline_als(&Csr::build(2, &triples, false), 2, 3.0, &Control::new()).unwrap();
        assert!(bi[0] > 0.0 && bi[0] < 2.0 && bi[1] < 0.0);
        assert_eq!(bu.len(), 2);
    }

    /// The baseline as it was computed before: the item pass over a by-item copy of the rows.
    fn baseline_by_item(by_user: &Csr, by_item: &Csr, mean: f64) -> (Vec<f64>, Vec<f64>) {
        let (reg_u, reg_i) = (15.0, 10.0);
        let mut bu = vec![0.0; by_user.rows()];
        let mut bi = vec![0.0; by_item.rows()];
        for _ in 0..10 {
            for (i, b) in bi.iter_mut().enumerate() {
                let (users, ratings) = by_item.row(i);
                let dev: f64 =
                    users.iter().zip(ratings).map(|(&u, &r)| f64::from(r) - mean - bu[u as usize]).sum();
                *b = dev / (reg_i + users.len() as f64);
            }
            for (u, b) in bu.iter_mut().enumerate() {
                let (items, ratings) = by_user.row(u);
                let dev: f64 =
                    items.iter().zip(ratings).map(|(&i, &r)| f64::from(r) - mean - bi[i as usize]).sum();
                *b = dev / (reg_u + items.len() as f64);
            }
        }
        (bu, bi)
    }

    /// Same bits as over the transposed rows: duplicates, items without ratings, users out of
    /// order in the input.
    #[test]
    fn baseline_from_the_by_user_rows_has_the_bits_of_the_by_item_pass() {
        let triples: Vec<Triple> = (0..20_000u32)
            .map(|n| Triple {
                user: (n * 7919) % 613,
                item: (n * 104_729) % 331 / 2 * 2, // odd items have no rating
                value: ((n * 31) % 9) as f32 * 0.5 + 0.5,
            })
            .collect();
        let by_user = Csr::build(613, &triples, false);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let (bu, bi) = baseline_als(&by_user, 331, 2.7, &Control::new()).unwrap();
        let (want_u, want_i) = baseline_by_item(&by_user, &by_user.transpose(331).unwrap(), 2.7);
        assert_eq!(bits(&bu), bits(&want_u));
        assert_eq!(bits(&bi), bits(&want_i));
    }

    /// The ten passes run the interrupt check: a failing check stops them with its error.
    #[test]
    fn baseline_is_interruptible() {
        let triples: Vec<Triple> =
            (0..100_000u32).map(|n| Triple { user: n % 997, item: n % 101, value: (n % 5) as f32 }).collect();
        let by_user = Csr::build(997, &triples, false);
        assert!(baseline_als(&by_user, 101, 2.0, &Control::new()).is_ok());
        let check = || Err(crate::Error::data("interrupted"));
        let control = Control::new().with_check(&check);
        std::thread::sleep(crate::models::control::CHECK_EVERY);
        let e = baseline_als(&by_user, 101, 2.0, &control).unwrap_err();
        assert_eq!(e.to_string(), "interrupted");
    }
}
