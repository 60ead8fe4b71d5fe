//! Data preparation: the user, item and rating columns resolved against the data, the ids
//! mapped to dense indices (only ids of the training rows are kept), the ratings checked.

use super::Params;
use super::ids::{IdMap, Ranks};
use super::init::first_appearance_of;
use super::ratings::Csr;
use crate::models::data::{Column, ColumnData, Dataset, Met, not_a_column};
use crate::models::memory;
use crate::models::setup::TrainRows;
use crate::models::split::complement;
use crate::{Error, Result};

/// A held-out row: the dense user and item ids (None when unknown in training) and the value.
pub(super) type HeldOutRow = (Option<u32>, Option<u32>, f32);

/// The fitted rows' count, value statistics and order of first appearance.
pub(super) struct Fitted {
    /// Number of fitted rows (the training rows, less implicit rows of weight 0).
    pub(super) rows: usize,
    /// The sum of their values, in row order.
    pub(super) sum: f64,
    /// Their smallest value.
    pub(super) lo: f32,
    /// Their largest value.
    pub(super) hi: f32,
    /// Users and items in order of first appearance in them, then the others
    /// ([`super::init::first_appearance`]).
    pub(super) first_seen: (Vec<u32>, Vec<u32>),
}

/// The training rows after id mapping and the split.
pub(super) struct Prepared {
    pub(super) users: IdMap,
    pub(super) items: IdMap,
    /// The fitted rows, grouped by user.
    pub(super) by_user: Csr,
    /// Facts of the fitted rows.
    pub(super) fitted: Fitted,
    /// Held-out rows: dense ids when known in training, and the value.
    pub(super) test: Vec<HeldOutRow>,
    /// Held-out rows whose user is unknown (index into `test`, by index): a key per distinct
    /// raw user (for ranking).
    pub(super) test_user_keys: Vec<(usize, String)>,
}
/// The training column roles resolved against the data.
pub(super) struct Columns<'a> {
    pub(super) user: &'a Column,
    pub(super) item: &'a Column,
    pub(super) rating: Option<&'a Column>,
}

/// The user, item and rating columns of `data` ([`role_positions`]).
pub(super) fn resolve_columns<'a>(
    data: &'a Dataset,
    rating: Option<&'a Column>,
    p: &Params,
) -> Result<Columns<'a>> {
    // The roles are placed among the columns read and those set aside, as if every one had
    // been read (a column set aside in a role is its error).
    let met = data.met();
    let names: Vec<&str> = met.iter().map(|&m| data.met_name(m)).collect();
    let read = rating.and_then(|r| data.index_of(&r.name));
    let at = read.and_then(|r| met.iter().position(|m| matches!(m, Met::Read(i) if *i == r)));
    let (user, item) = role_positions(&names, at, p)?;
    Ok(Columns { user: data.met_column(met[user])?, item: data.met_column(met[item])?, rating })
}

/// The positions among the source's column `names` of the columns besides the target (at
/// `rating`), in order: the user and item are the first two unless the options name them.
pub(super) fn others(names: &[&str], rating: Option<usize>) -> Vec<usize> {
    (0..names.len()).filter(|&i| rating.is_none_or(|r| !names[r].eq_ignore_ascii_case(names[i]))).collect()
}

/// The positions among the source's column `names` of the user and item columns: the options
/// `user` and `item`, else the first and the second column besides the target (at `rating`).
/// The training finds them so ([`resolve_columns`]), and so do the columns it reads
/// (`Recommender::columns_read`).
pub(super) fn role_positions(names: &[&str], rating: Option<usize>, p: &Params) -> Result<(usize, usize)> {
    let same = |a: usize, b: usize| names[a].eq_ignore_ascii_case(names[b]);
    let others = others(names, rating);
    let pick = |opt: &Option<String>, key: &str, nth: usize| -> Result<usize> {
        match opt {
            Some(name) => names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name))
                .ok_or_else(|| not_a_column(&format!("option '{key}'"), name, names)),
            None => others.get(nth).copied().ok_or_else(|| {
                Error::data(format!(
                    "a recommender needs a user and an item column besides the target (columns: {}; \
                     name them with the options 'user' and 'item')",
                    names.join(", ")
                ))
            }),
        }
    };
    let user = pick(&p.user, "user", 0)?;
    let item = pick(&p.item, "item", 1)?;
    if same(user, item) {
        return Err(Error::option(
            "item",
            format!("must name another column than option 'user', got '{}'", names[item]),
        ));
    }
    for (role, c) in [("user", user), ("item", item)] {
        if rating.is_some_and(|r| same(r, c)) {
            return Err(Error::option(role, format!("must not be the target column '{}'", names[c])));
        }
    }
    Ok((user, item))
}

