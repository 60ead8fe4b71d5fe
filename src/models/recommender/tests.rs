//! Behaviour of the recommender through the `Estimator` surface.

use super::validation::by_user_order;
use super::*;
use crate::models::Model;
use crate::models::data::{Column, ColumnData};
use serde_json::json;

fn int_col(name: &str, v: Vec<i64>) -> Column {
    Column { name: name.into(), data: ColumnData::integers(v.into_iter().map(Some).collect()) }
}

fn real_col(name: &str, v: Vec<f64>) -> Column {
    Column { name: name.into(), data: ColumnData::reals(v.into_iter().map(Some).collect()) }
}

/// A low-rank rating matrix (rank 2 plus biases, ratings 1..5), every 4th cell missing.
fn low_rank_dataset(n_users: i64, n_items: i64) -> Dataset {
    let (mut u, mut i, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for user in 0..n_users {
        for item in 0..n_items {
            if (user * 3 + item) % 4 == 0 {
                continue;
            }
            let a = ((user % 5) as f64 - 2.0) * 0.5;
            let b = ((user % 3) as f64 - 1.0) * 0.5;
            let c = ((item % 4) as f64 - 1.5) * 0.6;
            let d = ((item % 7) as f64 - 3.0) * 0.3;
            u.push(user + 100);
            i.push(item + 1000);
            r.push(
                (3.0 + 0.2 * (user % 4) as f64 - 0.2 * (item % 3) as f64 + 1.5 * (a * c + b * d))
                    .clamp(1.0, 5.0),
            );
        }
    }
    Dataset::new(vec![int_col("user_id", u), int_col("item_id", i), real_col("rating", r)])
}

fn train(data: &Dataset, target: Option<&str>, json: &str, test_size: f64) -> Result<Trained<Recommender>> {
    let mut opts = Options::parse(Some(json))?;
    let common = Common::read(&mut opts)?;
    let common = Common { test_size, ..common };
    Recommender::train(data, target, &mut opts, &common)
}

fn num(v: &Json, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("no number '{key}' in {v}"))
}

