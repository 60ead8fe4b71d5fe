//! The tables sqlml keeps in the user's database (also documented in `sql/schema.sql`).

/// DDL of every sqlml table; idempotent.
pub const SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS main.ml_meta(
  key   TEXT PRIMARY KEY,
  value ANY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS main.ml_models(
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT NOT NULL,
  version    INTEGER NOT NULL,
  kind       TEXT NOT NULL,
  algorithm  TEXT NOT NULL,
  created_at TEXT NOT NULL,
  rows       INTEGER NOT NULL,
  params     TEXT NOT NULL,
  metrics    TEXT,
  active     INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
  size       INTEGER NOT NULL,
  model      BLOB NOT NULL,
  UNIQUE (name, version)
);
CREATE INDEX IF NOT EXISTS main.ml_models_active ON ml_models(name) WHERE active = 1;
CREATE TABLE IF NOT EXISTS main.ml_training_log(
  name     TEXT NOT NULL,
  version  INTEGER NOT NULL,
  epoch    INTEGER NOT NULL,
  loss     REAL,
  val_loss REAL,
  metric   REAL,
  seconds  REAL,
  PRIMARY KEY (name, version, epoch)
) WITHOUT ROWID;
";
