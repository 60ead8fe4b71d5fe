//! Behaviour of the whole classifier: training on known problems, determinism, errors,
//! explanations, serialisation.

use super::*;
use crate::models::Model;
use crate::models::data::{Column, ColumnData, class_index};

/// Two Gaussian-ish blobs per class in 2-D plus a categorical column that also separates
/// them; labels are text.
fn blobs(n: usize) -> Dataset {
    let mut a = Vec::new();
    let mut b = Vec::new();
    let mut shape = Vec::new();
    let mut label = Vec::new();
    for i in 0..n {
        let class = i % 3;
        let (cx, cy) = [(0.0, 0.0), (4.0, 0.0), (0.0, 4.0)][class];
        let jitter = |k: usize| (((i * 7919 + k * 104_729) % 1000) as f64 / 1000.0 - 0.5) * 1.5;
        a.push(Some(cx + jitter(1)));
        b.push(if i % 17 == 0 { None } else { Some(cy + jitter(2)) });
        shape.push(Some(["round", "square", "star"][(class + usize::from(i % 5 == 0)) % 3].to_string()));
        label.push(Some(["red", "green", "blue"][class].to_string()));
    }
    Dataset::new(vec![
        Column { name: "a".into(), data: ColumnData::reals(a) },
        Column { name: "b".into(), data: ColumnData::reals(b) },
        Column { name: "shape".into(), data: ColumnData::texts(shape) },
        Column { name: "color".into(), data: ColumnData::texts(label) },
    ])
}

fn train(data: &Dataset, json: &str) -> Result<Trained<Classifier>> {
    let mut opts = Options::parse(Some(json))?;
    let common = Common::read(&mut opts)?;
    Classifier::train(data, Some("color"), &mut opts, &common)
}

