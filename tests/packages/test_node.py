"""The npm tarballs (the sqlml shim and sqlml-linux-x64, which holds only the library) installed
into a temporary Node project beside better-sqlite3 12 (its own SQLite) and sqlite3
(node-sqlite3, linked to the system's libsqlite3, 3.40.1 on Debian 12: npm_config_sqlite=/usr), both built from
source offline against the headers in /usr/include/node, and @photostructure/sqlite (prebuilt,
in its tarball). The driver packages are built once per checkout into
target/package/node-deps and copied into each fresh project; the sqlml tarballs are installed
fresh every run."""
import json
import os
import shutil
import sqlite3
import tarfile
import time

import pytest

from pkgtest import HOSTS, NOTES, NPM_LINUX, NPM_SHIM, ROOT, TIMINGS, VERSION, check_against, dist, host_env, run, run_host

# better-sqlite3 13 needs Node 22 (Debian 12 has 20); @photostructure/sqlite 2 likewise.
NODE_DEPS = {"better-sqlite3": "12.11.1", "@photostructure/sqlite": "1.2.1", "sqlite3": "6.0.1", "typescript": "5.9.3"}
DEPS_DIR = os.path.join(ROOT, "target", "package", "node-deps")

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed (apt: npm)")


def npm_env():
    env = host_env(npm_config_jobs="max", JOBS="max", npm_config_fund="false", npm_config_audit="false")
    if os.path.isdir("/usr/include/node"):
        env["npm_config_nodedir"] = "/usr"  # node-gyp: Debian's headers, no download
    # node-sqlite3 on the system's SQLite: a second SQLite build (Debian's 3.40.1, the oldest
    # here), and a minute of compiling less than its bundled amalgamation
    env["npm_config_sqlite"] = "/usr"
    return env


@pytest.fixture(scope="session")
def node_deps():
    stamp = os.path.join(DEPS_DIR, "node_modules", ".sqlml-deps.json")
    want = json.dumps(dict(NODE_DEPS, node_sqlite3_links="/usr"), sort_keys=True)
    if os.path.isfile(stamp) and open(stamp).read() == want:
        return DEPS_DIR
    shutil.rmtree(DEPS_DIR, ignore_errors=True)
    os.makedirs(DEPS_DIR)
    with open(os.path.join(DEPS_DIR, "package.json"), "w") as f:
        json.dump({"name": "sqlml-package-test", "version": "0.0.0", "private": True}, f)
    t = time.monotonic()
    run(["npm", "install", *[f"{k}@{v}" for k, v in NODE_DEPS.items()]], cwd=DEPS_DIR, env=npm_env(), timeout=900)
    NOTES.append(("Node drivers: npm install, better-sqlite3 and sqlite3 built from source", time.monotonic() - t))
    with open(stamp, "w") as f:
        f.write(want)
    return DEPS_DIR


@pytest.fixture(scope="session")
def project(node_deps, tmp_path_factory):
    """A fresh project: the drivers, then `npm install` of the two sqlml tarballs."""
    proj = tmp_path_factory.mktemp("node-project")
    for name in ("package.json", "package-lock.json", "node_modules"):
        src = os.path.join(node_deps, name)
        if os.path.isdir(src):
            shutil.copytree(src, proj / name, symlinks=True)
        else:
            shutil.copy2(src, proj / name)
    t = time.monotonic()
    r = run(["npm", "install", dist(NPM_LINUX), dist(NPM_SHIM)], cwd=proj, env=npm_env())
    install_s = time.monotonic() - t
    assert "sqlml" in json.loads((proj / "package.json").read_text())["dependencies"], r.stdout
    return proj, install_s


def tar_json(tgz, member):
    with tarfile.open(tgz) as t:
        return json.load(t.extractfile(member))


