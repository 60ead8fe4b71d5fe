//! Raw SQL ids (users, items) ↔ dense `u32` indices.
//!
//! The distinct ids are kept sorted, so the dense index of an id is its rank: lookups are a
//! binary search, the stored form is just the sorted list (deterministic bytes, no hash map to
//! rebuild after loading), and ids come back out with the SQL type they went in with.

use crate::models::data::{Column, ColumnData, Input, Value};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The distinct ids of one column, sorted; the position of an id is its dense index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum IdMap {
    /// Integer ids (also integral reals, which SQLite may produce from imported files).
    Integer(Vec<i64>),
    /// Text ids.
    Text(Vec<String>),
}

impl IdMap {
    /// Maps every row of `col` to a dense index. `role` names the column in errors, e.g.
    /// "user column". NULLs, non-integral reals and an all-NULL column are errors naming the
    /// column and the (1-based) row.
    pub fn build(col: &Column, role: &str) -> Result<(IdMap, Vec<u32>)> {
        let null_at = |row: usize| col.null_at(role, row);
        match &col.data {
            ColumnData::Null(n) => Err(if *n == 0 { Error::data("no training rows") } else { null_at(0) }),
            // The ids are read from the column where they are (no copy of every row's id).
            ColumnData::Integer(v) => {
                if v.null_count() > 0
                    && let Some(r) = (0..v.len()).find(|&r| v.get(r).is_none())
                {
                    return Err(null_at(r));
                }
                Ok(Self::from_integers(v.len(), |r| v.get(r).unwrap_or(0)))
            }
            ColumnData::Real(v) => {
                for (r, x) in v.iter().enumerate() {
                    let x = x.ok_or_else(|| null_at(r))?;
                    if x.fract() != 0.0 || !x.is_finite() || x.abs() > 9.0e15 {
                        return Err(Error::data(format!(
                            "{role} '{}' holds {x} in row {}; ids must be integers or text",
                            col.name,
                            r + 1
                        )));
                    }
                }
                Ok(Self::from_integers(v.len(), |r| v.get(r).unwrap_or(0.0) as i64))
            }
            ColumnData::Text(v) => {
                let raw = v
                    .iter()
                    .enumerate()
                    .map(|(r, x)| x.ok_or_else(|| null_at(r)))
                    .collect::<Result<Vec<&str>>>()?;
                let mut ids: Vec<&str> = raw.clone();
                ids.sort_unstable();
                ids.dedup();
                let dense = raw.iter().map(|s| ids.binary_search(s).unwrap_or(0) as u32).collect();
                Ok((IdMap::Text(ids.into_iter().map(str::to_string).collect()), dense))
            }
        }
    }