/// The values of the target column as f32 (1 for every row when there is none). NULLs, text
/// and (for implicit feedback) negative weights are errors naming the row.
pub(super) fn target_values(col: Option<&Column>, n: usize, implicit: bool) -> Result<Vec<f32>> {
    let value = checked_target(col, n, implicit)?;
    let mut out = memory::with_capacity(n, "the ratings")?;
    out.extend((0..n).map(value));
    Ok(out)
}

/// Row `r`'s value of the target column, as [`target_values`] gives it, read from the column
/// where it is, once the whole column is checked (the same errors).
pub(super) fn checked_target<'a>(
    col: Option<&'a Column>,
    n: usize,
    implicit: bool,
) -> Result<Box<dyn Fn(usize) -> f32 + 'a>> {
    let Some(col) = col else { return Ok(Box::new(|_| 1.0)) };
    let null_at = |row: usize| col.null_at("target column", row);
    // A NULL anywhere is reported before a bad value anywhere.
    let first_null = |nulls: usize, mut is_null: Box<dyn FnMut(usize) -> bool + '_>| -> Result<()> {
        match (nulls > 0).then(|| (0..n).find(|&r| is_null(r))).flatten() {
            Some(r) => Err(null_at(r)),
            None => Ok(()),
        }
    };
    let value: Box<dyn Fn(usize) -> f64 + 'a> = match &col.data {
        ColumnData::Integer(v) => {
            first_null(v.null_count(), Box::new(|r| v.get(r).is_none()))?;
            Box::new(|r| v.get(r).map_or(0.0, |x| x as f64))
        }
        ColumnData::Real(v) => {
            first_null(v.null_count(), Box::new(|r| v.get(r).is_none()))?;
            Box::new(|r| v.get(r).unwrap_or(0.0))
        }
        ColumnData::Null(n) => {
            return Err(if *n == 0 { Error::data("no training rows") } else { null_at(0) });
        }
        ColumnData::Text(v) => {
            let row = v.iter().position(|x| x.is_some()).unwrap_or(0);
            return Err(Error::data(format!(
                "target column '{}' must hold numbers (ratings{}), got text in row {}",
                col.name,
                if implicit { " or interaction weights" } else { "" },
                row + 1
            )));
        }
    };
    for row in 0..n {
        let v = value(row);
        if !v.is_finite() || (implicit && v < 0.0) {
            let what = if implicit {
                "interaction weights must be finite and >= 0"
            } else {
                "ratings must be finite"
            };
            return Err(Error::data(format!(
                "target column '{}' holds {v} in row {}; {what}",
                col.name,
                row + 1
            )));
        }
    }
    Ok(Box::new(move |r| value(r) as f32))
}

/// Maps ids, splits, and keeps only training ids in the dense maps. Every row's ids and
/// value are read from the columns where they are: the training rows go straight into the
/// by-user rows, with no triple or index per row on the way. `counted(users, items)` is told
/// the number of distinct users and items in all the rows (at least those kept) as soon as
/// they are known, before the rows are grouped.
pub(super) fn prepare(
    cols: &Columns<'_>,
    implicit: bool,
    train_rows: TrainRows<'_>,
    test_rows: &[usize],
    counted: impl FnOnce(usize, usize),
) -> Result<Prepared> {
    // Copies of the body: the refit's every row (row k is k, no index per row) and a split,
    // whose training rows are listed only while the rows are prepared (as u32 where they fit:
    // 40 MB at 10M rows, where the set-up's usize list held 80 MB through the whole fit).
    match train_rows {
        TrainRows::All(n) => prepare_rows(cols, implicit, n, |k| k, test_rows, counted),
        TrainRows::Except { n, test } if u32::try_from(n).is_ok() => {
            let rows: Vec<u32> = complement(n, test)?;
            prepare_rows(cols, implicit, rows.len(), |k| rows[k] as usize, test_rows, counted)
        }
        TrainRows::Except { n, test } => {
            let rows: Vec<usize> = complement(n, test)?;
            prepare_rows(cols, implicit, rows.len(), |k| rows[k], test_rows, counted)
        }
    }
}

