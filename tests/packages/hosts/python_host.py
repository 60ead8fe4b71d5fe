"""Runs tests/packages/workload.json through the installed sqlml wheel with one SQLite driver.

    python python_host.py DRIVER DB [--no-setup]

DRIVER: sqlite3 (the standard library), apsw, sqlean (sqlean.py), pysqlite3. The key comes from
APP_SQLML_KEY and reaches SQLite only through sqlml.load(conn, key=...). Prints one JSON object:
what unlock answered, the seconds from start to the first prediction, and every query's rows.
With DRIVER sqlite3 on a Python whose sqlite3 cannot load extensions, prints the error instead.
"""
import json
import os
import sys
import time

T0 = time.monotonic()
HERE = os.path.dirname(os.path.abspath(__file__))


def connect(driver, path):
    if driver == "sqlite3":
        import sqlite3

        return sqlite3.connect(path, isolation_level=None)
    if driver == "sqlean":
        import sqlean

        return sqlean.connect(path, isolation_level=None)
    if driver == "pysqlite3":
        from pysqlite3 import dbapi2

        return dbapi2.connect(path, isolation_level=None)
    if driver == "apsw":
        import apsw

        return apsw.Connection(path)
    raise SystemExit(f"unknown driver {driver}")


def main():
    driver, path = sys.argv[1], sys.argv[2]
    setup = "--no-setup" not in sys.argv
    with open(os.path.join(HERE, "..", "workload.json")) as f:
        work = json.load(f)
    import sqlml

    conn = connect(driver, path)
    try:
        unlock = sqlml.load(conn, key=os.environ["APP_SQLML_KEY"])
    except sqlml.ExtensionLoadingUnavailable as e:
        print(json.dumps({"refused": str(e), "type": type(conn).__module__}))
        return
    if setup:
        for sql in work["setup"]:
            conn.execute(sql).fetchall()
    first = conn.execute(work["first"]).fetchall()
    first_s = time.monotonic() - T0
    results = {name: [list(r) for r in conn.execute(sql).fetchall()] for name, sql in work["queries"].items()}
    print(
        json.dumps(
            {
                "driver": driver,
                "module": type(conn).__module__,
                "loadable_path": sqlml.loadable_path(),
                "unlock": unlock,
                "first": [list(r) for r in first],
                "first_prediction_s": round(first_s, 3),
                "results": results,
            }
        )
    )
    conn.close()


if __name__ == "__main__":
    main()
