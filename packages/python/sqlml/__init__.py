"""sqlml: machine learning inside SQLite, as a loadable extension in a wheel.

    import sqlite3, sqlml
    db = sqlite3.connect("app.db")
    sqlml.load(db, key=os.environ["APP_SQLML_KEY"])   # loads the extension, unlocks this connection
    db.execute("SELECT ml_predict('router', ?)", (text,)).fetchone()

`load` works with any DB-API or apsw connection whose SQLite can load extensions: the standard
library's `sqlite3` where its build allows it (Debian's and Ubuntu's python3 do), `apsw`,
`sqlean.py` and `pysqlite3` (`pysqlite3-binary`). Many Pythons (pyenv, python.org, macOS,
Homebrew) build `sqlite3` without extension loading; `load` then raises
`ExtensionLoadingUnavailable`, which names the three drop-in packages.
"""

from __future__ import annotations

import os
from typing import Any, Optional

__all__ = ["loadable_path", "load", "unlock", "ExtensionLoadingUnavailable", "__version__"]

_LIBRARY = "libsqlml0.so"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("sqlml")
    except Exception:  # not installed as a distribution (a source checkout)
        return "0+unknown"


__version__ = _version()


class ExtensionLoadingUnavailable(RuntimeError):
    """The connection's SQLite module was built without extension loading."""


_DROP_INS = (
    "use a SQLite module that can load extensions: "
    "`pip install apsw` (apsw.Connection), "
    "`pip install sqlean.py` (import sqlean as sqlite3), or "
    "`pip install pysqlite3-binary` (from pysqlite3 import dbapi2 as sqlite3); "
    "Debian's and Ubuntu's /usr/bin/python3 also allow it"
)


def loadable_path() -> str:
    """The full path of the loadable extension shipped in this package (`.../libsqlml0.so`).

    Pass it to `sqlite3 -cmd '.load PATH'`, `datasette --load-extension PATH`,
    `sqlite-utils --load-extension PATH` or any host's load_extension call. SQLite finds the
    entry point (`sqlite3_sqlml_init`) from the file name.
    """
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), _LIBRARY)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"sqlml: the loadable extension is missing from the package ({path}); "
            "reinstall a wheel built for this platform (manylinux x86_64)"
        )
    return path


def load(conn: Any, key: Optional[str] = None) -> Optional[str]:
    """Loads sqlml into `conn`; with `key`, also unlocks this connection (`ml_unlock(key)`).

    Extension loading is switched on only for the load and off again afterwards, so SQL run
    later on the connection cannot call `load_extension()`. Returns `ml_unlock`'s answer
    (`'unlocked'`, or `'key created'` on a database without models) when a key is given, else
    None (then the connection uses `SQLML_KEY` from the environment, or needs
    `SELECT ml_unlock(?)` before touching models).

    The key is per connection: a pool must call `load(conn, key)` for every connection it
    opens (the Datasette and sqlite-utils plugins do).
    """
    path = loadable_path()
    enable = getattr(conn, "enable_load_extension", None)
    if enable is None or not hasattr(conn, "load_extension"):
        raise ExtensionLoadingUnavailable(
            f"sqlml: this connection ({type(conn).__module__}.{type(conn).__qualname__}) cannot load "
            f"SQLite extensions: its module was built without them; {_DROP_INS}"
        )
    try:
        enable(True)
    except Exception as e:  # e.g. "not authorized" from a build that refuses at run time
        raise ExtensionLoadingUnavailable(
            f"sqlml: this connection refused to enable extension loading ({e}); {_DROP_INS}"
        ) from e
    try:
        conn.load_extension(path)
    finally:
        enable(False)
    if key is None:
        return None
    return unlock(conn, key)


def unlock(conn: Any, key: str) -> str:
    """`SELECT ml_unlock(?)` with `key` as a bound parameter (never in SQL text)."""
    if not isinstance(key, str) or not key:
        raise ValueError("sqlml: key must be a non-empty string")
    row = conn.execute("SELECT ml_unlock(?)", (key,)).fetchone()
    return row[0]
