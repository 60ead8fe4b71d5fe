//! The one training set-up that every kind shares.
//!
//! [`train`] reads the kind's options (the spec-declared reader, then the unknown-key check
//! against the kind's declarations), finds the target column, refuses a source with no rows,
//! encodes class labels (for the kinds that classify) and splits the rows into a training and
//! a held-out part, stratified by label where there are labels. The kind gets a [`Setup`] and
//! only fits and evaluates.

use super::data::{Column, ColumnData, Dataset, EncodedLabels, encode_labels};
use super::metrics;
use super::options::{Common, Options};
use super::split::{complement, held_out};
use super::{Estimator, Trained};
use crate::{Error, Result};
use serde_json::json;
use std::any::Any;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// What a kind needs of the target column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Class labels: required (the message says so when it is missing); the split is
    /// stratified by label.
    Labels(&'static str),
    /// Values (ratings): required, with this message when missing.
    Values(&'static str),
    /// Values, or none at all (implicit feedback counts each row once).
    Optional,
}

/// Everything a kind's fit starts from.
#[derive(Debug)]
pub struct Setup<'a> {
    /// The rows as read from the source.
    pub data: &'a Dataset,
    /// The target column, when there is one.
    pub target: Option<&'a Column>,
    /// The target's class ids and sorted labels ([`Target::Labels`] only).
    pub labels: Option<EncodedLabels>,
    /// Row indices held out for the report's metrics (sorted; empty with `test_size` 0). The
    /// training rows are the others: no list of them is kept (80 MB at 10M rows); see
    /// [`Setup::train`] and [`Setup::train_rows`].
    pub test: Vec<usize>,
    /// Seed, test size, memory budget, interrupt checks and progress.
    pub common: &'a Common<'a>,
    /// What a measured fit left for the refit on every row ([`Setup::leave_for_refit`]).
    left: Left,
    /// This is the refit on every row that follows a measured fit ([`Setup::is_refit`]).
    refit: bool,
    /// The column lent to the fits ([`train_giving_back`]), if any.
    lent: Option<&'a Lent>,
}

/// A column of the caller's data lent to a training's fits ([`train_giving_back`]): a fit may
/// give back the rows of it that nothing after it reads ([`Setup::lent`]), and the column goes
/// back to the data, with what is left of it, when the training ends.
#[derive(Debug)]
pub struct Lent(Mutex<Column>);

/// A kind's own value, left by a measured fit for the refit that follows it.
#[derive(Default)]
struct Left(Mutex<Option<Box<dyn Any + Send>>>);

impl Left {
    fn take(&self) -> Option<Box<dyn Any + Send>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }
}

impl std::fmt::Debug for Left {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let some = self.0.lock().map(|v| v.is_some()).unwrap_or(false);
        f.write_str(if some { "Left(Some(..))" } else { "Left(None)" })
    }
}

/// Rows from which a target with a different value in every row is refused (a small example,
/// such as a worked one of two texts, may well have one).
const ONE_PER_ROW_FROM: usize = 10;

/// Rows from which a target whose classes are mostly of one row is refused.
const MOSTLY_SINGLE_FROM: usize = 100;

/// The error of a target column `col` of `k` classes over `n` rows that a classifier cannot
/// learn: from [`ONE_PER_ROW_FROM`] rows, a value in every row (an id), and from
/// [`MOSTLY_SINGLE_FROM`] rows, more classes than half the rows (amounts, such as a price: a
/// class of one row is never seen again, and no row of it can be held out for the metrics). The
/// error says how many classes have one row at least (`2k − n`).
fn check_recurring(col: &Column, k: usize, n: usize) -> Result<()> {
    let one_per_row = k == n && n >= ONE_PER_ROW_FROM;
    if !one_per_row && (n < MOSTLY_SINGLE_FROM || k * 2 <= n) {
        return Ok(());
    }
    let name = crate::error::clip(&col.name);
    let what = if k == n {
        format!("has a different value in every row ({k} values in {n} rows)")
    } else {
        // (More classes than half the rows: at least 2k − n of them have one row only.)
        format!("has {k} distinct values in {n} rows, at least {} of them in one row only", 2 * k - n)
    };
    Err(Error::data(format!(
        "target column '{name}' {what}: a classifier learns classes that recur (an id or an amount is not one; sqlml does no regression: bucket amounts into classes, e.g. with CASE in a SELECT)"
    )))
}

