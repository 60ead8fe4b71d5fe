//! The stored model format: `tests/fixtures/format-N.db` was written by the build of model
//! format N (`examples/make_fixtures.rs`; format 1 at git 638fccd's model code, format 2 at
//! the commit that added the classifier's positional input columns) with one model of every
//! kind and algorithm. This build must open every one of them and predict what that build
//! predicted. A change to a stored struct that postcard would decode differently fails
//! here; such a change must bump the format version and keep these blobs loading.

#[allow(dead_code)]
#[path = "../examples/make_fixtures.rs"]
mod fixtures;

mod common;
use common::*;

/// Splits `s` into numbers and the text between them.
fn parts(s: &str) -> Vec<Result<f64, String>> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut text = String::new();
    while i < bytes.len() {
        let starts_number = bytes[i].is_ascii_digit()
            || (bytes[i] == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        if starts_number {
            let mut j = i + 1;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || b".eE-+".contains(&bytes[j])) {
                j += 1;
            }
            if let Ok(x) = s[i..j].parse::<f64>() {
                out.push(Err(std::mem::take(&mut text)));
                out.push(Ok(x));
                i = j;
                continue;
            }
        }
        text.push(bytes[i] as char);
        i += 1;
    }
    out.push(Err(text));
    out
}

/// Equal text, and numbers equal to 1e-6 relative (prediction may round differently on
/// another CPU's kernels).
fn same(a: &str, b: &str) -> bool {
    let (pa, pb) = (parts(a), parts(b));
    pa.len() == pb.len()
        && pa.iter().zip(&pb).all(|(x, y)| match (x, y) {
            (Ok(x), Ok(y)) => (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1e-12),
            (Err(x), Err(y)) => x == y,
            _ => false,
        })
}

#[test]
fn format_1_models_still_load_and_predict_the_same() {
    fixture_predicts_the_same(1);
}

#[test]
fn format_2_models_still_load_and_predict_the_same() {
    fixture_predicts_the_same(2);
}

fn fixture_predicts_the_same(format: u32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("format-{format}.db"));
    std::fs::copy(format!("tests/fixtures/format-{format}.db"), &path).unwrap();
    let expected: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(format!("tests/fixtures/format-{format}.json")).unwrap(),
    )
    .unwrap();
    let conn = unlocked(Some(&path), "sqlml format fixture");
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_models"), fixtures::MODELS.len() as i64);
    assert_eq!(expected.len(), fixtures::PROBES.len());
    for (label, sql) in fixtures::PROBES {
        let got = match fixtures::probe(&conn, sql) {
            Ok(got) => got,
            // A build without jieba refuses the text models that segment with it, saying so
            // (not postcard's "Serde Deserialization Error").
            Err(e) if !cfg!(feature = "zh") && label.starts_with("text") => {
                assert!(
                    e.to_string().contains(
                        "it segments Chinese with jieba, which this build lacks (cargo feature 'zh')"
                    ),
                    "{label}: {e}"
                );
                continue;
            }
            Err(e) => panic!("{label}: {e}"),
        };
        let want = expected[*label].as_str().unwrap();
        assert!(same(&got, want), "{label}: this build gives\n{got}\nformat {format} gave\n{want}");
    }
}

#[test]
fn number_aware_comparison() {
    assert!(same("{\"a\":0.30000000000000004}", "{\"a\":0.3}"));
    assert!(!same("{\"a\":0.31}", "{\"a\":0.3}"));
    assert!(!same("{\"b\":0.3}", "{\"a\":0.3}"));
    assert!(same("1:2.5e-7 x", "1:2.5000001e-7 x"));
}
