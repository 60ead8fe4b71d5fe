//! The training loop: shuffled mini-batches, Adam, optional class weights, dropout, L2,
//! validation split and early stopping.

use super::adam::Adam;
use super::importance;
use super::network::{Network, Workspace};
use super::two_cores;
use crate::models::EpochLog;
use crate::models::control::Control;
use crate::models::finite;
use crate::models::memory::{self, Budget};
use crate::models::metrics::argmax;
use crate::models::options::show_f32;
use crate::models::split::{rng, train_test_split};
use crate::{Error, Result};
use ndarray::{Array2, ArrayView2};
use rand::seq::SliceRandom;
use std::time::Instant;

/// Hyperparameters of one training run (already validated).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Adam learning rate.
    pub learning_rate: f32,
    /// Rows per mini-batch.
    pub batch_size: usize,
    /// Maximum number of passes over the training rows.
    pub epochs: usize,
    /// L2 penalty `l2 · ΣW²` on the weights (not the biases), as Keras' `l2` regulariser.
    pub l2: f32,
    /// Probability of dropping each hidden unit during training.
    pub dropout: f32,
    /// Weight each class by `n / (classes · n_class)` (scikit-learn's `'balanced'`).
    pub balanced: bool,
    /// Fraction of the training rows held out (stratified) for validation.
    pub validation_split: f64,
    /// Stop after this many epochs without a better validation loss, keeping the best weights.
    pub patience: Option<usize>,
    /// Shuffle the rows before every epoch.
    pub shuffle: bool,
    /// Seed of initialisation, shuffling, dropout and the validation split.
    pub seed: u64,
}

impl Default for Config {
    /// The `classifier` kind's defaults, Keras-like: two hidden layers of 64, Adam at 0.001,
    /// batches of 32, 10 epochs, no regularisation, reshuffled every epoch, seed 42.
    fn default() -> Self {
        Config {
            hidden: vec![64, 64],
            learning_rate: 0.001,
            batch_size: 32,
            epochs: 10,
            l2: 0.0,
            dropout: 0.0,
            balanced: false,
            validation_split: 0.0,
            patience: None,
            shuffle: true,
            seed: 42,
        }
    }
}

/// What a training run produced.
#[derive(Debug)]
pub struct Fitted {
    /// The trained network (the best epoch's when early stopping is on).
    pub net: Network,
    /// One row per epoch run.
    pub log: Vec<EpochLog>,
    /// Rows used for gradient steps.
    pub fit_rows: usize,
    /// Rows held out for validation.
    pub validation_rows: usize,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
}

/// Keeps the model's random streams apart from the platform's split of the same seed.
const INIT_STREAM: u64 = 0x6d6c_7000_0000_0001;
const VALIDATION_STREAM: u64 = 0x6d6c_7000_0000_0002;

/// Monitoring rows evaluated per epoch at most (the first ones given).
pub const MONITOR_ROWS: usize = 5_000;

/// Rows of the workspace that evaluates monitoring and held-out rows.
const EVAL_ROWS: usize = 256;

