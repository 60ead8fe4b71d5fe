#!/usr/bin/env bash
# Builds the sqlml packages into dist/ (issue 11), from one build of the loadable extension:
#   sqlml-VER-py3-none-manylinux_2_17_x86_64.whl      Python: sqlml.loadable_path(), sqlml.load(conn, key=None)
#   datasette_sqlml-VER-py3-none-any.whl              Datasette plugin (prepare_connection)
#   sqlite_utils_sqlml-VER-py3-none-any.whl           sqlite-utils plugin (prepare_connection)
#   sqlml-VER.tgz, sqlml-linux-x64-VER.tgz            npm: the shim and the platform package holding the library
#   sqlml-go-VER.tar.gz                               Go (GOPATH): src/sqlml, a driver for mattn/go-sqlite3, library embedded
#   libsqlml0.so, SHA256SUMS                          the library itself (for the sqlite3 shell, --load-extension...)
#
# VER is the version of the workspace's Cargo.toml ([package] version), the one place it is set.
# The library is built with zig (cargo-zigbuild, from PyPI into target/package/tools) against
# glibc 2.17, and the script fails if it needs any glibc symbol newer than 2.17 (objdump -T):
# the wheel's manylinux_2_17 tag must be true.
#
# Usage: scripts/package.sh
# Environment: SQLML_PACKAGE_LIB=path  package this library instead of building one (it is
#              still checked); SQLML_PACKAGE_NICE=0 builds without nice.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

VERSION="$(sed -n '/^\[package\]/,/^\[/{s/^version *= *"\([^"]*\)".*/\1/p}' Cargo.toml)"
[ -n "$VERSION" ] || { echo "package.sh: no [package] version in Cargo.toml" >&2; exit 1; }
TARGET=x86_64-unknown-linux-gnu
GLIBC=2.17
STAGE="$ROOT/target/package"
DIST="$ROOT/dist"
NICE=(nice -n 10)
[ "${SQLML_PACKAGE_NICE:-1}" = 0 ] && NICE=()
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}"
echo "== sqlml $VERSION -> $DIST"

# ---- the library, built once ----------------------------------------------------------------
if [ -n "${SQLML_PACKAGE_LIB:-}" ]; then
	BUILT="$SQLML_PACKAGE_LIB"
	echo "== using $BUILT (SQLML_PACKAGE_LIB)"
else
	TOOLS="$STAGE/tools"
	if [ ! -x "$TOOLS/bin/cargo-zigbuild" ] || ! "$TOOLS/bin/python" -c 'import ziglang' 2>/dev/null; then
		echo "== pip install ziglang cargo-zigbuild (into $TOOLS)"
		/usr/bin/python3 -m venv "$TOOLS"
		"$TOOLS/bin/pip" install --quiet --disable-pip-version-check ziglang cargo-zigbuild
	fi
	echo "== cargo zigbuild --release -p sqlml-ext --target $TARGET.$GLIBC"
	# cargo-zigbuild finds zig through the venv's python (python -m ziglang).
	# SQLITE3_NO_PKG_CONFIG: libsqlite3-sys (0.38) asks pkg-config for sqlite3 even with its
	# loadable_extension feature, and pkg-config then adds -lsqlite3. A native build's linker
	# drops it again (--as-needed: no symbol is used), but zig's linker looks for libsqlite3.so in
	# its own glibc 2.17 sysroot and fails. Without pkg-config a loadable extension asks for no
	# SQLite library, as it should (the check below: it needs only glibc's libraries).
	PATH="$TOOLS/bin:$PATH" SQLITE3_NO_PKG_CONFIG=1 "${NICE[@]}" cargo zigbuild --release -p sqlml-ext --target "$TARGET.$GLIBC"
	BUILT="$ROOT/target/$TARGET/release/libsqlml0.so"
fi
[ -f "$BUILT" ] || { echo "package.sh: no library at $BUILT" >&2; exit 1; }

mkdir -p "$STAGE"
LIB="$STAGE/libsqlml0.so"
strip --strip-unneeded -o "$LIB" "$BUILT"
chmod 0755 "$LIB"

echo "== glibc check: the newest glibc symbol version $LIB needs (objdump -T)"
VERSIONS="$(objdump -T "$LIB" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV)"
NEWEST="$(tail -1 <<<"$VERSIONS")"
echo "glibc symbol versions: $(tr '\n' ' ' <<<"$VERSIONS")"
echo "newest: GLIBC_$NEWEST (limit GLIBC_$GLIBC)"
if [ "$(printf '%s\n%s\n' "$NEWEST" "$GLIBC" | sort -V | tail -1)" != "$GLIBC" ]; then
	echo "package.sh: FAIL: $LIB needs GLIBC_$NEWEST, newer than $GLIBC; these symbols:" >&2
	objdump -T "$LIB" | grep -E "GLIBC_($(sed 's/\./\\./g' <<<"$NEWEST"))[^0-9.]" >&2 || true
	exit 1
fi
NEEDED="$(readelf -d "$LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
echo "needs: $NEEDED"
for lib in $NEEDED; do
	case "$lib" in
	libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | libgcc_s.so.1 | ld-linux-x86-64.so.2) ;;
	*) echo "package.sh: FAIL: $LIB needs $lib (only glibc's own libraries may be needed)" >&2; exit 1 ;;
	esac
