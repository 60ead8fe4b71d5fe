//! Raw SQL ids (users, items) ↔ dense `u32` indices.
//!
//! The distinct ids are kept sorted, so the dense index of an id is its rank: lookups are a
//! binary search, the stored form is just the sorted list (deterministic bytes, no hash map to
//! rebuild after loading), and ids come back out with the SQL type they went in with.

use crate::models::data::{Column, ColumnData, Input, Numbers, Texts, Value};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The ids of a column's rows, as [`Ranks`] reads them.
enum RowIds<'a> {
    Integer(&'a Numbers<i64>),
    /// Integral reals (checked).
    Real(&'a Numbers<f64>),
    Text(&'a Texts),
}

impl RowIds<'_> {
    /// Row `r`'s integer id (0 for text, which goes by codes).
    #[inline]
    fn id(&self, r: usize) -> i64 {
        match self {
            RowIds::Integer(v) => v.get(r).unwrap_or(0),
            RowIds::Real(v) => v.get(r).unwrap_or(0.0) as i64,
            RowIds::Text(_) => 0,
        }
    }
}

/// How an id finds its dense index.
enum Lookup {
    /// Ids in a range not much wider than the rows: the index of `id` is `rank[id − lo]`.
    Table { lo: i64, rank: Vec<u32> },
    /// Any integer ids: a binary search of the sorted ids.
    Sorted(Vec<i64>),
    /// Text ids: the index of each distinct text of the column, by its code.
    Codes(Vec<u32>),
}

/// Each row's dense index of a column's [`IdMap`] ([`IdMap::ranks`]), found when asked.
pub struct Ranks<'a> {
    ids: RowIds<'a>,
    lookup: Lookup,
}

impl Ranks<'_> {
    /// The dense index of row `r`'s id.
    #[inline]
    pub fn get(&self, r: usize) -> u32 {
        match (&self.lookup, &self.ids) {
            (Lookup::Table { lo, rank }, ids) => rank[(ids.id(r) - lo) as usize],
            (Lookup::Sorted(sorted), ids) => sorted.binary_search(&ids.id(r)).unwrap_or(0) as u32,
            (Lookup::Codes(by_code), RowIds::Text(t)) => t.code(r).map_or(0, |c| by_code[c as usize]),
            (Lookup::Codes(_), _) => 0,
        }
    }
}

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
        let (map, ranks) = Self::ranks(col, role)?;
        Ok((map, (0..col.len()).map(|r| ranks.get(r)).collect()))
    }

    /// As [`IdMap::build`], with each row's dense index found when asked ([`Ranks::get`]), read
    /// from the column where it is: no copy of every row's id or index.
    pub fn ranks<'a>(col: &'a Column, role: &str) -> Result<(IdMap, Ranks<'a>)> {
        let null_at = |row: usize| col.null_at(role, row);
        match &col.data {
            ColumnData::Null(n) => Err(if *n == 0 { Error::data("no training rows") } else { null_at(0) }),
            ColumnData::Integer(v) => {
                if v.null_count() > 0
                    && let Some(r) = (0..v.len()).find(|&r| v.get(r).is_none())
                {
                    return Err(null_at(r));
                }
                let ids = RowIds::Integer(v);
                let (map, lookup) = Self::from_integers(v.len(), |r| ids.id(r));
                Ok((map, Ranks { ids, lookup }))
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
                let ids = RowIds::Real(v);
                let (map, lookup) = Self::from_integers(v.len(), |r| ids.id(r));
                Ok((map, Ranks { ids, lookup }))
            }
            ColumnData::Text(v) => {
                if v.null_count() > 0
                    && let Some(r) = (0..v.len()).find(|&r| v.get(r).is_none())
                {
                    return Err(null_at(r));
                }
                // The distinct texts of the column, sorted; each text code's rank among them.
                let mut sorted: Vec<u32> = (0..v.distinct_count() as u32).collect();
                sorted.sort_unstable_by(|&a, &b| v.distinct(a).cmp(v.distinct(b)));
                let mut by_code = vec![0u32; sorted.len()];
                for (rank, &c) in sorted.iter().enumerate() {
                    by_code[c as usize] = rank as u32;
                }
                let ids = sorted.iter().map(|&c| v.distinct(c).to_string()).collect();
                Ok((IdMap::Text(ids), Ranks { ids: RowIds::Text(v), lookup: Lookup::Codes(by_code) }))
            }
        }
    }

    /// The map of the `n` ids `id(0)`, `id(1)`, ... and how to find each one's dense index.
    fn from_integers(n: usize, id: impl Fn(usize) -> i64) -> (IdMap, Lookup) {
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
                return (IdMap::Integer(ids), Lookup::Table { lo, rank });
            }
        }
        Self::from_integers_sorting(n, id)
    }

    /// [`Self::from_integers`] for any ids: sort, deduplicate, binary search.
    fn from_integers_sorting(n: usize, id: impl Fn(usize) -> i64) -> (IdMap, Lookup) {
        let mut ids: Vec<i64> = (0..n).map(&id).collect();
        ids.sort_unstable();
        ids.dedup();
        (IdMap::Integer(ids.clone()), Lookup::Sorted(ids))
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
        // The table (dense ids) and the sort give the same map and indices.
        let raw: Vec<i64> = (0..500i64).map(|k| (k * 7919) % 613 - 300).collect();
        let (table, sorting) =
            (IdMap::from_integers(500, |r| raw[r]), IdMap::from_integers_sorting(500, |r| raw[r]));
        assert!(matches!(table.1, Lookup::Table { .. }));
        let index = |(map, lookup): &(IdMap, Lookup), ids: &[i64]| {
            let col = col(ColumnData::integers(ids.iter().map(|&x| Some(x)).collect()));
            let ColumnData::Integer(v) = &col.data else { unreachable!() };
            let ranks = Ranks { ids: RowIds::Integer(v), lookup: clone(lookup) };
            (map.clone(), (0..ids.len()).map(|r| ranks.get(r)).collect::<Vec<u32>>())
        };
        fn clone(l: &Lookup) -> Lookup {
            match l {
                Lookup::Table { lo, rank } => Lookup::Table { lo: *lo, rank: rank.clone() },
                Lookup::Sorted(v) => Lookup::Sorted(v.clone()),
                Lookup::Codes(v) => Lookup::Codes(v.clone()),
            }
        }
        assert_eq!(index(&table, &raw), index(&sorting, &raw));
        let sparse = [i64::MAX, 5, i64::MIN, 5, 0];
        let (map, dense) = index(&IdMap::from_integers(5, |r| sparse[r]), &sparse);
        assert_eq!(
            (map.clone(), dense.clone()),
            index(&IdMap::from_integers_sorting(5, |r| sparse[r]), &sparse)
        );
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