#[test]
fn low_rank_structure_is_recovered_and_beats_the_baseline() {
    let data = low_rank_dataset(80, 50);
    let t = train(&data, Some("rating"), r#"{"n_factors": 8, "n_epochs": 60, "lr_all": 0.02}"#, 0.2).unwrap();
    let rmse = num(&t.metrics, "rmse");
    let baseline = num(&Json::Object(t.details.clone()), "baseline_rmse");
    assert!(rmse < 0.12, "held-out rmse {rmse}");
    assert!(rmse < 0.5 * baseline, "rmse {rmse} vs baseline {baseline}");
    assert_eq!(t.log.len(), 60);
    assert!(t.log[59].loss < t.log[0].loss && t.log[59].val_loss.unwrap() < t.log[0].val_loss.unwrap());
    assert_eq!(t.train_rows + t.test_rows, data.n_rows);
}

#[test]
fn svdpp_learns_the_same_structure() {
    let data = low_rank_dataset(80, 50);
    let t = train(
        &data,
        Some("rating"),
        r#"{"algorithm": "svdpp", "n_factors": 8, "n_epochs": 60, "lr_all": 0.02}"#,
        0.2,
    )
    .unwrap();
    assert!(num(&t.metrics, "rmse") < 0.12, "{}", t.metrics);
    assert_eq!(t.model.algorithm(), "svdpp");
}

#[test]
fn every_sgd_hyperparameter_is_used() {
    // Surprise's test_SVD_parameters: changing any one parameter changes the model.
    let data = low_rank_dataset(20, 15);
    let base = r#""n_factors": 4, "n_epochs": 3"#;
    let model = |extra: &str| {
        // `extra` in place of the base's value of its key (an option is given once).
        let object = |s: &str| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(s).unwrap();
        let mut json = object(&format!("{{{base}}}"));
        json.extend(object(&format!("{{{extra}}}")));
        train(&data, Some("rating"), &serde_json::Value::Object(json).to_string(), 0.0).unwrap().model
    };
    let reference = model("");
    for extra in [
        r#""n_factors": 5"#,
        r#""n_epochs": 4"#,
        r#""biased": false"#,
        r#""init_mean": 0.1"#,
        r#""init_std_dev": 0.2"#,
        r#""lr_all": 0.01"#,
        r#""reg_all": 0.5"#,
        r#""lr_bu": 0.01"#,
        r#""lr_bi": 0.01"#,
        r#""lr_pu": 0.01"#,
        r#""lr_qi": 0.01"#,
        r#""reg_bu": 0.5"#,
        r#""reg_bi": 0.5"#,
        r#""reg_pu": 0.5"#,
        r#""reg_qi": 0.5"#,
        r#""seed": 7"#,
    ] {
        assert_ne!(model(extra), reference, "option {extra} had no effect");
    }
}

#[test]
fn cold_start_falls_back_to_baseline() {
    let data = low_rank_dataset(30, 20);
    let m = train(&data, Some("rating"), r#"{"n_factors": 4}"#, 0.0).unwrap().model;
    let mu = m.global_mean;
    let (u, i) = (m.users.index(Input::Integer(100)).unwrap(), m.items.index(Input::Integer(1000)).unwrap());
    let bu = f64::from(m.user_bias[u as usize]);
    let bi = f64::from(m.item_bias[i as usize]);
    let pred = |a: Input<'_>, b: Input<'_>| match m.predict(&[a, b]).unwrap() {
        Value::Real(x) => x,
        other => panic!("expected a real, got {other:?}"),
    };
    assert!((pred(Input::Integer(-1), Input::Integer(-1)) - mu).abs() < 1e-9);
    assert!((pred(Input::Integer(-1), Input::Integer(1000)) - (mu + bi)).abs() < 1e-6);
    assert!((pred(Input::Integer(100), Input::Text("no such item")) - (mu + bu)).abs() < 1e-6);
    let known = pred(Input::Integer(100), Input::Integer(1000));
    assert!((1.0..=5.0).contains(&known) && (known - (mu + bu + bi)).abs() > 1e-6);
    assert_eq!(m.predict(&[Input::Null, Input::Integer(1000)]).unwrap(), Value::Null);
    // An unknown user is recommended the popular items.
    let rec = m.recommend(Input::Text("stranger"), 3, false).unwrap();
    let best = m.popularity.iter().copied().fold(f32::MIN, f32::max);
    assert_eq!(rec.len(), 3);
    assert!((rec[0].1 - f64::from(best)).abs() < 1e-6);
}

#[test]
fn text_ids_round_trip_with_their_sql_type() {
    let users = ["ann", "bob", "cy", "dee"];
    let (mut u, mut i, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for (n, name) in users.iter().enumerate() {
        for item in 0..6i64 {
            if (n as i64 + item) % 3 != 0 {
                u.push(Some(name.to_string()));
                i.push(Some(format!("sku-{item}")));
                r.push(Some(((n as i64 + item) % 5 + 1) as f64));
            }
        }
    }
    let data = Dataset::new(vec![
        Column { name: "customer".into(), data: ColumnData::texts(u) },
        Column { name: "product".into(), data: ColumnData::texts(i) },
        Column { name: "stars".into(), data: ColumnData::reals(r) },
    ]);
    let m = train(&data, Some("stars"), r#"{"n_factors": 3}"#, 0.0).unwrap().model;
    let rec = m.recommend(Input::Text("ann"), 10, false).unwrap();
    assert!(!rec.is_empty());
    assert!(rec.iter().all(|(v, _)| matches!(v, Value::Text(t) if t.starts_with("sku-"))));
    let similar = m.similar_items(Input::Text("sku-1"), 2).unwrap();
    assert_eq!(similar.len(), 2);
    assert!(similar.iter().all(|(v, s)| *v != Value::Text("sku-1".into()) && (-1.0..=1.0001).contains(s)));
    assert!(m.similar_items(Input::Text("sku-99"), 2).unwrap().is_empty());

    let data = low_rank_dataset(10, 8);
    let m = train(&data, Some("rating"), r#"{"n_factors": 3}"#, 0.0).unwrap().model;
    let rec = m.recommend(Input::Integer(100), 3, true).unwrap();
    assert!(rec.iter().all(|(v, _)| matches!(v, Value::Integer(x) if (1000..1008).contains(x))));
}

#[test]
fn top_n_excludes_rated_items_unless_asked() {
    let data = low_rank_dataset(30, 20);
    let m = train(&data, Some("rating"), r#"{"n_factors": 4}"#, 0.0).unwrap().model;
    let u = m.users.index(Input::Integer(101)).unwrap() as usize;
    let rated: Vec<Value> = m.history.row(u).0.iter().map(|&i| m.items.value(i)).collect();
    let rec = m.recommend(Input::Integer(101), 100, false).unwrap();
    assert_eq!(rec.len(), 20 - rated.len());
    assert!(rec.iter().all(|(v, _)| !rated.contains(v)));
    assert!(rec.windows(2).all(|w| w[0].1 >= w[1].1));
    let all = m.recommend(Input::Integer(101), 100, true).unwrap();
    assert_eq!(all.len(), 20);
    // Scores are the model's estimates.
    let (item, score) = &rec[0];
    let p = m.raw_estimate(Some(u as u32), m.items.index(item.as_input()));
    assert!((p - score).abs() < 1e-4);
}

#[test]
fn held_out_ratings_still_count_as_rated() {
    // Half the ratings are held out for the report; none of the source's rated items may come
    // back as a recommendation, and the report's metrics were measured on the held-out half.
    let data = low_rank_dataset(30, 20);
    let t = train(&data, Some("rating"), r#"{"n_factors": 4, "refit": false}"#, 0.5).unwrap();
    assert!(t.test_rows > 0 && t.metrics["rmse"].as_f64().is_some());
    let m = t.model;
    // Evaluating on the source ranks against the fitted rows only: the held-out relevant items
    // can still be found (the served exclusion would hide every one of them).
    let recall = num(&m.evaluate(&data).unwrap(), "recall_at_10");
    assert!(recall > 0.2, "recall@10 on the source {recall}");
    let ColumnData::Integer(users) = &data.columns[0].data else { unreachable!() };
    let ColumnData::Integer(items) = &data.columns[1].data else { unreachable!() };
    let rated: Vec<Value> = users
        .iter()
        .zip(items.iter())
        .filter(|(u, _)| *u == Some(101))
        .map(|(_, i)| Value::Integer(i.unwrap()))
        .collect();
    let rec = m.recommend(Input::Integer(101), 100, false).unwrap();
    assert!(rec.iter().all(|(v, _)| !rated.contains(v)), "{rec:?} vs rated {rated:?}");
    assert_eq!(
        rec.len(),
        m.n_items() - rated.iter().filter(|v| m.items.index(v.as_input()).is_some()).count()
    );
}

#[test]
fn determinism_same_seed_same_bytes() {
    let data = low_rank_dataset(25, 12);
    for algo in ["svd", "svdpp", "als"] {
        let json = format!(r#"{{"algorithm": "{algo}", "seed": 5}}"#);
        let target = if algo == "als" { None } else { Some("rating") };
        let bytes = |j: &str| {
            let model = Model::Recommender(train(&data, target, j, 0.2).unwrap().model);
            postcard::to_stdvec(&model).unwrap()
        };
        let a = bytes(&json);
        assert_eq!(a, bytes(&json), "{algo}");
        assert_ne!(a, bytes(&json.replace("5", "6")), "{algo}");
        let back: Model = postcard::from_bytes(&a).unwrap();
        assert_eq!(postcard::to_stdvec(&back).unwrap(), a);
    }
}

#[test]
fn als_ranks_held_out_positives_highly() {
    // 60 users in 3 taste groups, 45 items in 3 matching groups; each user consumed 60% of
    // its group's items. Held-out interactions must be found in the top 10.
    let (mut u, mut i) = (Vec::new(), Vec::new());
    for user in 0..60i64 {
        for item in 0..45i64 {
            if user % 3 == item % 3 && (user * 7 + item * 3) % 5 < 3 {
                u.push(user);
                i.push(item);
            }
        }
    }
    let data = Dataset::new(vec![int_col("user", u), int_col("item", i)]);
    let t = train(&data, None, r#"{"algorithm": "als", "factors": 8, "iterations": 10, "alpha": 10}"#, 0.2)
        .unwrap();
    // Each user has ~2 held-out items among ~36 unrated ones: a random top 10 would recall
    // ~28% of them.
    let r = num(&t.metrics, "recall_at_10");
    let n = num(&t.metrics, "ndcg_at_10");
    assert!(r > 0.8 && n > 0.7, "{}", t.metrics);
    assert!(t.metrics.get("rmse").is_none());
    assert!(t.log.len() == 10 && t.log[9].loss < t.log[0].loss);
    // Recommendations for a user stay inside its taste group.
    let rec = t.model.recommend(Input::Integer(4), 5, false).unwrap();
    assert!(rec.iter().all(|(v, _)| matches!(v, Value::Integer(x) if x % 3 == 1)), "{rec:?}");
}

#[test]
fn explain_lists_similar_rated_items_and_terms() {
    let data = low_rank_dataset(30, 20);
    let m = train(&data, Some("rating"), r#"{"n_factors": 4}"#, 0.0).unwrap().model;
    let e = m.explain(&[Input::Integer(100), Input::Integer(1003)]).unwrap();
    let because = e["because"].as_array().unwrap();
    assert!(!because.is_empty() && because.len() <= 10);
    let sims: Vec<f64> = because.iter().map(|b| b["similarity"].as_f64().unwrap()).collect();
    assert!(sims.windows(2).all(|w| w[0] >= w[1]));
    let sum = num(&e, "global_mean") + num(&e, "user_bias") + num(&e, "item_bias") + num(&e, "interaction");
    assert!((sum.clamp(1.0, 5.0) - num(&e, "prediction")).abs() < 1e-4);
    let cold = m.explain(&[Input::Integer(-5), Input::Integer(1003)]).unwrap();
    assert_eq!((cold["user_bias"].clone(), cold["because"].clone()), (Json::Null, json!([])));
}

#[test]
fn evaluate_reports_errors_and_ranking() {
    let data = low_rank_dataset(30, 20);
    let m = train(&data, Some("rating"), r#"{"n_factors": 4}"#, 0.0).unwrap().model;
    let e = m.evaluate(&data).unwrap();
    for key in ["rmse", "mae", "precision_at_10", "recall_at_10", "ndcg_at_10"] {
        assert!(e[key].is_number(), "{key} in {e}");
    }
    assert_eq!(e["rows"], json!(data.n_rows));
    // All rows were rated in training: the relevant ones being judged are ranked all the same
    // (left out as the training's history, they could never be hit: 0 whatever the model).
    assert!(num(&e, "precision_at_10") > 0.1, "{e}");
}

#[test]
fn bad_inputs_have_exact_messages() {
    let data = low_rank_dataset(5, 5);
    let err = |target: Option<&str>, json: &str| train(&data, target, json, 0.2).unwrap_err().to_string();
    assert_eq!(
        err(None, "{}"),
        "a recommender needs the rating column as target (only algorithm 'als' takes a NULL target, counting each \
         row as one interaction)"
    );
    assert_eq!(
        err(Some("stars"), "{}"),
        "target column 'stars' is not a column of the source (columns: user_id, item_id, rating)"
    );
    assert_eq!(
        err(Some("rating"), r#"{"user": "who"}"#),
        "option 'user' 'who' is not a column of the source (columns: user_id, item_id, rating)"
    );
    assert_eq!(
        err(Some("rating"), r#"{"user": "item_id"}"#),
        "option 'item' must name another column than option 'user', got 'item_id'"
    );
    assert_eq!(
        err(Some("rating"), r#"{"user": "rating"}"#),
        "option 'user' must not be the target column 'rating'"
    );
    let two = Dataset::new(vec![int_col("u", vec![1]), real_col("r", vec![4.0])]);
    let e = train(&two, Some("r"), "{}", 0.0).unwrap_err().to_string();
    assert_eq!(
        e,
        "a recommender needs a user and an item column besides the target (columns: u, r; name them with the \
         options 'user' and 'item')"
    );
    let with = |user: ColumnData, rating: ColumnData| {
        let d = Dataset::new(vec![
            Column { name: "u".into(), data: user },
            int_col("i", vec![1, 2]),
            Column { name: "r".into(), data: rating },
        ]);
        train(&d, Some("r"), "{}", 0.0).unwrap_err().to_string()
    };
    let ints = |v: Vec<Option<i64>>| ColumnData::integers(v);
    assert_eq!(
        with(ints(vec![Some(1), None]), ints(vec![Some(4), Some(5)])),
        "user column 'u' is NULL in row 2 (filter with WHERE u IS NOT NULL)"
    );
    assert_eq!(
        with(ints(vec![Some(1), Some(2)]), ints(vec![None, Some(5)])),
        "target column 'r' is NULL in row 1 (filter with WHERE r IS NOT NULL)"
    );
    assert_eq!(
        with(ints(vec![Some(1), Some(2)]), ColumnData::texts(vec![None, Some("good".into())])),
        "target column 'r' must hold numbers (ratings), got text in row 2"
    );
    let empty = Dataset::new(vec![int_col("u", vec![]), int_col("i", vec![]), int_col("r", vec![])]);
    assert_eq!(train(&empty, Some("r"), "{}", 0.0).unwrap_err().to_string(), "no training rows");
    let weights = Dataset::new(vec![
        int_col("u", vec![1, 2]),
        int_col("i", vec![1, 2]),
        real_col("w", vec![1.0, -2.0]),
    ]);
    assert_eq!(
        train(&weights, Some("w"), r#"{"algorithm": "als"}"#, 0.0).unwrap_err().to_string(),
        "target column 'w' holds -2 in row 2; interaction weights must be finite and >= 0"
    );

    assert_eq!(
        train(&data, Some("rating"), r#"{"lr_all": 50, "n_epochs": 5}"#, 0.0).unwrap_err().to_string(),
        "training diverged at epoch 1: the training RMSE is NaN (lower the option 'lr_all', now 50)"
    );

    let m = train(&data, Some("rating"), r#"{"n_factors": 2}"#, 0.0).unwrap().model;
    assert_eq!(
        m.predict(&[Input::Integer(1)]).unwrap_err().to_string(),
        "a recommender takes 2 arguments (user, item), got 1"
    );
    assert_eq!(
        m.predict(&[Input::Blob(b"x"), Input::Integer(1)]).unwrap_err().to_string(),
        "argument 'user' must be an integer or text id, got blob"
    );
    assert_eq!(
        m.recommend(Input::Blob(b"x"), 3, false).unwrap_err().to_string(),
        "argument 'user' must be an integer or text id, got blob"
    );
    assert_eq!(
        m.evaluate(&Dataset::new(vec![int_col("user_id", vec![1])])).unwrap_err().to_string(),
        "item column 'item_id' is not a column of the source (columns: user_id)"
    );
}

#[test]
fn simd_and_baseline_builds_give_the_same_bits() {
    let data = low_rank_dataset(25, 12);
    // 13 factors: rows of two chunks (no whole group of four); 100: groups and a leftover.
    for (algo, k) in [("svd", 13), ("svd", 100), ("svdpp", 13)] {
        let json = format!(r#"{{"algorithm": "{algo}", "n_factors": {k}}}"#);
        let fast = postcard::to_stdvec(&train(&data, Some("rating"), &json, 0.2).unwrap().model).unwrap();
        factors::BASELINE_ONLY.set(true);
        let baseline = train(&data, Some("rating"), &json, 0.2);
        factors::BASELINE_ONLY.set(false);
        assert_eq!(fast, postcard::to_stdvec(&baseline.unwrap().model).unwrap(), "{algo} {k}");
    }
}

/// A long-tailed generated set (a few heavy users and popular items, duplicates kept): ratings
/// of a rank-3 model plus biases and noise, rounded to 1..5 stars.
fn long_tailed_dataset(rows: usize) -> Dataset {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (n_users, n_items) = (300.0, 220.0);
    let (mut u, mut i, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rows {
        // Squares and cubes of uniforms: low ids are far more frequent than high ones.
        let user = (next().powi(2) * n_users) as i64;
        let item = (next().powi(3) * n_items) as i64;
        let f = |x: i64, k: i64| ((x * (7 + 2 * k) + 3 * k) % 11) as f64 / 11.0 - 0.5;
        let dot: f64 = (0..3).map(|k| f(user, k) * f(item, k + 5)).sum();
        let value = 3.4 + 0.4 * f(user, 9) + 0.8 * f(item, 10) + 2.0 * dot + (next() - 0.5);
        u.push(user * 7 + 1);
        i.push(item + 500);
        r.push(value.round().clamp(1.0, 5.0));
    }
    Dataset::new(vec![int_col("user_id", u), int_col("item_id", i), real_col("rating", r)])
}

/// SHA-256 of the model's postcard bytes, in hex.
fn model_hash(model: &Recommender) -> String {
    use sha2::{Digest, Sha256};
    let bytes = postcard::to_stdvec(&Model::Recommender(model.clone())).unwrap();
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The model bytes, the training log and the report for a seed are pinned: the values below
/// were produced before the speed work of issue 14 (git 3621552), so every faster path
/// (parallel starting draws, held-out scoring, ranking) must give the very same bytes. The two
/// SVD entries were pinned again when SVD's visiting order became most active users first
/// (2026-12-04; on this small set the held-out RMSE went 0.50673 → 0.50721, on MovieLens 100K
/// the 5-fold RMSE 0.93644 → 0.93629: see `svd::fit`).
#[test]
fn model_bytes_are_pinned_for_a_seed() {
    let data = long_tailed_dataset(6000);
    // `refit: false`: the served model is the one fitted on the split, as it was when pinned
    // (with the refit default it is the `test_size: 0` model, pinned too).
    let cases = [
        (r#"{"n_factors": 12, "n_epochs": 6, "seed": 7, "refit": false}"#, 0.2),
        (r#"{"n_factors": 12, "n_epochs": 6, "seed": 7}"#, 0.0),
        (r#"{"algorithm": "svdpp", "n_factors": 9, "n_epochs": 4, "seed": 3, "refit": false}"#, 0.2),
        (r#"{"algorithm": "svdpp", "n_factors": 9, "n_epochs": 4, "seed": 3}"#, 0.0),
        (r#"{"algorithm": "als", "factors": 10, "iterations": 4, "seed": 5, "refit": false}"#, 0.25),
    ];
    let mut got = Vec::new();
    for (json, test_size) in cases {
        let target = Some("rating");
        let t = train(&data, target, json, test_size).unwrap();
        let log: Vec<String> = t
            .log
            .iter()
            .map(|e| format!("{:.9}/{:?}", e.loss, e.val_loss.map(|v| format!("{v:.9}"))))
            .collect();
        let mut metrics = t.metrics.clone();
        if let Json::Object(m) = &mut metrics {
            // Added after the pin (the number of held-out users the ranked ones came from).
            m.retain(|k, _| k != "ranking_users_held_out");
        }
        got.push(format!("{} {} {}", model_hash(&t.model), log.join(","), metrics));
    }
    assert_eq!(got, PINNED);
}

const PINNED: [&str; 5] = [
    "658e0c74b18eb4cf70bc1e09fc17f46fb0f78c3c2460a8411351ab3d48229f47 0.533764508/Some(\"0.525496996\"),0.516386795/Some(\"0.517855910\"),0.505417574/Some(\"0.513403742\"),0.497182854/Some(\"0.510526755\"),0.490643990/Some(\"0.508573797\"),0.485275384/Some(\"0.507214390\") {\"mae\":0.44963501552164076,\"ndcg_at_10\":0.07443490359386164,\"precision_at_10\":0.027188940092165877,\"ranking_users\":217,\"recall_at_10\":0.13434276936581083,\"relevant\":4.0,\"rmse\":0.507214392690178,\"rows\":1200}",
    "4594977cfecd4e931949ef919c94464f9e77931341bec01c25e445cfbccef475 0.532360054/None,0.514243515/None,0.503480860/None,0.495689638/None,0.489659678/None,0.484808407/None null",
    "29197595aedf5690ebd2ea0d13e3be1b698f82efb1ed9db15ac4028e918e3da9 0.532669881/Some(\"0.513911758\"),0.510976959/Some(\"0.506753065\"),0.498200315/Some(\"0.502971826\"),0.489289287/Some(\"0.500707110\") {\"mae\":0.44924915319853825,\"ndcg_at_10\":0.08855287283210495,\"precision_at_10\":0.02981651376146786,\"ranking_users\":218,\"recall_at_10\":0.15636922964904615,\"relevant\":4.0,\"rmse\":0.5007071090948026,\"rows\":1200}",
    "23ee68b1087e1ea6bcc4602b41e326332ccfb6f34de82cf3b372d6e776095956 0.528687408/None,0.507888443/None,0.496229930/None,0.488030482/None null",
    "8800afdfb327d42eaf13062ca0790e177ab8429429a34d36167d6b940149b8e3 0.108371965/None,0.087609221/None,0.083211361/None,0.080722085/None {\"ndcg_at_10\":0.09829245617449894,\"precision_at_10\":0.05153583617747431,\"ranking_users\":293,\"recall_at_10\":0.11793344312115642,\"relevant\":\"any held-out interaction\",\"rows\":1500}",
];

#[test]
fn per_epoch_validation_samples_every_step_th_row_of_large_sets() {
    let rows = |n: usize| -> Vec<(Option<u32>, Option<u32>, f32)> {
        (0..n).map(|k| (Some((k % 97) as u32), (k % 5 != 0).then_some((k % 89) as u32), 1.0)).collect()
    };
    let (order, step) = by_user_order(&rows(VAL_ROWS)).unwrap();
    assert_eq!((order.len(), step), (VAL_ROWS, 1));
    let (order, step) = by_user_order(&rows(2 * VAL_ROWS + 1)).unwrap();
    assert_eq!((order.len(), step), ((2 * VAL_ROWS + 1).div_ceil(3), 3));
    assert!(order.iter().all(|&(_, _, n)| n % 3 == 0));
    assert!(order.windows(2).all(|w| w[0] < w[1]), "sorted by user, then item");
}

/// The training report's sample of ranked users: 1,000,000 scores' worth, 100 to 2,000 users.
#[test]
fn report_ranks_a_million_scores_worth_of_users() {
    use super::report::report_ranking_users;
    let got: Vec<usize> = [1, 500, 1_000, 1_682, 9_195, 10_000, 59_047].map(report_ranking_users).to_vec();
    assert_eq!(got, [2_000, 2_000, 1_000, 594, 108, 100, 100]);
}

/// The starting draws begun before the rows are read (`models::start_ahead`, as `ml_train`
/// does) give the same model as draws made by the fit, for SVD and SVD++, with held-out rows
/// (the measured fit takes them, the refit draws afresh) and without; ALS starts nothing.
#[test]
fn a_head_start_changes_nothing_but_the_time() {
    let data = low_rank_dataset(60, 40);
    for (algo, test_size) in [("svd", 0.0), ("svd", 0.2), ("svdpp", 0.0), ("als", 0.0)] {
        let json = format!(r#"{{"algorithm": "{algo}", "factors": 6, "epochs": 3, "seed": 9}}"#);
        let trained = |ahead: bool| {
            let mut opts = Options::parse(Some(&json)).unwrap();
            let common = Common { test_size, ..Common::read(&mut opts).unwrap() };
            if ahead {
                crate::models::start_ahead(Recommender::KIND, &opts, &common);
                assert_eq!(common.head_start.take_draws().is_some(), algo != "als", "{algo}");
                crate::models::start_ahead(Recommender::KIND, &opts, &common);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let t =
                crate::models::train(Recommender::KIND, &data, Some("rating"), &mut opts, &common).unwrap();
            // The first fit took the draws.
            assert!(common.head_start.take_draws().is_none(), "{algo}");
            postcard::to_stdvec(&t.model).unwrap()
        };
        assert_eq!(trained(true), trained(false), "{algo} test_size {test_size}");
    }
    // Draws started for another seed than the one the fit runs with are not used.
    let json = r#"{"factors": 6, "epochs": 3, "seed": 9}"#;
    let mut opts = Options::parse(Some(json)).unwrap();
    let mut common = Common { test_size: 0.0, ..Common::read(&mut opts).unwrap() };
    crate::models::start_ahead(Recommender::KIND, &opts, &common);
    common.seed = 10;
    let t = crate::models::train(Recommender::KIND, &data, Some("rating"), &mut opts, &common).unwrap();
    let mut opts = Options::parse(Some(json)).unwrap();
    let fresh = Common { test_size: 0.0, seed: 10, ..Common::read(&mut opts).unwrap() };
    let want = crate::models::train(Recommender::KIND, &data, Some("rating"), &mut opts, &fresh).unwrap();
    assert_eq!(postcard::to_stdvec(&t.model).unwrap(), postcard::to_stdvec(&want.model).unwrap());
}

/// `init::draws_taken` counts the draws the starting factors take (the draws ahead stop
/// there): the stream's next draw after them is the one after that many (SVD and SVD++, odd
/// and even counts).
#[test]
fn draws_taken_is_what_the_starting_factors_take() {
    use super::init::{NumpyNormal, draws_taken};
    use crate::models::control::Control;
    let control = Control::new();
    for (algorithm, users, items, k) in [
        (Algorithm::Svd, 3u32, 5u32, 7),
        (Algorithm::Svd, 10, 4, 100),
        (Algorithm::SvdPp, 3, 5, 7),
        (Algorithm::SvdPp, 6, 2, 20),
    ] {
        let (u, i): (Vec<u32>, Vec<u32>) = ((0..users).collect(), (0..items).collect());
        let p = svd::SgdParams { n_factors: k, ..svd::SgdParams::default() };
        let mut normal = NumpyNormal::new(9);
        if algorithm == Algorithm::Svd {
            svd::Fitted::init(&u, &i, 3.0, &p, &mut normal, &control).unwrap();
        } else {
            svdpp::State::init(&u, &i, 3.0, &p, &mut normal, &control).unwrap();
        }
        let mut fresh = NumpyNormal::new(9);
        for _ in 0..draws_taken(algorithm, users as usize, items as usize, k) {
            fresh.gauss();
        }
        assert_eq!(normal.gauss(), fresh.gauss(), "{algorithm:?} {users} users {items} items {k} factors");
    }
    assert_eq!(draws_taken(Algorithm::Als, 10, 10, 10), 0);
}
