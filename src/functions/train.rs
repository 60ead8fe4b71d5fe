//! `ml_train(name, kind, source, target [, options])` and `ml_evaluate(name, source)`.

use super::args::{opt_text, run, text};
use crate::error::clip;
use crate::models::options::{self, Activate};
use crate::models::{self, Common, Dataset, Model, Options, Trained};
use crate::store::{self, NewModel, Session};
use crate::{Error, Result, source};
use rusqlite::Connection;
use serde_json::{Map, Value as Json, json};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

pub fn register(conn: &Connection, session: &Arc<Session>) -> rusqlite::Result<()> {
    for n_arg in [4, 5] {
        let s = session.clone();
        conn.create_scalar_function("ml_train", n_arg, super::direct_only(), move |ctx| {
            run("ml_train", || {
                let name = text(ctx, 0, "name")?;
                let kind = text(ctx, 1, "kind")?;
                let source = text(ctx, 2, "source")?;
                let target = opt_text(ctx, 3, "target")?;
                let options = opt_text(ctx, 4, "options")?;
                let conn = super::args::connection(ctx, "ml_train")?;
                train(&s, &conn, &name, &kind, &source, target.as_deref(), options.as_deref())
            })
        })?;
    }
    let s = session.clone();
    conn.create_scalar_function("ml_evaluate", 2, super::direct_only(), move |ctx| {
        run("ml_evaluate", || {
            let name = text(ctx, 0, "name")?;
            let source = text(ctx, 1, "source")?;
            let conn = super::args::connection(ctx, "ml_evaluate")?;
            let model = s.load_active(&conn, &name)?;
            super::evaluate::evaluate(&conn, &model, &source)
        })
    })?;
    Ok(())
}

/// Keeps only the numeric top-level metrics: they go into `ml_models.metrics` in the clear,
/// where label names (training data) must not appear.
fn scalar_metrics(metrics: &Json) -> Json {
    match metrics {
        Json::Object(m) => Json::Object(
            m.iter().filter(|(_, v)| v.is_number()).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ),
        _ => Json::Null,
    }
}

/// The statement the interrupt check of a training steps: about 10,000 steps of SQLite's
/// virtual machine, in about 0.1 ms (0.2% of the 50 ms between checks). A host's progress
/// handler is called every N steps (Datasette's time limit: N = 1,000), so it is called at each
/// check up to N = 10,000, and every tenth at 100,000; a `SELECT 1` of 4 steps called a handler
/// of N = 1,000 every 12.5 s of training.
const INTERRUPT_CHECK: &str =
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 600) SELECT count(*) FROM c";