done
for sym in sqlite3_sqlml_init sqlite3_extension_init; do
	objdump -T "$LIB" | grep -qE "\.text.* $sym$" || { echo "package.sh: FAIL: $sym is not exported" >&2; exit 1; }
done
if command -v sqlite3 >/dev/null; then
	GOT="$(sqlite3 :memory: -cmd ".load $LIB" 'SELECT ml_version()')"
	[ "$GOT" = "v$VERSION" ] || { echo "package.sh: FAIL: ml_version() is '$GOT', Cargo.toml says v$VERSION" >&2; exit 1; }
	echo "ml_version(): $GOT"
fi

rm -rf "$DIST"
mkdir -p "$DIST"
cp "$LIB" "$DIST/libsqlml0.so"
PY=/usr/bin/python3
WHEEL="$ROOT/packages/python/build_wheel.py"

# ---- Python: the wheel and the two plugins --------------------------------------------------
echo "== wheels"
"$PY" "$WHEEL" --name sqlml --version "$VERSION" --tag py3-none-manylinux_2_17_x86_64 \
	--package packages/python/sqlml --add "sqlml/libsqlml0.so=$LIB" \
	--summary "Machine learning inside SQLite: train and apply encrypted, versioned models from SQL" \
	--readme packages/python/README.md --out "$DIST"
"$PY" "$WHEEL" --name datasette-sqlml --version "$VERSION" --tag py3-none-any \
	--package packages/datasette-sqlml/datasette_sqlml \
	--summary "Datasette plugin: sqlml loaded and unlocked in every connection, the key from the environment" \
	--readme packages/datasette-sqlml/README.md \
	--requires "sqlml==$VERSION" --requires "datasette>=0.64" \
	--entry-point "datasette:sqlml=datasette_sqlml" --out "$DIST"
"$PY" "$WHEEL" --name sqlite-utils-sqlml --version "$VERSION" --tag py3-none-any \
	--package packages/sqlite-utils-sqlml/sqlite_utils_sqlml \
	--summary "sqlite-utils plugin: sqlml loaded (and unlocked from SQLML_KEY) in every connection" \
	--readme packages/sqlite-utils-sqlml/README.md \
	--requires "sqlml==$VERSION" --requires "sqlite-utils>=3.34" \
	--entry-point "sqlite_utils:sqlml=sqlite_utils_sqlml" --out "$DIST"

# ---- npm: the shim and the platform package -------------------------------------------------
echo "== npm packages"
rm -rf "$STAGE/npm"
mkdir -p "$STAGE/npm"
cp -r packages/npm/sqlml packages/npm/sqlml-linux-x64 "$STAGE/npm/"
mkdir -p "$STAGE/npm/sqlml-linux-x64/lib"
cp "$LIB" "$STAGE/npm/sqlml-linux-x64/lib/libsqlml0.so"
"$PY" - "$STAGE/npm" "$VERSION" <<'EOF'
import json, sys
root, version = sys.argv[1], sys.argv[2]
for name in ("sqlml", "sqlml-linux-x64"):
    path = f"{root}/{name}/package.json"
    with open(path) as f:
        pkg = json.load(f)
    pkg["version"] = version
    for dep in pkg.get("optionalDependencies", {}):
        pkg["optionalDependencies"][dep] = version
    assert "scripts" not in pkg, f"{name}: an npm package of sqlml runs no scripts"
    with open(path, "w") as f:
        json.dump(pkg, f, indent=2)
        f.write("\n")
EOF
for p in sqlml-linux-x64 sqlml; do
	(cd "$STAGE/npm/$p" && npm pack --silent --pack-destination "$DIST" >/dev/null)
done

# ---- Go: a GOPATH tree, src/sqlml, with the library embedded --------------------------------
echo "== Go package"
GOSTAGE="$STAGE/go"
rm -rf "$GOSTAGE"
mkdir -p "$GOSTAGE/src/sqlml"
cp packages/go/sqlml/*.go packages/go/sqlml/README.md "$GOSTAGE/src/sqlml/"
rm -f "$GOSTAGE/src/sqlml/"*_test.go
cp "$LIB" "$GOSTAGE/src/sqlml/libsqlml0.so"
sed -i "s/^var Version = \".*\"/var Version = \"$VERSION\"/" "$GOSTAGE/src/sqlml/sqlml.go"
cat >"$GOSTAGE/src/sqlml/library_linux_amd64.go" <<'EOF'
// Written by scripts/package.sh: the extension for linux/amd64 (glibc >= 2.17), embedded.

package sqlml

import _ "embed"

//go:embed libsqlml0.so
var library []byte

func init() { embedded = library }
EOF
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
	-C "$GOSTAGE" -cf - src | gzip -n -9 >"$DIST/sqlml-go-$VERSION.tar.gz"

(cd "$DIST" && sha256sum -- * >SHA256SUMS)
echo "== dist"
(cd "$DIST" && ls -l --time-style=+ -- * | awk '{printf "%10d  %s\n", $5, $NF}')
