//! Retention: deleting the old versions of a model (`ml_prune`, and `ml_train`'s `keep`).
//!
//! The versions kept are the newest `keep` by version number, plus the active one whatever
//! its age. The deleted rows' pages go to SQLite's free list, where later inserts reuse them;
//! `VACUUM` (or `PRAGMA incremental_vacuum` in a database with `auto_vacuum = INCREMENTAL`)
//! returns them to the operating system.

use super::{NewModel, Session, WriteKey, atomically, lock, missing, tables};
use crate::{Error, Result};
use rusqlite::{Connection, params};

impl Session {
    /// Deletes every version of `name` except the newest `keep` (by version number) and the
    /// active one, with their `ml_training_log` rows, and returns how many versions were
    /// deleted (0 when there is nothing to delete). All or nothing: its own transaction, or a
    /// savepoint inside the caller's [`atomically`] (so it can follow an insert in one
    /// transaction, see [`Session::insert_and_prune`]). A name without versions is an error.
    pub fn prune(&self, conn: &Connection, name: &str, keep: usize) -> Result<usize> {
        let deleted = atomically(conn, "sqlml_prune", || prune(conn, name, keep))?;
        if !deleted.is_empty() {
            lock(&self.cache).retain(|id, _| !deleted.contains(id));
        }
        Ok(deleted.len())
    }

    /// [`Session::insert_model`] then, with `keep`, [`Session::prune`] of the same name, in one
    /// transaction: the new version and the deletions are committed together or not at all.
    /// Returns the new version and how many versions were deleted. This is `ml_train`'s
    /// `keep` option (the new version is the newest, so it is always kept).
    pub fn insert_and_prune(
        &self,
        conn: &Connection,
        key: &WriteKey,
        m: NewModel<'_>,
        keep: Option<usize>,
    ) -> Result<(i64, usize)> {
        let name = m.name;
        atomically(conn, "sqlml_insert_prune", || {
            let version = self.insert_model(conn, key, m)?;
            let pruned = match keep {
                Some(keep) => self.prune(conn, name, keep)?,
                None => 0,
            };
            Ok((version, pruned))
        })
    }
}

/// The deletion itself, inside the caller's transaction; returns the row ids deleted.
fn prune(conn: &Connection, name: &str, keep: usize) -> Result<Vec<i64>> {
    tables::check_writable(conn)?;
    if !tables::exists(conn, "ml_models")? {
        return Err(missing(conn, name, None)?);
    }
    let versions: Vec<(i64, i64, bool)> = conn
        .prepare(
            "SELECT id, version, active = 1 FROM main.ml_models WHERE name = ?1 COLLATE BINARY ORDER BY version DESC",
        )?
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()
        .map_err(super::rows::stored)?;
    if versions.is_empty() {
        return Err(missing(conn, name, None)?);
    }
    let doomed: Vec<(i64, i64)> =
        versions.iter().skip(keep).filter(|(_, _, active)| !active).map(|&(id, v, _)| (id, v)).collect();
    if doomed.is_empty() {
        return Ok(Vec::new());
    }
    let rows_before = tables::model_rows(conn)?;
    let has_log = tables::exists(conn, "ml_training_log")?;
    let mut log = if has_log {
        Some(
            conn.prepare("DELETE FROM main.ml_training_log WHERE name = ?1 COLLATE BINARY AND version = ?2")?,
        )
    } else {
        None
    };
    let mut model = conn.prepare("DELETE FROM main.ml_models WHERE id = ?1")?;
    for &(id, version) in &doomed {
        if let Some(log) = &mut log {
            log.execute(params![name, version])?;
        }
        if model.execute([id])? != 1 {
            return Err(unverified());
        }
    }
    // Verified by effect, as inserts are: exactly the chosen rows are gone.
    if tables::model_rows(conn)? != rows_before - doomed.len() as i64 {
        return Err(unverified());
    }
    Ok(doomed.into_iter().map(|(id, _)| id).collect())
}

