//! The `classifier` kind: a multilayer perceptron over tabular columns.
//!
//! Every non-target column is a feature unless the options `features` or `exclude` say
//! otherwise; [`features`] describes how columns become network inputs (standardised numbers
//! with a missing flag, one-hot text with an "other" slot). The network has ReLU hidden layers
//! and a softmax output, is trained with Adam on the sparse categorical cross-entropy, in f32,
//! on one thread, and is bit-for-bit reproducible for a given seed on a given machine.
//!
//! # Options
//!
//! Declared in [`OPTIONS`] (see [`params`]):
//!
#![doc = include_str!("../../../sql/options/classifier.md")]
//!
//! `seed`, `test_size`, `max_memory_mb` and `progress` are the platform's [`Common`] options.
//! Before any encoded row or weight is allocated, the one-hot inputs of every row
//! (`max_categories`), the weights with the optimizer state (`hidden_layers`) and those with
//! one batch's activations (`batch_size`) are checked against the memory budget. A loss or
//! weights that stop being finite end the training with an error naming the epoch.
//!
//! The per-epoch log reports the validation loss and accuracy of the validation split, or,
//! without one, of the held-out test split (its first 5,000 rows, for monitoring only: it never
//! steers training). Permutation importance uses the first 5,000 held-out rows, 3 shuffles per
//! column.
//!
//! # Explanations
//!
//! [`Classifier::explain`] returns integrated-gradient contributions per original column (one-hot
//! slots and missing flags summed back to their column) to the predicted class's score (logit,
//! before the softmax), against a baseline that is the mean encoded training row. The path
//! integral is computed exactly for the piecewise-linear network (see [`explain`]), so the
//! contributions sum to `score(x) − score(baseline)` up to rounding; the baseline scores of every
//! class are in the training report (`details.baseline_scores`).
//!
//! # Prediction inputs
//!
//! See [`input`]: the feature values positionally in training order, or one JSON object. Keys
//! naming columns the model saw but does not use (target, excluded, dropped) are ignored; other
//! unknown keys are an error unless the model was trained with `allow_extra_keys: true`.
//!
//! # Determinism
//!
//! Initialisation, shuffling, dropout and the validation split draw from ChaCha8 streams derived
//! from `seed`; training runs on one thread with fixed summation order, so the same data, options
//! and seed give the same model bytes on the same machine. Across CPUs the bytes can differ in
//! the last bits: matrixmultiply and [`kernels`] pick AVX-512/AVX2+FMA/SSE code at run time, and
//! fused multiply-adds round differently.

pub mod adam;
pub mod explain;
pub mod features;
pub mod importance;
pub mod input;
pub mod kernels;
pub mod lookup;
pub mod network;
pub mod params;
pub mod trainer;
pub(crate) mod two_cores;

use crate::models::control::Control;
use crate::models::data::{Dataset, Input, Value, class_ids};
use crate::models::memory;
use crate::models::metrics::{self, argmax};
use crate::models::options::{Common, Options};
use crate::models::setup::{Setup, Target};
use crate::models::{Estimator, Predictions, Trained};
use crate::{Error, Result};
use features::Encoder;
use ndarray::ArrayView2;
use network::{Network, Workspace};
pub use params::{OPTIONS, Params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use std::cell::RefCell;
use trainer::EncodedRows;

/// Most hidden layers the option `hidden_layers` accepts (a pass costs a step per layer, and
/// deep stacks of dense layers do not train on tabular data anyway).
pub const MAX_HIDDEN_LAYERS: usize = 100;

/// Held-out rows are scored for their metrics in batches of about this many bytes of
/// probabilities (and, in `evaluate`, of encoded inputs): at 2M held-out rows of 50 classes,
/// every row at once took 800 MB, and `evaluate` also encoded every row at once.
const EVALUATED_BYTES: usize = 16 << 20;

/// The fewest rows a batch of [`EVALUATED_BYTES`] takes.
const EVALUATED_MIN_ROWS: usize = 1024;

/// A trained multilayer-perceptron classifier with its input encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classifier {
    target: String,
    classes: Vec<Value>,
    encoder: Encoder,
    network: Network,
    /// Mean encoded training row: the explanation baseline.
    baseline: Vec<f32>,
    allow_extra_keys: bool,
}