/// Trains, stores and activates version n+1 of `name`; returns the training report (JSON).
/// Atomic: any failure leaves every table as it was.
///
/// The fit honours `sqlite3_interrupt` and the connection's progress handler: the training's
/// control steps a nested statement on this connection ([`INTERRUPT_CHECK`], at most every 50
/// ms of training), which fails with SQLite's `interrupted` once the interrupt flag is set, or
/// once the progress handler, called every N of its virtual machine's steps, asks to stop.
/// While this call's statement runs, SQLite does not clear the flag, so this works on every
/// supported SQLite (3.40 included, where `sqlite3_is_interrupted` does not exist). The error
/// ends the fit before anything is written.
pub fn train(
    session: &Session,
    conn: &Connection,
    name: &str,
    kind: &str,
    source: &str,
    target: Option<&str>,
    options: Option<&str>,
) -> Result<String> {
    store::check_name(name)?;
    models::check_kind(kind)?;
    // (Checked again when the version is stored: before the fit, it saves the fit.)
    store::check_same_kind(conn, name, kind)?;
    // Prepared once; stepped by the interrupt check from this thread only.
    let nested = RefCell::new(conn.prepare(INTERRUPT_CHECK)?);
    let check = || -> Result<()> {
        let mut stmt =
            nested.try_borrow_mut().map_err(|_| Error::data("the interrupt check is already running"))?;
        let mut rows = stmt.raw_query();
        rows.next()?;
        Ok(())
    };
    let mut opts = Options::parse(options)?;
    let given = opts.to_json();
    let mut common = Common::read(&mut opts)?;
    if common.activate == Activate::IfBetter && common.test_size == 0.0 {
        return Err(Error::option(
            "activate",
            "'if_better' needs held-out rows to compare on (a test_size above 0)",
        ));
    }
    common.control = std::mem::take(&mut common.control)
        .with_check(&check)
        .with_label(format!("ml_train '{}': ", clip(name)));
    // Fail before the (possibly long) read and fit on a bad option or without a key.
    models::check_options(kind, &opts, &common)?;
    models::start_ahead(kind, &opts, &common);
    let key = session.write_key(conn)?;
    // The name's cached versions are given back before the rows are read: the new version will
    // be served, and a large cached one held through the training adds its memory to the
    // training's (with `activate: 'if_better'` the active one is kept: it is scored on the
    // held-out rows).
    if common.activate != Activate::IfBetter {
        session.forget(name);
    }
    // Only the columns the options name, where they name them, are read (a column left
    // unread may hold anything); with `activate: 'if_better'`, those the active version scores
    // too (it is scored on the held-out rows).
    // (The active version is looked at only once the source is checked and the new training
    // reads some of its columns.)
    let mut data = source::read_columns(conn, source, |names| {
        let mut read = models::columns_read(kind, &opts, &common, target, names)?;
        if common.activate == Activate::IfBetter {
            for column in active_columns(session, conn, name)? {
                read.push(models::position_of(names, &column)?);
            }
        }
        Some(models::sorted_once(read))
    })?;
    let started = Instant::now();
    // What is read of the rows after training is the held-out ones (`if_better`): the others
    // may be given back as the training goes.
    let mut trained = models::train_giving_back(kind, &mut data, target, &mut opts, &common)?;
    let seconds = started.elapsed().as_secs_f64();
    let activation = match common.activate {
        Activate::Always => json!({"strategy": "always", "activated": true}),
        Activate::Never => json!({"strategy": "never", "activated": false}),
        Activate::IfBetter => if_better(session, conn, (name, source), &data, &trained)?,
    };
    let activate = activation["activated"] == json!(true);
    // The rows read and the held-out indices are not needed any more: freed before the model
    // is encoded and sealed (a blob of the model's size, beside the model), which is where a
    // training's memory peaks.
    let n_rows = data.n_rows;
    drop(data);
    drop(std::mem::take(&mut trained.held_out));
    let algorithm = trained.model.algorithm();
    let params = json!({
        "source": source,
        "target": target,
        "options": given,
        "seed": common.seed,
        "test_size": common.test_size,
    })
    .to_string();
    let metrics_clear = scalar_metrics(&trained.metrics).to_string();
    // The new version and the pruning of old ones (option `keep`) commit together.
    let (version, pruned) = session.insert_and_prune(
        conn,
        &key,
        NewModel {
            name,
            kind,
            algorithm: &algorithm,
            rows: n_rows,
            params: &params,
            metrics: &metrics_clear,
            model: trained.model,
            log: &trained.log,
            activate,
        },
        common.keep,
    )?;
    let mut report = Map::new();
    report.insert("name".into(), json!(name));
    report.insert("version".into(), json!(version));
    report.insert("kind".into(), json!(kind));
    report.insert("algorithm".into(), json!(algorithm));
    report.insert("rows".into(), json!(n_rows));
    report.insert("train_rows".into(), json!(trained.train_rows));
    report.insert("test_rows".into(), json!(trained.test_rows));
    report.insert("served_rows".into(), json!(trained.served_rows));
    report.insert("activation".into(), activation);
    if common.keep.is_some() {
        report.insert("pruned_versions".into(), json!(pruned));
    }
    report.insert("seconds".into(), json!(seconds));
    if trained.test_rows == 0 && common.test_size > 0.0 {
        // Asked for, none could be held out: say why there are no metrics.
        report.insert(
            "metrics_note".into(),
            json!(format!(
                "no row was held out for metrics: test_size {} holds out that share of the rows (of each class, leaving it one row), rounded, which was none here; use more rows or a larger test_size",
                common.test_size
            )),
        );
    }
    report.insert("metrics".into(), trained.metrics);
    for (k, v) in trained.details {
        report.entry(k).or_insert(v);
    }
    Ok(Json::Object(report).to_string())
}

