//! Where the time of `ml_train(..., 'recommender', ...)` with `algorithm: 'svd'` goes, phase by
//! phase, on the first training fold of `bench_recommender` (80,000 MovieLens 100K ratings in
//! a SQLite table): the whole call through SQL; SQLite stepping through the table without
//! reading a cell (the floor of any reader); `Recommender::train` in pure Rust and its phases
//! replayed with the same public pieces (id mapping, CSR, normal initialisation, the epochs);
//! postcard encoding and sealing of the model. `read_and_store` is the SQL call minus the
//! training: reading the table, sealing, and writing the model and its log. Each figure is
//! the fastest of `BENCH_REPEATS` (default 15) runs, in CPU milliseconds of the thread (the
//! machine is shared; `WALL=1` for wall-clock milliseconds, which count the second thread's work). `FACTORS=k` sets the factors of the replayed epochs (default 100).
//! Prints one JSON object.
//!
//! `cargo run --release --example svd_profile -- [path/to/ml-100k/u.data]`; with `GEN=catalogue`
//! in the environment, the generated 100,000 ratings over 10,000 items
//! (`support/ratings_gen.rs`) instead of the MovieLens fold.

#[path = "support/movielens.rs"]
mod movielens;

#[path = "support/ratings_gen.rs"]
mod ratings_gen;

#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::cpu_ns;
use movielens::{Rating, read_ratings};
use rand::seq::SliceRandom;
use serde_json::json;
use sqlml::models::data::{Column, ColumnData, Dataset};
use sqlml::models::recommender::ids::IdMap;
use sqlml::models::recommender::ratings::{Csr, Triple};
use sqlml::models::recommender::{Recommender, init, svd};
use sqlml::models::split::rng;
use sqlml::models::{Common, Control, Estimator, Model, Options, SCHEMA_VERSION, StoredModel};
use sqlml::rusqlite::{Connection, params};
use sqlml::store::crypto::{KdfParams, MasterKey};
use sqlml::store::envelope::{self, Binding};
use std::time::Instant;

/// Fastest milliseconds (CPU time of this thread where Linux reports it) of `repeats` runs.
fn time<T>(repeats: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = None;
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let start = (Instant::now(), cpu_ns());
        out = Some(f());
        let s = match (start.1, cpu_ns()) {
            (Some(a), Some(b)) if !wall_clock() => (b - a) as f64 * 1e-9,
            _ => start.0.elapsed().as_secs_f64(),
        };
        best = best.min(s);
    }
    ((best * 1e5).round() / 100.0, out.expect("at least one run"))
}

