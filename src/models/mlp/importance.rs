//! Permutation importance per original column on held-out rows.
//!
//! For each column, its encoded inputs are shuffled across the rows (keeping the rest fixed) and
//! the drop in accuracy and rise in log-loss are averaged over a few seeded repeats. Columns
//! the model relies on lose the most.

use super::features::Encoder;
use super::network::{Network, Workspace};
use super::trainer::loss_and_accuracy;
use crate::models::split::rng;
use rand::seq::SliceRandom;

/// Repeats per column.
pub const REPEATS: usize = 3;
/// Rows used at most (the first ones of the held-out split).
pub const MAX_ROWS: usize = 5_000;

/// Importance of one original column.
#[derive(Clone, Debug, PartialEq)]
pub struct Importance {
    /// The column.
    pub column: String,
    /// Mean drop in accuracy when the column is shuffled.
    pub accuracy_drop: f64,
    /// Mean increase in log-loss when the column is shuffled.
    pub log_loss_increase: f64,
}

/// Permutation importance of every feature of `enc` on encoded rows `x` with labels `y`,
/// sorted from most to least important (by log-loss increase, which separates columns even
/// when accuracy barely moves on imbalanced data).
pub fn permutation_importance(
    net: &Network,
    enc: &Encoder,
    x: &[f32],
    y: &[u32],
    seed: u64,
) -> Vec<Importance> {
    let d = enc.width;
    let n = y.len().min(MAX_ROWS);
    if n == 0 {
        return Vec::new();
    }
    let (x, y) = (&x[..n * d], &y[..n]);
    let mut ws = Workspace::new(net, 256);
    let (base_loss, base_acc) = loss_and_accuracy(&mut ws, net, x, y, d);
    let mut shuffled = x.to_vec();
    let mut perm: Vec<usize> = (0..n).collect();
    let mut r = rng(seed ^ 0x6d6c_7000_0000_0003);
    let mut out: Vec<Importance> = enc
        .features
        .iter()
        .map(|f| {
            let slots = f.offset..f.offset + f.width();
            let (mut acc_drop, mut loss_rise) = (0.0, 0.0);
            for _ in 0..REPEATS {
                perm.shuffle(&mut r);
                for (row, &src) in perm.iter().enumerate() {
                    let (to, from) = (row * d, src * d);
                    shuffled[to + slots.start..to + slots.end]
                        .copy_from_slice(&x[from + slots.start..from + slots.end]);
                }
                let (loss, acc) = loss_and_accuracy(&mut ws, net, &shuffled, y, d);
                acc_drop += base_acc - acc;
                loss_rise += loss - base_loss;
            }
            for row in 0..n {
                let at = row * d;
                shuffled[at + slots.start..at + slots.end]
                    .copy_from_slice(&x[at + slots.start..at + slots.end]);
            }
            Importance {
                column: f.name.clone(),
                accuracy_drop: acc_drop / REPEATS as f64,
                log_loss_increase: loss_rise / REPEATS as f64,
            }
        })
        .collect();
    out.sort_by(|a, b| b.log_loss_increase.total_cmp(&a.log_loss_increase));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::data::{Column, ColumnData, Dataset};
    use crate::models::mlp::features::Selection;
    use crate::models::mlp::trainer::{Config, fit};

    #[test]
    fn the_informative_column_ranks_first() {
        // y depends on `signal` only; `noise` is unrelated.
        let n = 400;
        let signal: Vec<Option<f64>> = (0..n).map(|i| Some(((i * 37) % 100) as f64)).collect();
        let noise: Vec<Option<f64>> = (0..n).map(|i| Some(((i * 53) % 17) as f64)).collect();
        let y: Vec<Option<i64>> = signal.iter().map(|s| Some(i64::from(s.unwrap() >= 50.0))).collect();
        let d = Dataset::new(vec![
            Column { name: "noise".into(), data: ColumnData::Real(noise) },
            Column { name: "signal".into(), data: ColumnData::Real(signal) },
            Column { name: "y".into(), data: ColumnData::Integer(y.clone()) },
        ]);
        let rows: Vec<usize> = (0..n).collect();
        let enc =
            Encoder::fit(&d, 2, &rows, &Selection { max_categories: 50, ..Selection::default() }).unwrap();
        let x = enc.encode_dataset(&d, &rows).unwrap();
        let labels: Vec<u32> = y.iter().map(|v| v.unwrap() as u32).collect();
        let cfg = Config {
            hidden: vec![8],
            learning_rate: 0.01,
            batch_size: 16,
            epochs: 30,
            l2: 0.0,
            dropout: 0.0,
            balanced: false,
            validation_split: 0.0,
            patience: None,
            shuffle: true,
            seed: 1,
        };
        let net = fit(&x, enc.width, &labels, 2, &cfg, None).net;
        let imp = permutation_importance(&net, &enc, &x, &labels, 1);
        assert_eq!(imp[0].column, "signal");
        assert!(imp[0].accuracy_drop > 0.3, "{imp:?}");
        assert!(imp[1].accuracy_drop.abs() < 0.05, "{imp:?}");
    }
}
