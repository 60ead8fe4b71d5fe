//! Pure-Rust models: no SQLite here.
//!
//! Each model kind implements [`Estimator`]: fit from a [`Dataset`] and validated options,
//! then predict, predict probabilities, explain and evaluate. [`Model`] is the closed set of
//! kinds that the store serialises (postcard) and the SQL layer dispatches on.

pub(crate) mod columns;
pub mod control;
pub mod data;
pub(crate) mod finite;
pub mod memory;
pub mod metrics;
pub mod mlp;
pub mod option_spec;
pub mod options;
pub mod recommender;
pub(crate) mod setup;
pub mod split;
pub(crate) mod stored;
pub mod text;

use crate::{Error, Result};
pub use control::Control;
pub use data::{Column, ColumnData, Dataset, Input, Value};
pub use memory::Budget;
pub use options::{Common, Options};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value as Json;
pub use stored::{SCHEMA_VERSION, StoredModel};

/// One row of `ml_training_log`: what happened in one epoch (or iteration) of training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// 1-based epoch number.
    pub epoch: u32,
    /// Training loss (or training RMSE for recommenders).
    pub loss: f64,
    /// Validation loss, when the kind holds out a validation part.
    pub val_loss: Option<f64>,
    /// A quality figure, e.g. validation accuracy.
    pub metric: Option<f64>,
    /// Seconds since training started.
    pub seconds: f64,
}

/// The result of a training run.
#[derive(Debug)]
pub struct Trained<M> {
    /// The fitted model.
    pub model: M,
    /// Metrics on the held-out split (a JSON object), or `Json::Null` when `test_size` is 0.
    pub metrics: Json,
    /// Kind-specific facts for the training report (notes, importances, vocabulary size...).
    pub details: serde_json::Map<String, Json>,
    /// Per-epoch rows for `ml_training_log` (may be empty for single-pass models).
    pub log: Vec<EpochLog>,
    /// Rows used for fitting the model that `metrics` measure.
    pub train_rows: usize,
    /// Rows held out for `metrics`.
    pub test_rows: usize,
    /// The row indices (of the training data) held out for `metrics`; filled by the set-up.
    pub held_out: Vec<usize>,
    /// Rows that fitted the returned (served) model: all of them after a refit, else
    /// `train_rows`; filled by the set-up.
    pub served_rows: usize,
    /// Epochs a refit on every row should run (a classifier stopped early: the best epoch
    /// found on the split); None runs the same options.
    pub refit_epochs: Option<usize>,
}