/// `WALL=1`: wall-clock time instead of this thread's CPU time (parts of the training run on
/// a second thread, whose CPU time the thread's clock does not see).
fn wall_clock() -> bool {
    std::env::var("WALL").is_ok_and(|w| w == "1")
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "/work/shared/data/ml-100k/u.data".to_string());
    let repeats = std::env::var("BENCH_REPEATS").ok().and_then(|s| s.parse().ok()).unwrap_or(15);
    let ratings = read_ratings(&path).unwrap();
    // The first fold of bench_recommender: its training part.
    let mut order: Vec<usize> = (0..ratings.len()).collect();
    order.shuffle(&mut rng(42));
    let hi = ratings.len() / 5;
    let mut train: Vec<Rating> = order[hi..].iter().map(|&i| ratings[i]).collect();
    // GEN=catalogue: the generated 100,000 ratings over 10,000 items instead.
    if std::env::var("GEN").is_ok_and(|g| g == "catalogue") {
        train = ratings_gen::generate(ratings_gen::CATALOGUE_10K, 1);
    }

    let conn = Connection::open_in_memory().unwrap();
    sqlml::register(&conn).unwrap();
    let _: String = conn.query_row("SELECT ml_unlock('bench passphrase')", [], |r| r.get(0)).unwrap();
    conn.execute_batch("CREATE TABLE train(user INTEGER, item INTEGER, rating REAL);").unwrap();
    {
        let tx = conn.unchecked_transaction().unwrap();
        let mut insert = tx.prepare("INSERT INTO train VALUES (?1, ?2, ?3)").unwrap();
        for &(u, i, r) in &train {
            insert.execute(params![u, i, r]).unwrap();
        }
        drop(insert);
        tx.commit().unwrap();
    }
    let options = r#"{"test_size": 0, "algorithm": "svd"}"#;
    let sql = format!("SELECT ml_train('rec', 'recommender', 'train', 'rating', '{options}')");
    let (sql_ms, _) = time(repeats, || conn.query_row(&sql, [], |r| r.get::<_, String>(0)).unwrap());

    let (step_ms, _) = time(repeats, || {
        let mut stmt = conn.prepare("SELECT * FROM train").unwrap();
        let mut rows = stmt.query([]).unwrap();
        let mut n = 0usize;
        while rows.next().unwrap().is_some() {
            n += 1;
        }
        n
    });
    let data = Dataset::new(vec![
        Column { name: "user".into(), data: ColumnData::integers(train.iter().map(|r| Some(r.0)).collect()) },
        Column { name: "item".into(), data: ColumnData::integers(train.iter().map(|r| Some(r.1)).collect()) },
        Column { name: "rating".into(), data: ColumnData::reals(train.iter().map(|r| Some(r.2)).collect()) },
    ]);
    let fit = |data: &Dataset| {
        let mut opts = Options::parse(Some(options)).unwrap();
        let common = Common::read(&mut opts).unwrap();
        Recommender::train(data, Some("rating"), &mut opts, &common).unwrap()
    };
    let (train_ms, trained) = time(repeats, || fit(&data));
    // Phases of Recommender::train.
    let (ids_ms, (users, items)) = time(repeats, || {
        (
            IdMap::build(&data.columns[0], "user column").unwrap(),
            IdMap::build(&data.columns[1], "item column").unwrap(),
        )
    });
    let triples: Vec<Triple> = (0..data.n_rows)
        .map(|r| Triple {
            user: users.1[r],
            item: items.1[r],
            value: match &data.columns[2].data {
                ColumnData::Real(v) => v.get(r).unwrap() as f32,
                _ => unreachable!(),
            },
        })
        .collect();
    let (n_users, n_items) = (users.0.len(), items.0.len());
    let (csr_ms, by_user) = time(repeats, || Csr::build(n_users, &triples, false));
    let factors: usize = std::env::var("FACTORS").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let p = svd::SgdParams { n_factors: factors, ..Default::default() };
    let (users_order, items_order) = init::first_appearance(&triples, n_users, n_items).unwrap();
    let mean = triples.iter().map(|t| f64::from(t.value)).sum::<f64>() / triples.len() as f64;
    let start = || {
        svd::Fitted::init(
            &users_order,
            &items_order,
            mean as f32,
            &p,
            &mut init::NumpyNormal::new(0),
            &Control::new(),
        )
        .unwrap()
    };
    let (init_ms, _) = time(repeats, start);
    let one = svd::SgdParams { n_epochs: 1, ..p.clone() };
    let (fit1_ms, _) = time(repeats, || svd::fit(&by_user, start(), &one, &Control::new(), |_, _, _| Ok(())));
    let (fit20_ms, _) = time(repeats, || svd::fit(&by_user, start(), &p, &Control::new(), |_, _, _| Ok(())));

    // Storing.
    let model = Model::Recommender(trained.model);
    let stored = StoredModel { schema_version: SCHEMA_VERSION, model };
    let (encode_ms, _) = time(repeats, || postcard::to_stdvec(&stored).unwrap());
    let key = MasterKey::derive(b"pw", b"0123456789abcdef", KdfParams { m_cost: 64, t_cost: 1, p_cost: 1 })
        .unwrap();
    let binding = Binding { name: "rec", kind: "recommender", version: 1, db_id: b"0123456789abcdef" };
    let (seal_ms, blob) = time(repeats, || {
        envelope::seal_with(&key, &binding, 0, |buf| {
            postcard::to_io(&stored, buf).unwrap();
            Ok(())
        })
        .unwrap()
    });

    let round = |x: f64| (x * 100.0).round() / 100.0;
    println!(
        "{}",
        json!({
            "task": "svd_profile", "ratings": train.len(), "users": n_users, "items": n_items,
            "factors": factors, "blob_bytes": blob.len(), "unit": if wall_clock() { "ms (fastest wall-clock time)" } else { "ms (fastest CPU time)" }, "repeats": repeats,
            "ml_train_sql": sql_ms,
            "sqlite_step_only": step_ms,
            "recommender_train": train_ms,
            "read_and_store": round(sql_ms - train_ms),
            "phases": {
                "id_maps": ids_ms, "csr_by_user": csr_ms, "normal_init": init_ms,
                "fit_1_epoch": fit1_ms, "fit_20_epochs": fit20_ms,
                "per_epoch": round((fit20_ms - fit1_ms) / 19.0),
                "postcard": encode_ms, "postcard_and_seal": seal_ms,
            },
        })
    );
}
