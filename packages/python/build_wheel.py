#!/usr/bin/env python3
"""Writes a wheel (PEP 427) from a package directory, with no build backend to install.

scripts/package.sh calls it for the three wheels: sqlml (the module and the loadable library,
a platform tag) and the two pure-Python plugins. The output is reproducible: sorted entries,
fixed timestamps (SOURCE_DATE_EPOCH, else 1980-01-01), fixed permissions.

    build_wheel.py --name sqlml --version 0.1.0 --tag py3-none-manylinux_2_17_x86_64 \
        --package packages/python/sqlml --add sqlml/libsqlml0.so=target/.../libsqlml0.so \
        --summary "..." --readme packages/python/README.md --out dist
"""
import argparse
import base64
import hashlib
import os
import sys
import time
import zipfile


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--tag", required=True, help="python-abi-platform, e.g. py3-none-any")
    ap.add_argument("--package", action="append", default=[], help="a directory copied as a top-level package")
    ap.add_argument("--add", action="append", default=[], help="ARCNAME=PATH: one more file")
    ap.add_argument("--summary", required=True)
    ap.add_argument("--readme", help="Markdown long description")
    ap.add_argument("--requires", action="append", default=[], help="a Requires-Dist line")
    ap.add_argument("--requires-python", default=">=3.8")
    ap.add_argument("--entry-point", action="append", default=[], help="GROUP:NAME=OBJECT")
    ap.add_argument("--license", default="MIT OR Apache-2.0")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    dist = a.name.replace("-", "_")
    info = f"{dist}-{a.version}.dist-info"
    files = {}  # arcname -> (bytes, executable)
    for pkg in a.package:
        pkg = os.path.normpath(pkg)
        base = os.path.dirname(pkg)
        for root, dirs, names in os.walk(pkg):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for n in sorted(names):
                if n.endswith((".pyc", ".pyo")):
                    continue
                full = os.path.join(root, n)
                with open(full, "rb") as f:
                    files[os.path.relpath(full, base).replace(os.sep, "/")] = (f.read(), False)
    for spec in a.add:
        arc, _, path = spec.partition("=")
        with open(path, "rb") as f:
            files[arc] = (f.read(), os.access(path, os.X_OK))

    meta = [
        "Metadata-Version: 2.4",
        f"Name: {a.name}",
        f"Version: {a.version}",
        f"Summary: {a.summary}",
        f"License-Expression: {a.license}",
        f"Requires-Python: {a.requires_python}",
    ]
    meta += [f"Requires-Dist: {r}" for r in a.requires]
    body = ""
    if a.readme:
        meta.append("Description-Content-Type: text/markdown")
        with open(a.readme, encoding="utf-8") as f:
            body = "\n" + f.read()
    files[f"{info}/METADATA"] = (("\n".join(meta) + "\n" + body).encode(), False)
    pure = a.tag.endswith("-none-any")
    wheel = [
        "Wheel-Version: 1.0",
        "Generator: sqlml packages/python/build_wheel.py",
        f"Root-Is-Purelib: {'true' if pure else 'false'}",
        f"Tag: {a.tag}",
    ]
    files[f"{info}/WHEEL"] = (("\n".join(wheel) + "\n").encode(), False)
    if a.entry_point:
        groups = {}
        for ep in a.entry_point:
            group, _, rest = ep.partition(":")
            groups.setdefault(group, []).append(rest.replace("=", " = ", 1))
        text = "".join(f"[{g}]\n" + "".join(line + "\n" for line in lines) + "\n" for g, lines in sorted(groups.items()))
        files[f"{info}/entry_points.txt"] = (text.encode(), False)

    record = [f"{arc},{record_hash(data)},{len(data)}" for arc, (data, _) in sorted(files.items())]
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = (("\n".join(record) + "\n").encode(), False)

    epoch = max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)
    stamp = time.gmtime(epoch)[:6]
    os.makedirs(a.out, exist_ok=True)
    out = os.path.join(a.out, f"{dist}-{a.version}-{a.tag}.whl")
    # dist-info last, as PEP 427 recommends
    order = sorted(files, key=lambda n: (n.startswith(info), n == f"{info}/RECORD", n))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for arc in order:
            data, exe = files[arc]
            zi = zipfile.ZipInfo(arc, stamp)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = (0o100755 if exe else 0o100644) << 16
            z.writestr(zi, data, compresslevel=9)
    print(out)


if __name__ == "__main__":
    sys.exit(main())
