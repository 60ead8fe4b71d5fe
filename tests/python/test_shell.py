"""Golden files: each tests/sql/NAME.sql is run by the real sqlite3 shell with the extension
loaded and SQLML_KEY set; stdout and stderr (merged, unbuffered) must equal NAME.out."""
import glob
import os
import shutil
import subprocess

import pytest

from conftest import EXT

SQL_DIR = os.path.join(os.path.dirname(__file__), "..", "sql")
CASES = sorted(glob.glob(os.path.join(SQL_DIR, "*.sql")))


@pytest.mark.parametrize("path", CASES, ids=[os.path.basename(p) for p in CASES])
def test_golden(path, tmp_path):
    shell = shutil.which("sqlite3")
    if shell is None:
        pytest.skip("the sqlite3 shell is not installed (CI installs it)")
    env = dict(os.environ, SQLML_KEY="golden test key")
    cmd = ["stdbuf", "-o0", "-e0", shell, str(tmp_path / "golden.db"), "-cmd", f".load {EXT}"]
    with open(path, "rb") as sql:
        out = subprocess.run(cmd, stdin=sql, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=300).stdout
    expected_path = path[:-4] + ".out"
    if os.environ.get("SQLML_BLESS"):
        with open(expected_path, "wb") as f:
            f.write(out)
    with open(expected_path, "rb") as f:
        expected = f.read()
    assert out.decode() == expected.decode()


def test_demo_script_runs(tmp_path):
    shell = shutil.which("sqlite3")
    if shell is None:
        pytest.skip("the sqlite3 shell is not installed (CI installs it)")
    demo = os.path.join(os.path.dirname(__file__), "..", "..", "sql", "demo.sql")
    with open(demo, "rb") as sql:
        run = subprocess.run([shell, str(tmp_path / "demo.db"), "-cmd", f".load {EXT}"], stdin=sql,
                             capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr.decode()
    assert b"churn" in run.stdout and b"movie-" in run.stdout


@pytest.mark.parametrize("entry", ["sqlite3_sqlml_init", "sqlite3_extension_init"])
def test_both_entry_points(entry):
    shell = shutil.which("sqlite3")
    if shell is None:
        pytest.skip("the sqlite3 shell is not installed (CI installs it)")
    run = subprocess.run([shell, ":memory:", "-cmd", f".load {EXT} {entry}", "SELECT ml_version();"],
                         capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout.decode().startswith("v0.")