/// Checks the memory a training of `cfg` on `rows` rows of `d` inputs and `k` classes takes
/// beyond its data against `budget`, before any of it is allocated: the weights with the
/// optimizer state and gradients (option `hidden_layers`), then those with the activations of
/// one batch (option `batch_size`). `held_out` rows are monitored and scored by permutation
/// importance (their first [`MONITOR_ROWS`]).
pub fn check_memory(
    d: usize,
    k: usize,
    rows: usize,
    held_out: usize,
    cfg: &Config,
    budget: &Budget,
) -> Result<()> {
    let mut sizes = vec![d as f64];
    sizes.extend(cfg.hidden.iter().map(|&w| w as f64));
    sizes.push(k as f64);
    let params: f64 = sizes.windows(2).map(|w| (w[0] + 1.0) * w[1]).sum();
    // The parameters, their gradients, Adam's two moments, the evaluation workspace's
    // gradients, the transposed copies of narrow layers, and the best epoch's copy.
    let copies = 6.0 + f64::from(u8::from(cfg.patience.is_some()));
    let monitor = held_out.min(MONITOR_ROWS.max(importance::MAX_ROWS)) as f64;
    let first_hidden = sizes[1];
    let weights = 4.0 * (params * copies + (monitor + EVAL_ROWS as f64) * first_hidden);
    budget.check("hidden_layers", "the network's weights and optimizer state", weights)?;
    let bs = cfg.batch_size.min(rows).max(1);
    let units: f64 = sizes[1..].iter().sum();
    // Outputs and gradients of every layer for one batch and for the evaluation rows, and the
    // batch's inputs.
    let activations = 4.0 * (2.0 * (bs + EVAL_ROWS) as f64 * units + bs as f64 * d as f64);
    budget.check(
        "batch_size",
        &format!("the network's weights and the activations of batches of {bs} rows"),
        weights + activations,
    )
}

/// The error of a training whose loss or weights stopped being finite at `epoch`.
fn diverged(epoch: usize, what: &str, cfg: &Config) -> Error {
    let mut hint = format!("lower the option 'learning_rate', now {}", show_f32(cfg.learning_rate));
    if cfg.l2 > 0.0 {
        hint.push_str(&format!(", or 'l2', now {}", show_f32(cfg.l2)));
    }
    finite::diverged(Some(("epoch", epoch)), what, &hint)
}

/// What is not finite after an epoch: the mean loss, else the weights.
fn not_finite(loss: f64, params: &[f32]) -> Option<String> {
    if !loss.is_finite() {
        return Some(format!("the loss is {}", finite::nan_or_inf(loss)));
    }
    // One pass over the weights per epoch (an epoch reads them once per batch).
    if !finite::all_finite(params) {
        return Some("the network's weights are not finite".into());
    }
    None
}

/// Encoded training rows, read a row at a time (a batch's rows, the validation rows); read
/// by two threads at once when a batch trains on two cores.
pub trait EncodedRows: Sync {
    /// Number of network inputs a row.
    fn width(&self) -> usize;
    /// Writes row `i`'s inputs into `out` ([`EncodedRows::width`] long).
    fn row_into(&self, i: usize, out: &mut [f32]);
}

/// Rows of a row-major matrix.
pub struct Dense<'a> {
    /// The matrix.
    pub x: &'a [f32],
    /// Its number of columns.
    pub d: usize,
}

impl EncodedRows for Dense<'_> {
    fn width(&self) -> usize {
        self.d
    }
    #[inline]
    fn row_into(&self, i: usize, out: &mut [f32]) {
        out.copy_from_slice(&self.x[i * self.d..(i + 1) * self.d]);
    }
}

/// Trains on the `y.len()` rows of the row-major matrix `x` (`d` columns) with `k` classes:
/// [`fit_rows`] on [`Dense`] rows.
pub fn fit(
    x: &[f32],
    d: usize,
    y: &[u32],
    k: usize,
    cfg: &Config,
    monitor: Option<(&[f32], &[u32])>,
    control: &Control<'_>,
) -> Result<Fitted> {
    fit_rows(&Dense { x, d }, y, k, cfg, monitor, control)
}