impl<'a> Setup<'a> {
    /// The set-up of `data`: target found (`target` names it), rows checked, labels encoded and
    /// checked against the memory budget, rows split.
    pub fn new(
        data: &'a Dataset,
        target: Option<&str>,
        need: Target,
        common: &'a Common<'a>,
    ) -> Result<Self> {
        let target = match (target, need) {
            (Some(name), _) => Some(data.column(name, "target column")?),
            (None, Target::Labels(missing) | Target::Values(missing)) => {
                return Err(Error::argument(missing));
            }
            (None, Target::Optional) => None,
        };
        if data.n_rows == 0 {
            return Err(Error::data("no training rows"));
        }
        let labels = match (need, target) {
            (Target::Labels(_), Some(col)) => {
                let labels = encode_labels(col)?;
                check_recurring(col, labels.classes.len(), data.n_rows)?;
                metrics::check_classes(&common.budget, &col.name, labels.classes.len())?;
                Some(labels)
            }
            _ => None,
        };
        let strata = labels.as_ref().map(|l| l.y.as_slice());
        let test = held_out(data.n_rows, strata, common.test_size, common.seed)?;
        Ok(Setup { data, target, labels, test, common, left: Left::default(), refit: false, lent: None })
    }

    /// The row indices that fit the model, sorted: every row not held out, listed when asked
    /// (the recommender reads [`Setup::train_rows`] instead).
    pub fn train(&self) -> Result<Vec<usize>> {
        complement(self.data.n_rows, &self.test)
    }

    /// The rows that fit the model, as they are held: every row, or every row but the held-out
    /// ones.
    pub fn train_rows(&self) -> TrainRows<'_> {
        if self.test.is_empty() {
            TrainRows::All(self.data.n_rows)
        } else {
            TrainRows::Except { n: self.data.n_rows, test: &self.test }
        }
    }

    /// The target column (the kinds whose [`Target`] requires one).
    pub fn target(&self) -> Result<&'a Column> {
        self.target.ok_or_else(|| Error::Internal("the set-up has no target column".into()))
    }

    /// The encoded labels (the kinds whose [`Target`] is [`Target::Labels`]).
    pub fn labels(&self) -> Result<&EncodedLabels> {
        self.labels.as_ref().ok_or_else(|| Error::Internal("the set-up has no labels".into()))
    }

    /// The class ids of `rows`.
    pub fn classes_of(&self, rows: &[usize]) -> Result<Vec<u32>> {
        let y = &self.labels()?.y;
        Ok(rows.iter().map(|&r| y[r]).collect())
    }

    /// Whether [`train`] fits again on every row after this fit: rows are held out and the
    /// option `refit` is on.
    pub fn refit_follows(&self) -> bool {
        self.common.refit && !self.test.is_empty()
    }

    /// Whether this is the refit on every row that follows a measured fit. Its training log is
    /// not reported ([`train`] keeps the measured fit's), so a kind need not measure what only
    /// the log holds.
    pub fn is_refit(&self) -> bool {
        self.refit
    }

    /// Leaves `value` for the refit on every row that follows this fit (see
    /// [`Setup::refit_follows`]), which takes it with [`Setup::take_left`]: what the measured
    /// fit made that the refit can build on instead of making it again (a text model's counts
    /// of the training rows). The refit must make the same model with it as without.
    pub fn leave_for_refit<T: Any + Send>(&self, value: T) {
        *self.left.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Box::new(value));
    }

    /// The column lent to this training ([`train_giving_back`]), locked, if one was: in place of
    /// the data's (which holds an empty column of that name while it is lent). A fit may keep
    /// only some of its rows (the others then read as NULL) where no step after it, in this
    /// training or in the caller's use of the data after it, reads the others: the caller's
    /// next steps read the held-out rows only.
    pub fn lent(&self) -> Option<MutexGuard<'a, Column>> {
        self.lent.map(|lent| lent.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// What the measured fit left for this refit ([`Setup::leave_for_refit`]), if it left a `T`.
    pub fn take_left<T: Any + Send>(&self) -> Option<Box<T>> {
        self.left.take().and_then(|v| v.downcast::<T>().ok())
    }

    /// The set-up of the refit: every row in training, none held out, the labels and what the
    /// measured fit left moved over; the held-out rows are returned.
    fn every_row(mut self, common: &'a Common<'a>) -> (Setup<'a>, Vec<usize>) {
        let everything = Setup {
            data: self.data,
            target: self.target,
            labels: self.labels.take(),
            test: Vec::new(),
            common,
            left: Left(Mutex::new(self.left.take())),
            refit: true,
            lent: self.lent,
        };
        (everything, self.test)
    }
}

/// The rows that fit a model: every row `0..n`, or every row but the held-out ones.
#[derive(Clone, Copy, Debug)]
pub enum TrainRows<'a> {
    /// Rows `0..n`.
    All(usize),
    /// Rows `0..n` except `test` (sorted).
    Except {
        /// The number of rows.
        n: usize,
        /// The held-out rows, sorted.
        test: &'a [usize],
    },
}

/// Reads and checks the options of kind `E` (unknown keys included) without training: run
/// before the source is read, so a bad option fails fast.
pub fn check_options<E: Estimator>(opts: &Options, common: &Common) -> Result<()> {
    let mut opts = opts.clone();
    E::read_params(&mut opts, common)?;
    opts.finish(E::KIND)
}

