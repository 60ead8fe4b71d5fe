"""datasette-sqlml: loads sqlml into every Datasette connection and unlocks it with a secret.

The passphrase comes from the plugin's configuration, which should point at an environment
variable (Datasette resolves `{"$env": "NAME"}` and `{"$file": "path"}`), or else from the
environment variable SQLML_KEY. It is never taken from a request: `ml_unlock` called over HTTP
would put the passphrase in URLs and access logs and unlock only the one pooled connection that
happened to run it, so this plugin refuses it (see `deny` below).

    {"plugins": {"datasette-sqlml": {"key": {"$env": "APP_SQLML_KEY"}}}}

Options (all optional; also settable per database under "databases": {NAME: {"plugins": ...}}):

- `key`: the passphrase (use `$env` or `$file`). Default: the environment variable SQLML_KEY.
- `deny`: SQL functions and tables the connections refuse, through SQLite's authorizer.
  Default `DEFAULT_DENY`: the functions that take a passphrase or write (ml_unlock, ml_rekey,
  ml_train, ml_activate, ml_drop). Add `ml_explain`, `ml_top_tokens`, `ml_training_log`... to
  hide what they reveal; `[]` denies nothing.

Only databases that already hold an sqlml key record (an `ml_meta` table) are unlocked, so the
plugin never creates a key in Datasette's internal or in-memory databases.
"""

import os

from datasette import hookimpl

import sqlml

__version__ = sqlml.__version__

DEFAULT_DENY = ("ml_unlock", "ml_rekey", "ml_train", "ml_activate", "ml_drop")

# SQLite's authorizer codes (sqlite3.h), as numbers: the connection may come from pysqlite3.
SQLITE_OK = 0
SQLITE_DENY = 1
SQLITE_READ = 20
SQLITE_FUNCTION = 31


def _config(datasette, database):
    config = datasette.plugin_config("datasette-sqlml", database=database) or {}
    if not isinstance(config, dict):
        raise ValueError("datasette-sqlml: the plugin configuration must be an object")
    return config


def _has_key_record(conn):
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ml_meta'").fetchone()
    return row is not None


def _authorizer(deny):
    deny = frozenset(name.lower() for name in deny)

    def authorize(action, arg1, arg2, dbname, source):
        # A function call reports its name in arg2; a table-valued function (ml_recommend,
        # ml_top_tokens...) or a table is read with its name in arg1.
        if action == SQLITE_FUNCTION and arg2 and arg2.lower() in deny:
            return SQLITE_DENY
        if action == SQLITE_READ and arg1 and arg1.lower() in deny:
            return SQLITE_DENY
        return SQLITE_OK

    return authorize


@hookimpl
def prepare_connection(conn, database, datasette):
    config = _config(datasette, database)
    sqlml.load(conn)
    key = config.get("key") or os.environ.get("SQLML_KEY")
    if key and _has_key_record(conn):
        sqlml.unlock(conn, key)
    deny = config.get("deny", DEFAULT_DENY)
    if deny:
        conn.set_authorizer(_authorizer(deny))
