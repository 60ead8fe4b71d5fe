//! Loading the real text sets from `../shared/data` at run time (their licences forbid copying
//! them into the repository). Shared by `text_accuracy` and `bench_text`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One labelled text set: (label, text) rows, and an official test part when the set has one.
pub struct TextSet {
    /// Short name used in the JSON output.
    pub name: &'static str,
    /// Training rows (all rows when there is no official split).
    pub train: Vec<(String, String)>,
    /// The official test rows, if any.
    pub test: Option<Vec<(String, String)>>,
    /// The `language` option to use.
    pub language: &'static str,
}

/// `BENCH_DATA` (set by bench/run.sh), else `SQLML_DATA`, else `../shared/data` relative to the
/// crate root.
pub fn data_dir() -> PathBuf {
    std::env::var_os("BENCH_DATA")
        .or_else(|| std::env::var_os("SQLML_DATA"))
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// RFC 4180 CSV: quoted fields may hold commas, `""` and newlines.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// (label, text) from CSV rows with a header, dropping rows whose text is empty (as the peers'
/// `dropna` does).
fn csv_pairs(path: &Path, label_col: &str, text_col: &str) -> Vec<(String, String)> {
    let rows = parse_csv(&read(path));
    let header = &rows[0];
    let li = header.iter().position(|h| h == label_col).expect("label column");
    let ti = header.iter().position(|h| h == text_col).expect("text column");
    rows[1..]
        .iter()
        .filter(|r| r.len() > li.max(ti) && !r[ti].is_empty())
        .map(|r| (r[li].trim().to_string(), r[ti].clone()))
        .collect()
}

/// SMS Spam Collection: `label<TAB>text`, no header, no quoting.
pub fn sms() -> TextSet {
    let text = read(&data_dir().join("sms-spam/SMSSpamCollection"));
    let train = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    TextSet { name: "sms-spam", train, test: None, language: "en" }
}

/// Banking77 with its official train/test files.
pub fn banking77() -> TextSet {
    let dir = data_dir().join("banking77");
    TextSet {
        name: "banking77",
        train: csv_pairs(&dir.join("train.csv"), "category", "text"),
        test: Some(csv_pairs(&dir.join("test.csv"), "category", "text")),
        language: "en",
    }
}

/// ChnSentiCorp hotel reviews (label 1 positive, 0 negative).
pub fn chn_senti_corp() -> TextSet {
    let path = data_dir().join("chinese-sentiment/ChnSentiCorp_htl_all.csv");
    TextSet { name: "chnsenticorp", train: csv_pairs(&path, "label", "review"), test: None, language: "zh" }
}

/// All three short-text sets.
pub fn all() -> Vec<TextSet> {
    vec![sms(), banking77(), chn_senti_corp()]
}

/// The folder of the long-document CSVs that `bench/long_docs.py` writes from the shared IMDB
/// zip (outside the repository: `BENCH_LONG_DOCS`, else `$TMPDIR/sqlml-long-docs`), written
/// first if missing.
pub fn long_docs_dir() -> PathBuf {
    let dir = std::env::var_os("BENCH_LONG_DOCS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("sqlml-long-docs"));
    if !dir.join("imdb-rating-1k/test.csv").exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/long_docs.py");
        let status = std::process::Command::new("python3")
            .arg(&script)
            .arg("--data")
            .arg(data_dir())
            .arg("--out")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(status.success(), "{} failed", script.display());
    }
    dir
}

fn long_set(name: &'static str) -> TextSet {
    let dir = long_docs_dir().join(name);
    TextSet {
        name,
        train: csv_pairs(&dir.join("train.csv"), "label", "text"),
        test: Some(csv_pairs(&dir.join("test.csv"), "label", "text")),
        language: "en",
    }
}

/// IMDB movie reviews (pos/neg), the official halves: 25,000 + 25,000, about 1.3 KB each.
pub fn imdb() -> TextSet {
    long_set("imdb")
}

/// The IMDB reviews of at least 1,000 bytes labelled with their star rating (8 classes), the
/// official halves: 12,150 + 11,882, about 2.0 KB each (derived: the shared data has no long
/// many-class set).
pub fn imdb_rating() -> TextSet {
    long_set("imdb-rating-1k")
}

/// The long-document sets, by name (`imdb`, `imdb-rating-1k`).
pub fn long(name: &str) -> Option<TextSet> {
    match name {
        "imdb" => Some(imdb()),
        "imdb-rating-1k" => Some(imdb_rating()),
        _ => None,
    }
}

/// The names of the long-document sets.
pub const LONG: [&str; 2] = ["imdb", "imdb-rating-1k"];
