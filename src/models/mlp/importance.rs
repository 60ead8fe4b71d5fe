//! Permutation importance per original column on held-out rows.
//!
//! For each column, its encoded inputs are shuffled across the rows (keeping the rest fixed) and
//! the drop in accuracy and rise in log-loss are averaged over a few seeded repeats. Columns
//! the model relies on lose the most.
//!
//! Shuffling one column changes few inputs, so the passes are incremental: the first layer's
//! pre-activations of every row are computed once, and a shuffled row only adds
//! `W₁[slot, :] · (x'[slot] − x[slot])` for its changed slots before running the remaining
//! layers. Rows whose slots did not change (the same category drawn again, common for binary
//! columns) keep their unshuffled loss and are not run at all.

use super::features::Encoder;
use super::kernels;
use super::network::{Network, Workspace, softmax};
use crate::Result;
use crate::models::control::Control;
use crate::models::split::rng;
use ndarray::ArrayView2;
use rand::seq::SliceRandom;

/// Repeats per column.
pub const REPEATS: usize = 3;
/// Rows used at most (the first ones of the held-out split).
pub const MAX_ROWS: usize = 5_000;
/// Rows per batched pass.
const CHUNK: usize = 256;

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

/// Runs batches of first-layer pre-activations through the rest of the network.
struct Tail<'n> {
    net: &'n Network,
    ws: Workspace,
    /// Pre-activations of the first layer, `CHUNK × width`.
    batch: Vec<f32>,
    /// Original row of each batch row.
    rows: Vec<usize>,
}

impl Tail<'_> {
    fn width(&self) -> usize {
        self.net.sizes()[1]
    }

    /// Room for the next row's pre-activations (flushing first if the batch is full).
    fn next_row(&mut self, y: &[u32], on: &mut impl FnMut(usize, f64, bool)) -> &mut [f32] {
        if self.rows.len() == CHUNK {
            self.flush(y, on);
        }
        let h = self.width();
        let at = self.rows.len() * h;
        &mut self.batch[at..at + h]
    }

    /// Calls `on(row, loss, correct)` for every pending row and empties the batch.
    fn flush(&mut self, y: &[u32], on: &mut impl FnMut(usize, f64, bool)) {
        let b = self.rows.len();
        if b == 0 {
            return;
        }
        let h = self.width();
        let batch = &mut self.batch[..b * h];
        let mut outcome = |row: usize, scores: &mut [f32]| {
            softmax(scores);
            let t = y[row] as usize;
            let loss = -f64::from(scores[t]).max(1e-15).ln();
            let best =
                scores.iter().enumerate().fold(0, |best, (i, &p)| if p > scores[best] { i } else { best });
            on(row, loss, best == t);
        };
        if self.net.layers() == 1 {
            for (&row, scores) in self.rows.iter().zip(batch.chunks_exact_mut(h)) {
                outcome(row, scores);
            }
        } else {
            batch.iter_mut().for_each(|v| *v = v.max(0.0));
            let view = ArrayView2::from_shape((b, h), &*batch).expect("rows × width");
            let mut scores = self.ws.forward_from::<rand_chacha::ChaCha8Rng>(self.net, 1, view, None);
            for (&row, mut s) in self.rows.iter().zip(scores.rows_mut()) {
                outcome(row, s.as_slice_mut().expect("contiguous"));
            }
        }
        self.rows.clear();
    }
}