/// [`Estimator::columns_read`] for `opts` (every column, `None`, if they do not read: the fit
/// reports that).
pub fn columns_read<E: Estimator>(
    opts: &Options,
    common: &Common,
    target: Option<&str>,
    names: &[String],
) -> Option<Vec<usize>> {
    let params = E::read_params(&mut opts.clone(), common).ok()?;
    E::columns_read(&params, target, names)
}

/// [`Estimator::start_ahead`] for `opts` (nothing if they do not read: the fit reports that).
pub fn start_ahead<E: Estimator>(opts: &Options, common: &Common) {
    if let Ok(params) = E::read_params(&mut opts.clone(), common) {
        E::start_ahead(&params, common);
    }
}

/// Trains a model of kind `E`: options, set-up, fit on the training rows and measure on the
/// held-out ones; then, unless `refit` is off or nothing was held out, fit the served model
/// again on every row with the same options ([`Estimator::refit_params`]). The result is the
/// served model with the measured fit's metrics, training log and held-out facts; its details
/// are the measured fit's, updated with the refit's, and say which rows fed which
/// (`metrics_fit`, `served_fit`).
pub fn train<E: Estimator>(
    data: &Dataset,
    target: Option<&str>,
    opts: &mut Options,
    common: &Common,
) -> Result<Trained<E>> {
    let params = E::read_params(opts, common)?;
    opts.finish(E::KIND)?;
    fit_and_refit::<E>(data, None, target, &params, common)
}

/// [`train`], where the caller's next steps read only the held-out rows of `data`
/// ([`Trained::held_out`]): the column the kind names ([`Estimator::lent_column`]) is lent to
/// its fits, which may give back its other rows once no later step reads them (a text model's
/// training texts, once counted: [`Setup::lent`]). The column is back in `data`, with what is
/// left of it, whatever the outcome.
pub fn train_giving_back<E: Estimator>(
    data: &mut Dataset,
    target: Option<&str>,
    opts: &mut Options,
    common: &Common,
) -> Result<Trained<E>> {
    let params = E::read_params(opts, common)?;
    opts.finish(E::KIND)?;
    let Some(index) = E::lent_column(&params, data, target).filter(|&i| i < data.columns.len()) else {
        return fit_and_refit::<E>(data, None, target, &params, common);
    };
    let empty = Column { name: data.columns[index].name.clone(), data: ColumnData::Text(Default::default()) };
    let lent = Lent(Mutex::new(std::mem::replace(&mut data.columns[index], empty)));
    let trained = fit_and_refit::<E>(data, Some(&lent), target, &params, common);
    data.columns[index] = lent.0.into_inner().unwrap_or_else(PoisonError::into_inner);
    trained
}

/// The fits of [`train`]: set-up (with the column `lent`, if any), the measured fit and the
/// refit.
fn fit_and_refit<E: Estimator>(
    data: &Dataset,
    lent: Option<&Lent>,
    target: Option<&str>,
    params: &E::Params,
    common: &Common,
) -> Result<Trained<E>> {
    let mut setup = Setup::new(data, target, E::target(params), common)?;
    setup.lent = lent;
    let mut measured = E::fit(&setup, params)?;
    measured.served_rows = measured.train_rows;
    if !setup.refit_follows() {
        let served = if setup.test.is_empty() { "every row" } else { "the training split (refit: false)" };
        measured.held_out = setup.test;
        let metrics_fit = json!({"rows": measured.train_rows, "held_out_rows": measured.test_rows});
        measured.details.insert("metrics_fit".into(), metrics_fit);
        measured.details.insert("served_fit".into(), json!({"rows": measured.train_rows, "fit_on": served}));
        return Ok(measured);
    }
    let refit_common = common.for_refit();
    let refit_params = E::refit_params(params, &measured);
    // Only the measured fit's report goes on: its model and the measured split's memory are
    // freed before the refit allocates its own.
    let Trained { model, metrics, details, log, train_rows, test_rows, refit_epochs, .. } = measured;
    drop(model);
    let (everything, held_out) = setup.every_row(&refit_common);
    let served = E::fit(&everything, &refit_params)?;
    // The report's facts describe the served model (its features, vocabulary, users, baseline
    // scores); what the measured fit found differently (its epochs, its validation) is under
    // `metrics_fit.details`, beside the training log, which is the measured fit's. Facts only
    // the measured fit has (permutation importance on the held-out rows) stay.
    let mut details = details;
    let mut differing = serde_json::Map::new();
    for (k, v) in served.details {
        if let Some(old) = details.insert(k.clone(), v)
            && details.get(&k) != Some(&old)
        {
            differing.insert(k, old);
        }
    }
    details.insert(
        "metrics_fit".into(),
        json!({"rows": train_rows, "held_out_rows": test_rows, "details": differing}),
    );
    details.insert(
        "served_fit".into(),
        json!({"rows": served.train_rows, "fit_on": "every row (refit after measuring)"}),
    );
    Ok(Trained {
        model: served.model,
        metrics,
        details,
        log,
        train_rows,
        test_rows,
        held_out,
        served_rows: served.train_rows,
        refit_epochs,
    })
}