thread_local! {
    /// Per-thread scratch for one-row predictions: encoded inputs, then layer buffers.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl Classifier {
    /// The class labels, in SQLite sort order.
    pub fn classes(&self) -> &[Value] {
        &self.classes
    }

    /// The input encoding.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The target column name.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Sets the positional input columns read from a stored model (see
    /// [`features::Encoder::set_inputs`]).
    pub(crate) fn set_inputs(&mut self, inputs: Vec<String>) -> std::result::Result<(), String> {
        self.encoder.set_inputs(inputs)
    }

    /// See [`crate::models::Model::check`].
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        let sizes = self.network.sizes();
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(format!("classifier with layer sizes {sizes:?}"));
        }
        let params = sizes.windows(2).try_fold(0usize, |n, w| {
            w[0].checked_add(1).and_then(|i| i.checked_mul(w[1])).and_then(|p| n.checked_add(p))
        });
        if params != Some(self.network.params().len()) {
            return Err(format!(
                "classifier with layer sizes {sizes:?} and {} parameters",
                self.network.params().len()
            ));
        }
        let width = self.encoder.width;
        if sizes[0] != width || self.baseline.len() != width {
            return Err(format!("classifier with {width} inputs, {} network inputs", sizes[0]));
        }
        if self.network.outputs() != self.classes.len() || self.classes.len() < 2 {
            return Err(format!(
                "classifier with {} labels and {} outputs",
                self.classes.len(),
                self.network.outputs()
            ));
        }
        let mut offset = 0usize;
        for f in &self.encoder.features {
            if f.offset != offset {
                return Err(format!(
                    "classifier feature '{}' at input {}, expected {offset}",
                    f.name, f.offset
                ));
            }
            if let features::Encoding::Categorical { categories, sorted, .. } = &f.encoding
                && (sorted.len() != categories.len()
                    || sorted.iter().any(|&i| i as usize >= categories.len()))
            {
                return Err(format!("classifier feature '{}' with an inconsistent category index", f.name));
            }
            offset = offset.saturating_add(f.width());
        }
        if offset != width {
            return Err(format!("classifier features of {offset} inputs in all, expected {width}"));
        }
        Ok(())
    }

    /// The feature columns, in the order [`Classifier::encode_with`] asks for their values.
    pub fn feature_names(&self) -> Vec<&str> {
        self.encoder.names()
    }

    /// The label column it was trained on.
    pub fn target_column(&self) -> &str {
        &self.target
    }

    /// Width of an encoded row.
    pub fn width(&self) -> usize {
        self.encoder.width
    }

    /// Encodes one row into `out` ([`Classifier::width`] long) as one-row prediction encodes
    /// it; `value(i)` gives the value of feature `i` (in [`Classifier::feature_names`] order).
    pub fn encode_with<'v>(
        &self,
        out: &mut [f32],
        mut value: impl FnMut(usize) -> Result<Input<'v>>,
    ) -> Result<()> {
        out.fill(0.0);
        for (i, f) in self.encoder.features.iter().enumerate() {
            f.encode(value(i)?, &mut out[f.offset..f.offset + f.width()])?;
        }
        Ok(())
    }

    /// Predicted class and probabilities of encoded rows (`x`: `rows ×`
    /// [`Classifier::width`]), bit-identical to [`Estimator::predict`] and
    /// [`Estimator::predict_proba`] of each row: the network runs on `PASS` rows at a time with
    /// the block kernel ([`kernels::forward_rows`]), the one-row kernel's operations per row. Returns the class indices and the probabilities (row-major).
    pub fn score_rows(&self, x: &[f32], rows: usize, control: &Control<'_>) -> Result<(Vec<u32>, Vec<f64>)> {
        const PASS: usize = 256;
        let (w, k) = (self.encoder.width, self.classes.len());
        if x.len() != rows.saturating_mul(w) {
            return Err(Error::data(format!(
                "encoded rows do not match the network's inputs ({rows} rows × {w})"
            )));
        }
        let mut classes: Vec<u32> = memory::with_capacity(rows, "the predicted classes")?;
        let mut proba: Vec<f64> =
            memory::with_capacity(rows.saturating_mul(k), "the predicted probabilities")?;
        let pass = rows.min(PASS);
        let mut scratch: Vec<f32> =
            memory::zeroed(pass * self.network.scratch_len(), "the network's buffers")?;
        let mut scores: Vec<f32> = memory::zeroed(pass * k, "the output scores")?;
        let row_work = self.network.params().len() as u64;
        for chunk in x.chunks(PASS * w.max(1)) {
            let n = chunk.len() / w.max(1);
            control.tick(n as u64 * row_work)?;
            self.network.forward_rows(chunk, n, &mut scratch, &mut scores);
            for row in scores[..n * k].chunks_exact_mut(k) {
                let mut best = 0;
                for (i, &s) in row.iter().enumerate() {
                    if s > row[best] {
                        best = i;
                    }
                }
                classes.push(best as u32);
                network::softmax(row);
                proba.extend(row.iter().map(|&p| f64::from(p)));
            }
        }
        Ok((classes, proba))
    }

    /// Encodes `args` and runs the network on one row; `f` gets the output scores (logits).
    fn with_scores<T>(&self, args: &[Input<'_>], f: impl FnOnce(&[f32]) -> T) -> Result<T> {
        let run = |buf: &mut Vec<f32>| -> Result<T> {
            let width = self.encoder.width;
            let need = width + self.network.scratch_len();
            if buf.len() < need {
                buf.resize(need, 0.0);
            }
            let (x, scratch) = buf.split_at_mut(width);
            input::encode_args(&self.encoder, self.allow_extra_keys, args, x, |_, _| {})?;
            Ok(f(self.network.forward_row(x, scratch)))
        };
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => run(&mut buf),
            Err(_) => run(&mut Vec::new()),
        })
    }

    /// Probabilities for encoded rows (row-major, `rows × classes`).
    fn proba_rows(&self, x: &[f32], rows: usize, control: &Control<'_>) -> Result<Vec<f64>> {
        let view = ArrayView2::from_shape((rows, self.encoder.width), x)
            .map_err(|e| Error::data(format!("encoded rows do not match the network's inputs: {e}")))?;
        Workspace::new(&self.network, 256).predict_proba(&self.network, view, control)
    }
}

