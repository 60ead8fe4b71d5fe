"""Fixtures for driving the loadable extension from Python's sqlite3 and the sqlite3 shell."""
import os
import sqlite3
import pytest

EXT = os.environ.get("SQLML_EXT") or os.path.join(
    os.path.dirname(__file__), "..", "..", "target", "release", "libsqlml0"
)


def connect(path=":memory:"):
    db = sqlite3.connect(path, isolation_level=None)
    if not hasattr(db, "enable_load_extension"):
        pytest.skip("this Python's sqlite3 cannot load extensions (use Debian's /usr/bin/python3)")
    db.enable_load_extension(True)
    db.load_extension(EXT)
    db.enable_load_extension(False)
    return db


@pytest.fixture
def db():
    conn = connect()
    yield conn
    conn.close()


def insert_many(db, sql, rows):
    """`executemany` in one transaction: on a file, an autocommit connection would commit (and
    sync) each row (5,000 rows took 6 s)."""
    own = not db.in_transaction
    if own:
        db.execute("BEGIN")
    db.executemany(sql, rows)
    if own:
        db.execute("COMMIT")


def make_messages(db, n=150):
    """spam/ham messages with distinctive made-up words."""
    db.execute("CREATE TABLE messages(id INTEGER PRIMARY KEY, body TEXT, label TEXT)")
    spam = ["win", "free", "prize", "claim", "cash", "zqxvortex", "offer", "now"]
    ham = ["see", "you", "lunch", "tomorrow", "meeting", "plumbrook", "home", "later"]
    rows = []
    for i in range(n):
        words = spam if i % 3 == 0 else ham
        body = " ".join(words[(i * 7 + k * 3) % len(words)] for k in range(5))
        rows.append((body, "spam" if i % 3 == 0 else "ham"))
    insert_many(db, "INSERT INTO messages(body, label) VALUES (?, ?)", rows)