/// The columns the active version of `name` scores ([`Model::columns_used`]): none without an
/// active version; `None` when it cannot be looked at (every column is then read, and
/// [`if_better`] meets the same error as before, after the training).
fn active_columns(session: &Session, conn: &Connection, name: &str) -> Option<Vec<String>> {
    match store::active_version(conn, name) {
        Ok(None) => Some(Vec::new()),
        Ok(Some(_)) => {
            let active = session.peek_active(conn, name).ok()?;
            Some(active.model.columns_used().into_iter().map(str::to_string).collect())
        }
        Err(_) => None,
    }
}

/// Whether version `version` of `name` was trained on `source` (the same text) and its served
/// model fitted on every row (the option `refit` not false): then the rows held out now were
/// among its training rows, if the source's rows did not change. Unknown (unreadable params):
/// false.
fn fitted_on(conn: &Connection, name: &str, version: i64, source: &str) -> bool {
    let params: Option<String> = conn
        .query_row(
            "SELECT params FROM main.ml_models WHERE name = ?1 COLLATE BINARY AND version = ?2",
            rusqlite::params![name, version],
            |r| r.get(0),
        )
        .ok();
    let Some(params) = params.and_then(|p| serde_json::from_str::<Json>(&p).ok()) else { return false };
    // `refit` read as the training read it (`false`, or 0 as SQLite's `false` gives it).
    let refit = match &params["options"] {
        Json::Object(given) => Options::from_map(given.clone()).bool(&options::REFIT).unwrap_or(true),
        _ => true,
    };
    params["source"].as_str() == Some(source) && refit
}

/// `activate: 'if_better'`: scores the active version of `name` on the rows the new model's
/// metrics were measured on, and activates the new one only if its key metric
/// ([`Model::key_metric`]) is strictly better. No active version: the new one is activated. An
/// active version that cannot be scored on these rows (another kind, other columns) is kept.
fn if_better(
    session: &Session,
    conn: &Connection,
    (name, source): (&str, &str),
    data: &Dataset,
    trained: &Trained<Model>,
) -> Result<Json> {
    let (metric, higher) = trained.model.key_metric();
    let mut out = json!({"strategy": "if_better", "metric": metric});
    let new = trained.metrics.get(metric).and_then(Json::as_f64);
    out["new"] = json!(new);
    if store::active_version(conn, name)?.is_none() {
        out["activated"] = json!(true);
        out["reason"] = json!("no version was active");
        return Ok(out);
    }
    let active = session.load_active(conn, name)?;
    out["active_version"] = json!(active.version);
    // Another connection may have activated another version since the source was read with
    // the columns of the one active then: one of its columns the source has was not read.
    let unread: Vec<&str> = active
        .model
        .columns_used()
        .into_iter()
        .filter(|c| data.index_of(c).is_none() && data.set_aside(c).is_none() && data.in_source(c))
        .collect();
    if !unread.is_empty() {
        out["activated"] = json!(false);
        out["reason"] = json!(format!(
            "the active version changed while training (to version {}), and the columns it scores were not all read ({}): \
             it was not scored (compare with ml_evaluate, activate with ml_activate)",
            active.version,
            unread.iter().map(|c| format!("'{}'", clip(c))).collect::<Vec<_>>().join(", ")
        ));
        return Ok(out);
    }
    let held_out = data.subset(&trained.held_out);
    let theirs = match active.model.evaluate(&held_out) {
        Ok(m) => m.get(metric).and_then(Json::as_f64),
        Err(e) => {
            out["activated"] = json!(false);
            out["reason"] =
                json!(format!("the active version could not be scored on the held-out rows: {e}"));
            return Ok(out);
        }
    };
    out["active"] = json!(theirs);
    if fitted_on(conn, name, active.version, source) {
        // Its served model saw these rows: said, so that the comparison is read as it is.
        out["active_fitted_on_these_rows"] = json!(true);
        out["note"] = json!(
            "the active version was fitted on every row of this same source, these held-out rows among them: its score \
             on them is optimistic (train versions with refit: false, or compare with ml_evaluate on rows neither saw)"
        );
    }
    let better = match (new, theirs) {
        (Some(n), Some(t)) => {
            if higher {
                n > t
            } else {
                n < t
            }
        }
        (Some(_), None) => true,
        _ => false,
    };
    out["activated"] = json!(better);
    out["reason"] = json!(if better {
        format!("the new version's {metric} is better on the same held-out rows")
    } else {
        format!("the active version's {metric} is at least as good on the same held-out rows")
    });
    Ok(out)
}