/// Permutation importance of every feature of `enc` on encoded rows `x` with labels `y`,
/// sorted from most to least important (by log-loss increase, which separates columns even
/// when accuracy barely moves on imbalanced data). `control` is ticked as rows are run.
pub fn permutation_importance(
    net: &Network,
    enc: &Encoder,
    x: &[f32],
    y: &[u32],
    seed: u64,
    control: &Control<'_>,
) -> Result<Vec<Importance>> {
    let d = enc.width;
    let n = y.len().min(MAX_ROWS);
    if n == 0 {
        return Ok(Vec::new());
    }
    let (x, y) = (&x[..n * d], &y[..n]);
    let h = net.sizes()[1];
    let w0 = net.weight(0);
    let w0 = w0.as_slice().expect("standard layout");
    let row_work = net.params().len() as u64;
    let mut pre = vec![0f32; n * h];
    // Rows are independent: chunks of rows give the same bits as one pass.
    for (xs, out) in x.chunks(CHUNK * d).zip(pre.chunks_mut(CHUNK * h)) {
        kernels::forward(xs, w0, net.bias(0), out, d, h, false);
        control.tick((xs.len() / d.max(1)) as u64 * row_work)?;
    }

    let mut tail =
        Tail { net, ws: Workspace::new(net, CHUNK), batch: vec![0.0; CHUNK * h], rows: Vec::new() };
    tail.rows.reserve(CHUNK);
    let mut base_loss = vec![0f64; n];
    let mut base_ok = vec![false; n];
    {
        let mut record = |row: usize, loss: f64, ok: bool| {
            base_loss[row] = loss;
            base_ok[row] = ok;
        };
        for (row, p) in pre.chunks_exact(h).enumerate() {
            tail.next_row(y, &mut record).copy_from_slice(p);
            tail.rows.push(row);
        }
        tail.flush(y, &mut record);
    }

    let mut perm: Vec<usize> = (0..n).collect();
    let mut r = rng(seed ^ 0x6d6c_7000_0000_0003);
    let mut out: Vec<Importance> = Vec::with_capacity(enc.features.len());
    for f in &enc.features {
        let slots = f.offset..f.offset + f.width();
        let (mut acc_drop, mut loss_rise) = (0.0, 0.0);
        for _ in 0..REPEATS {
            perm.shuffle(&mut r);
            // Sums of (shuffled − unshuffled) loss and correctness over the changed rows.
            let (mut dl, mut dc) = (0.0f64, 0i64);
            let mut on = |row: usize, loss: f64, ok: bool| {
                dl += loss - base_loss[row];
                dc += i64::from(ok) - i64::from(base_ok[row]);
            };
            for (row, &src) in perm.iter().enumerate() {
                let new = &x[src * d + slots.start..src * d + slots.end];
                let old = &x[row * d + slots.start..row * d + slots.end];
                if new == old {
                    continue;
                }
                let p = tail.next_row(y, &mut on);
                p.copy_from_slice(&pre[row * h..(row + 1) * h]);
                for (s, (&a, &b)) in slots.clone().zip(new.iter().zip(old)) {
                    let delta = a - b;
                    if delta != 0.0 {
                        for (pv, &wv) in p.iter_mut().zip(&w0[s * h..(s + 1) * h]) {
                            *pv += delta * wv;
                        }
                    }
                }
                tail.rows.push(row);
                control.tick(row_work)?;
            }
            tail.flush(y, &mut on);
            acc_drop -= dc as f64 / n as f64;
            loss_rise += dl / n as f64;
        }
        out.push(Importance {
            column: f.name.clone(),
            accuracy_drop: acc_drop / REPEATS as f64,
            log_loss_increase: loss_rise / REPEATS as f64,
        });
    }
    out.sort_by(|a, b| b.log_loss_increase.total_cmp(&a.log_loss_increase));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::data::{Column, ColumnData, Dataset};
    use crate::models::mlp::features::Selection;
    use crate::models::mlp::trainer::{Config, fit};

    /// Every row of `d` encoded (the target is column `target`), and the 0/1 labels `y`.
    fn encode_all(d: &Dataset, target: usize, y: &[Option<i64>]) -> (Encoder, Vec<f32>, Vec<u32>) {
        let rows: Vec<usize> = (0..d.n_rows).collect();
        let enc = Encoder::fit(d, target, &rows, &Selection { max_categories: 50, ..Selection::default() })
            .unwrap();
        let x = enc.encode_dataset(d, &rows).unwrap();
        (enc, x, y.iter().map(|v| v.unwrap() as u32).collect())
    }

    #[test]
    fn the_informative_column_ranks_first() {
        // y depends on `signal` only; `noise` is unrelated.
        let n = 400;
        let signal: Vec<Option<f64>> = (0..n).map(|i| Some(((i * 37) % 100) as f64)).collect();
        let noise: Vec<Option<f64>> = (0..n).map(|i| Some(((i * 53) % 17) as f64)).collect();
        let y: Vec<Option<i64>> = signal.iter().map(|s| Some(i64::from(s.unwrap() >= 50.0))).collect();
        let d = Dataset::new(vec![
            Column { name: "noise".into(), data: ColumnData::reals(noise) },
            Column { name: "signal".into(), data: ColumnData::reals(signal) },
            Column { name: "y".into(), data: ColumnData::integers(y.clone()) },
        ]);
        let (enc, x, labels) = encode_all(&d, 2, &y);
        let cfg = Config {
            hidden: vec![8],
            learning_rate: 0.01,
            batch_size: 16,
            epochs: 30,
            seed: 1,
            ..Config::default()
        };
        let net = fit(&x, enc.width, &labels, 2, &cfg, None, &Control::new()).unwrap().net;
        let imp = permutation_importance(&net, &enc, &x, &labels, 1, &Control::new()).unwrap();
        assert_eq!(imp[0].column, "signal");
        assert!(imp[0].accuracy_drop > 0.3, "{imp:?}");
        assert!(imp[1].accuracy_drop.abs() < 0.05, "{imp:?}");
    }

    /// The old, direct computation: full forward passes over a shuffled copy.
    fn direct(net: &Network, enc: &Encoder, x: &[f32], y: &[u32], seed: u64) -> Vec<(String, f64, f64)> {
        use crate::models::mlp::trainer::loss_and_accuracy;
        let d = enc.width;
        let n = y.len();
        let mut ws = Workspace::new(net, 64);
        let (base_loss, base_acc) = loss_and_accuracy(&mut ws, net, x, y, d, &Control::new()).unwrap();
        let mut perm: Vec<usize> = (0..n).collect();
        let mut r = rng(seed ^ 0x6d6c_7000_0000_0003);
        enc.features
            .iter()
            .map(|f| {
                let (mut acc_drop, mut loss_rise) = (0.0, 0.0);
                for _ in 0..REPEATS {
                    perm.shuffle(&mut r);
                    let mut shuffled = x.to_vec();
                    for (row, &src) in perm.iter().enumerate() {
                        for s in f.offset..f.offset + f.width() {
                            shuffled[row * d + s] = x[src * d + s];
                        }
                    }
                    let (loss, acc) =
                        loss_and_accuracy(&mut ws, net, &shuffled, y, d, &Control::new()).unwrap();
                    acc_drop += base_acc - acc;
                    loss_rise += loss - base_loss;
                }
                (f.name.clone(), acc_drop / REPEATS as f64, loss_rise / REPEATS as f64)
            })
            .collect()
    }

    #[test]
    fn incremental_passes_match_full_passes() {
        let n = 300;
        let num: Vec<Option<f64>> =
            (0..n).map(|i| if i % 11 == 0 { None } else { Some(((i * 37) % 100) as f64) }).collect();
        let cat: Vec<Option<String>> =
            (0..n).map(|i| Some(["a", "b", "c", "d"][(i * 7) % 4].to_string())).collect();
        let bin: Vec<Option<String>> =
            (0..n).map(|i| Some(["x", "y"][(i * 13 / 5) % 2].to_string())).collect();
        let y: Vec<Option<i64>> = (0..n)
            .map(|i| {
                Some(i64::from(num[i].unwrap_or(50.0) >= 50.0) ^ i64::from(cat[i].as_deref() == Some("b")))
            })
            .collect();
        let data = Dataset::new(vec![
            Column { name: "num".into(), data: ColumnData::reals(num) },
            Column { name: "cat".into(), data: ColumnData::texts(cat) },
            Column { name: "bin".into(), data: ColumnData::texts(bin) },
            Column { name: "y".into(), data: ColumnData::integers(y.clone()) },
        ]);
        let (enc, x, labels) = encode_all(&data, 3, &y);
        for hidden in [vec![12, 9], vec![]] {
            let cfg = Config {
                hidden,
                learning_rate: 0.01,
                batch_size: 16,
                epochs: 5,
                seed: 1,
                ..Config::default()
            };
            let net = fit(&x, enc.width, &labels, 2, &cfg, None, &Control::new()).unwrap().net;
            let mut fast = permutation_importance(&net, &enc, &x, &labels, 5, &Control::new()).unwrap();
            fast.sort_by(|a, b| a.column.cmp(&b.column));
            let mut slow = direct(&net, &enc, &x, &labels, 5);
            slow.sort_by(|a, b| a.0.cmp(&b.0));
            for (f, (name, acc, loss)) in fast.iter().zip(&slow) {
                assert_eq!(&f.column, name);
                assert!((f.accuracy_drop - acc).abs() < 1e-9, "{fast:?} {slow:?}");
                assert!((f.log_loss_increase - loss).abs() < 1e-5, "{fast:?} {slow:?}");
            }
        }
    }
}
