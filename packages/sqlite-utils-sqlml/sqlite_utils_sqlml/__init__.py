"""sqlite-utils-sqlml: loads sqlml into every sqlite-utils connection (CLI and library).

    pip install sqlite-utils-sqlml            # or: sqlite-utils install sqlite-utils-sqlml
    export SQLML_KEY='a long passphrase'
    sqlite-utils query app.db "select ml_predict('router', :body)" -p body 'charged twice'

The passphrase comes from the environment variable SQLML_KEY, never from the command line
(where it would land in shell history and the process list). A database that already holds
an sqlml key record is unlocked at once, so a wrong passphrase fails on the first statement
with `wrong passphrase`; a database without one gets its key from SQLML_KEY when the first
model is trained.
"""

import os

from sqlite_utils import hookimpl

import sqlml

__version__ = sqlml.__version__


@hookimpl
def prepare_connection(conn):
    sqlml.load(conn)
    key = os.environ.get("SQLML_KEY")
    if key and conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ml_meta'").fetchone():
        sqlml.unlock(conn, key)