def test_tarballs_run_no_scripts_and_split_like_sqlite_vec():
    shim = tar_json(dist(NPM_SHIM), "package/package.json")
    linux = tar_json(dist(NPM_LINUX), "package/package.json")
    assert "scripts" not in shim and "scripts" not in linux
    assert shim["version"] == linux["version"] == VERSION
    assert shim["optionalDependencies"] == {"sqlml-linux-x64": VERSION}
    assert (linux["os"], linux["cpu"]) == (["linux"], ["x64"])
    with tarfile.open(dist(NPM_SHIM)) as t:
        assert sorted(t.getnames()) == sorted(
            f"package/{n}" for n in ("index.js", "index.mjs", "index.d.ts", "package.json", "README.md")
        )
    with tarfile.open(dist(NPM_LINUX)) as t:
        assert "package/lib/libsqlml0.so" in t.getnames()


@pytest.mark.parametrize("driver", ["better-sqlite3", "photostructure", "node-sqlite3"])
def test_driver(project, reference, driver):
    proj, install_s = project
    got = run_host(["node", os.path.join(HOSTS, "node_host.js"), driver, str(proj / f"{driver}.db")], cwd=proj)
    assert got["unlock"] == "key created"
    assert got["version"] == VERSION
    assert got["loadable_path"] == str(proj / "node_modules" / "sqlml-linux-x64" / "lib" / "libsqlml0.so")
    check_against(reference, got)
    if driver == "node-sqlite3":
        assert got["sqlite_version"] == sqlite3.sqlite_version  # the system's, as this Debian python's
    TIMINGS.append((f"Node, {driver} (npm install sqlml, drivers already built)", install_s, got["first_prediction_s"]))


def test_esm_import_and_errors(project, reference):
    proj, _ = project
    code = f"""
import {{ load, getLoadablePath, version }} from 'sqlml';
import Database from 'better-sqlite3';
import {{ DatabaseSync }} from '@photostructure/sqlite';
const db = new Database({reference['db']!r});
if (load(db, {{ key: process.env.APP_SQLML_KEY }}) !== 'unlocked') throw new Error('not unlocked');
const row = db.prepare("SELECT ml_predict('router', ?) AS q").get('the app crashes');
if (row.q !== 'bugs') throw new Error(JSON.stringify(row));
let msg = '';
try {{ load(new DatabaseSync(':memory:')); }} catch (e) {{ msg = e.message; }}
if (!msg.includes('allowExtension: true')) throw new Error('no hint: ' + msg);
try {{ load(new Database(':memory:'), {{ key: 42 }}); msg = ''; }} catch (e) {{ msg = e.message; }}
if (!msg.includes('key must be a non-empty string')) throw new Error('key check: ' + msg);
try {{ load({{}}); msg = ''; }} catch (e) {{ msg = e.message; }}
if (!msg.includes('loadExtension')) throw new Error('db check: ' + msg);
console.log(version, getLoadablePath().endsWith('libsqlml0.so'));
"""
    r = run(["node", "--input-type=module", "-e", code], cwd=proj)
    assert r.stdout.split() == [VERSION, "true"]


def test_typescript_types(project):
    proj, _ = project
    shutil.copy(os.path.join(HOSTS, "types_check.ts"), proj / "types_check.ts")
    r = run(
        ["node", "node_modules/typescript/bin/tsc", "--noEmit", "--strict", "--module", "nodenext",
         "--moduleResolution", "nodenext", "--target", "es2022", "--skipLibCheck", "types_check.ts"],
        cwd=proj, check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    # and the same checker does reject a misuse (the file's @ts-expect-error lines hold)
    bad = (proj / "types_check.ts").read_text().replace("// @ts-expect-error", "")
    (proj / "types_bad.ts").write_text(bad)
    r = run(["node", "node_modules/typescript/bin/tsc", "--noEmit", "--strict", "--module", "nodenext",
             "--moduleResolution", "nodenext", "--skipLibCheck", "types_bad.ts"], cwd=proj, check=False)
    assert r.returncode != 0 and "types_bad.ts" in r.stdout
