//! Behaviour of the whole text model: training, prediction, explanation, options and errors.

use super::*;
use crate::models::control::Control;
use crate::models::text::tokenize::TokenizerConfig;
use crate::models::text::vectorize::LARGE_VOCABULARY;
use crate::models::{ColumnData, Model};

const DOCS: &[(&str, &str)] = &[
    ("spam", "WIN a FREE prize now! Call to claim your prize"),
    ("spam", "Free entry: win cash, text WIN to claim"),
    ("spam", "Claim your free cash prize today"),
    ("spam", "Urgent! You have won a prize, call now"),
    ("ham", "Are we meeting for dinner tonight?"),
    ("ham", "I will call you after the meeting"),
    ("ham", "Running late, see you at dinner"),
    ("ham", "Can you pick up milk on the way home"),
    ("ham", "The meetings ran late again today"),
    ("ham", "Not sure I can make it tonight, sorry"),
];

fn dataset(docs: &[(&str, &str)]) -> Dataset {
    Dataset::new(vec![
        Column {
            name: "label".into(),
            data: ColumnData::texts(docs.iter().map(|d| Some(d.0.to_string())).collect()),
        },
        Column {
            name: "body".into(),
            data: ColumnData::texts(docs.iter().map(|d| Some(d.1.to_string())).collect()),
        },
    ])
}

fn options(json: &str) -> Options {
    Options::parse(Some(json)).unwrap()
}

fn train_with(json: &str, common: Common) -> Result<Trained<TextModel>> {
    TextModel::train(&dataset(DOCS), Some("label"), &mut options(json), &common)
}

fn all_rows() -> Common<'static> {
    Common { seed: 42, test_size: 0.0, ..Common::default() }
}

fn model(json: &str) -> TextModel {
    train_with(json, all_rows()).unwrap().model
}

fn text(t: &str) -> [Input<'_>; 1] {
    [Input::Text(t)]
}

#[test]
fn predicts_labels_with_their_sql_type() {
    let m = model("{}");
    assert_eq!(m.predict(&text("claim your free prize")).unwrap(), Value::Text("spam".into()));
    assert_eq!(m.predict(&text("dinner tonight?")).unwrap(), Value::Text("ham".into()));
    let ints = Dataset::new(vec![
        Column {
            name: "y".into(),
            data: ColumnData::integers(DOCS.iter().map(|d| Some((d.0 == "spam") as i64)).collect()),
        },
        Column {
            name: "t".into(),
            data: ColumnData::texts(DOCS.iter().map(|d| Some(d.1.to_string())).collect()),
        },
    ]);
    let m = TextModel::train(&ints, Some("y"), &mut Options::default(), &all_rows()).unwrap().model;
    assert_eq!(m.predict(&text("free prize")).unwrap(), Value::Integer(1));
}

