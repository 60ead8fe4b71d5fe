//! Using a decoded model as the SQL functions would, on a few fixed inputs.

use crate::models::mlp::Classifier;
use crate::models::{Column, ColumnData, Dataset, Input, Model, Value};
use serde_json::{Map, Value as Json, json};

const PROBE_TEXTS: &[&str] = &[
    "",
    "I was charged twice",
    "我的订单 crashes after the update 密码",
    "the the the the the the",
    "ÉCOLE ﬁnance ß 𝔘𝔫𝔦 ½ ١٢٣ 한국어",
];

fn probe_ids() -> [Input<'static>; 9] {
    [
        Input::Integer(1),
        Input::Integer(2),
        Input::Integer(6),
        Input::Text("i1"),
        Input::Text("i3"),
        Input::Integer(-7),
        Input::Real(2.0),
        Input::Text("nobody"),
        Input::Null,
    ]
}

/// Uses a decoded model as the SQL functions would: predictions, probabilities and
/// explanations on a few inputs, top tokens, recommendations, similar items; for a
/// classifier also an evaluation over rows built from its own features and classes. Errors
/// are ignored: only a panic, an abort or a hang is a failure.
pub fn exercise(model: &Model) {
    let _ = (model.kind(), model.algorithm());
    match model {
        Model::Text(m) => {
            for &t in PROBE_TEXTS {
                let args = [Input::Text(t)];
                let _ = model.predict(&args);
                let _ = model.predict_proba(&args);
                let _ = model.explain(&args);
            }
            let _ = model.predict(&[Input::Integer(42)]);
            let _ = model.predict(&[]);
            let _ = (m.classes().len(), m.vocabulary_size(), m.text_column(), m.options_json());
            let _ = m.top_tokens(3);
            let _ = m.top_tokens(0);
        }
        Model::Classifier(m) => {
            let names: Vec<&str> = m.encoder().features.iter().map(|f| f.name.as_str()).collect();
            let n = names.len().min(256);
            let positional: [Vec<Input<'_>>; 5] = [
                vec![Input::Null; n],
                vec![Input::Integer(1); n],
                vec![Input::Real(-1.5e9); n],
                vec![Input::Text("pro"); n],
                vec![Input::Text("basic"); n + 1],
            ];
            let numbers: Map<String, Json> = names.iter().map(|&k| (k.to_string(), json!(1.5))).collect();
            let texts: Map<String, Json> = names.iter().map(|&k| (k.to_string(), json!("team"))).collect();
            let objects = [Json::Object(numbers).to_string(), Json::Object(texts).to_string()];
            let json_args = objects.iter().map(|o| vec![Input::Text(o.as_str())]);
            for args in positional.into_iter().chain(json_args) {
                let _ = model.predict(&args);
                let _ = model.predict_proba(&args);
                let _ = model.explain(&args);
            }
            let _ = model.evaluate(&classifier_rows(m));
            batch_encoding(m);
        }
        Model::Recommender(r) => {
            let ids = probe_ids();
            for &u in &ids {
                let _ = r.recommend(u, 5, false);
                let _ = r.recommend(u, 3, true);
                let _ = r.similar_items(u, 4);
                for &i in ids.iter().step_by(2) {
                    let _ = model.predict(&[u, i]);
                    let _ = model.explain(&[u, i]);
                }
            }
            let _ = model.predict(&[Input::Integer(1)]);
            let _ = (r.n_users(), r.n_items());
        }
    }
}

/// Batch prediction's encoding (`ml_predict_table`: categories found by hashing the cell's
/// bytes) on a few rows: each feature's own categories, probe texts, invalid UTF-8 and
/// numbers. It must give what the per-row encoding gives, bit for bit and error for error (a
/// difference panics, which the fuzzer reports), and the encoded rows are scored.
fn batch_encoding<'m>(m: &'m Classifier) {
    use crate::models::Control;
    use crate::models::data::Cell;
    use crate::models::mlp::features::Encoding;
    let features = &m.encoder().features;
    let own = |i: usize, k: usize| match &features[i].encoding {
        Encoding::Categorical { categories, .. } if !categories.is_empty() => {
            categories[k % categories.len()].as_bytes()
        }
        _ => b"pro",
    };
    let tables = m.category_tables();
    let w = m.width();
    let (mut batch, mut row) = (vec![0f32; w], vec![0f32; w]);
    let probes: [&dyn Fn(usize) -> &'m [u8]; 6] =
        [&|i| own(i, 0), &|i| own(i, 1), &|i| own(i, 7), &|_| b"team", &|_| b"", &|_| b"\xff\xfe"];
    for bytes in probes {
        let input = |i: usize| match std::str::from_utf8(bytes(i)) {
            Ok(t) => Ok(Input::Text(t)),
            Err(_) => Err(crate::Error::data("not UTF-8")),
        };
        let got = tables.encode(m, &mut batch, |i| Ok(Cell::Text(bytes(i))), input);
        let want = m.encode_with(&mut row, input);
        match (got, want) {
            (Ok(()), Ok(())) => {
                let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&batch), bits(&row), "batch encoding differs from per-row encoding");
                let _ = m.score_rows(&batch, 1, &Control::new());
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "batch encoding error differs"),
            (a, b) => panic!("batch encoding {a:?}, per-row encoding {b:?}"),
        }
    }
    let numbers = |_: usize| Ok(Input::Real(2.5));
    let got = tables.encode(m, &mut batch, |_| Ok(Cell::Other(Input::Real(2.5))), numbers);
    assert_eq!(got.is_ok(), m.encode_with(&mut row, numbers).is_ok(), "batch encoding of numbers");
}

/// Three rows for [`Model::evaluate`] of a classifier: every feature 1.0 (or text `pro`, as
/// the feature's encoding wants) and the first classes as labels.
fn classifier_rows(m: &Classifier) -> Dataset {
    use crate::models::mlp::features::Encoding;
    let rows = 3;
    let mut columns: Vec<Column> = m
        .encoder()
        .features
        .iter()
        .take(256)
        .map(|f| Column {
            name: f.name.clone(),
            data: match f.encoding {
                Encoding::Numeric { .. } => ColumnData::reals(vec![Some(1.0); rows]),
                Encoding::Categorical { .. } => ColumnData::texts(vec![Some("pro".into()); rows]),
            },
        })
        .collect();
    let classes = m.classes();
    let label = |r: usize| classes.get(r % classes.len().max(1)).cloned().unwrap_or(Value::Null);
    let data = match classes.first() {
        Some(Value::Integer(_)) => ColumnData::integers(
            (0..rows).map(|r| if let Value::Integer(i) = label(r) { Some(i) } else { None }).collect(),
        ),
        Some(Value::Real(_)) => ColumnData::reals(
            (0..rows).map(|r| if let Value::Real(x) = label(r) { Some(x) } else { None }).collect(),
        ),
        Some(Value::Text(_)) => ColumnData::texts(
            (0..rows).map(|r| if let Value::Text(t) = label(r) { Some(t) } else { None }).collect(),
        ),
        _ => ColumnData::Null(rows),
    };
    columns.push(Column { name: m.target().to_string(), data });
    Dataset::new(columns)
}