/// Trains on the `y.len()` rows of `x` with `k` classes.
/// `monitor` (encoded rows and labels; the first [`MONITOR_ROWS`]) is evaluated after each epoch
/// for the log only when there is no validation split; it never influences training.
///
/// `control` is ticked after every batch (its error, an interruption, ends the training) and
/// gets a progress line per epoch. A loss or weights that stop being finite end the training
/// with an error naming the epoch and the option to lower.
pub fn fit_rows(
    x: &impl EncodedRows,
    y: &[u32],
    k: usize,
    cfg: &Config,
    monitor: Option<(&[f32], &[u32])>,
    control: &Control<'_>,
) -> Result<Fitted> {
    let (n, d) = (y.len(), x.width());
    let (fit_idx, val_idx) = if cfg.validation_split > 0.0 {
        train_test_split(n, Some(y), cfg.validation_split, cfg.seed ^ VALIDATION_STREAM)?
    } else {
        ((0..n).collect(), Vec::new())
    };
    let mut val_x: Vec<f32> = memory::zeroed(val_idx.len().saturating_mul(d), "the validation rows")?;
    for (&i, out) in val_idx.iter().zip(val_x.chunks_exact_mut(d.max(1))) {
        x.row_into(i, out);
    }
    let val_y: Vec<u32> = val_idx.iter().map(|&i| y[i]).collect();
    let monitor = monitor.filter(|(_, my)| !my.is_empty()).map(|(mx, my)| {
        let rows = my.len().min(MONITOR_ROWS);
        (&mx[..rows * d], &my[..rows])
    });
    let check: Option<(&[f32], &[u32])> = if val_idx.is_empty() { monitor } else { Some((&val_x, &val_y)) };

    let mut sizes = vec![d];
    sizes.extend(&cfg.hidden);
    sizes.push(k);
    let mut r = rng(cfg.seed ^ INIT_STREAM);
    let mut net = Network::new(&sizes, &mut r);
    let mut adam = Adam::new(net.params().len(), cfg.learning_rate);

    let class_weight: Vec<f32> = if cfg.balanced {
        let mut counts = vec![0usize; k];
        for &i in &fit_idx {
            counts[y[i] as usize] += 1;
        }
        counts
            .iter()
            .map(|&c| if c > 0 { fit_idx.len() as f32 / (k as f32 * c as f32) } else { 0.0 })
            .collect()
    } else {
        vec![1.0; k]
    };

    let bs = cfg.batch_size.min(fit_idx.len()).max(1);
    let mut eval_ws = check.map(|_| Workspace::new(&net, EVAL_ROWS));
    let step_work = net.params().len() as u64;
    // A batch's buffers on one core, made at its first batch (on two, `TwoCores` holds its
    // own, of the same size: `check_memory` counts one set).
    let mut one_core: Option<(Workspace, Array2<f32>, Vec<u32>)> = None;
    let mut order: Vec<u32> = fit_idx.iter().map(|&i| i as u32).collect();
    let mut best: Option<(f64, Vec<f32>, usize)> = None;
    let mut since_best = 0;
    let mut log = Vec::with_capacity(cfg.epochs.min(1024));
    let start = Instant::now();
    // Without dropout, a batch large enough trains on two cores, to the same bits.
    let (sizes, n_params) = (net.sizes().to_vec(), net.params().len());
    let two = two_cores::worth_it(&net, bs, cfg.dropout);
    let epochs = move |mut pair: Option<&mut two_cores::TwoCores<'_>>| -> Result<Fitted> {
        for epoch in 1..=cfg.epochs {
            if cfg.shuffle {
                order.shuffle(&mut r);
            }
            let mut loss_sum = 0.0;
            for chunk in order.chunks(bs) {
                let b = chunk.len();
                loss_sum += match pair.as_deref_mut() {
                    Some(two) => two.step(&mut net, &mut adam, (x, y), chunk, &class_weight, cfg.l2)?,
                    None => {
                        let (ws, batch_x, batch_y) = one_core.get_or_insert_with(|| {
                            (Workspace::new(&net, bs), Array2::zeros((bs, d)), vec![0; bs])
                        });
                        for (row, &i) in chunk.iter().enumerate() {
                            let i = i as usize;
                            x.row_into(i, batch_x.row_mut(row).as_slice_mut().expect("contiguous"));
                            batch_y[row] = y[i];
                        }
                        let xb = batch_x.slice(ndarray::s![..b, ..]);
                        let dropout = (cfg.dropout > 0.0).then_some((&mut r, cfg.dropout));
                        ws.forward(&net, xb, dropout);
                        let loss = ws.softmax_cross_entropy(&net, &batch_y[..b], &class_weight);
                        ws.backward(&net, xb, cfg.l2);
                        adam.step(net.params_mut(), &ws.grads);
                        loss
                    }
                };
                control.tick(b as u64 * step_work)?;
            }
            let loss = loss_sum / fit_idx.len().max(1) as f64;
            if let Some(what) = not_finite(loss, net.params()) {
                return Err(diverged(epoch, &what, cfg));
            }
            let (val_loss, metric) = match (check, eval_ws.as_mut()) {
                (Some((vx, vy)), Some(ews)) => {
                    let (l, a) = loss_and_accuracy(ews, &net, vx, vy, d, control)?;
                    (Some(l), Some(a))
                }
                _ => (None, None),
            };
            control.look()?;
            log.push(EpochLog {
                epoch: epoch as u32,
                loss,
                val_loss,
                metric,
                seconds: start.elapsed().as_secs_f64(),
            });
            control.progress(epoch, cfg.epochs, start, || {
                let mut line = format!("epoch {epoch}/{}: loss {loss:.6}", cfg.epochs);
                if let (Some(vl), Some(acc)) = (val_loss, metric) {
                    line.push_str(&format!(", val_loss {vl:.6}, val_accuracy {acc:.4}"));
                }
                line
            });
            if let (Some(patience), Some(vl), false) = (cfg.patience, val_loss, val_idx.is_empty()) {
                match &mut best {
                    Some((best_loss, params, best_epoch)) if vl >= *best_loss => {
                        since_best += 1;
                        if since_best >= patience {
                            net.params_mut().copy_from_slice(params);
                            let best_epoch = *best_epoch;
                            control.progress(1, 1, start, || {
                                format!("stopped early after epoch {epoch}, keeping epoch {best_epoch}")
                            });
                            return Ok(Fitted {
                                net,
                                log,
                                fit_rows: fit_idx.len(),
                                validation_rows: val_idx.len(),
                                best_epoch,
                            });
                        }
                    }
                    Some((best_loss, params, best_epoch)) => {
                        *best_loss = vl;
                        params.copy_from_slice(net.params());
                        *best_epoch = epoch;
                        since_best = 0;
                    }
                    None => best = Some((vl, net.params().to_vec(), epoch)),
                }
            }
        }
        let epochs_run = log.len();
        let best_epoch = match best {
            Some((_, params, e)) => {
                net.params_mut().copy_from_slice(&params);
                e
            }
            None => epochs_run,
        };
        Ok(Fitted { net, log, fit_rows: fit_idx.len(), validation_rows: val_idx.len(), best_epoch })
    };
    if two { two_cores::with_two_cores(&sizes, n_params, bs, epochs) } else { epochs(None) }
}

