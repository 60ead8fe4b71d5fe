"""Fixtures of tests/packages (helpers in pkgtest.py): the packages must have been built, and
the reference host's rows that every other host must return."""
import os

import pytest

from pkgtest import ALL, DEBIAN_PYTHON, DIST, HOSTS, NOTES, TIMINGS, WHEEL, dist, make_venv, run_host


@pytest.fixture(scope="session", autouse=True)
def packages_built():
    missing = [n for n in ALL if not os.path.isfile(dist(n))]
    if missing:
        pytest.fail(f"not in {DIST}: {', '.join(missing)} (run scripts/package.sh first)")


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """Debian's python3, its stdlib sqlite3, the wheel (installed with --no-index: it needs
    nothing else): the workload's rows every other host must return."""
    tmp = tmp_path_factory.mktemp("debian-stdlib")
    py, install_s = make_venv(DEBIAN_PYTHON, str(tmp / "venv"), ["--no-index", dist(WHEEL)], "debian")
    got = run_host([py, os.path.join(HOSTS, "python_host.py"), "sqlite3", str(tmp / "app.db")])
    TIMINGS.append(("Python, Debian python3 + stdlib sqlite3 (pip install sqlml)", install_s, got["first_prediction_s"]))
    got["db"] = str(tmp / "app.db")
    got["python"] = py
    return got


def pytest_terminal_summary(terminalreporter):
    if not TIMINGS:
        return
    terminalreporter.write_sep("-", "install to first prediction (install; then load, unlock, train 3 models, predict)")
    for what, seconds in NOTES:
        terminalreporter.write_line(f"{what:<72} {seconds:6.1f} s")
    for host, install_s, first_s in TIMINGS:
        terminalreporter.write_line(
            f"{host:<72} {install_s + first_s:6.1f} s  ({install_s:.1f} s install + {first_s:.2f} s)"
        )
