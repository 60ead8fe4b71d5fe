//! Shared by the recommender examples: MovieLens ratings, medians and process measurements.
#![allow(dead_code)]

use serde_json::{Value as Json, json};

/// One (user, item, rating) row.
pub type Rating = (i64, i64, f64);

/// (user, item, rating) rows of a MovieLens `u.data` file (tab separated, timestamp ignored).
pub fn read_ratings(path: &str) -> Result<Vec<Rating>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read '{path}': {e}"))?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            return Err(format!("bad line in '{path}': {line}").into());
        }
        out.push((f[0].parse()?, f[1].parse()?, f[2].parse()?));
    }
    Ok(out)
}

/// Median, min, max and count, as the benchmark report reads them.
pub fn summary(mut v: Vec<f64>) -> Json {
    v.sort_by(f64::total_cmp);
    let median = if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 };
    json!({"median": median, "min": v[0], "max": v[v.len() - 1], "n": v.len()})
}

/// CPU time of the calling thread in seconds, from `/proc/thread-self/schedstat` (Linux; 0
/// elsewhere).
pub fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|ns| ns.parse::<f64>().ok()))
        .map_or(0.0, |ns| ns / 1e9)
}

/// Peak resident set size of this process (Linux; 0 elsewhere).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
