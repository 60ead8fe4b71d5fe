"""What scripts/package.sh built: one library everywhere, glibc <= 2.17, no SQLite linked in,
the version from Cargo.toml in every package."""
import hashlib
import json
import re
import subprocess
import tarfile
import zipfile

from pkgtest import GO_TARBALL, NPM_LINUX, NPM_SHIM, VERSION, WHEEL, dist


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_glibc_2_17_and_no_sqlite_dependency():
    lib = dist("libsqlml0.so")
    symbols = subprocess.run(["objdump", "-T", lib], capture_output=True, text=True, check=True).stdout
    versions = sorted({tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_([0-9.]+)", symbols)})
    print("glibc symbol versions:", " ".join(".".join(map(str, v)) for v in versions))
    assert versions and versions[-1] <= (2, 17)
    dynamic = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\).*\[(.*)\]", dynamic)
    assert not [n for n in needed if "sqlite" in n], needed
    assert re.search(r"\.text.*\ssqlite3_sqlml_init$", symbols, re.M)


def test_one_library_in_every_package():
    with open(dist("libsqlml0.so"), "rb") as f:
        want = sha(f.read())
    with zipfile.ZipFile(dist(WHEEL)) as z:
        assert sha(z.read("sqlml/libsqlml0.so")) == want
    with tarfile.open(dist(NPM_LINUX)) as t:
        assert sha(t.extractfile("package/lib/libsqlml0.so").read()) == want
    with tarfile.open(dist(GO_TARBALL)) as t:
        assert sha(t.extractfile("src/sqlml/libsqlml0.so").read()) == want
        go = t.extractfile("src/sqlml/sqlml.go").read().decode()
        assert f'var Version = "{VERSION}"' in go
    with tarfile.open(dist(NPM_SHIM)) as t:
        assert json.load(t.extractfile("package/package.json"))["version"] == VERSION
    sums = open(dist("SHA256SUMS")).read()
    assert f"{want}  libsqlml0.so" in sums