/// What every model kind offers.
pub trait Estimator: Sized + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The kind name used in `ml_train(name, kind, ...)`.
    const KIND: &'static str;

    /// The kind's validated options.
    type Params: Clone;

    /// Reads the kind's options through their declarations (the set-up then rejects keys the
    /// kind does not declare, before any heavy work).
    fn read_params(opts: &mut Options, common: &Common) -> Result<Self::Params>;

    /// What the kind needs of the target column, given its options.
    fn target(params: &Self::Params) -> setup::Target;

    /// Fits on `setup.train()` and evaluates on `setup.test`.
    ///
    /// Sizes that options choose are checked against `setup.common.budget` before memory is
    /// taken (see [`memory`]); long loops tick `setup.common.control`, whose error (an
    /// interruption) ends the training; a fit whose loss or parameters stop being finite is an
    /// error that names the epoch and the option to change. An error means no model.
    fn fit(setup: &setup::Setup<'_>, params: &Self::Params) -> Result<Trained<Self>>;

    /// The options of the refit on every row after a measured fit (see `setup::train`): by
    /// default the same.
    fn refit_params(params: &Self::Params, _measured: &Trained<Self>) -> Self::Params {
        params.clone()
    }

    /// Starts, on another thread, what a training with `params` can do before its rows are
    /// read, and keeps it in `common` ([`options::HeadStart`]) for the call's first fit
    /// (default: nothing).
    fn start_ahead(_params: &Self::Params, _common: &Common) {}

    /// The columns a training with `params` and `target` reads, by their positions in the
    /// source's column `names` (sorted, each once), when the options name them before the rows
    /// are read; `None` reads every column (default). The fit then finds the same columns as
    /// it would among all of them: a name that does not resolve gives `None`, so that the fit
    /// reports it as before.
    fn columns_read(_params: &Self::Params, _target: Option<&str>, _names: &[String]) -> Option<Vec<usize>> {
        None
    }

    /// The column of `data` (its index) that a training with `params` and `target` may narrow,
    /// giving back the rows nothing after it reads, when the caller allows it
    /// ([`train_giving_back`]); `None` (default) lends none.
    fn lent_column(_params: &Self::Params, _data: &Dataset, _target: Option<&str>) -> Option<usize> {
        None
    }

    /// Reads the options, sets up (`setup::train`) and fits.
    fn train(
        data: &Dataset,
        target: Option<&str>,
        opts: &mut Options,
        common: &Common,
    ) -> Result<Trained<Self>> {
        setup::train(data, target, opts, common)
    }

    /// [`Estimator::KIND`] of a value.
    fn kind_name(&self) -> &'static str {
        Self::KIND
    }

    /// The algorithm name stored in `ml_models.algorithm`, e.g. `multinomial_nb`.
    fn algorithm(&self) -> String;

    /// Predicts for one input row (the SQL arguments after the model name).
    fn predict(&self, args: &[Input<'_>]) -> Result<Value>;

    /// Class probabilities for one input row, in class order.
    fn predict_proba(&self, _args: &[Input<'_>]) -> Result<Vec<(Value, f64)>> {
        Err(Error::Unsupported(format!("'{}' models give no class probabilities", Self::KIND)))
    }

    /// Contributions behind one prediction, as a JSON array, largest first.
    fn explain(&self, args: &[Input<'_>]) -> Result<Json>;

    /// Metrics on labelled rows (same columns as in training).
    fn evaluate(&self, data: &Dataset) -> Result<Json>;

    /// For evaluation a batch at a time: the true class ids and the predicted probabilities
    /// (row-major) of the labelled rows of `data`, whose first row is row `first` + 1 of the
    /// source (for error messages); None for kinds whose metrics need every row at once.
    fn labelled_proba(&self, _data: &Dataset, _first: usize) -> Result<Option<(Vec<u32>, Vec<f64>)>> {
        Ok(None)
    }

    /// Predictions for every row of `data`, whose columns have the training names (batched:
    /// one matrix product per batch for the classifier).
    fn predict_rows(&self, data: &Dataset, control: &Control<'_>) -> Result<Predictions>;
}

/// Predictions for a batch of rows ([`Estimator::predict_rows`]).
#[derive(Debug, Default, PartialEq)]
pub struct Predictions {
    /// The prediction of each row.
    pub values: Vec<Value>,
    /// The class labels, in class order (empty for recommenders).
    pub classes: Vec<Value>,
    /// Class probabilities, row-major (`rows × classes`; empty for recommenders).
    pub proba: Vec<f64>,
}

impl Predictions {
    /// The predictions of class probabilities `proba` (row-major) over `classes`: the most
    /// probable class of each row (the first on ties).
    pub fn of_classes(classes: &[Value], proba: Vec<f64>) -> Predictions {
        let k = classes.len().max(1);
        let values = proba.chunks(k).map(|row| classes[metrics::argmax(row)].clone()).collect();
        Predictions { values, classes: classes.to_vec(), proba }
    }
}

/// The model kinds this build knows, in their stored form.
///
/// The variant order is part of the stored format (postcard writes the variant index): add new
/// kinds at the end only.
#[derive(Debug, Serialize, Deserialize)]
pub enum Model {
    /// Naive Bayes text classifier.
    Text(text::TextModel),
    /// A multilayer-perceptron classifier over tabular columns.
    Classifier(mlp::Classifier),
    /// Matrix factorisation recommender (SVD, SVD++, implicit ALS).
    Recommender(recommender::Recommender),
}

/// The kinds accepted by `ml_train`, for error messages.
pub const KINDS: &[&str] = &["text", "classifier", "recommender"];

impl<M> Trained<M> {
    /// Converts the model, keeping the report.
    pub fn map<N>(self, f: impl FnOnce(M) -> N) -> Trained<N> {
        Trained {
            model: f(self.model),
            metrics: self.metrics,
            details: self.details,
            log: self.log,
            train_rows: self.train_rows,
            test_rows: self.test_rows,
            held_out: self.held_out,
            served_rows: self.served_rows,
            refit_epochs: self.refit_epochs,
        }
    }
}

/// Calls `$body` with `$m` bound to the concrete model inside a [`Model`].
macro_rules! dispatch {
    ($model:expr, $m:ident => $body:expr) => {
        match *$model {
            Model::Text(ref $m) => $body,
            Model::Classifier(ref $m) => $body,
            Model::Recommender(ref $m) => $body,
        }
    };
}

/// [`train`], where the caller reads only the held-out rows of `data` afterwards
/// ([`Trained::held_out`]): the kind may give back the others as it goes (a text model its
/// training texts once counted, where its refit counts the held-out texts on their counts), and
/// `data` holds what is left of them.
pub fn train_giving_back(
    kind: &str,
    data: &mut Dataset,
    target: Option<&str>,
    opts: &mut Options,
    common: &Common,
) -> Result<Trained<Model>> {
    check_kind(kind)?;
    match kind {
        text::TextModel::KIND => setup::train_giving_back::<text::TextModel>(data, target, opts, common)
            .map(|t| t.map(Model::Text)),
        _ => train(kind, data, target, opts, common),
    }
}

/// Trains a model of kind `kind` (one of [`KINDS`]).
pub fn train(
    kind: &str,
    data: &Dataset,
    target: Option<&str>,
    opts: &mut Options,
    common: &Common,
) -> Result<Trained<Model>> {
    check_kind(kind)?;
    match kind {
        text::TextModel::KIND => {
            text::TextModel::train(data, target, opts, common).map(|t| t.map(Model::Text))
        }
        mlp::Classifier::KIND => {
            mlp::Classifier::train(data, target, opts, common).map(|t| t.map(Model::Classifier))
        }
        recommender::Recommender::KIND => {
            recommender::Recommender::train(data, target, opts, common).map(|t| t.map(Model::Recommender))
        }
        // Reached only if KINDS lists a kind that has no arm above.
        _ => Err(Error::Unsupported(format!("kind '{kind}' is listed but not built in"))),
    }
}

/// Checks the options of `kind` (see `setup::check_options`), before any data is read.
pub fn check_options(kind: &str, opts: &Options, common: &Common) -> Result<()> {
    check_kind(kind)?;
    match kind {
        text::TextModel::KIND => setup::check_options::<text::TextModel>(opts, common),
        mlp::Classifier::KIND => setup::check_options::<mlp::Classifier>(opts, common),
        recommender::Recommender::KIND => setup::check_options::<recommender::Recommender>(opts, common),
        _ => Err(Error::Unsupported(format!("kind '{kind}' is listed but not built in"))),
    }
}

/// Starts what a training of `kind` with `opts` can do before its rows are read
/// ([`Estimator::start_ahead`]: the recommender's starting draws, on the second core while
/// SQLite reads the rows). Call after [`check_options`]; whatever is started is stopped and
/// dropped with `common` if no fit takes it (a failed read).
pub fn start_ahead(kind: &str, opts: &Options, common: &Common) {
    if kind == recommender::Recommender::KIND {
        setup::start_ahead::<recommender::Recommender>(opts, common);
    }
}

/// The columns a training of `kind` with `opts` and `target` reads among the source's column
/// `names` ([`Estimator::columns_read`]); `None` (every column) if the options do not read.
pub fn columns_read(
    kind: &str,
    opts: &Options,
    common: &Common,
    target: Option<&str>,
    names: &[String],
) -> Option<Vec<usize>> {
    match kind {
        text::TextModel::KIND => setup::columns_read::<text::TextModel>(opts, common, target, names),
        mlp::Classifier::KIND => setup::columns_read::<mlp::Classifier>(opts, common, target, names),
        recommender::Recommender::KIND => {
            setup::columns_read::<recommender::Recommender>(opts, common, target, names)
        }
        _ => None,
    }
}

/// The position of the column named `name` among `names` (ASCII case-insensitive, the first,
/// as [`Dataset::index_of`] finds it).
pub(crate) fn position_of(names: &[String], name: &str) -> Option<usize> {
    names.iter().position(|n| n.eq_ignore_ascii_case(name))
}

/// The error of a source with two columns named `name` among `names` (in any case): which one
/// is meant is unknown (a training's inputs, a prediction's or a scoring's columns are found by
/// name).
pub(crate) fn named_once(names: &[impl AsRef<str>], name: &str) -> Result<()> {
    if names.iter().filter(|n| n.as_ref().eq_ignore_ascii_case(name)).nth(1).is_some() {
        return Err(Error::data(format!(
            "the source has two columns named '{}'; name each column once (AS in a SELECT)",
            crate::error::clip(name)
        )));
    }
    Ok(())
}

/// `positions` sorted, each once.
pub(crate) fn sorted_once(mut positions: Vec<usize>) -> Vec<usize> {
    positions.sort_unstable();
    positions.dedup();
    positions
}

/// Checks that `kind` is one of [`KINDS`], before any data is read.
pub fn check_kind(kind: &str) -> Result<()> {
    if KINDS.contains(&kind) {
        return Ok(());
    }
    Err(Error::argument(format!(
        "argument 'kind' must be one of {}, got '{kind}'",
        KINDS.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ")
    )))
}

impl Model {
    /// Checks that the parts of a decoded model agree (sizes, offsets, ids in range), so that
    /// no prediction can index out of bounds; the error says what disagrees.
    pub fn check(&self) -> std::result::Result<(), String> {
        match self {
            Model::Text(m) => m.check(),
            Model::Classifier(m) => m.check(),
            Model::Recommender(m) => m.check(),
        }
    }

    /// Why this build cannot use the model (a cargo feature it was built without), if it
    /// cannot: decoding refuses such a model with this message.
    pub fn unsupported(&self) -> Option<&'static str> {
        match self {
            Model::Text(m) => m.unsupported(),
            Model::Classifier(_) | Model::Recommender(_) => None,
        }
    }

    /// The held-out metric that `activate: 'if_better'` compares, and whether higher is
    /// better: macro F1 for classifiers, RMSE for ratings, NDCG@10 for implicit feedback.
    pub fn key_metric(&self) -> (&'static str, bool) {
        match self {
            Model::Text(_) | Model::Classifier(_) => ("macro_f1", true),
            Model::Recommender(r) if r.implicit() => ("ndcg_at_10", true),
            Model::Recommender(_) => ("rmse", false),
        }
    }

    /// The columns of a source that scoring it ([`Model::evaluate`], [`Model::labelled_proba`])
    /// reads: the text and target columns; the features and the target; the user, item and
    /// rating columns.
    pub fn columns_used(&self) -> Vec<&str> {
        match self {
            Model::Text(m) => vec![m.text_column(), m.target_column()],
            Model::Classifier(m) => {
                let mut used = m.feature_names();
                used.push(m.target_column());
                used
            }
            Model::Recommender(m) => m.columns_used(),
        }
    }

    /// The columns of a source that predicting its rows ([`Model::predict_rows`]) reads: the
    /// text column; the features; the user and item columns.
    pub fn inputs_used(&self) -> Vec<&str> {
        match self {
            Model::Text(m) => vec![m.text_column()],
            Model::Classifier(m) => m.feature_names(),
            Model::Recommender(m) => m.columns_used().into_iter().take(2).collect(),
        }
    }

    /// The positions among a source's column `names` of [`Model::columns_used`] (sorted, each
    /// once); `None` when one of them is not there (every column is read, and scoring reports
    /// it as before).
    pub fn columns_read(&self, names: &[String]) -> Option<Vec<usize>> {
        let used: Option<Vec<usize>> = self.columns_used().iter().map(|n| position_of(names, n)).collect();
        used.map(sorted_once)
    }

    /// The kind name (`text`, `classifier`, `recommender`).
    pub fn kind(&self) -> &'static str {
        dispatch!(self, m => m.kind_name())
    }
    /// The algorithm name.
    pub fn algorithm(&self) -> String {
        dispatch!(self, m => m.algorithm())
    }
    /// See [`Estimator::predict`].
    pub fn predict(&self, args: &[Input<'_>]) -> Result<Value> {
        dispatch!(self, m => m.predict(args))
    }
    /// See [`Estimator::predict_proba`].
    pub fn predict_proba(&self, args: &[Input<'_>]) -> Result<Vec<(Value, f64)>> {
        dispatch!(self, m => m.predict_proba(args))
    }
    /// See [`Estimator::explain`].
    pub fn explain(&self, args: &[Input<'_>]) -> Result<Json> {
        dispatch!(self, m => m.explain(args))
    }
    /// See [`Estimator::evaluate`].
    pub fn evaluate(&self, data: &Dataset) -> Result<Json> {
        dispatch!(self, m => m.evaluate(data))
    }
    /// See [`Estimator::labelled_proba`].
    pub fn labelled_proba(&self, data: &Dataset, first: usize) -> Result<Option<(Vec<u32>, Vec<f64>)>> {
        dispatch!(self, m => m.labelled_proba(data, first))
    }
    /// The class labels of a classifier (text or tabular), in class order; empty for
    /// recommenders.
    pub fn classes(&self) -> &[Value] {
        match self {
            Model::Text(m) => m.classes(),
            Model::Classifier(m) => m.classes(),
            Model::Recommender(_) => &[],
        }
    }
    /// See [`Estimator::predict_rows`].
    pub fn predict_rows(&self, data: &Dataset, control: &Control<'_>) -> Result<Predictions> {
        dispatch!(self, m => m.predict_rows(data, control))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::data::{Column, ColumnData};

    /// The columns a training reads, from the options and the source's column names.
    #[test]
    fn the_columns_read_are_those_the_options_name() {
        let names: Vec<String> =
            ["Id", "body", "Label", "attachment", "user", "item"].iter().map(|s| s.to_string()).collect();
        let read = |kind: &str, json: &str, target: Option<&str>| {
            let opts = Options::parse(Some(json)).unwrap();
            columns_read(kind, &opts, &Common::default(), target, &names)
        };
        let label = Some("label");
        assert_eq!(read("text", r#"{"text": "BODY"}"#, label), Some(vec![1, 2]));
        assert_eq!(read("text", "{}", label), None, "found by type");
        assert_eq!(read("text", r#"{"text": "nope"}"#, label), None);
        assert_eq!(read("text", r#"{"text": "label"}"#, label), None);
        assert_eq!(read("text", r#"{"text": "body"}"#, None), None);
        // The recommender's first two columns besides the target, or those named.
        assert_eq!(read("recommender", "{}", label), Some(vec![0, 1, 2]));
        assert_eq!(read("recommender", r#"{"user": "user", "item": "item"}"#, label), Some(vec![2, 4, 5]));
        // One named: the first two besides the target are read too, so that the other role,
        // taken by position, finds the same column among those read.
        assert_eq!(read("recommender", r#"{"user": "item"}"#, label), Some(vec![0, 1, 2, 5]));
        assert_eq!(read("recommender", r#"{"item": "user"}"#, label), Some(vec![0, 1, 2, 4]));
        assert_eq!(read("recommender", r#"{"algorithm": "als"}"#, None), Some(vec![0, 1]));
        assert_eq!(read("recommender", r#"{"user": "item", "item": "ITEM"}"#, label), None);
        assert_eq!(read("recommender", r#"{"user": "label"}"#, label), None);
        assert_eq!(read("recommender", "{}", Some("nope")), None);
        // The classifier's `features`, or every column but the excluded (the target always).
        assert_eq!(read("classifier", r#"{"features": ["body", "id"]}"#, label), Some(vec![0, 1, 2]));
        assert_eq!(
            read("classifier", r#"{"exclude": ["attachment", "label"]}"#, label),
            Some(vec![0, 1, 2, 4, 5])
        );
        assert_eq!(read("classifier", r#"{"exclude": ["nope"]}"#, label), None);
        assert_eq!(read("classifier", r#"{"features": ["nope"]}"#, label), None);
        assert_eq!(read("classifier", "{}", label), None);
        // Options that do not read: every column (the fit reports them).
        assert_eq!(read("text", r#"{"text": 3}"#, label), None);
        assert_eq!(read("nope", "{}", label), None);
    }

    /// A decoded model whose parts disagree is a decoding error, not a model.
    #[test]
    fn decoding_checks_that_the_parts_agree() {
        let data = Dataset::new(vec![
            Column {
                name: "body".into(),
                data: ColumnData::texts(vec![
                    Some("good day".into()),
                    Some("bad day".into()),
                    Some("good".into()),
                ]),
            },
            Column {
                name: "label".into(),
                data: ColumnData::texts(vec![Some("a".into()), Some("b".into()), Some("a".into())]),
            },
        ]);
        let common = Common { test_size: 0.0, ..Common::default() };
        let model = train("text", &data, Some("label"), &mut Options::default(), &common).unwrap().model;
        let stored = StoredModel { schema_version: SCHEMA_VERSION, model };
        let bytes = postcard::to_stdvec(&stored).unwrap();
        assert!(postcard::from_bytes::<StoredModel>(&bytes).is_ok());
        // One label fewer than the classes of the weights.
        let mut tree = serde_json::to_value(&stored).unwrap();
        tree["model"]["Text"]["classes"].as_array_mut().unwrap().pop();
        let damaged = serde_json::from_value::<StoredModel>(tree).unwrap();
        assert_eq!(damaged.model.check().unwrap_err(), "text model with 1 labels and 2 classes of weights");
        // Through the store, the message reaches the user (postcard would drop it).
        let plain = postcard::to_stdvec(&stored::Plaintext::new(&damaged)).unwrap();
        let e = crate::store::decode("m", &plain).unwrap_err().to_string();
        assert_eq!(
            e,
            "model encoding failed: model 'm' is damaged: text model with 1 labels and 2 classes of weights"
        );
    }
}
