"""The wheel: Debian's python3 with the standard library's sqlite3; pyenv's python with apsw,
sqlean.py and pysqlite3 (pysqlite3-binary); the clear refusal of a sqlite3 that cannot load
extensions."""
import os
import sqlite3
import zipfile

import pytest

from pkgtest import HOSTS, KEY, TIMINGS, VERSION, WHEEL, check_against, dist, host_env, make_venv, pyenv_python, run, run_host


def test_debian_stdlib_sqlite3(reference):
    r = reference
    assert r["module"] == "sqlite3"
    assert r["unlock"] == "key created"
    assert r["loadable_path"].endswith("/site-packages/sqlml/libsqlml0.so")
    assert r["results"]["version"] == [[f"v{VERSION}"]]
    assert r["results"]["models"] == [
        ["churn", 1, "classifier", 1],
        ["recs", 1, "recommender", 1],
        ["router", 1, "text", 1],
    ]
    text = r["results"]["text"][0]
    assert text[:2] == ["billing", "bugs"]
    assert '"shipping"' in text[2]
    assert [q for _, q in r["results"]["text_table"]] == ["bugs", "billing", "shipping"] * 4
    assert all(p in ("yes", "no") for _, p, _ in r["results"]["classifier"])
    assert len(r["results"]["recommend"]) == 5
    assert all(0.5 <= float(x) <= 5.5 for x in r["results"]["rating"][0])


def test_unlock_again_and_api(reference):
    """A second connection to the same file: 'unlocked', loadable_path, a wrong key refused."""
    code = f"""
import sqlite3, sqlml
assert sqlml.__version__ == {VERSION!r}, sqlml.__version__
db = sqlite3.connect({reference['db']!r}, isolation_level=None)
assert sqlml.load(db, key={KEY!r}) == 'unlocked'
assert db.execute("SELECT ml_predict('router', 'refund me, charged twice')").fetchone() == ('billing',)
try:
    db.execute("SELECT load_extension('x')").fetchone()
    raise SystemExit('extension loading was left on')
except sqlite3.OperationalError as e:
    assert 'not authorized' in str(e), e
db2 = sqlite3.connect({reference['db']!r})
try:
    sqlml.load(db2, key='not the passphrase')
    raise SystemExit('a wrong key was accepted')
except sqlite3.OperationalError as e:
    assert 'wrong passphrase' in str(e), e
db3 = sqlite3.connect({reference['db']!r})
assert sqlml.load(db3) is None
try:
    db3.execute("SELECT ml_predict('router', 'x')").fetchone()
    raise SystemExit('predicted without a key')
except sqlite3.OperationalError as e:
    assert 'no key for this database' in str(e), e
print('ok')
"""
    assert run([reference["python"], "-c", code]).stdout.strip() == "ok"


def test_wheel_contents():
    with zipfile.ZipFile(dist(WHEEL)) as z:
        names = set(z.namelist())
        wheel = z.read(f"sqlml-{VERSION}.dist-info/WHEEL").decode()
        meta = z.read(f"sqlml-{VERSION}.dist-info/METADATA").decode()
    assert {"sqlml/__init__.py", "sqlml/libsqlml0.so", "sqlml/py.typed"} <= names
    assert "Tag: py3-none-manylinux_2_17_x86_64" in wheel and "Root-Is-Purelib: false" in wheel
    assert f"Version: {VERSION}" in meta and "Requires-Dist" not in meta


@pytest.fixture(scope="session")
def pyenv_venv(tmp_path_factory):
    python = pyenv_python()
    if python is None:
        pytest.skip("no Python other than Debian's on PATH (pyenv's python3 on this machine)")
    tmp = tmp_path_factory.mktemp("pyenv")
    py, install_s = make_venv(
        python, str(tmp / "venv"), [dist(WHEEL), "apsw", "sqlean.py", "pysqlite3-binary"], "pyenv"
    )
    return py, install_s, tmp


def test_pyenv_stdlib_refused_with_the_drop_ins(pyenv_venv):
    py, _, tmp = pyenv_venv
    got = run_host([py, os.path.join(HOSTS, "python_host.py"), "sqlite3", str(tmp / "refused.db")])
    assert got["type"] == "sqlite3"
    msg = got["refused"]
    assert "cannot load SQLite extensions" in msg
    for drop_in in ("pip install apsw", "pip install sqlean.py", "pip install pysqlite3-binary"):
        assert drop_in in msg


@pytest.mark.parametrize("driver", ["apsw", "sqlean", "pysqlite3"])
def test_pyenv_drop_in(pyenv_venv, reference, driver):
    py, install_s, tmp = pyenv_venv
    got = run_host([py, os.path.join(HOSTS, "python_host.py"), driver, str(tmp / f"{driver}.db")])
    assert got["unlock"] == "key created"
    assert got["module"].split(".")[0] == driver
    check_against(reference, got)
    TIMINGS.append((f"Python, pyenv python + {driver} (pip install sqlml {driver}...)", install_s, got["first_prediction_s"]))


def test_debian_stdlib_loads_the_wheel_library_into_an_existing_file(reference):
    """What the README shows for any other host: loadable_path() into plain sqlite3."""
    path = run([reference["python"], "-c", "import sqlml; print(sqlml.loadable_path())"]).stdout.strip()
    db = sqlite3.connect(reference["db"], isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(path)
    db.enable_load_extension(False)
    db.execute("SELECT ml_unlock(?)", (KEY,))
    assert db.execute("SELECT ml_predict('router', 'the app crashes')").fetchone() == ("bugs",)
    db.close()
    # the sqlite3 shell, the key from SQLML_KEY
    shell = run(
        ["sqlite3", reference["db"], "-cmd", f".load {path}", "SELECT ml_predict('router', 'refund me')"],
        env=dict(host_env(), SQLML_KEY=KEY),
    )
    assert shell.stdout.split() == ["billing"]