/// [`prepare`] of the `n_train` training rows `train_row(0..n_train)` (increasing).
fn prepare_rows(
    cols: &Columns<'_>,
    implicit: bool,
    n_train: usize,
    train_row: impl Fn(usize) -> usize + Copy + Sync,
    test_rows: &[usize],
    counted: impl FnOnce(usize, usize),
) -> Result<Prepared> {
    let n = cols.user.len();
    let (all_users, user_rank) = IdMap::ranks(cols.user, "user column")?;
    let (all_items, item_rank) = IdMap::ranks(cols.item, "item column")?;
    counted(all_users.len(), all_items.len());
    let value = checked_target(cols.rating, n, implicit)?;
    let train = (0..n_train).map(train_row);
    // Every row in training (`test_size` 0, the refit): every id is kept, in its place.
    let every_row = n_train == n;
    let (users, user_map) = if every_row {
        everything(&all_users)
    } else {
        restrict(&all_users, |r| user_rank.get(r), train.clone())
    };
    let (items, item_map) = if every_row {
        everything(&all_items)
    } else {
        restrict(&all_items, |r| item_rank.get(r), train.clone())
    };
    let user = |r: usize| user_map[user_rank.get(r) as usize];
    let item = |r: usize| item_map[item_rank.get(r) as usize];
    // The fitted rows: the training rows, but for implicit feedback those of weight 0.
    let kept: Option<Vec<usize>> = implicit.then(|| train.filter(|&r| value(r) != 0.0).collect());
    let ids = Ids { users, items, all_users: &all_users, user: &user, item: &item, user_rank: &user_rank };
    match &kept {
        Some(rows) => fitted_rows(ids, rows.len(), |k| rows[k], &value, test_rows),
        None => fitted_rows(ids, n_train, train_row, &value, test_rows),
    }
}

/// The dense ids of [`prepare_rows`]: the training users and items, every user's key, and
/// the dense ids of a row.
struct Ids<'a, U, I> {
    users: IdMap,
    items: IdMap,
    all_users: &'a IdMap,
    user: &'a U,
    item: &'a I,
    user_rank: &'a Ranks<'a>,
}