fn unverified() -> Error {
    Error::Damaged(
        "the deletion of old versions could not be verified (ml_models is not as sqlml created it); nothing was changed"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{self, Common, Options};
    use crate::store::{Config, crypto::KdfParams};

    fn model(conn: &Connection) -> models::Trained<models::Model> {
        let data = crate::source::read(conn, "t").unwrap();
        let mut opts = Options::parse(Some(r#"{"test_size": 0}"#)).unwrap();
        let common = Common::read(&mut opts).unwrap();
        models::train("text", &data, Some("label"), &mut opts, &common).unwrap()
    }

    fn insert(s: &Session, conn: &Connection, keep: Option<usize>) -> Result<(i64, usize)> {
        insert_logged(s, conn, keep, None)
    }

    /// [`insert`], with `log` for the training log when given.
    fn insert_logged(
        s: &Session,
        conn: &Connection,
        keep: Option<usize>,
        log: Option<&[crate::models::EpochLog]>,
    ) -> Result<(i64, usize)> {
        let key = s.key(conn)?.into();
        let trained = model(conn);
        let new = NewModel {
            name: "m",
            kind: "text",
            algorithm: "multinomial_nb",
            rows: 4,
            params: "{}",
            metrics: "{}",
            model: trained.model,
            log: log.unwrap_or(&trained.log),
            activate: true,
        };
        s.insert_and_prune(conn, &key, new, keep)
    }

    /// A database of four texts to train on, unlocked by a session of cheap key derivation.
    fn unlocked() -> (Connection, Session) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t(body TEXT, label TEXT);
             INSERT INTO t VALUES ('free cash', 'spam'), ('lunch today', 'ham'), ('win cash', 'spam'), ('see you', 'ham');",
        )
        .unwrap();
        let s =
            Session::new(Config { kdf: KdfParams { m_cost: 64, t_cost: 1, p_cost: 1 }, ..Config::default() });
        s.unlock(&conn, b"pw").unwrap();
        (conn, s)
    }

    fn versions(conn: &Connection) -> Vec<(i64, bool)> {
        conn.prepare("SELECT version, active FROM ml_models ORDER BY version")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    /// A look at the active version keeps nothing in the cache; a load does, and a look then
    /// takes the cached model.
    #[test]
    fn a_look_at_the_active_version_is_not_cached() {
        let (conn, s) = unlocked();
        insert(&s, &conn, None).unwrap();
        let fresh =
            Session::new(Config { kdf: KdfParams { m_cost: 64, t_cost: 1, p_cost: 1 }, ..Config::default() });
        fresh.unlock(&conn, b"pw").unwrap();
        let cached = || crate::store::lock(&fresh.cache).len();
        let looked = fresh.peek_active(&conn, "m").unwrap();
        assert_eq!((looked.version, cached()), (1, 0));
        let loaded = fresh.load_active(&conn, "m").unwrap();
        assert_eq!(cached(), 1);
        assert!(std::sync::Arc::ptr_eq(&fresh.peek_active(&conn, "m").unwrap(), &loaded));
    }

    /// The cache keeps one version of a name, the last loaded: the versions before a retraining
    /// do not pile up.
    #[test]
    fn the_cache_keeps_one_version_of_a_name() {
        let (conn, s) = unlocked();
        let cached = || {
            let mut v: Vec<(String, i64)> =
                crate::store::lock(&s.cache).values().map(|m| (m.name.clone(), m.version)).collect();
            v.sort();
            v
        };
        insert(&s, &conn, None).unwrap();
        assert_eq!(s.load_active(&conn, "m").unwrap().version, 1);
        insert(&s, &conn, None).unwrap();
        assert_eq!(s.load_active(&conn, "m").unwrap().version, 2);
        assert_eq!(cached(), [("m".to_string(), 2)]);
        assert_eq!(s.load(&conn, "m", Some(1)).unwrap().version, 1);
        assert_eq!(cached(), [("m".to_string(), 1)]);
        s.forget("m");
        assert!(cached().is_empty());
    }

    /// The previous version is deactivated before the new one is stored (a small blob, beside
    /// sealing) or after it (a large one, once the new model is given back), to the same rows:
    /// only the newest version active, every version loading. A failure after the late
    /// deactivation (here the training log's insert: a repeated epoch) changes nothing.
    #[test]
    fn the_previous_version_is_deactivated_before_or_after_the_new_one_alike() {
        use crate::store::rows::DEACTIVATE_BESIDE;
        let mut states = Vec::new();
        for beside_below in [i64::MAX, 0] {
            DEACTIVATE_BESIDE.with(|c| c.set(Some(beside_below)));
            let (conn, s) = unlocked();
            for v in 1..=3 {
                assert_eq!(insert(&s, &conn, None).unwrap(), (v, 0));
                assert_eq!(s.load_active(&conn, "m").unwrap().version, v);
            }
            let rows = versions(&conn);
            assert_eq!(rows, [(1, false), (2, false), (3, true)]);
            for v in 1..=3 {
                assert_eq!(s.load(&conn, "m", Some(v)).unwrap().version, v);
            }
            let log = model(&conn).log;
            let repeated = [log.clone(), log].concat();
            let e = insert_logged(&s, &conn, None, Some(&repeated)).unwrap_err().to_string();
            assert!(e.contains("UNIQUE") || e.contains("PRIMARY"), "{e}");
            assert_eq!(versions(&conn), rows, "beside below {beside_below}");
            assert_eq!(s.load_active(&conn, "m").unwrap().version, 3);
            states.push(rows);
        }
        DEACTIVATE_BESIDE.with(|c| c.set(None));
        assert_eq!(states[0], states[1]);
    }

    /// `ml_train`'s `keep`: the insert and the pruning commit together or not at all.
    #[test]
    fn insert_and_prune_is_one_change() {
        let (conn, s) = unlocked();
        assert_eq!(insert(&s, &conn, None).unwrap(), (1, 0));
        assert_eq!(insert(&s, &conn, Some(2)).unwrap(), (2, 0));
        assert_eq!(insert(&s, &conn, Some(2)).unwrap(), (3, 1));
        assert_eq!(versions(&conn), [(2, false), (3, true)]);
        assert_eq!(insert(&s, &conn, Some(0)).unwrap(), (4, 2));
        assert_eq!(versions(&conn), [(4, true)]);
        // A pruning that fails takes the new version with it.
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE pins(id INTEGER REFERENCES ml_models(id) ON DELETE RESTRICT);
             INSERT INTO pins SELECT id FROM ml_models WHERE version = 4;",
        )
        .unwrap();
        let e = insert(&s, &conn, Some(0)).unwrap_err().to_string();
        assert!(e.contains("FOREIGN KEY"), "{e}");
        assert_eq!(versions(&conn), [(4, true)]);
        assert_eq!(
            conn.query_row("SELECT count(*) FROM ml_training_log", [], |r| r.get::<_, i64>(0)).unwrap(),
            1
        );
        assert!(conn.is_autocommit());
        assert_eq!(insert(&s, &conn, Some(2)).unwrap(), (5, 0));
        assert!(s.prune(&conn, "m", 0).unwrap_err().to_string().contains("FOREIGN KEY"));
        assert!(matches!(s.prune(&conn, "nope", 0), Err(Error::NoModel(_))));
    }
}
