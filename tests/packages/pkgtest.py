"""Helpers of tests/packages: where the packages are, fresh venvs, running hosts, timings.

The released packages (dist/, from scripts/package.sh) installed as a user would install them.

Every host installs from dist/ into something fresh (a venv, a temporary Node project, a
temporary GOPATH) and runs tests/packages/workload.json; the first host's rows are the reference
that every other host must return exactly. The key reaches each host as APP_SQLML_KEY and SQLite
only through the package's own load/unlock; SQLML_KEY and SQLML_EXT (scripts/test.sh sets it for the
other steps) are removed from every host's environment.

Environment: SQLML_DIST (default dist/). The library is built once, by scripts/package.sh.
"""
import json
import os
import shutil
import subprocess
import time
import tomllib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(ROOT, "tests", "packages")
HOSTS = os.path.join(HERE, "hosts")
DIST = os.environ.get("SQLML_DIST") or os.path.join(ROOT, "dist")
KEY = "packages test passphrase, long enough"
DEBIAN_PYTHON = "/usr/bin/python3"

with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
    VERSION = tomllib.load(f)["package"]["version"]

WHEEL = f"sqlml-{VERSION}-py3-none-manylinux_2_17_x86_64.whl"
DATASETTE_WHEEL = f"datasette_sqlml-{VERSION}-py3-none-any.whl"
SQLITE_UTILS_WHEEL = f"sqlite_utils_sqlml-{VERSION}-py3-none-any.whl"
NPM_SHIM = f"sqlml-{VERSION}.tgz"
NPM_LINUX = f"sqlml-linux-x64-{VERSION}.tgz"
GO_TARBALL = f"sqlml-go-{VERSION}.tar.gz"
ALL = [WHEEL, DATASETTE_WHEEL, SQLITE_UTILS_WHEEL, NPM_SHIM, NPM_LINUX, GO_TARBALL, "libsqlml0.so"]

# install-to-first-prediction, per host: (host, install seconds, seconds to the first prediction)
TIMINGS = []
# one-off costs worth reporting beside them: (what, seconds)
NOTES = []


def dist(name):
    return os.path.join(DIST, name)


def host_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SQLML_KEY", "SQLML_EXT", "VIRTUAL_ENV", "PYTHONPATH"))}
    env["APP_SQLML_KEY"] = KEY
    env.update(extra)
    return env


def run(cmd, timeout=600, check=True, **kw):
    kw.setdefault("env", host_env())
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def pyenv_python():
    """A python3 that is not Debian's (pyenv's, first on PATH on this machine)."""
    for cand in (shutil.which("python3"), os.path.expanduser("~/.pyenv/shims/python3")):
        if cand and os.access(cand, os.X_OK):
            real = run([cand, "-c", "import sys; print(sys.executable)"], env=dict(os.environ)).stdout.strip()
            if not real.startswith("/usr/bin/"):
                return real
    return None


def make_venv(python, where, packages, name):
    """A fresh venv with `packages` pip-installed; returns (its python, seconds taken)."""
    t = time.monotonic()
    run([python, "-m", "venv", where])
    py = os.path.join(where, "bin", "python")
    run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages], env=dict(os.environ))
    return py, time.monotonic() - t


def run_host(cmd, cwd=None, env=None):
    r = run(cmd, cwd=cwd, env=env or host_env())
    return json.loads(r.stdout.strip().splitlines()[-1])


def check_against(reference, got):
    """Exactly the reference's rows, query by query."""
    assert got["first"] == [["billing"]]
    for name, want in reference["results"].items():
        assert got["results"][name] == want, f"query {name!r}: {got['results'][name]!r} != {want!r}"