#[test]
fn learns_separable_blobs_and_returns_labels_of_the_same_type() {
    let data = blobs(600);
    let t = train(&data, r#"{"epochs": 20}"#).unwrap();
    assert!(t.metrics["accuracy"].as_f64().unwrap() > 0.97, "{}", t.metrics);
    assert_eq!((t.train_rows, t.test_rows), (480, 120));
    assert_eq!(t.log.len(), 20);
    assert!(t.log[19].val_loss.unwrap() < t.log[0].val_loss.unwrap());
    let m = &t.model;
    assert_eq!(
        m.predict(&[Input::Real(4.0), Input::Real(0.0), Input::Text("square")]).unwrap(),
        Value::Text("green".into())
    );
    assert_eq!(
        m.predict(&[Input::Text(r#"{"a": 0, "b": 4, "shape": "star"}"#)]).unwrap(),
        Value::Text("blue".into())
    );
    let proba = m.predict_proba(&[Input::Real(0.0), Input::Null, Input::Text("round")]).unwrap();
    assert_eq!(proba.iter().map(|(l, _)| l.to_key()).collect::<Vec<_>>(), vec!["blue", "green", "red"]);
    assert!((proba.iter().map(|(_, p)| p).sum::<f64>() - 1.0).abs() < 1e-6);
    let eval = m.evaluate(&data).unwrap();
    assert!(eval["accuracy"].as_f64().unwrap() > 0.97);
    assert_eq!(eval["rows"], json!(600));
    let imp = t.details["permutation_importance"].as_array().unwrap();
    assert_eq!(imp.len(), 3);
    assert_eq!(t.details["features"][1]["missing_flag"], json!(true));
    // The log is the measured fit's, monitored on the held-out rows; the served refit had none.
    assert_eq!(t.details["metrics_fit"]["details"]["log_validation"], json!("test split (monitoring only)"));
    assert_eq!(t.details["log_validation"], json!("none"));
    assert_eq!(
        (t.details["metrics_fit"]["rows"].clone(), t.details["served_fit"]["rows"].clone()),
        (json!(480), json!(600))
    );
}

#[test]
fn integer_labels_come_back_as_integers() {
    let data = Dataset::new(vec![
        Column { name: "x".into(), data: ColumnData::integers((0..200).map(|i| Some(i % 2)).collect()) },
        Column {
            name: "color".into(),
            data: ColumnData::integers((0..200).map(|i| Some(10 + i % 2)).collect()),
        },
    ]);
    let t = train(&data, r#"{"epochs": 30, "hidden_layers": [4], "learning_rate": 0.01}"#).unwrap();
    assert_eq!(t.model.predict(&[Input::Integer(1)]).unwrap(), Value::Integer(11));
    assert_eq!(t.metrics["roc_auc"], json!(1.0));
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let data = blobs(150);
    let bytes = |json: &str| postcard::to_stdvec(&train(&data, json).unwrap().model).unwrap();
    let a = bytes(r#"{"epochs": 2, "dropout": 0.1}"#);
    assert_eq!(a, bytes(r#"{"epochs": 2, "dropout": 0.1}"#));
    assert_ne!(a, bytes(r#"{"epochs": 2, "dropout": 0.1, "seed": 43}"#));
}

#[test]
fn serialisation_round_trip_keeps_predictions_and_fallbacks() {
    let data = blobs(150);
    let model = train(&data, r#"{"epochs": 2}"#).unwrap().model;
    let stored = crate::models::stored::encode(Model::Classifier(model.clone())).unwrap();
    let Ok(Model::Classifier(back)) = crate::models::stored::decode(&stored) else { panic!("decodes") };
    assert_eq!(back, model);
    // NULL numeric and an unseen category both have a defined encoding.
    let args = [Input::Null, Input::Null, Input::Text("hexagon")];
    assert_eq!(back.predict_proba(&args).unwrap(), model.predict_proba(&args).unwrap());
}

#[test]
fn explanations_sum_to_the_score_difference() {
    let data = blobs(300);
    let t = train(&data, r#"{"epochs": 5}"#).unwrap();
    let args = [Input::Text(r#"{"shape": "star", "a": 0.5, "b": 3.5}"#)];
    let explained = t.model.explain(&args).unwrap();
    let rows = explained.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows.iter().find(|r| r["feature"] == "shape").unwrap()["value"], json!("star"));
    let mags: Vec<f64> = rows.iter().map(|r| r["contribution"].as_f64().unwrap().abs()).collect();
    assert!(mags.windows(2).all(|w| w[0] >= w[1]));
    let total: f64 = rows.iter().map(|r| r["contribution"].as_f64().unwrap()).sum();
    let label = t.model.predict(&args).unwrap();
    let class = class_index(&t.model.classes, &label).unwrap();
    let score = t.model.with_scores(&args, |s| f64::from(s[class])).unwrap();
    let base = t.details["baseline_scores"][label.to_key()].as_f64().unwrap();
    assert!((total - (score - base)).abs() < 1e-4, "{total} vs {}", score - base);
}

#[test]
fn option_errors() {
    let data = blobs(30);
    let err = |json: &str| train(&data, json).unwrap_err().to_string();
    assert_eq!(err(r#"{"epochs": 0}"#), "option 'epochs' must be an integer from 1 to 1000000, got 0");
    assert_eq!(
        err(r#"{"hidden_layers": [64, 0]}"#),
        "option 'hidden_layers' must be a list of layer widths from 1 to 65536, got [64, 0]"
    );
    assert_eq!(
        err(&format!(r#"{{"hidden_layers": [{}]}}"#, vec!["4"; 101].join(", "))),
        "option 'hidden_layers' must be a list of at most 100 layer widths, got 101 widths"
    );
    assert_eq!(err(r#"{"dropout": 1}"#), "option 'dropout' must be a number in [0, 1), got 1");
    assert_eq!(
        err(r#"{"class_weight": "auto"}"#),
        "option 'class_weight' must be one of 'none', 'balanced', got 'auto'"
    );
    assert_eq!(
        err(r#"{"patience": 3}"#),
        "option 'patience' needs option 'validation_split' (the fraction of training rows to watch)"
    );
    assert_eq!(
        err(r#"{"features": ["a"], "exclude": ["b"]}"#),
        "option 'exclude' cannot be combined with option 'features'"
    );
    assert_eq!(
        err(r#"{"epoch": 3}"#),
        "unknown option 'epoch' (expected one of: activate, allow_extra_keys, batch_size, class_weight, dropout, epochs, exclude, features, hidden_layers, keep, l2, learning_rate, max_categories, max_memory_mb, patience, progress, refit, seed, shuffle, test_size, validation_split)"
    );
    let mut opts = Options::default();
    assert_eq!(
        Classifier::train(&data, Some("nope"), &mut opts, &Common::default()).unwrap_err().to_string(),
        "target column 'nope' is not a column of the source (columns: a, b, shape, color)"
    );
}

#[test]
fn prediction_and_evaluation_errors() {
    let data = blobs(60);
    let m = train(&data, r#"{"epochs": 1, "features": ["shape", "a"]}"#).unwrap().model;
    assert_eq!(
        m.predict(&[Input::Real(1.0)]).unwrap_err().to_string(),
        "expected 2 values in training order (shape, a) or one JSON object, got 1 argument"
    );
    assert_eq!(
        m.predict(&[Input::Text("round"), Input::Blob(b"\x00")]).unwrap_err().to_string(),
        "feature 'a' must be a number, got blob"
    );
    // 'b' and 'color' are known columns the model does not use: ignored.
    assert!(m.predict(&[Input::Text(r#"{"a": 1, "shape": "round", "b": 2, "color": "red"}"#)]).is_ok());
    let mut other = data.clone();
    other.columns[3] =
        Column { name: "color".into(), data: ColumnData::texts(vec![Some("purple".into()); 60]) };
    assert_eq!(
        m.evaluate(&other).unwrap_err().to_string(),
        "target column 'color' has the value 'purple' in row 1, which is not a class of this model (classes: 'blue', 'green', 'red')"
    );
    let mut labels: Vec<Option<String>> = vec![Some("red".into()); 60];
    labels[4] = None;
    other.columns[3] = Column { name: "color".into(), data: ColumnData::texts(labels) };
    assert_eq!(
        m.evaluate(&other).unwrap_err().to_string(),
        "target column 'color' is NULL in row 5 (filter with WHERE color IS NOT NULL)"
    );
    let mut missing = data.clone();
    missing.columns.remove(2);
    assert_eq!(
        m.evaluate(&missing).unwrap_err().to_string(),
        "feature column 'shape' is not a column of the source (columns: a, b, color)"
    );
}

#[test]
fn sizes_from_options_are_checked_against_the_budget() {
    let data = blobs(60);
    let e = train(&data, r#"{"hidden_layers": [65536, 65536]}"#).unwrap_err().to_string();
    assert!(
        e.starts_with("option 'hidden_layers' would need 96.1 GiB for the network's weights and optimizer state, above the memory budget of 4.0 GiB (raise it with the option 'max_memory_mb' or the environment variable SQLML_MAX_MEMORY_MB)"),
        "{e}"
    );
    // A small network, refused under a budget of 1 MiB, accepted by default.
    let small = r#"{"hidden_layers": [256, 256], "epochs": 1}"#;
    assert!(train(&data, small).is_ok());
    let e = train(&data, r#"{"hidden_layers": [256, 256], "epochs": 1, "max_memory_mb": 1}"#).unwrap_err();
    assert!(e.to_string().starts_with("option 'hidden_layers' would need 1.8 MiB for the network's"), "{e}");
    // The activations of a batch count too.
    let e = train(&data, r#"{"hidden_layers": [4096], "batch_size": 100000, "max_memory_mb": 1}"#)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("option 'hidden_layers' would need"), "{e}");
    let e = train(&data, r#"{"hidden_layers": [512], "batch_size": 100000, "max_memory_mb": 1}"#)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("option 'batch_size' would need"), "{e}");
    assert!(e.contains("the activations of batches of 48 rows"), "{e}");
}

#[test]
fn one_hot_inputs_are_checked_against_the_budget() {
    // 4,000 distinct values kept by `features`: 4,000 slots for every row.
    let n = 4000;
    let ids: Vec<Option<String>> = (0..n).map(|i| Some(format!("id{i}"))).collect();
    let y: Vec<Option<i64>> = (0..n).map(|i| Some((i % 2) as i64)).collect();
    let data = Dataset::new(vec![
        Column { name: "id".into(), data: ColumnData::texts(ids) },
        Column { name: "y".into(), data: ColumnData::integers(y) },
    ]);
    let mut opts =
        Options::parse(Some(r#"{"features": ["id"], "max_categories": 100000, "max_memory_mb": 16}"#))
            .unwrap();
    let common = Common::read(&mut opts).unwrap();
    let e = Classifier::train(&data, Some("y"), &mut opts, &common).unwrap_err().to_string();
    assert_eq!(
        e,
        "option 'max_categories' would need 48.8 MiB for the one-hot inputs of 4000 rows (3200 slots), above the \
         memory budget of 16.0 MiB (raise it with the option 'max_memory_mb' or the environment variable \
         SQLML_MAX_MEMORY_MB)"
    );
}

#[test]
fn divergence_ends_the_training_with_the_epoch_and_the_option() {
    let data = blobs(300);
    let e = train(&data, r#"{"learning_rate": 1e30, "epochs": 20}"#).unwrap_err().to_string();
    assert!(e.starts_with("training diverged at epoch "), "{e}");
    assert!(e.ends_with(" (lower the option 'learning_rate', now 1e30)"), "{e}");
    let e = train(&data, r#"{"learning_rate": 1e30, "l2": 0.5, "epochs": 20}"#).unwrap_err().to_string();
    assert!(e.ends_with(" (lower the option 'learning_rate', now 1e30, or 'l2', now 0.5)"), "{e}");
    // A rate no 32-bit float holds is refused before training.
    assert_eq!(
        train(&data, r#"{"learning_rate": 1e308}"#).unwrap_err().to_string(),
        "option 'learning_rate' must be a positive number that fits a 32-bit float (at most 3.4028235e38 in size), \
         got 1e308"
    );
}

#[test]
fn too_many_classes_for_the_report_is_an_error() {
    let n = 3000;
    let x: Vec<Option<f64>> = (0..n).map(|i| Some(i as f64)).collect();
    // (Every class of two rows: a target of a value per row is refused before.)
    let y: Vec<Option<i64>> = (0..n).map(|i| Some(i as i64 % 1500)).collect();
    let data = Dataset::new(vec![
        Column { name: "x".into(), data: ColumnData::reals(x) },
        Column { name: "id".into(), data: ColumnData::integers(y) },
    ]);
    let mut opts = Options::parse(Some(r#"{"max_memory_mb": 64}"#)).unwrap();
    let common = Common::read(&mut opts).unwrap();
    let e = Classifier::train(&data, Some("id"), &mut opts, &common).unwrap_err().to_string();
    assert_eq!(
        e,
        "target column 'id' with 1500 classes would need 103.0 MiB for the confusion matrix of the metrics, above \
         the memory budget of 64.0 MiB (raise it with the option 'max_memory_mb' or the environment variable \
         SQLML_MAX_MEMORY_MB)"
    );
}

/// The held-out metrics of a fit and `evaluate` score a batch of rows at a time: the metrics
/// of every row at once, whatever the batches (one row, seven, all).
#[test]
fn metrics_in_batches_are_the_metrics_of_every_row() {
    let data = blobs(300);
    let m = train(&data, r#"{"epochs": 3}"#).unwrap().model;
    let (y, proba) = m.labelled(&data, 0).unwrap();
    let every = metrics::classification(&y, &proba, &m.classes);
    let rows: Vec<usize> = (0..300).collect();
    let x = m.encoder.encode_batch(&data, &rows, 0).unwrap();
    for evaluated in [(1, 1), (8 * 3 * 7, 1), (EVALUATED_BYTES, EVALUATED_MIN_ROWS)] {
        assert_eq!(m.metrics_of_encoded(&x, &y, evaluated, &Control::new()).unwrap(), every, "{evaluated:?}");
        assert_eq!(m.metrics_of(&data, evaluated).unwrap(), every, "{evaluated:?}");
    }
    assert_eq!(m.evaluate(&data).unwrap(), every);
    let short = m.metrics_of_encoded(&x[1..], &y, (1, 1), &Control::new());
    assert!(matches!(short, Err(Error::Internal(_))));
    // A value that cannot be encoded, in a batch after the first, is named by its row.
    let mut a: Vec<Option<String>> = (0..300).map(|i| Some(format!("{}", i % 5))).collect();
    a[10] = Some("ten".into());
    let mut columns: Vec<Column> = data.columns.clone();
    columns[0] = Column { name: "a".into(), data: ColumnData::texts(a) };
    let bad = Dataset::new(columns);
    let e = m.metrics_of(&bad, (1, 1)).unwrap_err().to_string();
    assert!(e.contains("row 11"), "{e}");
    // With no rows, a missing feature column is still an error.
    let none = Dataset::new(vec![Column { name: "color".into(), data: ColumnData::texts(vec![]) }]);
    assert!(m.evaluate(&none).is_err());
}
