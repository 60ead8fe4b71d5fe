"""Datasette and sqlite-utils with their plugins, in a fresh venv of Debian's python3 (whose
sqlite3 loads extensions): a Datasette server on 127.0.0.1 started here, predictions over HTTP
on every pooled connection, the passphrase only in the server's environment (never in a URL or
its log), the key-taking and writing functions refused over HTTP, the server stopped by its
PID; `sqlite-utils query` with the plugin, the key from SQLML_KEY."""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from pkgtest import (
    DATASETTE_WHEEL,
    DEBIAN_PYTHON,
    KEY,
    SQLITE_UTILS_WHEEL,
    TIMINGS,
    WHEEL,
    dist,
    host_env,
    make_venv,
    run,
)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("datasette")
    py, install_s = make_venv(
        DEBIAN_PYTHON,
        str(tmp / "venv"),
        [dist(WHEEL), dist(DATASETTE_WHEEL), dist(SQLITE_UTILS_WHEEL), "datasette", "sqlite-utils"],
        "datasette",
    )
    return os.path.dirname(py), install_s, tmp


@pytest.fixture(scope="module")
def app_db(reference, tmp_path_factory):
    """A copy of the reference host's database (three trained models, its key record)."""
    path = tmp_path_factory.mktemp("served") / "app.db"
    src = sqlite3.connect(reference["db"])
    dst = sqlite3.connect(str(path))
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode=DELETE")
    dst.close()
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, bindir, args, env, log):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.urls = []
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(bindir, "datasette"), "serve", *args, "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"datasette exited:\n{self.text()}"
            try:
                urllib.request.urlopen(self.base + "/-/versions.json", timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"datasette did not answer within 60 s:\n{self.text()}")

    def sql(self, db, sql, **params):
        url = f"{self.base}/{db}.json?" + urllib.parse.urlencode({"sql": sql, "_shape": "array", **params})
        self.urls.append(url)
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)  # by its PID, nothing else
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")


def test_datasette_serves_predictions(venv, app_db, tmp_path):
    bindir, install_s, _ = venv
    plain = tmp_path / "plain.db"
    sqlite3.connect(str(plain)).execute("CREATE TABLE t(x)").connection.close()
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps({
        "plugins": {"datasette-sqlml": {"key": {"$env": "APP_SQLML_KEY"}}},
        # the same database under a second name, with a deny list of its own
        "databases": {"hidden": {"plugins": {"datasette-sqlml": {
            "key": {"$env": "APP_SQLML_KEY"}, "deny": ["ml_explain", "ml_top_tokens"]}}}},
    }))
    hidden = tmp_path / "hidden.db"
    shutil.copy(app_db, hidden)
    env = host_env()  # APP_SQLML_KEY set, SQLML_KEY removed: the key reaches sqlml only through the plugin
    t = time.monotonic()
    server = Server(bindir, ["-i", str(app_db), "-i", str(hidden), str(plain), "-m", str(metadata), "--setting", "num_sql_threads", "4"],
                    env, tmp_path / "datasette.log")
    try:
        status, rows = server.sql("app", "select ml_predict('router', :body) as queue", body="I was charged twice, please refund")
        first_s = time.monotonic() - t
        assert (status, rows) == (200, [{"queue": "billing"}])
        # Many requests, so that every pooled read connection (4 threads) serves some: all unlocked.
        for i in range(40):
            status, rows = server.sql(
                "app",
                "select ml_predict('router', :body) as queue, ml_predict('churn', :tenure, 'basic', 40.0) as churn, "
                "(select count(*) from ml_recommend('recs', :user, 3)) as recs",
                body=f"the app crashes on the settings screen {i}", tenure=str(i % 72), user=str(i % 200),
            )
            assert status == 200, rows
            assert rows[0]["queue"] == "bugs" and rows[0]["churn"] in ("yes", "no") and rows[0]["recs"] == 3
        # Refused over HTTP: taking a passphrase, writing.
        for sql in ("select ml_unlock('guess')", "select ml_rekey('guess')", "select ml_drop('router')",
                    "select ml_export('router', 'mine')"):
            status, body = server.sql("app", sql)
            assert status == 400 and "not authorized" in json.dumps(body), (sql, body)
        # What the default leaves readable, and what a deny list hides.
        status, rows = server.sql("app", "select token from ml_top_tokens('router', 2)")
        assert status == 200 and len(rows) >= 2
        status, rows = server.sql("app", "select ml_explain('router', 'refund please') as e")
        assert status == 200 and "refund" in rows[0]["e"]
        for sql in ("select token from ml_top_tokens('router', 2)", "select ml_explain('router', 'refund please')"):
            status, body = server.sql("hidden", sql)
            # SQLite words a refused function "not authorized", a refused table read "prohibited"
            assert status == 400 and re.search("not authorized|access to ml_top_tokens.token is prohibited", json.dumps(body)), (sql, body)
        status, rows = server.sql("hidden", "select ml_predict('router', 'refund please') as q")
        assert (status, rows) == (200, [{"q": "billing"}])
        status, rows = server.sql("app", "select name, version from ml_models order by name")
        assert status == 200 and [r["name"] for r in rows] == ["churn", "recs", "router"]
        # The plain database got the extension but no key record.
        status, rows = server.sql("plain", "select ml_version() as v")
        assert status == 200 and rows[0]["v"].startswith("v")
    finally:
        server.stop()
    assert server.proc.returncode is not None
    log = server.text()
    assert "GET /app.json" in log  # the access log was captured...
    assert KEY not in log  # ...and holds no passphrase
    assert not any(KEY in u or urllib.parse.quote(KEY) in u or urllib.parse.quote_plus(KEY) in u for u in server.urls)
    assert sqlite3.connect(str(plain)).execute("SELECT count(*) FROM sqlite_master WHERE name = 'ml_meta'").fetchone() == (0,)
    TIMINGS.append(("Datasette + datasette-sqlml (pip install; serve; first HTTP prediction)", install_s, first_s))