/// [`prepare_rows`] once its `n_fitted` fitted rows `fitted(0..n_fitted)` are known.
fn fitted_rows<U, I>(
    ids: Ids<'_, U, I>,
    n_fitted: usize,
    fitted: impl Fn(usize) -> usize + Copy + Sync,
    value: &dyn Fn(usize) -> f32,
    test_rows: &[usize],
) -> Result<Prepared>
where
    U: Fn(usize) -> Option<u32> + Sync,
    I: Fn(usize) -> Option<u32> + Sync,
{
    let Ids { users, items, all_users, user, item, user_rank } = ids;
    if n_fitted == 0 {
        return Err(Error::data("no training rows (every interaction weight is 0)"));
    }
    // Up to `DENSE_IDS_UP_TO` rows, each fitted row's dense ids are found once, rather than by
    // the two, three lookups a row that grouping the rows and ordering the ids take.
    let lookup = |k: usize| (user(fitted(k)).unwrap_or(0), item(fitted(k)).unwrap_or(0));
    let dense: Option<Vec<(u32, u32)>> = if dense_ids(n_fitted) {
        let mut dense = memory::with_capacity(n_fitted, "the dense ids of the ratings")?;
        dense.extend((0..n_fitted).map(lookup));
        Some(dense)
    } else {
        None
    };
    let ids_of = |k: usize| dense.as_ref().map_or_else(|| lookup(k), |d| d[k]);
    let (user_of, item_of) = (|k: usize| ids_of(k).0, |k: usize| ids_of(k).1);
    let first_seen =
        || first_appearance_of((0..n_fitted).map(|k| (user_of(k), item_of(k))), users.len(), items.len());
    let by_user = || {
        Csr::try_build_with_cols(
            users.len(),
            items.len(),
            n_fitted,
            |k| user_of(k) as usize,
            item_of,
            |k| value(fitted(k)),
        )
    };
    // The order ids first appear in (for the starting factors) is found on a second thread
    // while this one groups the rows by user, when there are enough rows to pay for it.
    let (by_user, first_seen) = if n_fitted >= FIRST_SEEN_ASIDE_FROM {
        std::thread::scope(|scope| {
            let aside = std::thread::Builder::new().name("sqlml-ids".into()).spawn_scoped(scope, first_seen);
            let by_user = by_user();
            let first_seen = match aside {
                Ok(handle) => handle.join().map_err(|p| Error::panicked("the thread ordering the ids", p))?,
                Err(_) => first_seen(),
            };
            first_seen.map(|seen| (by_user, seen))
        })?
    } else {
        (by_user(), first_seen()?)
    };
    let by_user = by_user?;
    // The sum, smallest and largest value in one pass, each folded in row order as
    // `Iterator::sum` (from −0.0), `fold(INFINITY, f32::min)` and `fold(NEG_INFINITY, f32::max)`
    // fold them: the same bits.
    let (mut sum, mut lo, mut hi) = (-0.0f64, f32::INFINITY, f32::NEG_INFINITY);
    for k in 0..n_fitted {
        let v = value(fitted(k));
        sum += f64::from(v);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let stats = Fitted { rows: n_fitted, sum, lo, hi, first_seen };
    let test = test_rows.iter().map(|&r| (user(r), item(r), value(r))).collect();
    let test_user_keys = test_rows
        .iter()
        .enumerate()
        .filter(|&(_, &r)| user(r).is_none())
        .map(|(k, &r)| (k, all_users.value(user_rank.get(r)).to_key()))
        .collect();
    Ok(Prepared { users, items, by_user, fitted: stats, test, test_user_keys })
}

/// Up to this many fitted rows, [`fitted_rows`] holds each row's dense ids (8 MB at most):
/// at 100k ratings, grouping the rows by user and ordering the ids took 2.6 ms looking the ids
/// up as needed, 1.6–1.9 ms (with the pass that finds them) this way.
const DENSE_IDS_UP_TO: usize = 1 << 20;

/// Whether [`fitted_rows`] holds the dense ids of its `n` rows ([`DENSE_IDS_UP_TO`]).
fn dense_ids(n: usize) -> bool {
    #[cfg(test)]
    if LOOKUP_IDS.with(std::cell::Cell::get) {
        return false;
    }
    n <= DENSE_IDS_UP_TO
}

#[cfg(test)]
thread_local! {
    /// Tests: [`fitted_rows`] looks the ids up as needed whatever the rows (the path above
    /// [`DENSE_IDS_UP_TO`]).
    static LOOKUP_IDS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// From this many fitted rows on, [`fitted_rows`] orders the ids on a second thread (about
/// 0.5 ms at 65,536 rows, against 50 µs to start a thread).
const FIRST_SEEN_ASIDE_FROM: usize = 1 << 16;

/// The ids that occur in `rows` (`rank(r)`: row `r`'s index in `all`), and the old → new
/// dense index map.
fn restrict(
    all: &IdMap,
    rank: impl Fn(usize) -> u32,
    rows: impl Iterator<Item = usize>,
) -> (IdMap, Vec<Option<u32>>) {
    let mut used = vec![false; all.len()];
    for r in rows {
        used[rank(r) as usize] = true;
    }
    let mut map = vec![None; all.len()];
    let mut next = 0u32;
    for (old, &keep) in used.iter().enumerate() {
        if keep {
            map[old] = Some(next);
            next += 1;
        }
    }
    let kept = match all {
        IdMap::Integer(v) => IdMap::Integer(v.iter().zip(&used).filter(|p| *p.1).map(|p| *p.0).collect()),
        IdMap::Text(v) => IdMap::Text(v.iter().zip(&used).filter(|p| *p.1).map(|p| p.0.clone()).collect()),
    };
    (kept, map)
}

/// What [`restrict`] returns when the rows are every row (each id of `all` occurs in them):
/// the same ids and the identity map, without reading the rows.
fn everything(all: &IdMap) -> (IdMap, Vec<Option<u32>>) {
    (all.clone(), (0..all.len() as u32).map(Some).collect())
}

/// Number of (user, item) pairs that occur more than once in a by-user CSR.
pub(super) fn duplicate_pairs(history: &Csr) -> usize {
    (0..history.rows()).map(|u| history.row(u).0.windows(2).filter(|w| w[0] == w[1]).count()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over rows that use every id, restricting keeps every id in its place: what
    /// `everything` returns without reading them.
    #[test]
    fn every_row_keeps_every_id() {
        let rows_rank = [2u32, 0, 1, 2, 0];
        for all in [IdMap::Integer(vec![-4, 7, 9]), IdMap::Text(vec!["a".into(), "b".into(), "c".into()])] {
            let restricted = restrict(&all, |r| rows_rank[r], 0..rows_rank.len());
            assert_eq!(everything(&all), restricted);
        }
    }

    /// The order ids first appear in, found beside the grouping (from
    /// `FIRST_SEEN_ASIDE_FROM` rows on) or after it, is the order of the rows: checked
    /// against a plain walk over the raw ids, on every row and on a split. The rows' ids
    /// held (`DENSE_IDS_UP_TO`) or looked up as needed give the same rows and order.
    #[test]
    fn ids_first_seen_in_row_order() {
        for n in [FIRST_SEEN_ASIDE_FROM - 1, FIRST_SEEN_ASIDE_FROM + 4_000] {
            let raw_user = |r: usize| ((r * 7_919) % 1_009) as i64 * 3 - 500;
            let raw_item = |r: usize| ((r * 104_729 + r / 13) % 20_011) as i64;
            let col = |name: &str, f: &dyn Fn(usize) -> i64| Column {
                name: name.into(),
                data: ColumnData::integers((0..n).map(|r| Some(f(r))).collect()),
            };
            let (user, item) = (col("u", &raw_user), col("i", &raw_item));
            let cols = Columns { user: &user, item: &item, rating: None };
            let test: Vec<usize> = (0..n).filter(|r| r % 5 == 0).collect();
            for (rows, held_out) in
                [(TrainRows::All(n), &[][..]), (TrainRows::Except { n, test: &test }, &test[..])]
            {
                let train: Vec<usize> = (0..n).filter(|r| held_out.binary_search(r).is_err()).collect();
                let prep = prepare(&cols, false, rows, held_out, |_, _| {}).unwrap();
                LOOKUP_IDS.with(|l| l.set(true));
                assert!(!dense_ids(1));
                let looked_up = prepare(&cols, false, rows, held_out, |_, _| {});
                LOOKUP_IDS.with(|l| l.set(false));
                let looked_up = looked_up.unwrap();
                assert_eq!(prep.by_user, looked_up.by_user, "{n} rows");
                assert_eq!(prep.fitted.first_seen, looked_up.fitted.first_seen, "{n} rows");
                assert_eq!((prep.users, prep.items), (looked_up.users, looked_up.items), "{n} rows");
                // Dense ids are the ranks of the training ids.
                let walk = |raw: &dyn Fn(usize) -> i64| -> Vec<u32> {
                    let mut sorted: Vec<i64> = train.iter().map(|&r| raw(r)).collect();
                    sorted.sort_unstable();
                    sorted.dedup();
                    let mut seen = std::collections::HashSet::new();
                    train
                        .iter()
                        .map(|&r| sorted.binary_search(&raw(r)).unwrap() as u32)
                        .filter(|&id| seen.insert(id))
                        .collect()
                };
                assert_eq!(prep.fitted.first_seen, (walk(&raw_user), walk(&raw_item)), "{n} rows");
            }
        }
    }
}