    /// The map of the `n` ids `id(0)`, `id(1)`, ... and each one's dense index.
    fn from_integers(n: usize, id: impl Fn(usize) -> i64) -> (IdMap, Vec<u32>) {
        // Ids spanning a range not much wider than the number of rows (the usual case: dense
        // or nearly dense keys): rank them through a table indexed by `id − min`, in linear
        // time. Same result as the sort below.
        let (lo, hi) = (0..n).map(&id).fold((i64::MAX, i64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
        if n > 0 {
            let span = i128::from(hi) - i128::from(lo) + 1;
            if span <= 4 * n as i128 + 1024 {
                let mut rank = vec![u32::MAX; span as usize];
                for x in (0..n).map(&id) {
                    rank[(x - lo) as usize] = 0;
                }
                let mut ids = Vec::new();
                for (offset, r) in rank.iter_mut().enumerate() {
                    if *r == 0 {
                        *r = ids.len() as u32;
                        ids.push(lo + offset as i64);
                    }
                }
                let dense = (0..n).map(|r| rank[(id(r) - lo) as usize]).collect();
                return (IdMap::Integer(ids), dense);
            }
        }
        Self::from_integers_sorting(n, id)
    }

    /// [`Self::from_integers`] for any ids: sort, deduplicate, binary search.
    fn from_integers_sorting(n: usize, id: impl Fn(usize) -> i64) -> (IdMap, Vec<u32>) {
        let mut ids: Vec<i64> = (0..n).map(&id).collect();
        ids.sort_unstable();
        ids.dedup();
        let dense = (0..n).map(|r| ids.binary_search(&id(r)).unwrap_or(0) as u32).collect();
        (IdMap::Integer(ids), dense)
    }

    /// Number of distinct ids.
    pub fn len(&self) -> usize {
        match self {
            IdMap::Integer(v) => v.len(),
            IdMap::Text(v) => v.len(),
        }
    }

    /// True when there are no ids.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dense index of `id`, or `None` when the id was not seen in training.
    ///
    /// Lenient about SQL types, as SQLite's own comparisons with column affinity are: an
    /// integer id also matches as text (`42` finds `'42'`), text that spells an integer finds
    /// an integer id, and an integral real finds an integer id. NULL and blobs find nothing.
    pub fn index(&self, id: Input<'_>) -> Option<u32> {
        let found = match (self, id) {
            (IdMap::Integer(v), Input::Integer(i)) => v.binary_search(&i).ok(),
            (IdMap::Integer(v), Input::Real(r)) if r.fract() == 0.0 && r.abs() <= 9.0e15 => {
                v.binary_search(&(r as i64)).ok()
            }
            (IdMap::Integer(v), Input::Text(t)) => {
                t.trim().parse::<i64>().ok().and_then(|i| v.binary_search(&i).ok())
            }
            (IdMap::Text(v), Input::Text(t)) => v.binary_search_by(|s| s.as_str().cmp(t)).ok(),
            (IdMap::Text(v), Input::Integer(i)) => {
                let t = i.to_string();
                v.binary_search(&t).ok()
            }
            _ => None,
        };
        found.map(|i| i as u32)
    }

    /// The raw id of dense index `idx`, with its training SQL type.
    pub fn value(&self, idx: u32) -> Value {
        match self {
            IdMap::Integer(v) => Value::Integer(v[idx as usize]),
            IdMap::Text(v) => Value::Text(v[idx as usize].clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_ranking_matches_sorting() {
        let raw: Vec<i64> = (0..500i64).map(|k| (k * 7919) % 613 - 300).collect();
        assert_eq!(IdMap::from_integers(500, |r| raw[r]), IdMap::from_integers_sorting(500, |r| raw[r]));
        let sparse = [i64::MAX, 5, i64::MIN, 5, 0];
        let (map, dense) = IdMap::from_integers(5, |r| sparse[r]);
        assert_eq!((map.clone(), dense.clone()), IdMap::from_integers_sorting(5, |r| sparse[r]));
        assert_eq!(dense, vec![3, 2, 0, 2, 1]);
    }

    fn col(data: ColumnData) -> Column {
        Column { name: "user_id".into(), data }
    }

    #[test]
    fn integers_round_trip_with_their_type() {
        let (map, dense) =
            IdMap::build(&col(ColumnData::integers(vec![Some(30), Some(10), Some(30)])), "user column")
                .unwrap();
        assert_eq!(dense, vec![1, 0, 1]);
        assert_eq!(map.value(1), Value::Integer(30));
        assert_eq!(map.index(Input::Integer(10)), Some(0));
        assert_eq!(map.index(Input::Text("30")), Some(1));
        assert_eq!(map.index(Input::Real(30.0)), Some(1));
        assert_eq!(map.index(Input::Integer(20)), None);
        assert_eq!(map.index(Input::Null), None);
    }

    #[test]
    fn text_round_trip_with_their_type() {
        let data = ColumnData::texts(vec![Some("bob".into()), Some("alice".into()), Some("7".into())]);
        let (map, dense) = IdMap::build(&col(data), "user column").unwrap();
        assert_eq!(dense, vec![2, 1, 0]);
        assert_eq!(map.value(2), Value::Text("bob".into()));
        assert_eq!(map.index(Input::Text("alice")), Some(1));
        assert_eq!(map.index(Input::Integer(7)), Some(0));
        assert_eq!(map.index(Input::Text("carol")), None);
    }

    #[test]
    fn null_and_fractional_ids_name_column_and_row() {
        let e = IdMap::build(&col(ColumnData::integers(vec![Some(1), None])), "user column").unwrap_err();
        assert_eq!(
            e.to_string(),
            "user column 'user_id' is NULL in row 2 (filter with WHERE user_id IS NOT NULL)"
        );
        let e = IdMap::build(&col(ColumnData::reals(vec![Some(1.0), Some(2.5)])), "item column").unwrap_err();
        assert_eq!(e.to_string(), "item column 'user_id' holds 2.5 in row 2; ids must be integers or text");
        let (map, _) =
            IdMap::build(&col(ColumnData::reals(vec![Some(1.0), Some(2.0)])), "item column").unwrap();
        assert_eq!(map.value(1), Value::Integer(2));
    }
}
