"""datasette-sqlml: loads sqlml into every Datasette connection and unlocks it with a secret.

The passphrase comes from the plugin's configuration, which should point at an environment
variable (Datasette resolves `{"$env": "NAME"}` and `{"$file": "path"}`), or else from the
environment variable SQLML_KEY. It is never taken from a request: `ml_unlock` called over HTTP
would put the passphrase in URLs and access logs and unlock only the one pooled connection that
happened to run it, so this plugin refuses it (see `deny` below).

    {"plugins": {"datasette-sqlml": {"key": {"$env": "APP_SQLML_KEY"}}}}

Options (all optional; also settable per database under "databases": {NAME: {"plugins": ...}}):

- `key`: the passphrase (use `$env` or `$file`). Default: the environment variable SQLML_KEY.
- `deny`: SQL functions, scalar or table-valued, that the connections refuse (SQLite's
  authorizer). Default `DEFAULT_DENY`: the functions that take a passphrase or write
  (ml_unlock, ml_rekey, ml_train, ml_activate, ml_drop, ml_prune, ml_export, ml_import). Add `ml_explain`, `ml_top_tokens`,
  `ml_similar_items`... to hide what they reveal; `[]` denies nothing. sqlml's own tables
  (ml_models, ml_meta, ml_training_log) cannot be listed: sqlml reads them through the same
  connection, so the authorizer would refuse every prediction too; hide them with
  `"allow_sql": false` and canned queries instead.

Only databases that already hold an sqlml key record (an `ml_meta` table) are unlocked, so the
plugin never creates a key in Datasette's internal or in-memory databases.
"""

import os

from datasette import hookimpl

import sqlml

__version__ = sqlml.__version__

# ml_export takes a passphrase of the caller's choosing and returns the whole model sealed under
# it: allowed, any visitor could carry every model away.
DEFAULT_DENY = ("ml_unlock", "ml_rekey", "ml_train", "ml_activate", "ml_drop", "ml_prune", "ml_export", "ml_import")

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


OWN_TABLES = ("ml_models", "ml_meta", "ml_training_log")


def _authorizer(deny):
    if isinstance(deny, str) or not all(isinstance(name, str) for name in deny):
        raise ValueError("datasette-sqlml: deny must be a list of function names")
    deny = frozenset(name.lower() for name in deny)
    own = sorted(deny.intersection(OWN_TABLES))
    if own:
        raise ValueError(
            f"datasette-sqlml: deny cannot hold {', '.join(own)}: sqlml reads its own tables through the "
            "same connection, so every prediction would be refused; use \"allow_sql\": false and canned "
            "queries to hide them"
        )

    def authorize(action, arg1, arg2, dbname, source):
        # A function call reports its name in arg2; a table-valued function (ml_recommend,
        # ml_top_tokens...) is read as a table, its name in arg1.
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