impl Estimator for Classifier {
    const KIND: &'static str = "classifier";

    type Params = Params;

    fn read_params(opts: &mut Options, common: &Common) -> Result<Params> {
        Params::read(opts, common)
    }

    fn target(_: &Params) -> Target {
        Target::Labels("a classifier needs a target column")
    }

    /// With the option `features`: those columns and the target; with `exclude`: every column
    /// but the excluded ones (the target always).
    fn columns_read(params: &Params, target: Option<&str>, names: &[String]) -> Option<Vec<usize>> {
        let target = super::position_of(names, target?)?;
        let sel = &params.selection;
        let read = match &sel.features {
            Some(features) => {
                let mut read = vec![target];
                for name in features {
                    read.push(super::position_of(names, name)?);
                }
                read
            }
            None if sel.exclude.is_empty() => return None,
            None => {
                if sel.exclude.iter().any(|e| super::position_of(names, e).is_none()) {
                    return None;
                }
                let excluded = |i: usize| sel.exclude.iter().any(|e| names[i].eq_ignore_ascii_case(e));
                (0..names.len()).filter(|&i| i == target || !excluded(i)).collect()
            }
        };
        Some(super::sorted_once(read))
    }

    fn fit(setup: &Setup<'_>, params: &Params) -> Result<Trained<Self>> {
        let (data, common) = (setup.data, setup.common);
        let target_col = setup.target()?;
        let target_idx = data
            .index_of(&target_col.name)
            .ok_or_else(|| Error::Internal("the target column is not in the data".into()))?;
        let labels = setup.labels()?;
        let k = labels.classes.len();
        let (train_rows, test_rows) = (&setup.train()?, &setup.test);
        let encoder = Encoder::fit(data, target_idx, train_rows, &params.selection)?;
        let d = encoder.width;
        let slots = encoder.one_hot_slots();
        common.budget.check(
            "max_categories",
            &format!("the one-hot inputs of {} rows ({slots} slots)", data.n_rows),
            4.0 * data.n_rows as f64 * slots as f64,
        )?;
        trainer::check_memory(d, k, train_rows.len(), test_rows.len(), &params.config, &common.budget)?;
        let x_train = encoder.encode_compact(data, train_rows, &common.control)?;
        let y_train = setup.classes_of(train_rows)?;
        let x_test = encoder.encode_controlled(data, test_rows, &common.control)?;
        let y_test = setup.classes_of(test_rows)?;

        let mut baseline = vec![0f64; d];
        let mut row = vec![0f32; d];
        for i in 0..x_train.len() {
            x_train.row_into(i, &mut row);
            for (b, &v) in baseline.iter_mut().zip(&row) {
                *b += f64::from(v);
            }
        }
        let baseline: Vec<f32> = baseline.iter().map(|&s| (s / train_rows.len() as f64) as f32).collect();

        let control = &common.control;
        let fitted =
            trainer::fit_rows(&x_train, &y_train, k, &params.config, Some((&x_test, &y_test)), control)?;
        let model = Classifier {
            target: target_col.name.clone(),
            classes: labels.classes.clone(),
            encoder,
            network: fitted.net,
            baseline,
            allow_extra_keys: params.allow_extra_keys,
        };

        let metrics = if test_rows.is_empty() {
            Json::Null
        } else {
            model.metrics_of_encoded(&x_test, &y_test, (EVALUATED_BYTES, EVALUATED_MIN_ROWS), control)?
        };
        let mut details = Map::new();
        details.insert("features".into(), model.encoder.features.iter().map(|f| f.describe()).collect());
        details.insert(
            "dropped_columns".into(),
            model.encoder.dropped.iter().map(|d| json!({"column": d.column, "reason": d.reason})).collect(),
        );
        details.insert("inputs".into(), json!(d));
        details.insert("columns".into(), json!(model.encoder.inputs));
        details.insert("layers".into(), json!(model.network.sizes()));
        details.insert("parameters".into(), json!(model.network.params().len()));
        details.insert("classes".into(), model.classes.iter().map(Value::to_json).collect());
        details.insert("epochs_run".into(), json!(fitted.log.len()));
        details.insert("best_epoch".into(), json!(fitted.best_epoch));
        details.insert("fit_rows".into(), json!(fitted.fit_rows));
        details.insert("validation_rows".into(), json!(fitted.validation_rows));
        details.insert(
            "log_validation".into(),
            json!(if fitted.validation_rows > 0 {
                "validation split"
            } else if test_rows.is_empty() {
                "none"
            } else {
                "test split (monitoring only)"
            }),
        );
        let mut scratch = vec![0.0; model.network.scratch_len()];
        let base_scores = model.network.forward_row(&model.baseline, &mut scratch);
        details.insert(
            "baseline_scores".into(),
            Json::Object(
                model.classes.iter().zip(base_scores).map(|(c, &s)| (c.to_key(), json!(s))).collect(),
            ),
        );
        if !test_rows.is_empty() {
            let imp = importance::permutation_importance(
                &model.network,
                &model.encoder,
                &x_test,
                &y_test,
                common.seed,
                control,
            )?;
            details.insert(
                "permutation_importance".into(),
                imp.iter()
                    .map(|i| {
                        json!({"column": i.column, "accuracy_drop": i.accuracy_drop,
                               "log_loss_increase": i.log_loss_increase})
                    })
                    .collect(),
            );
        }
        Ok(Trained {
            model,
            metrics,
            details,
            log: fitted.log,
            train_rows: train_rows.len(),
            test_rows: test_rows.len(),
            held_out: Vec::new(),
            served_rows: train_rows.len(),
            refit_epochs: (fitted.validation_rows > 0).then_some(fitted.best_epoch),
        })
    }