#[test]
fn multinomial_probabilities_match_hand_computation() {
    // Unigrams, alpha = 1, priors learned. Corpus: class a = {"x x y"}, class b = {"y z"}.
    // Vocabulary [x, y, z] (V = 3). Class a counts x 2, y 1, z 0 (N = 3): P(x|a) = 3/6, P(y|a) = 2/6.
    // Class b counts x 0, y 1, z 1 (N = 2): P(x|b) = 1/5, P(y|b) = 2/5. Priors 1/2 each.
    // Text "x y": a ∝ 1/2 · 3/6 · 2/6 = 1/12; b ∝ 1/2 · 1/5 · 2/5 = 1/25 -> P(a) = (1/12)/(1/12 + 1/25) = 25/37.
    let data = dataset(&[("a", "x x y"), ("b", "y z")]);
    let mut o = options(r#"{"ngrams": [1,1], "alpha": 1}"#);
    let m = TextModel::train(&data, Some("label"), &mut o, &all_rows()).unwrap().model;
    let p = m.predict_proba(&text("x y")).unwrap();
    assert_eq!(p[0].0, Value::Text("a".into()));
    assert!((p[0].1 - 25.0 / 37.0).abs() < 1e-6, "{p:?}");
    // Unseen tokens are ignored: same answer.
    let q = m.predict_proba(&text("x y unseen words")).unwrap();
    assert!((q[0].1 - p[0].1).abs() < 1e-12);
}

#[test]
fn null_and_empty_text_get_the_prior() {
    // 4 spam, 6 ham: the prior says ham with p = 0.6.
    let m = model("{}");
    for args in [[Input::Null], text(""), text("   ?!"), text("zzzz qqqq")] {
        assert_eq!(m.predict(&args).unwrap(), Value::Text("ham".into()));
        let p = m.predict_proba(&args).unwrap();
        assert!((p[0].1 - 0.6).abs() < 1e-9, "{p:?}");
    }
}

#[test]
fn explain_sums_to_the_log_odds() {
    let m = model("{}");
    let e = m.explain(&text("free prize, call now")).unwrap();
    let items = e.as_array().unwrap();
    let contributions: Vec<f64> = items.iter().map(|i| i["contribution"].as_f64().unwrap()).collect();
    assert!(contributions.windows(2).all(|w| w[0] >= w[1]), "{e}");
    assert_eq!(items.iter().filter(|i| i["kind"] == "prior").count(), 1);
    assert!(items.iter().any(|i| i["token"] == "prize"));
    let p = m.predict_proba(&text("free prize, call now")).unwrap();
    let log_odds = (p[1].1 / p[0].1).ln();
    assert!((contributions.iter().sum::<f64>() - log_odds).abs() < 1e-4);
}

#[test]
fn top_tokens_per_class() {
    let m = model(r#"{"ngrams": 1}"#);
    let top = m.top_tokens(3);
    assert_eq!(top.len(), 6);
    assert!(top[..3].iter().all(|t| t.0 == Value::Text("ham".into())));
    assert_eq!(top[3].0, Value::Text("spam".into()));
    assert!(["prize", "free", "claim", "win"].contains(&top[3].1.as_str()), "{top:?}");
    assert!(top[3].2 >= top[4].2 && top[4].2 >= top[5].2 && top[3].2 > 0.0);
}

#[test]
fn evaluate_reports_metrics() {
    let m = model("{}");
    let metrics = m.evaluate(&dataset(DOCS)).unwrap();
    assert_eq!(metrics["rows"], json!(10));
    assert_eq!(metrics["accuracy"], json!(1.0));
    let missing = Dataset::new(vec![Column {
        name: "label".into(),
        data: ColumnData::texts(vec![Some("ham".into())]),
    }]);
    assert_eq!(
        m.evaluate(&missing).unwrap_err().to_string(),
        "text column 'body' is not a column of the source (columns: label)"
    );
    let unknown = dataset(&[("eggs", "hello")]);
    assert_eq!(
        m.evaluate(&unknown).unwrap_err().to_string(),
        "target column 'label' has the value 'eggs' in row 1, which is not a class of this model (classes: 'ham', 'spam')"
    );
}

#[test]
fn training_report_holds_metrics_details_and_log() {
    let t = train_with("{}", Common { seed: 42, test_size: 0.2, ..Common::default() }).unwrap();
    assert_eq!((t.train_rows, t.test_rows), (8, 2));
    assert_eq!(t.metrics["rows"], json!(2));
    assert!(t.details["vocabulary_size"].as_u64().unwrap() > 10);
    assert_eq!(t.details["options"]["algorithm"], json!("multinomial"));
    assert_eq!(t.log.len(), 1);
    assert_eq!(t.model.algorithm(), "multinomial_nb");
}

fn bytes(m: &TextModel) -> Vec<u8> {
    postcard::to_stdvec(m).unwrap()
}

#[test]
fn deterministic_bytes_and_round_trip() {
    let json = r#"{"ngrams": [1,3], "weighting": "tfidf", "stopwords": true, "stem": true}"#;
    let a = train_with(json, Common::default()).unwrap().model;
    let b = train_with(json, Common::default()).unwrap().model;
    assert_eq!(bytes(&a), bytes(&b));
    let stored = postcard::to_stdvec(&Model::Text(a)).unwrap();
    #[allow(irrefutable_let_patterns)]
    let Model::Text(back) = postcard::from_bytes::<Model>(&stored).unwrap() else {
        panic!("not a text model");
    };
    assert_eq!(bytes(&back), bytes(&b));
    assert_eq!(back.proba("win a prize"), b.proba("win a prize"));
}

#[test]
fn every_option_changes_the_model() {
    // The language is part of the model, but changes nothing else without stopwords or stems.
    let language = r#"{"language": "fr"}"#;
    let changes = [
        r#"{"stopwords": true}"#,
        r#"{"stem": true}"#,
        r#"{"ngrams": [1,1]}"#,
        r#"{"min_df": 2}"#,
        r#"{"max_features": 10}"#,
        r#"{"weighting": "binary"}"#,
        r#"{"weighting": "tfidf"}"#,
        r#"{"algorithm": "complement"}"#,
        r#"{"algorithm": "bernoulli"}"#,
        r#"{"alpha": 0.5}"#,
        r#"{"priors": "uniform"}"#,
    ];
    let base = bytes(&model("{}"));
    for json in std::iter::once(language).chain(changes) {
        assert_ne!(bytes(&model(json)), base, "{json}");
    }
    // And they change predictions, not only bytes. Three classes: with two, complement NB
    // gives the same log-odds as multinomial NB (each class's complement is the other class).
    let mut docs = DOCS.to_vec();
    docs.extend([
        ("work", "The quarterly report is due, call the client today"),
        ("work", "Meeting with the client moved to Monday"),
        ("work", "Please review the report before the meeting"),
    ]);
    let probe = "you won a free prize? call me tonight after dinner";
    let log_odds = |json: &str| {
        let m =
            TextModel::train(&dataset(&docs), Some("label"), &mut options(json), &all_rows()).unwrap().model;
        let p = m.proba(probe);
        ((p[1] / p[0]).ln(), (p[2] / p[0]).ln())
    };
    let p0 = log_odds("{}");
    for json in changes {
        let p = log_odds(json);
        assert!((p.0 - p0.0).abs() + (p.1 - p0.1).abs() > 1e-6, "{json} {p:?} {p0:?}");
    }
    // Seed and split change which rows train the split model; the refit on every row does not
    // depend on them (Naive Bayes draws nothing at random).
    let split = |seed, refit| {
        bytes(&train_with("{}", Common { seed, test_size: 0.3, refit, ..Common::default() }).unwrap().model)
    };
    assert_ne!(split(1, false), split(2, false));
    assert_eq!(split(1, true), split(2, true));
    assert_eq!(split(1, true), bytes(&train_with("{}", all_rows()).unwrap().model));
}

#[test]
fn chinese_text() {
    let docs = [
        ("pos", "房间很干净，服务很好，非常满意"),
        ("pos", "位置方便，早餐不错，下次还来"),
        ("neg", "房间很脏，服务太差，非常失望"),
        ("neg", "隔音不好，早餐难吃，不会再来"),
    ];
    let mut o = options(r#"{"language": "zh", "ngrams": 1}"#);
    let m = TextModel::train(&dataset(&docs), Some("label"), &mut o, &all_rows()).unwrap().model;
    assert_eq!(m.predict(&text("服务很好，很满意")).unwrap(), Value::Text("pos".into()));
    assert_eq!(m.predict(&text("早餐难吃，失望")).unwrap(), Value::Text("neg".into()));
    let top: Vec<String> = m.top_tokens(50).into_iter().map(|t| t.1).collect();
    #[cfg(feature = "zh")]
    assert!(top.contains(&"满意".to_string()) && top.contains(&"失望".to_string()), "{top:?}");
    #[cfg(not(feature = "zh"))]
    assert!(top.contains(&"满意".to_string()) && top.contains(&"服务".to_string()), "{top:?}");
}

/// Prediction finds terms by hash alone (no token text) unless two terms share a hash, when it
/// compares bytes: both give the same bits, for every tokenizer mode and n-gram range, on texts
/// with known and unknown terms.
#[test]
fn lookups_by_hash_and_by_bytes_agree() {
    let docs = [
        ("a", "The room was clean and the staff were friendly"),
        ("a", "房间很干净，服务很好，非常满意 great stay"),
        ("b", "房间很脏，服务太差，非常失望 never again"),
        ("b", "Dirty room, rude staff, won't come back"),
        ("c", "ホテルの朝食はおいしかった、また来たい"),
        ("c", "Breakfast was OK; 早餐一般 but the location was great"),
    ];
    let texts = [
        "",
        "clean room, friendly staff",
        "房间很干净，但是服务太差",
        "早餐很好吃，位置方便 OK",
        "ホテルの朝食 breakfast 還可以",
        "completely unseen words here",
        "𠀀𠀁 full-width ＡＢＣ １２３ and kana ｶﾞ",
    ];
    for json in [
        r#"{"language": "zh"}"#,
        r#"{"language": "zh", "cjk": "bigrams"}"#,
        r#"{"cjk": "bigrams", "ngrams": [1, 3], "stopwords": true, "stem": true}"#,
        r#"{"ngrams": [2, 3]}"#,
        r#"{"weighting": "tfidf", "language": "zh"}"#,
        r#"{"algorithm": "bernoulli", "cjk": "bigrams"}"#,
        r#"{"algorithm": "complement", "max_features": 20}"#,
    ] {
        let train = || {
            TextModel::train(&dataset(&docs), Some("label"), &mut options(json), &all_rows()).unwrap().model
        };
        let by_hash = train();
        let mut by_bytes = train();
        assert!(by_hash.vocab.hashes_are_unique(), "{json}");
        by_bytes.vocab.force_byte_lookups();
        for t in texts {
            let bits = |m: &TextModel| m.proba(t).iter().map(|p| p.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&by_hash), bits(&by_bytes), "{json}: {t}");
        }
    }
}

#[test]
fn weights_by_hash_score_as_by_id() {
    // Random texts over a small vocabulary, for 2 to 14 classes (15, and 14 for complement: no
    // table), multinomial and complement NB (complement has a per-term base), unigrams to
    // trigrams.
    let words: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
    let mut next = xorshift(7);
    let text = |n: u64, next: &mut dyn FnMut() -> u64| {
        (0..n).map(|_| words[(next() % 60) as usize].as_str()).collect::<Vec<_>>().join(" ")
    };
    for k in [2usize, 3, 8, 13, 14, 15] {
        let docs: Vec<(String, String)> =
            (0..40 * k).map(|i| (format!("c{}", i % k), text(3 + next() % 12, &mut next))).collect();
        let docs: Vec<(&str, &str)> = docs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        for json in
            [r#"{}"#, r#"{"algorithm": "complement", "ngrams": [1, 3]}"#, r#"{"ngrams": 1, "alpha": 0.1}"#]
        {
            let m = TextModel::train(&dataset(&docs), Some("label"), &mut options(json), &all_rows())
                .unwrap()
                .model;
            // A slot holds the hash, complement NB's per-term base and a weight per class in at
            // most 16 words.
            let fits = k + 2 + usize::from(json.contains("complement")) <= 16;
            assert_eq!(m.hashed_weights().is_some(), fits, "{k} classes, {json}");
            let Some(w) = m.hashed_weights() else { continue };
            for _ in 0..50 {
                let t = text(next() % 30, &mut next) + " unseen w1 w2";
                let (mut a, mut b) = (Scratch::default(), Scratch::default());
                for s in [&mut a, &mut b] {
                    s.scores.resize(k, 0.0);
                }
                m.score_by_id(&t, &mut a);
                m.score_hashed(w, &t, &mut b);
                let bits = |s: &Scratch| s.scores.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b), "{k} classes, {json}: {t}");
            }
        }
    }
}

#[test]
fn weights_by_hash_from_the_second_text_and_within_their_memory_cap() {
    let m = model("{}");
    let proba = |m: &TextModel| m.proba("claim your free prize");
    let first = proba(&m);
    assert!(m.hashed.get().is_none(), "the first text is scored by id");
    assert_eq!(proba(&m), first);
    assert!(m.hashed.get().is_some_and(|w| w.is_some()), "the second makes the table");
    // A table larger than allowed is not made.
    let vocab = &m.vocab;
    let made = |max| HashedWeights::build(&m.nb, vocab.len(), vocab.hashed_ids(), max).is_some();
    let bytes = m.hashed_weights().unwrap().bytes();
    assert!(made(bytes) && !made(bytes - 1));
}

#[test]
fn bad_inputs_have_clear_errors() {
    let m = model("{}");
    let err = |r: Result<Value>| r.unwrap_err().to_string();
    assert_eq!(err(m.predict(&[Input::Blob(b"\xff")])), "argument 'text' must be text, got blob");
    assert_eq!(err(m.predict(&[])), "a text model takes 1 argument (the text), got 0");
    assert_eq!(
        err(m.predict(&[Input::Text("a"), Input::Text("b")])),
        "a text model takes 1 argument (the text), got 2"
    );
    assert_eq!(m.predict(&[Input::Integer(5)]).unwrap(), Value::Text("ham".into()));
}

#[test]
fn bad_options_and_data_have_clear_errors() {
    let e = |json: &str| train_with(json, all_rows()).unwrap_err().to_string();
    assert_eq!(
        e(r#"{"ngrams": [2,1]}"#),
        "option 'ngrams' must be [min, max] with 1 <= min <= max <= 5 (or one number n for [1, n]), got [2,1]"
    );
    assert_eq!(e(r#"{"alpha": 0}"#), "option 'alpha' must be a positive number, got 0");
    assert_eq!(
        e(r#"{"algorithm": "gaussian"}"#),
        "option 'algorithm' must be one of 'multinomial', 'complement', 'bernoulli', got 'gaussian'"
    );
    assert_eq!(
        e(r#"{"weighting": "log"}"#),
        "option 'weighting' must be one of 'count', 'binary', 'tfidf', got 'log'"
    );
    assert_eq!(e(r#"{"min_df": 0}"#), "option 'min_df' must be an integer from 1 to 4294967295, got 0");
    assert_eq!(
        e(r#"{"stemming": true}"#),
        "unknown option 'stemming' (expected one of: activate, algorithm, alpha, cjk, keep, language, max_features, max_memory_mb, min_df, ngrams, priors, progress, refit, seed, stem, stopwords, test_size, text, weighting)"
    );
    assert_eq!(
        e(r#"{"min_df": 50}"#),
        "no term occurs in at least 50 training texts (lower the option 'min_df')"
    );
    assert_eq!(
        e(r#"{"text": "label"}"#),
        "option 'text' must name a column other than the target, got 'label'"
    );
    assert_eq!(
        e(r#"{"text": "nope"}"#),
        "option 'text' 'nope' is not a column of the source (columns: label, body)"
    );

    // An id column beside one text column: the text column is the text.
    let mut with_id = dataset(DOCS);
    let n = with_id.n_rows;
    with_id
        .columns
        .push(Column { name: "id".into(), data: ColumnData::integers((0..n as i64).map(Some).collect()) });
    assert!(TextModel::train(&with_id, Some("label"), &mut Options::default(), &all_rows()).is_ok());
    let mut three = dataset(DOCS);
    three.columns.push(Column { name: "extra".into(), data: ColumnData::texts(vec![Some("x".into()); n]) });
    let r = TextModel::train(&three, Some("label"), &mut Options::default(), &all_rows());
    assert_eq!(
        r.unwrap_err().to_string(),
        "the source has several columns besides the target 'label' ('body', 'extra'); choose the text column with the option 'text'"
    );
    let only = Dataset::new(vec![three.columns[0].clone()]);
    let r = TextModel::train(&only, Some("label"), &mut Options::default(), &all_rows());
    assert_eq!(
        r.unwrap_err().to_string(),
        "the source has no column besides the target 'label' (a text model needs a text column)"
    );
    let r = TextModel::train(&dataset(DOCS), None, &mut Options::default(), &all_rows());
    assert_eq!(r.unwrap_err().to_string(), "a text model needs a target column (the labels)");
    let empty = dataset(&[("a", ""), ("b", "...")]);
    let r = TextModel::train(&empty, Some("label"), &mut Options::default(), &all_rows());
    assert_eq!(r.unwrap_err().to_string(), "the text column 'body' has no words in the training rows");
}

/// A model of `texts` (class `i % 3` for text `i`) fitted by [`TextModel::fit`], with the first
/// pass that marks the n-grams seen twice from `seen_twice_from` bytes of text on; its bytes,
/// and the distinct terms reported (and whether estimated).
fn fitted_bytes(
    texts: &[String],
    settings: TextSettings,
    seen_twice_from: usize,
) -> (Vec<u8>, (usize, bool)) {
    fitted_bytes_of(texts, 3, settings, seen_twice_from)
}

/// [`fitted_bytes`] with `k` classes (text `i` of class `i % k`): above
/// [`vectorize::DENSE_CLASSES`], counting by class keeps lists of runs.
fn fitted_bytes_of(
    texts: &[String],
    k: u32,
    settings: TextSettings,
    seen_twice_from: usize,
) -> (Vec<u8>, (usize, bool)) {
    let col =
        Column { name: "body".into(), data: ColumnData::texts(texts.iter().cloned().map(Some).collect()) };
    let rows: Vec<usize> = (0..texts.len()).collect();
    let y: Vec<u32> = (0..texts.len() as u32).map(|i| i % k).collect();
    let classes = (0..k).map(|c| Value::Text(format!("class {c}"))).collect();
    let tokenizer = Tokenizer::new(TokenizerConfig::default());
    let Fitted { model: m, distinct, .. } = TextModel::fit(
        &col,
        (&rows, &y),
        classes,
        tokenizer,
        settings,
        seen_twice_from,
        counts::Reuse::No,
        (true, true),
        &Control::new(),
    )
    .unwrap();
    (bytes(&m), distinct)
}

/// A measured fit whose refit is the served model (`served` false) finishes its counts by
/// class into an unsorted vocabulary for multinomial and complement NB, and scores every text
/// as the sorted one does, to the bit (with `max_features`, and counting presence too);
/// Bernoulli's vocabulary stays sorted.
#[test]
fn a_measured_fits_unsorted_vocabulary_scores_as_the_sorted_one() {
    let texts = zipf_texts(4000, 30, 3000, 7);
    let probes = zipf_texts(300, 30, 3500, 8);
    let col =
        Column { name: "body".into(), data: ColumnData::texts(texts.iter().cloned().map(Some).collect()) };
    let rows: Vec<usize> = (0..texts.len()).collect();
    let y: Vec<u32> = (0..texts.len() as u32).map(|i| i % 3).collect();
    let fit = |settings: &TextSettings, served: bool| {
        let classes = (0..3).map(|c| Value::Text(format!("class {c}"))).collect();
        let tokenizer = Tokenizer::new(TokenizerConfig::default());
        let reuse = counts::Reuse::No;
        TextModel::fit(
            &col,
            (&rows, &y),
            classes,
            tokenizer,
            settings.clone(),
            usize::MAX,
            reuse,
            (true, served),
            &Control::new(),
        )
        .unwrap()
        .model
    };
    let terms =
        |m: &TextModel| (0..m.vocab.len() as u32).map(|i| m.vocab.term(i).to_string()).collect::<Vec<_>>();
    for algorithm in [Algorithm::Multinomial, Algorithm::Complement, Algorithm::Bernoulli] {
        for (weighting, max_features) in
            [(Weighting::Count, None), (Weighting::Binary, None), (Weighting::Count, Some(900))]
        {
            let settings =
                TextSettings { algorithm, weighting, max_features, ..multinomial((1, 2), 2, weighting) };
            let case = format!("{algorithm:?} {weighting:?} {max_features:?}");
            let (sorted, any) = (fit(&settings, true), fit(&settings, false));
            let (mut a, b) = (terms(&any), terms(&sorted));
            assert!(b.is_sorted(), "{case}");
            assert_eq!(a.is_sorted(), algorithm == Algorithm::Bernoulli, "{case}: the sort is left out");
            a.sort();
            assert_eq!(a, b, "{case}: the same terms");
            // The unsorted model is never stored: it refuses to be encoded (its vocabulary would
            // not decode); the sorted one encodes.
            assert!(postcard::to_stdvec(&sorted).is_ok(), "{case}");
            assert_eq!(postcard::to_stdvec(&any).is_ok(), algorithm == Algorithm::Bernoulli, "{case}");
            for t in texts.iter().take(200).chain(&probes) {
                let (p, q) = (any.proba(t), sorted.proba(t));
                assert!(p.iter().zip(&q).all(|(p, q)| p.to_bits() == q.to_bits()), "{case}: {p:?} {q:?}");
            }
        }
    }
}

/// Texts of `words` words each from a Zipf-like vocabulary of `vocabulary` words (the cube of
/// a uniform draw): many word pairs repeat, many occur in one text only.
fn zipf_texts(n: usize, words: u64, vocabulary: u64, seed: u64) -> Vec<String> {
    random_texts(seed, n, words..words + 1, |r| {
        let u = (r >> 11) as f64 / (1u64 << 53) as f64;
        (u * u * u * vocabulary as f64) as u64
    })
}

/// The refit on every row after a measured fit counts the held-out texts on top of the measured
/// fit's counts (`counts`): the very model, vocabulary and report that counting every text
/// gives, for every option set counted by class (counts, presence, Bernoulli, trigrams,
/// unigrams, `min_df`, `max_features`); a fit with rows (TF-IDF) counts every text again.
/// Enough texts that both the training and the held-out ones are counted in halves.
#[test]
fn the_refit_from_the_measured_counts_is_the_model_of_every_row() {
    let texts = zipf_texts(12_000, 30, 3000, 7);
    // Few classes (rows of counts) and many (lists of runs).
    for k in [5, 23] {
        refit_from_the_measured_counts(&texts, k);
    }
}

/// [`the_refit_from_the_measured_counts_is_the_model_of_every_row`] with `k` classes.
fn refit_from_the_measured_counts(texts: &[String], k: usize) {
    let labels: Vec<String> = (0..texts.len()).map(|i| format!("c{}", (i * 7 + i / 3) % k)).collect();
    let docs: Vec<(&str, &str)> = labels.iter().zip(texts).map(|(l, t)| (l.as_str(), t.as_str())).collect();
    let data = dataset(&docs);
    let train = |json: &str, test_size, refit| {
        let common = Common { seed: 3, test_size, refit, ..Common::default() };
        TextModel::train(&data, Some("label"), &mut options(json), &common).unwrap()
    };
    for (json, reused) in [
        ("{}", true),
        (r#"{"weighting": "binary"}"#, true),
        (r#"{"algorithm": "bernoulli", "min_df": 2}"#, true),
        (r#"{"algorithm": "complement", "ngrams": [1, 3]}"#, true),
        (r#"{"ngrams": 1, "max_features": 500}"#, true),
        (r#"{"ngrams": [2, 2], "min_df": 3}"#, true),
        (r#"{"weighting": "tfidf"}"#, false),
    ] {
        let before = counts::REUSED.with(std::cell::Cell::get);
        let served = train(json, 0.25, true);
        assert_eq!(
            counts::REUSED.with(std::cell::Cell::get) - before,
            usize::from(reused),
            "{k} classes {json}"
        );
        // (The split is stratified by class: a quarter of each class.)
        let (train_rows, test_rows) = (served.train_rows, served.test_rows);
        assert!(train_rows + test_rows == 12_000 && test_rows.abs_diff(3000) <= k, "{k} classes {json}");
        assert_eq!(served.served_rows, 12_000, "{k} classes {json}");
        let every = train(json, 0.0, false);
        assert!(bytes(&served.model) == bytes(&every.model), "{k} classes {json}");
        for key in ["vocabulary_size", "distinct_terms", "options"] {
            assert_eq!(served.details[key], every.details[key], "{k} classes {json} {key}");
        }
        assert!(served.details.get("distinct_terms_estimated").is_none(), "{k} classes {json}");
        // The report's training loss and held-out metrics are the measured fit's (the refit
        // measures no loss of its own).
        let measured = train(json, 0.25, false);
        assert_eq!(served.log.len(), 1, "{k} classes {json}");
        assert_eq!(served.log[0].loss.to_bits(), measured.log[0].loss.to_bits(), "{k} classes {json}");
        assert_eq!(served.log[0].val_loss, measured.log[0].val_loss, "{k} classes {json}");
        let texts = measured.details["train_loss_texts"].as_u64().unwrap() as usize;
        assert!(texts == LOSS_SAMPLE.min(train_rows) || texts == train_rows, "{k} classes {json}");
        assert_eq!(served.details["train_loss_texts"], json!(texts), "{k} classes {json}");
        assert_eq!(served.metrics, measured.metrics, "{k} classes {json}");
    }
}

/// Multinomial NB settings of `ngrams`, `min_df` and `weighting` (α 1, learned priors).
fn multinomial(ngrams: (u8, u8), min_df: u32, weighting: Weighting) -> TextSettings {
    TextSettings {
        ngrams,
        min_df,
        max_features: None,
        weighting,
        algorithm: Algorithm::Multinomial,
        alpha: 1.0,
        priors: Priors::Learned,
    }
}

/// Zipf texts of three classes (text `i` of class `i % 3`), with the rows held out (every
/// `every`-th from `offset`), those that train and all of them: for the tests of what a
/// measured fit leaves for the refit on every row.
struct Split {
    texts: Vec<String>,
    col: Column,
    train: Vec<usize>,
    held_out: Vec<usize>,
    all: Vec<usize>,
}

impl Split {
    fn new(n: usize, seed: u64, (every, offset): (usize, usize)) -> Split {
        let texts = zipf_texts(n, 30, 3000, seed);
        let col = Column {
            name: "body".into(),
            data: ColumnData::texts(texts.iter().cloned().map(Some).collect()),
        };
        let (held_out, train) = (0..n).partition(|i| i % every == offset);
        Split { texts, col, train, held_out, all: (0..n).collect() }
    }

    fn y_of(rows: &[usize]) -> Vec<u32> {
        rows.iter().map(|r| (r % 3) as u32).collect()
    }

    /// The measured fit's counting, which leaves for the refit what it can.
    fn leave(&self) -> counts::Reuse<'_> {
        counts::Reuse::Leave { held_out: &self.held_out, y: Self::y_of(&self.held_out) }
    }

    fn fit(
        &self,
        rows: &[usize],
        config: &TokenizerConfig,
        settings: &TextSettings,
        seen_twice_from: usize,
        reuse: counts::Reuse<'_>,
    ) -> Fitted {
        TextModel::fit(
            &self.col,
            (rows, &Self::y_of(rows)),
            (0..3).map(|c| Value::Text(format!("class {c}"))).collect(),
            Tokenizer::new(config.clone()),
            settings.clone(),
            seen_twice_from,
            reuse,
            (true, true),
            &Control::new(),
        )
        .unwrap()
    }
}

/// A fit leaves its counts only when the refit can count on them: counted by class, with no
/// first pass over the n-grams seen twice in either fit; and a refit whose counting differs
/// (another tokenizer here) counts every text, to the same model.
#[test]
fn counts_are_left_and_taken_only_when_the_refit_counts_the_same() {
    let split = Split::new(3000, 11, (4, 1));
    let (train, all) = (&split.train, &split.all);
    let settings = |weighting| multinomial((1, 2), AUTO_MIN_DF, weighting);
    let fit = |rows: &[usize], config: TokenizerConfig, weighting, from, reuse| {
        split.fit(rows, &config, &settings(weighting), from, reuse)
    };
    let leave = || split.leave();
    let plain = TokenizerConfig::default();
    // Left: by class, far from the first pass.
    let Fitted { left, .. } = fit(train, plain.clone(), Weighting::Count, usize::MAX, leave());
    assert!(left.is_some());
    assert!(matches!(left, Some(counts::Left::Counts(_))));
    // Not left: with rows, or where the refit (of every text) would make the first pass (whose
    // filter is left instead with an explicit `min_df`, not with this automatic one).
    let Fitted { left, .. } = fit(train, plain.clone(), Weighting::TfIdf, usize::MAX, leave());
    assert!(left.is_none());
    let all_bytes: usize = split.texts.iter().map(String::len).sum();
    let Fitted { left, .. } = fit(train, plain.clone(), Weighting::Count, all_bytes, leave());
    assert!(left.is_none());
    let Fitted { left, .. } = fit(train, plain.clone(), Weighting::Count, all_bytes + 1, leave());
    assert!(matches!(left, Some(counts::Left::Counts(_))));
    // Taken by a refit that counts the same, not by one with another tokenizer: the same model.
    let every = bytes(&fit(all, plain.clone(), Weighting::Count, usize::MAX, counts::Reuse::No).model);
    let stemmed = TokenizerConfig { stem: true, ..plain.clone() };
    let every_stemmed =
        bytes(&fit(all, stemmed.clone(), Weighting::Count, usize::MAX, counts::Reuse::No).model);
    assert!(every != every_stemmed);
    for (config, expected, reused) in [(plain.clone(), &every, 1), (stemmed.clone(), &every_stemmed, 0)] {
        let Fitted { left, .. } = fit(train, plain.clone(), Weighting::Count, usize::MAX, leave());
        let before = counts::REUSED.with(std::cell::Cell::get);
        let reuse = counts::Reuse::From(left.unwrap());
        let Fitted { model: m, .. } = fit(all, config, Weighting::Count, usize::MAX, reuse);
        assert_eq!(counts::REUSED.with(std::cell::Cell::get) - before, reused);
        assert!(bytes(&m) == *expected);
    }
    // Counts whose texts were given back must be taken: a refit that cannot is an error, where
    // it would count the texts given back as empty.
    let Fitted { left, .. } = fit(train, plain.clone(), Weighting::Count, usize::MAX, leave());
    let mut left = left.unwrap();
    left.texts_given_back();
    let refit = TextModel::fit(
        &split.col,
        (all, &Split::y_of(all)),
        (0..3).map(|c| Value::Text(format!("class {c}"))).collect(),
        Tokenizer::new(stemmed),
        settings(Weighting::Count),
        usize::MAX,
        counts::Reuse::From(left),
        (true, true),
        &Control::new(),
    );
    assert!(matches!(refit, Err(Error::Internal(_))));
}

/// Where both fits make the first pass over the n-grams seen twice, the measured fit leaves its
/// own (over its training texts); the refit on every row extends it with the held-out texts
/// when its own would mark the same n-grams (the same tokenizer and n-grams, every row in
/// order), and both fits make the models they make without it, by class and in rows (TF-IDF),
/// with an explicit `min_df` or a chosen one (from each fit's own texts).
#[test]
fn the_first_pass_is_made_once_for_both_fits() {
    let split = Split::new(4000, 12, (5, 2));
    let (train, all) = (&split.train, &split.all);
    let fit = |rows: &[usize], config: &TokenizerConfig, settings: &TextSettings, from, reuse| {
        split.fit(rows, config, settings, from, reuse)
    };
    let leave = || split.leave();
    let marks_reused = || counts::MARKS_REUSED.with(std::cell::Cell::get);
    let reused = || counts::REUSED.with(std::cell::Cell::get);
    let plain = TokenizerConfig::default();
    let stemmed = TokenizerConfig { stem: true, ..plain.clone() };
    for (weighting, min_df) in [(Weighting::Count, 2), (Weighting::TfIdf, 2), (Weighting::Count, AUTO_MIN_DF)]
    {
        // (At this size an automatic `min_df` is 1: the filter is made and not used.)
        let used = min_df != AUTO_MIN_DF;
        let settings = |ngrams| multinomial(ngrams, min_df, weighting);
        let pairs = settings((1, 2));
        let what = format!("{weighting:?}, min_df {min_df}");
        // Without a first pass, and with each fit's own.
        let measured = bytes(&fit(train, &plain, &pairs, usize::MAX, counts::Reuse::No).model);
        let own = fit(train, &plain, &pairs, 0, counts::Reuse::No);
        assert_eq!(own.distinct.1, used, "{what}");
        assert!(bytes(&own.model) == measured, "{what}");
        let every = bytes(&fit(all, &plain, &pairs, usize::MAX, counts::Reuse::No).model);
        assert!(bytes(&fit(all, &plain, &pairs, 0, counts::Reuse::No).model) == every, "{what}");

        // The measured fit's own pass: the same measured model; left, and resumed.
        let Fitted { model, left, distinct, .. } = fit(train, &plain, &pairs, 0, leave());
        assert!(bytes(&model) == measured, "{what}");
        // (Its filters are sized for every row, the refit's: where the distinct terms are
        // estimated, from more bits.)
        assert_eq!(distinct.1, used, "{what}");
        assert!(
            distinct.0 == own.distinct.0 || used && distinct.0.abs_diff(own.distinct.0) < distinct.0 / 20,
            "{what}"
        );
        // Counting by class with it, the counts are left (counted with the filter of every
        // text), which the refit counts the held-out texts on in; else the first pass.
        let counts_left = used && weighting != Weighting::TfIdf;
        assert_eq!(matches!(left, Some(counts::Left::Counts(_))), counts_left, "{what}");
        assert_eq!(matches!(left, Some(counts::Left::Marks(_))), !counts_left, "{what}");
        let before = (marks_reused(), reused());
        let reuse = counts::Reuse::From(left.unwrap());
        let refit = fit(all, &plain, &pairs, 0, reuse);
        let after = (marks_reused() - before.0, reused() - before.1);
        assert_eq!(after, if counts_left { (0, 1) } else { (1, 0) }, "{what}");
        assert!(bytes(&refit.model) == every, "{what}");
        assert_eq!(refit.distinct.1, used, "{what}");
        assert_eq!(refit.distinct, fit(all, &plain, &pairs, 0, counts::Reuse::No).distinct, "{what}");

        // Not taken by a refit of another tokenizer, other n-grams or other rows: each makes
        // its own, to its own model.
        let trigrams = settings((1, 3));
        let other_rows: Vec<usize> = all.iter().rev().copied().collect();
        // (Counts have no order: the rows in another order count on in them.)
        for (rows, config, settings, taken) in [
            (all, &stemmed, &pairs, false),
            (all, &plain, &trigrams, false),
            (&other_rows, &plain, &pairs, counts_left),
        ] {
            let Fitted { left, .. } = fit(train, &plain, &pairs, 0, leave());
            let before = (marks_reused(), reused());
            let reuse = counts::Reuse::From(left.unwrap());
            let m = bytes(&fit(rows, config, settings, 0, reuse).model);
            assert_eq!((marks_reused(), reused()), (before.0, before.1 + usize::from(taken)), "{what}");
            assert!(m == bytes(&fit(rows, config, settings, usize::MAX, counts::Reuse::No).model), "{what}");
        }
    }
}

/// With the `min_df` chosen above `LARGE_VOCABULARY` distinct n-grams, the measured fit counts
/// its texts with the filter of every text and leaves those counts; the refit counts the
/// held-out texts on in them, to the model, distinct terms and chosen `min_df` that counting
/// every text gives; the measured model and its estimate of its distinct terms are those of a
/// fit of its texts alone. Where no word is in two texts (the choice is 1: every n-gram is
/// counted again), no counts are left, and the refit counts every text.
#[test]
fn counts_of_the_n_grams_seen_twice_are_left_for_the_refit() {
    // (Each half of the measured fit's texts must have more than a million distinct n-grams:
    // the lower bound is the larger half's.)
    let n = 3000;
    let large = zipf_texts(n, 1000, 1 << 40, 4);
    let unique: Vec<String> = (0..n)
        .map(|t| (0..1000).map(|w| format!("u{}", t * 1000 + w)).collect::<Vec<_>>().join(" "))
        .collect();
    for (texts, counts_left) in [(&large, true), (&unique, false)] {
        let col = Column {
            name: "body".into(),
            data: ColumnData::texts(texts.iter().cloned().map(Some).collect()),
        };
        let (held_out, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % 5 == 2);
        let all: Vec<usize> = (0..n).collect();
        let y_of = |rows: &[usize]| rows.iter().map(|r| (r % 3) as u32).collect::<Vec<_>>();
        let fit = |rows: &[usize], reuse| {
            TextModel::fit(
                &col,
                (rows, &y_of(rows)),
                (0..3).map(|c| Value::Text(format!("class {c}"))).collect(),
                Tokenizer::new(TokenizerConfig::default()),
                auto_settings(),
                0,
                reuse,
                (true, true),
                &Control::new(),
            )
            .unwrap()
        };
        let alone = fit(&train, counts::Reuse::No);
        let leave = counts::Reuse::Leave { held_out: &held_out, y: y_of(&held_out) };
        let Fitted { model, left, distinct, .. } = fit(&train, leave);
        assert!(bytes(&model) == bytes(&alone.model), "{counts_left}");
        assert_eq!((distinct.1, alone.distinct.1), (counts_left, counts_left));
        assert!(distinct.0.abs_diff(alone.distinct.0) < distinct.0 / 20, "{distinct:?} {:?}", alone.distinct);
        assert_eq!(matches!(left, Some(counts::Left::Counts(_))), counts_left);
        assert_eq!(model.settings.min_df, alone.model.settings.min_df);
        let before = counts::REUSED.with(std::cell::Cell::get);
        let refit = fit(&all, left.map_or(counts::Reuse::No, counts::Reuse::From));
        assert_eq!(counts::REUSED.with(std::cell::Cell::get) - before, usize::from(counts_left));
        let every = fit(&all, counts::Reuse::No);
        assert!(bytes(&refit.model) == bytes(&every.model), "{counts_left}");
        assert_eq!(refit.distinct, every.distinct);
        assert_eq!(refit.model.settings.min_df, if counts_left { 2 } else { 1 });
    }
}

/// Counting only the n-grams seen twice (a large corpus's first pass) gives the very model
/// that counting every n-gram gives: with an explicit `min_df` of 2 or 3, bigrams and trigrams,
/// counts, presence and TF-IDF, by class or in rows (TF-IDF, or more classes than are counted
/// by class), on one thread (few texts) or two.
#[test]
fn counting_only_what_is_seen_twice_gives_the_same_model() {
    let rows_k = vectorize::DENSE_CLASSES as u32 + 4;
    for (n, seed) in [(300, 1), (5000, 2)] {
        let texts = zipf_texts(n, 30, 3000, seed);
        for (ngrams, min_df, weighting, k) in [
            ((1, 2), 2, Weighting::Count, 3),
            ((1, 3), 2, Weighting::Count, 3),
            ((1, 2), 3, Weighting::Binary, 3),
            ((1, 2), 2, Weighting::TfIdf, 3),
            ((1, 3), 2, Weighting::Count, rows_k),
            ((1, 2), 3, Weighting::TfIdf, rows_k),
        ] {
            let settings = multinomial(ngrams, min_df, weighting);
            let (all, (_, estimated)) = fitted_bytes_of(&texts, k, settings.clone(), usize::MAX);
            assert!(!estimated);
            let (twice, (distinct, estimated)) = fitted_bytes_of(&texts, k, settings, 0);
            assert!(estimated && distinct > 0);
            assert!(
                all == twice,
                "{n} texts, n-grams {ngrams:?}, min_df {min_df}, {weighting:?}, {k} classes"
            );
        }
    }
}

/// With the `min_df` chosen, the first pass is kept only above `LARGE_VOCABULARY` distinct
/// n-grams (where the choice is 2): the model is the same, and so is the choice; below it,
/// every term is counted (the choice may be 1) and the distinct terms are exact.
#[test]
fn the_chosen_min_df_is_the_same_with_the_first_pass() {
    let auto = auto_settings();
    // Few distinct n-grams: no filter, exact counts, min_df 1.
    let small = zipf_texts(400, 30, 3000, 3);
    let (a, exact) = fitted_bytes(&small, auto.clone(), usize::MAX);
    let (b, same) = fitted_bytes(&small, auto.clone(), 0);
    assert!(a == b && exact == same && !same.1);
    // More than a million distinct word pairs, most in one text: the filter, min_df 2.
    // (Each half must have more than a million: the lower bound is the larger half's.)
    let large = zipf_texts(2400, 1000, 1 << 40, 4);
    let (a, exact) = fitted_bytes(&large, auto.clone(), usize::MAX);
    let (b, estimated) = fitted_bytes(&large, auto, 0);
    assert!(a == b, "the same model");
    assert!(exact.0 > LARGE_VOCABULARY && !exact.1, "{exact:?}");
    assert!(estimated.1, "{estimated:?}");
    // As many, but no word in two texts: the chosen min_df is 1, and every term is counted
    // again (the model holds all of them).
    let unique: Vec<String> = (0..2400)
        .map(|t| (0..1000).map(|w| format!("u{}", t * 1000 + w)).collect::<Vec<_>>().join(" "))
        .collect();
    // (The first pass is taken: its lower bound is above the threshold, so the recount is what
    // gives every term.)
    let col =
        Column { name: "body".into(), data: ColumnData::texts(unique.iter().cloned().map(Some).collect()) };
    let rows: Vec<usize> = (0..unique.len()).collect();
    let tokenizer = Tokenizer::new(TokenizerConfig::default());
    let bytes = pipeline::text_bytes_of(&col, &rows);
    let seen =
        pipeline::mark_seen_twice(&tokenizer, &col, &rows, bytes / 64, 2, &Control::new()).unwrap().split().0;
    assert!(seen.distinct_at_least() > LARGE_VOCABULARY, "{}", seen.distinct_at_least());
    let (c, exact_unique) = fitted_bytes(&unique, auto_settings(), usize::MAX);
    let (d, again) = fitted_bytes(&unique, auto_settings(), 0);
    assert!(c == d && exact_unique == again && !again.1, "{exact_unique:?} {again:?}");
    assert!(exact_unique.0 > 2 * LARGE_VOCABULARY);
    // The estimate is within a few percent of the exact count.
    assert!(estimated.0.abs_diff(exact.0) < exact.0 / 20, "{} against {}", estimated.0, exact.0);
}

/// The default settings: n-grams 1–2, `min_df` chosen.
fn auto_settings() -> TextSettings {
    TextSettings {
        ngrams: (1, 2),
        min_df: AUTO_MIN_DF,
        max_features: None,
        weighting: Weighting::Count,
        algorithm: Algorithm::Multinomial,
        alpha: 1.0,
        priors: Priors::Learned,
    }
}

/// The training loss is the mean log-loss of the training texts it says it scored: every one
/// of a small set, whether training counts by class (scoring the texts again) or keeps rows
/// (TF-IDF); a larger set is sampled at evenly spaced positions.
#[test]
fn the_training_loss_is_the_mean_over_the_texts_it_names() {
    for json in ["{}", r#"{"weighting": "tfidf"}"#, r#"{"weighting": "tfidf", "ngrams": 1}"#] {
        let t = train_with(json, all_rows()).unwrap();
        assert_eq!(t.details["train_loss_texts"], json!(DOCS.len()), "{json}");
        let mean = DOCS
            .iter()
            .map(|(label, body)| {
                let proba = t.model.predict_proba(&text(body)).unwrap();
                let p = proba.iter().find(|(c, _)| *c == Value::Text(label.to_string())).unwrap().1;
                metrics::log_loss_of(p)
            })
            .sum::<f64>()
            / DOCS.len() as f64;
        let loss = t.log[0].loss;
        assert!((loss - mean).abs() <= 1e-9 * mean.max(1.0), "{json}: {loss} against {mean}");
        assert!(loss > 0.0);
    }
    assert_eq!(evenly_spaced(10, 2048), (0..10).collect::<Vec<_>>());
    // Long texts: about a MiB of them, at least 256 (all when fewer).
    assert_eq!(loss_sample_size(10, 10 << 20), 10);
    assert_eq!(loss_sample_size(100_000, 1 << 20), LOSS_SAMPLE);
    assert_eq!(loss_sample_size(100_000, 4 << 20), LOSS_SAMPLE / 4);
    assert_eq!(loss_sample_size(100_000, 3_500_000), 613);
    assert_eq!(loss_sample_size(100_000, 1 << 40), LOSS_SAMPLE_LONG);
    assert_eq!(loss_sample_size(200, 1 << 40), 200);
    let picks = evenly_spaced(1_000_003, LOSS_SAMPLE_ROWS);
    assert_eq!((picks.len(), picks[0]), (LOSS_SAMPLE_ROWS, 0));
    assert!(picks.windows(2).all(|w| (15..=16).contains(&(w[1] - w[0]))));
    assert!(*picks.last().unwrap() >= 1_000_003 - 16);
}

/// Of long texts the training loss scores about a MiB, evenly spaced: the mean log-loss of
/// those texts, as predicted.
#[test]
fn the_training_loss_of_long_texts_scores_about_a_mib() {
    let texts = zipf_texts(3000, 300, 3000, 11);
    let labels: Vec<String> = (0..texts.len()).map(|i| format!("c{}", i % 3)).collect();
    let docs: Vec<(&str, &str)> = labels.iter().zip(&texts).map(|(l, t)| (l.as_str(), t.as_str())).collect();
    let t = TextModel::train(&dataset(&docs), Some("label"), &mut options("{}"), &all_rows()).unwrap();
    let sampled: usize = evenly_spaced(docs.len(), LOSS_SAMPLE).iter().map(|&i| docs[i].1.len()).sum();
    assert!(sampled > 2 * LOSS_SAMPLE_BYTES, "{sampled} bytes: texts long enough");
    let take = loss_sample_size(docs.len(), sampled);
    assert!((LOSS_SAMPLE_LONG..LOSS_SAMPLE / 2).contains(&take), "{take}");
    assert_eq!(t.details["train_loss_texts"], json!(take));
    let mean = evenly_spaced(docs.len(), take)
        .iter()
        .map(|&i| {
            let proba = t.model.predict_proba(&text(docs[i].1)).unwrap();
            let p = proba.iter().find(|(c, _)| *c == Value::Text(docs[i].0.to_string())).unwrap().1;
            metrics::log_loss_of(p)
        })
        .sum::<f64>()
        / take as f64;
    let loss = t.log[0].loss;
    assert!((loss - mean).abs() <= 1e-9 * mean.max(1.0), "{loss} against {mean}");
}

/// A fit with rows keeps only the rows its training loss scores ([`SparseRows::into_picked`]):
/// those rows, bit for bit and in the order asked (the same rows when all are asked for in
/// order), and the loss over them is the mean over those rows of the full set.
#[test]
fn the_loss_rows_kept_score_as_all_the_rows() {
    use crate::models::text::naive_bayes::{Algorithm, NaiveBayes, Priors};
    let mut random = xorshift(0x1f83_d9ab_fb41_bd6b);
    let mut rows = vectorize::SparseRows { offsets: vec![0], ..Default::default() };
    let mut y = Vec::new();
    for d in 0..5000u32 {
        // Rows of 0 to 11 distinct features (some empty), from 300.
        let len = random() % 12;
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..len {
            seen.insert((random() % 300) as u32);
        }
        for f in seen {
            rows.features.push(f);
            rows.values.push(1.0 + (random() % 3) as f32);
        }
        rows.offsets.push(rows.features.len());
        y.push(d % 7);
    }
    let nb =
        NaiveBayes::fit(&rows, &y, 7, 300, Algorithm::Multinomial, 0.5, Priors::Learned, &Control::new())
            .unwrap();
    for picks in [evenly_spaced(5000, 640), vec![4999, 3, 3, 0], Vec::new()] {
        let picked = rows.clone().into_picked(&picks).unwrap();
        assert_eq!(picked.rows(), picks.len());
        for (i, &p) in picks.iter().enumerate() {
            assert_eq!(picked.row(i), rows.row(p));
        }
        // The loss over the kept rows is the mean −ln p of each picked row's class, computed
        // here row by row from the full rows.
        let y_picked: Vec<u32> = picks.iter().map(|&p| y[p]).collect();
        let (loss, n) = log_loss(&nb, &picked, &y_picked, &Control::new()).unwrap();
        let mut scores = vec![0.0; 7];
        let want = picks
            .iter()
            .map(|&p| {
                let (f, v) = rows.row(p);
                nb.scores(f, v, &mut scores);
                softmax(&mut scores);
                metrics::log_loss_of(scores[y[p] as usize])
            })
            .sum::<f64>()
            / picks.len().max(1) as f64;
        assert_eq!(n, picks.len());
        assert!((loss - want).abs() <= 1e-12 * want.max(1.0), "{} picks: {loss} against {want}", picks.len());
    }
    let every: Vec<usize> = (0..5000).collect();
    assert_eq!(rows.clone().into_picked(&every).unwrap(), rows);
}

/// Texts scored in batches (a fit's held-out texts, by id; `evaluate`'s, as `activate:
/// 'if_better'` scores the active version, by hash) give the metrics of every text scored at
/// once, to the bit (the same sums in the same order): two classes (with the ROC AUC) and 23,
/// in one batch or several (the smallest is `pipeline::MIN_ROWS` texts).
#[test]
fn held_out_metrics_in_batches_are_the_metrics_of_every_text() {
    let texts = zipf_texts(5_000, 20, 2000, 11);
    let control = Control::new();
    for k in [2, 23] {
        let labels: Vec<String> = (0..texts.len()).map(|i| format!("c{}", (i * 7 + i / 3) % k)).collect();
        let docs: Vec<(&str, &str)> =
            labels.iter().zip(&texts).map(|(l, t)| (l.as_str(), t.as_str())).collect();
        let data = dataset(&docs);
        let m = TextModel::train(&data, Some("label"), &mut options("{}"), &all_rows()).unwrap().model;
        let text = data.column("body", "text column").unwrap();
        let y: Vec<u32> =
            labels.iter().map(|l| m.classes.iter().position(|c| c.to_key() == *l).unwrap() as u32).collect();
        // Every other row, as a split would hold them out (not in a run from 0).
        let (rows, y): (Vec<usize>, Vec<u32>) = (0..texts.len()).step_by(2).map(|r| (r, y[r])).unzip();
        for hashed in [false, true] {
            let proba = m.proba_rows_as(text, &rows, hashed, &control).unwrap();
            let whole = metrics::classification(&y, &proba, &m.classes);
            assert_eq!(whole["rows"], 2_500);
            assert_eq!(whole.get("roc_auc").is_some(), k == 2);
            for bytes in [1, 8 * k * 2048 + 8, EVALUATED_BYTES] {
                let batched = m.metrics_in_batches(text, (&rows, &y), bytes, hashed, &control).unwrap();
                assert_eq!(batched, whole, "{k} classes, batches of {bytes} bytes, by hash {hashed}");
            }
        }
        let (y_all, proba) = m.labelled(&data, 0).unwrap();
        assert_eq!(m.evaluate(&data).unwrap(), metrics::classification(&y_all, &proba, &m.classes));
        assert!(m.metrics_in_batches(text, (&rows, &y[1..]), 1, false, &control).is_err());
    }
}

/// Trained as `ml_train` trains (`setup::train_giving_back`), a text model gives back its
/// training texts once counted, where the refit counts the held-out ones on their counts: the
/// same model, report and metrics as a training that keeps them, and the data keeps the
/// held-out texts (the caller reads them next) and the training loss's sample, the others read
/// as NULL. With TF-IDF (no counts left), the language detected (the refit detects it again) or
/// no refit, every text stays.
#[test]
fn training_texts_are_given_back_once_counted() {
    // As they are, then from a first pass at every size in chunks of about 2,000 bytes: counted
    // for the refit with the filter of every text, the texts are given back as they are counted.
    for first_pass in [false, true] {
        first_pass_at_every_size(first_pass);
        texts_given_back(first_pass);
    }
    first_pass_at_every_size(false);
}

/// A measured fit whose counts are kept for the refit scores the held-out texts through a
/// vocabulary of its terms' hashes alone (`Vocabulary::unspelled`), and
/// where two of them collide its terms are spelled out after all, from the counts kept: the
/// same report, training log and model either way.
#[test]
fn a_measured_vocabulary_known_by_hash_scores_as_one_spelled_out() {
    use crate::models::text::vectorize::{SPELL_ALWAYS, UNSPELLED};
    let n = 3000;
    let texts = zipf_texts(n, 30, 3000, 4);
    let labels: Vec<String> = (0..n).map(|i| format!("c{}", (i * 5 + i / 7) % 3)).collect();
    let docs: Vec<(&str, &str)> = labels.iter().zip(&texts).map(|(l, t)| (l.as_str(), t.as_str())).collect();
    let data = dataset(&docs);
    for json in ["{}", r#"{"min_df": 2, "ngrams": [1, 3]}"#, r#"{"algorithm": "complement", "alpha": 0.3}"#] {
        let train = |spell: bool| {
            SPELL_ALWAYS.with(|s| s.set(spell));
            let before = UNSPELLED.with(std::cell::Cell::get);
            let common = Common { seed: 11, ..Common::default() };
            let trained = TextModel::train(&data, Some("label"), &mut options(json), &common);
            SPELL_ALWAYS.with(|s| s.set(false));
            (trained.unwrap(), UNSPELLED.with(std::cell::Cell::get) - before)
        };
        let ((by_hash, unspelled), (spelled, none)) = (train(false), train(true));
        assert_eq!((unspelled, none), (1, 0), "{json}");
        assert!(bytes(&by_hash.model) == bytes(&spelled.model), "{json}");
        assert_eq!(by_hash.metrics, spelled.metrics, "{json}");
        assert!(by_hash.metrics["accuracy"].as_f64().is_some(), "{json}");
        let losses = |t: &Trained<TextModel>| t.log.iter().map(|e| (e.loss, e.val_loss)).collect::<Vec<_>>();
        assert_eq!(losses(&by_hash), losses(&spelled), "{json}");
        assert_eq!(by_hash.details["vocabulary_size"], spelled.details["vocabulary_size"], "{json}");
    }
}

/// Texts given back as they are counted cannot be counted again: where the first pass is
/// taken and then no word turns out to be in two texts (the chosen `min_df` is 1, which would
/// count every n-gram again), `ml_train`'s lent column is an error that says so. Training on
/// the same rows not lent counts them again.
#[test]
fn texts_that_share_no_word_are_an_error_once_given_back() {
    let n = 3000;
    let unique: Vec<String> = (0..n)
        .map(|t| (0..1000).map(|w| format!("u{}", t * 1000 + w)).collect::<Vec<_>>().join(" "))
        .collect();
    let labels: Vec<String> = (0..n).map(|i| format!("c{}", i % 3)).collect();
    let docs: Vec<(&str, &str)> = labels.iter().zip(&unique).map(|(l, t)| (l.as_str(), t.as_str())).collect();
    first_pass_at_every_size(true);
    let common = Common { seed: 3, ..Common::default() };
    let plain = TextModel::train(&dataset(&docs), Some("label"), &mut options("{}"), &common);
    let before = counts::GIVEN_BACK_AS_COUNTED.with(std::cell::Cell::get);
    let mut lent = dataset(&docs);
    let err = crate::models::setup::train_giving_back::<TextModel>(
        &mut lent,
        Some("label"),
        &mut options("{}"),
        &common,
    )
    .err();
    first_pass_at_every_size(false);
    assert_eq!(plain.unwrap().model.settings.min_df, 1);
    assert_eq!(counts::GIVEN_BACK_AS_COUNTED.with(std::cell::Cell::get), before + 1);
    let err = err.expect("an error");
    assert!(matches!(err, Error::InvalidData(_)), "{err:?}");
    assert!(
        err.to_string().contains("no word occurs in two of the 2400 training texts of column 'body'"),
        "{err}"
    );
}

/// [`training_texts_are_given_back_once_counted`], from a first pass at every size or not.
fn texts_given_back(first_pass: bool) {
    let n = 6000;
    let texts = zipf_texts(n, 30, 3000, 9);
    let labels: Vec<String> = (0..n).map(|i| format!("c{}", (i * 7 + i / 5) % 4)).collect();
    let docs: Vec<(&str, &str)> = labels.iter().zip(&texts).map(|(l, t)| (l.as_str(), t.as_str())).collect();
    let kept = dataset(&docs);
    let body = |data: &Dataset, r: usize| match data.column("body", "").unwrap().get(r) {
        Input::Text(t) => Some(t.to_string()),
        _ => None,
    };
    // (Options, refit, texts given back, and as they are counted.) From the first pass on, the
    // automatic `min_df` of so few terms is 1, counted without the filter: no counts are left.
    for (json, refit, given_back, as_counted) in [
        ("{}", true, !first_pass, false),
        (r#"{"min_df": 2}"#, true, true, first_pass),
        (r#"{"ngrams": [1, 3], "algorithm": "complement", "min_df": 2}"#, true, true, first_pass),
        (r#"{"weighting": "tfidf", "min_df": 2}"#, true, false, false),
        (r#"{"language": "auto", "min_df": 2}"#, true, false, false),
        (r#"{"min_df": 2}"#, false, false, false),
    ] {
        let before = counts::GIVEN_BACK_AS_COUNTED.with(std::cell::Cell::get);
        let common = || Common { seed: 5, refit, ..Common::default() };
        let plain = TextModel::train(&kept, Some("label"), &mut options(json), &common()).unwrap();
        let mut lent = dataset(&docs);
        let trained = crate::models::setup::train_giving_back::<TextModel>(
            &mut lent,
            Some("label"),
            &mut options(json),
            &common(),
        )
        .unwrap();
        let as_counted_now = counts::GIVEN_BACK_AS_COUNTED.with(std::cell::Cell::get) > before;
        assert_eq!(as_counted_now, as_counted, "{json} {first_pass}");
        assert!(bytes(&plain.model) == bytes(&trained.model), "{json}");
        assert_eq!(plain.metrics, trained.metrics, "{json}");
        // (Timings apart.)
        let report = |t: &Trained<TextModel>| {
            let mut d = json!(t.details);
            d.as_object_mut().unwrap().remove("timings");
            d["metrics_fit"]["details"].as_object_mut().map(|m| m.remove("timings"));
            d
        };
        assert_eq!(report(&plain), report(&trained), "{json}");
        assert_eq!(plain.log[0].loss.to_bits(), trained.log[0].loss.to_bits(), "{json}");
        assert_eq!(plain.held_out, trained.held_out, "{json}");
        assert!(!trained.held_out.is_empty(), "{json}");
        let mut nulls = 0;
        for r in 0..n {
            let text = body(&lent, r);
            if trained.held_out.binary_search(&r).is_ok() || text.is_some() {
                assert_eq!(text, body(&kept, r), "{json} row {r}");
            } else {
                nulls += 1;
            }
        }
        let train_rows: Vec<usize> = (0..n).filter(|r| trained.held_out.binary_search(r).is_err()).collect();
        let sample = loss_sample(kept.column("body", "").unwrap(), &train_rows).len();
        assert!(sample < train_rows.len() / 2, "{json}");
        let expected = if given_back { train_rows.len() - sample } else { 0 };
        assert_eq!(nulls, expected, "{json}");
    }
}