def test_datasette_wrong_key_stops_the_server_at_start(venv, app_db, tmp_path):
    """Datasette opens each database as it starts: a wrong key ends it there, naming the problem."""
    bindir, _, _ = venv
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps({"plugins": {"datasette-sqlml": {"key": {"$env": "APP_SQLML_KEY"}}}}))
    r = run(
        [os.path.join(bindir, "datasette"), "serve", "-i", str(app_db), "-m", str(metadata), "--host", "127.0.0.1",
         "--port", str(free_port())],
        env=host_env(APP_SQLML_KEY="not the passphrase"), check=False, timeout=60,
    )
    assert r.returncode != 0
    assert "ml_unlock: wrong passphrase for this database" in r.stderr
    assert "not the passphrase" not in r.stdout + r.stderr


def test_sqlite_utils_query(venv, app_db, tmp_path):
    bindir, install_s, _ = venv
    su = os.path.join(bindir, "sqlite-utils")
    t = time.monotonic()
    r = run([su, "query", str(app_db), "select ml_predict('router', :body) as queue", "-p", "body", "I was charged twice"],
            env=host_env(SQLML_KEY=KEY))
    first_s = time.monotonic() - t
    assert json.loads(r.stdout) == [{"queue": "billing"}]
    TIMINGS.append(("sqlite-utils + sqlite-utils-sqlml (pip install; sqlite-utils query)", install_s, first_s))
    # A wrong key fails at once, naming the problem.
    r = run([su, "query", str(app_db), "select 1"], env=host_env(SQLML_KEY="not the passphrase"), check=False)
    assert r.returncode != 0 and "wrong passphrase" in r.stderr + r.stdout
    # Training from the command line into a new database: the key comes from SQLML_KEY.
    new = tmp_path / "new.db"
    env = host_env(SQLML_KEY=KEY)
    run([su, "query", str(new), "create table m(body text, label text)"], env=env)
    rows = [{"body": f"{w} number {i}", "label": lab} for i in range(30) for w, lab in (("refund charge", "billing"), ("crash screen", "bugs"))]
    run([su, "insert", str(new), "m", "-"], env=env, input=json.dumps(rows))
    r = run([su, "query", str(new), "select json_extract(ml_train('m', 'text', 'm', 'label', json_object('text', 'body')), '$.kind') as kind"], env=env)
    assert json.loads(r.stdout) == [{"kind": "text"}]
    r = run([su, "query", str(new), "select ml_predict('m', 'please refund') as p"], env=env)
    assert json.loads(r.stdout) == [{"p": "billing"}]