    /// The refit on every row uses no validation part; with one, it runs the best epoch count
    /// found on the split (the weights kept there).
    fn refit_params(params: &Params, measured: &Trained<Self>) -> Params {
        let mut p = params.clone();
        if let Some(epochs) = measured.refit_epochs {
            p.config.epochs = epochs.max(1);
        }
        p.config.validation_split = 0.0;
        p.config.patience = None;
        p
    }

    fn algorithm(&self) -> String {
        "mlp".into()
    }

    fn predict(&self, args: &[Input<'_>]) -> Result<Value> {
        let class = self.with_scores(args, |scores| {
            let mut best = 0;
            for (i, &s) in scores.iter().enumerate() {
                if s > scores[best] {
                    best = i;
                }
            }
            best
        })?;
        Ok(self.classes[class].clone())
    }

    fn predict_proba(&self, args: &[Input<'_>]) -> Result<Vec<(Value, f64)>> {
        let mut probs = self.with_scores(args, |scores| scores.to_vec())?;
        network::softmax(&mut probs);
        Ok(self.classes.iter().cloned().zip(probs.iter().map(|&p| f64::from(p))).collect())
    }

    fn explain(&self, args: &[Input<'_>]) -> Result<Json> {
        let mut x = vec![0f32; self.encoder.width];
        let mut values = vec![Value::Null; self.encoder.features.len()];
        input::encode_args(&self.encoder, self.allow_extra_keys, args, &mut x, |i, v| {
            values[i] = v.to_value()
        })?;
        let mut scratch = vec![0.0; self.network.scratch_len()];
        let class = argmax(
            &self.network.forward_row(&x, &mut scratch).iter().map(|&s| f64::from(s)).collect::<Vec<_>>(),
        );
        let attribution = explain::integrated_gradients(&self.network, &x, &self.baseline, class);
        let mut rows: Vec<(usize, f64)> = self
            .encoder
            .features
            .iter()
            .enumerate()
            .map(|(i, f)| (i, attribution.contributions[f.offset..f.offset + f.width()].iter().sum()))
            .collect();
        rows.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        Ok(rows
            .iter()
            .map(|&(i, c)| {
                json!({"feature": self.encoder.features[i].name, "value": values[i].to_json(), "contribution": c})
            })
            .collect())
    }

    fn predict_rows(&self, data: &Dataset, control: &Control<'_>) -> Result<Predictions> {
        let rows: Vec<usize> = (0..data.n_rows).collect();
        let x = self.encoder.encode_dataset(data, &rows)?;
        Ok(Predictions::of_classes(&self.classes, self.proba_rows(&x, rows.len(), control)?))
    }

    /// Encoded and scored a batch of rows at a time (16 MiB of probabilities and encoded inputs).
    fn evaluate(&self, data: &Dataset) -> Result<Json> {
        self.metrics_of(data, (EVALUATED_BYTES, EVALUATED_MIN_ROWS))
    }

    fn labelled_proba(&self, data: &Dataset, first: usize) -> Result<Option<(Vec<u32>, Vec<f64>)>> {
        self.labelled(data, first).map(Some)
    }
}

impl Classifier {
    /// The class ids of the target column and the predicted probabilities of `data`'s rows,
    /// the first of which is row `first` + 1 of the source.
    fn labelled(&self, data: &Dataset, first: usize) -> Result<(Vec<u32>, Vec<f64>)> {
        let y = self.classes_of(data, first)?;
        let rows: Vec<usize> = (0..data.n_rows).collect();
        let x = self.encoder.encode_batch(data, &rows, first)?;
        Ok((y, self.proba_rows(&x, rows.len(), &Control::new())?))
    }

    /// The metrics of the encoded rows `x` (of classes `y`), scored in batches of about
    /// `bytes` of probabilities, at least `min_rows` rows (as [`EVALUATED_BYTES`]).
    fn metrics_of_encoded(
        &self,
        x: &[f32],
        y: &[u32],
        (bytes, min_rows): (usize, usize),
        control: &Control<'_>,
    ) -> Result<Json> {
        let d = self.encoder.width;
        if y.len().checked_mul(d) != Some(x.len()) {
            return Err(Error::Internal(format!("{} encoded values for {} rows of {d}", x.len(), y.len())));
        }
        let batches = metrics::BatchSize { bytes, row_bytes: 8 * self.classes.len(), min_rows };
        metrics::classification_in_batches(&self.classes, y, batches, |batch| {
            self.proba_rows(&x[batch.start * d..batch.end * d], batch.len(), control)
        })
    }

    /// The metrics of `data`'s rows, encoded and scored in batches of about `bytes` of
    /// probabilities and encoded inputs, at least `min_rows` rows (as [`EVALUATED_BYTES`]).
    /// Its feature columns are checked first, even with no rows.
    fn metrics_of(&self, data: &Dataset, (bytes, min_rows): (usize, usize)) -> Result<Json> {
        let y = self.classes_of(data, 0)?;
        self.encoder.encode_batch(data, &[], 0)?;
        let row_bytes = 8 * self.classes.len() + 4 * self.encoder.width;
        let batches = metrics::BatchSize { bytes, row_bytes, min_rows };
        let control = Control::new();
        metrics::classification_in_batches(&self.classes, &y, batches, |batch| {
            let rows: Vec<usize> = batch.clone().collect();
            let x = self.encoder.encode_batch(data, &rows, 0)?;
            self.proba_rows(&x, batch.len(), &control)
        })
    }

    /// The class ids of the target column of `data`'s rows, the first of which is row
    /// `first` + 1 of the source ([`class_ids`]).
    fn classes_of(&self, data: &Dataset, first: usize) -> Result<Vec<u32>> {
        class_ids(data.column(&self.target, "target column")?, &self.classes, first)
    }
}

#[cfg(test)]
mod tests;