/// Mean cross-entropy and accuracy of `net` on encoded rows.
pub fn loss_and_accuracy(
    ws: &mut Workspace,
    net: &Network,
    x: &[f32],
    y: &[u32],
    d: usize,
    control: &Control<'_>,
) -> Result<(f64, f64)> {
    let view = ArrayView2::from_shape((y.len(), d), x)
        .map_err(|e| Error::data(format!("encoded rows do not match the network's inputs: {e}")))?;
    let proba = ws.predict_proba(net, view, control)?;
    let k = net.outputs();
    let (mut loss, mut correct) = (0.0, 0usize);
    for (row, &t) in proba.chunks(k).zip(y) {
        loss -= row[t as usize].max(1e-15).ln();
        correct += usize::from(argmax(row) == t as usize);
    }
    let n = y.len().max(1) as f64;
    Ok((loss / n, correct as f64 / n))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn config() -> Config {
        Config {
            hidden: vec![16, 16],
            learning_rate: 0.01,
            batch_size: 8,
            epochs: 60,
            seed: 7,
            ..Config::default()
        }
    }

    fn xor() -> (Vec<f32>, Vec<u32>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..200 {
            let a = (i % 2) as f32;
            let b = ((i / 2) % 2) as f32;
            let jitter = ((i as f32) * 0.7).sin() * 0.05;
            x.extend([a + jitter, b - jitter]);
            y.push((a as u32) ^ (b as u32));
        }
        (x, y)
    }

    #[test]
    fn learns_xor() {
        let (x, y) = xor();
        let fitted = fit(&x, 2, &y, 2, &config(), None, &Control::new()).unwrap();
        let mut ws = Workspace::new(&fitted.net, 64);
        let (_, acc) = loss_and_accuracy(&mut ws, &fitted.net, &x, &y, 2, &Control::new()).unwrap();
        assert_eq!(acc, 1.0);
        assert_eq!(fitted.log.len(), 60);
        assert!(fitted.log[59].loss < fitted.log[0].loss / 5.0, "{:?}", fitted.log.last());
    }

    #[test]
    fn same_seed_same_weights_other_seed_differs() {
        let (x, y) = xor();
        let mut cfg = config();
        cfg.epochs = 3;
        cfg.dropout = 0.2;
        let a = fit(&x, 2, &y, 2, &cfg, None, &Control::new()).unwrap().net;
        let b = fit(&x, 2, &y, 2, &cfg, None, &Control::new()).unwrap().net;
        assert_eq!(a.params(), b.params());
        cfg.seed = 8;
        assert_ne!(fit(&x, 2, &y, 2, &cfg, None, &Control::new()).unwrap().net.params(), a.params());
    }

    #[test]
    fn early_stopping_keeps_the_best_epoch() {
        let (x, y) = xor();
        let mut cfg = config();
        cfg.validation_split = 0.25;
        cfg.patience = Some(2);
        cfg.learning_rate = 0.2; // large steps make the validation loss bounce
        cfg.epochs = 200;
        let f = fit(&x, 2, &y, 2, &cfg, None, &Control::new()).unwrap();
        assert_eq!(f.validation_rows, 50);
        assert!(f.log.len() < 200);
        let best = f.log.iter().map(|e| e.val_loss.unwrap()).fold(f64::INFINITY, f64::min);
        assert_eq!(f.log[f.best_epoch - 1].val_loss, Some(best));
        assert_eq!(f.log.len(), f.best_epoch + 2);
    }

    #[test]
    fn options_change_the_result() {
        let (x, y) = xor();
        let mut cfg = config();
        cfg.epochs = 2;
        let base = fit(&x, 2, &y, 2, &cfg, None, &Control::new()).unwrap().net;
        let variants: [fn(&mut Config); 7] = [
            |c| c.learning_rate = 0.02,
            |c| c.batch_size = 16,
            |c| c.l2 = 0.1,
            |c| c.dropout = 0.3,
            |c| c.balanced = true,
            |c| c.shuffle = false,
            |c| c.hidden = vec![8],
        ];
        for (i, change) in variants.iter().enumerate() {
            let mut c = cfg.clone();
            change(&mut c);
            if i == 4 {
                // XOR is balanced; skew it so the class weights differ from 1.
                let y2: Vec<u32> =
                    y.iter().enumerate().map(|(j, &v)| if j % 7 == 0 { 1 } else { v }).collect();
                assert_ne!(
                    fit(&x, 2, &y2, 2, &c, None, &Control::new()).unwrap().net.params(),
                    fit(&x, 2, &y2, 2, &cfg, None, &Control::new()).unwrap().net.params()
                );
                continue;
            }
            assert_ne!(
                fit(&x, 2, &y, 2, &c, None, &Control::new()).unwrap().net.params(),
                base.params(),
                "variant {i}"
            );
        }
    }
}
