//! Loads the real benchmark tables from `../shared/data` (never copied into the repository) into
//! a typed [`Dataset`], with the preprocessing of `peers/mlp_baseline.py`: `""`, `" "` and `"?"`
//! are NULL; a column whose non-NULL values all parse as integers is INTEGER, as numbers REAL,
//! otherwise TEXT.

#![allow(dead_code)]

use sqlml::models::{Column, ColumnData, Dataset, Value};
use sqlml::rusqlite::types::Value as SqlValue;
use sqlml::rusqlite::{Connection, params_from_iter};
use std::process::Command;

/// Where the shared data lives: `BENCH_DATA` (set by bench/run.sh), else `SQLML_DATA`, else
/// `../shared/data` next to the repository.
pub fn data_dir() -> String {
    std::env::var("BENCH_DATA")
        .or_else(|_| std::env::var("SQLML_DATA"))
        .unwrap_or_else(|_| format!("{}/../shared/data", env!("CARGO_MANIFEST_DIR")))
}

/// Repeats for timings: `BENCH_REPEATS`, else 1 with `BENCH_QUICK=1`, else `default`.
pub fn repeats(default: usize) -> usize {
    if let Some(n) = std::env::var("BENCH_REPEATS").ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0) {
        return n;
    }
    if std::env::var("BENCH_QUICK").as_deref() == Ok("1") { 1 } else { default }
}

/// A benchmark table: name, source text, separator, target column, columns to exclude.
pub struct Table {
    /// Short name used in the JSON output.
    pub name: &'static str,
    /// Header + rows.
    pub text: String,
    /// Field separator.
    pub sep: u8,
    /// Target column.
    pub target: &'static str,
    /// Columns the peers drop.
    pub exclude: &'static [&'static str],
}

/// Telco customer churn.
pub fn telco() -> Table {
    let path = format!("{}/telco-churn/Telco-Customer-Churn.csv", data_dir());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    Table { name: "telco-churn", text, sep: b',', target: "Churn", exclude: &["customerID"] }
}

/// Bank marketing, bank-full.csv from the zip (read with `unzip -p`), without `duration`.
pub fn bank_full() -> Table {
    let zip = format!("{}/bank-marketing/bank-additional.zip", data_dir());
    let out = Command::new("unzip")
        .args(["-p", &zip, "bank-additional/bank-full.csv"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run unzip: {e}"));
    assert!(out.status.success(), "unzip failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8 csv");
    Table { name: "bank-full", text, sep: b';', target: "y", exclude: &["duration"] }
}

/// Splits one CSV line (double quotes around fields, `""` inside quotes).
fn fields(line: &str, sep: u8) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if !quoted && c == sep as char => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Parses the table into a typed dataset (all columns, including excluded ones).
pub fn dataset(t: &Table) -> Dataset {
    let mut lines = t.text.lines().filter(|l| !l.trim().is_empty());
    let header = fields(lines.next().expect("header"), t.sep);
    let mut cells: Vec<Vec<Option<String>>> = vec![Vec::new(); header.len()];
    for line in lines {
        let row = fields(line, t.sep);
        assert_eq!(row.len(), header.len(), "ragged row: {line}");
        for (col, v) in cells.iter_mut().zip(row) {
            let v = v.trim().to_string();
            col.push(if v.is_empty() || v == "?" { None } else { Some(v) });
        }
    }
    let columns = header
        .into_iter()
        .zip(cells)
        .map(|(name, vals)| {
            let present = || vals.iter().flatten();
            let data = if present().all(|v| v.parse::<i64>().is_ok()) {
                ColumnData::Integer(vals.iter().map(|v| v.as_ref().map(|s| s.parse().unwrap())).collect())
            } else if present().all(|v| v.parse::<f64>().is_ok()) {
                ColumnData::Real(vals.iter().map(|v| v.as_ref().map(|s| s.parse().unwrap())).collect())
            } else {
                ColumnData::texts(vals)
            };
            Column { name: name.trim().to_string(), data }
        })
        .collect();
    Dataset::new(columns)
}

/// Creates table `t` with SQL types from the dataset's column types and inserts every row.
pub fn load(conn: &Connection, t: &str, data: &Dataset) {
    let cols: Vec<String> = data
        .columns
        .iter()
        .map(|c| {
            let ty = match c.data {
                ColumnData::Integer(_) => "INTEGER",
                ColumnData::Real(_) => "REAL",
                _ => "TEXT",
            };
            format!("\"{}\" {ty}", c.name)
        })
        .collect();
    conn.execute_batch(&format!("CREATE TABLE {t}({})", cols.join(", "))).unwrap();
    let marks = vec!["?"; data.columns.len()].join(", ");
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut ins = tx.prepare(&format!("INSERT INTO {t} VALUES ({marks})")).unwrap();
        for row in 0..data.n_rows {
            let values = data.columns.iter().map(|c| match c.get(row).to_value() {
                Value::Null => SqlValue::Null,
                Value::Integer(i) => SqlValue::Integer(i),
                Value::Real(r) => SqlValue::Real(r),
                Value::Text(s) => SqlValue::Text(s),
            });
            ins.execute(params_from_iter(values)).unwrap();
        }
    }
    tx.commit().unwrap();
}
