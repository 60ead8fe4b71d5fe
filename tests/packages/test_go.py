"""The Go tarball in a temporary GOPATH beside Debian's mattn/go-sqlite3 (GOPATH mode, Go 1.19,
no module proxy): tests/packages/hosts/go/pool_test.go runs the workload through the driver, then
holds a pool of connections and predicts on all of them concurrently (no 'no key' error), and
shows the failure the driver prevents with a plain go-sqlite3 driver as the control."""
import json
import os
import re
import shutil
import tarfile
import time

import pytest

from pkgtest import GO_TARBALL, HOSTS, HERE, TIMINGS, VERSION, check_against, dist, host_env, run

MATTN = "/usr/share/gocode/src/github.com/mattn/go-sqlite3"

pytestmark = [
    pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed (apt: golang-go)"),
    pytest.mark.skipif(not os.path.isdir(MATTN), reason="apt: golang-github-mattn-go-sqlite3-dev is not installed"),
]


def test_go_pool(tmp_path, reference):
    gopath = tmp_path / "gopath"
    with tarfile.open(dist(GO_TARBALL)) as t:
        t.extractall(gopath)
    assert (gopath / "src" / "sqlml" / "libsqlml0.so").is_file()
    pkg = gopath / "src" / "pooltest"
    pkg.mkdir()
    shutil.copy(os.path.join(HOSTS, "go", "pool_test.go"), pkg)
    out = tmp_path / "go-results.json"
    env = host_env(
        GO111MODULE="off",
        GOPATH=f"{gopath}:/usr/share/gocode",
        GOFLAGS="",
        XDG_CACHE_HOME=str(tmp_path / "cache"),  # where the embedded library is written out
        SQLML_WORKLOAD=os.path.join(HERE, "workload.json"),
        SQLML_GO_OUT=str(out),
    )
    env["GOCACHE"] = os.environ.get("GOCACHE") or os.path.expanduser("~/.cache/go-build")
    t = time.monotonic()
    r = run(["go", "test", "-v", "-count=1", "."], cwd=pkg, env=env, timeout=600)
    total_s = time.monotonic() - t
    print(r.stdout)
    for name in (
        "TestEveryPooledConnectionIsUnlocked",
        "TestRegisteredDriverName",
        "TestWrongKeyFailsAtOpen",
        "TestControlPlainDriverLeavesConnectionsLocked",
    ):
        assert f"--- PASS: {name}" in r.stdout
    assert re.search(r"control: [1-9]\d* of \d+ predictions failed with 'no key for this database'", r.stdout)
    got = json.loads(out.read_text())
    assert got["version"] == VERSION
    assert got["loadable_path"].startswith(str(tmp_path / "cache" / "sqlml" / f"{VERSION}-"))
    check_against(reference, got)
    TIMINGS.append(("Go, go-sqlite3 pool (untar; go test: build, run)", total_s - got["first_prediction_s"], got["first_prediction_s"]))
