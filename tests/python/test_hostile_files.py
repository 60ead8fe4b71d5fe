"""Hostile database files (issue 10, "Fuzzing and hostile files").

Each case takes a good database (models `txt` (text, versions 1 and 2), `clf` (classifier) and
`rec` (recommender), encrypted under the victim's passphrase), damages it the way a hostile or
broken file would (every `ml_meta` field, every envelope header field of a model blob, rows of
`ml_models` with wrong types, triggers, views, collations, indexes and missing or extra columns
on sqlml's tables, sqlml's tables only in an attached file, sqlml calls hidden in every schema
place, also where the victim's own statement names the function), and then lets a victim open
it and do ordinary things, with `ml_unlock` or with `SQLML_KEY` in the environment. Every case
runs in its own subprocess (a crash is a failed case, not a dead pytest) with an address-space
cap of 2 GiB (a device with little memory: a 4 GiB Argon2 cost must be refused, not taken) and
a 40 s limit, two at a time (`SQLML_TEST_JOBS`), and is checked for:

1. no crash and no hang;
2. a clear SQL error where sqlml refuses (`ml_<fn>: ...`, naming what is wrong), or the
   SQLite refusal for schema places ("unsafe use of ml_x()");
3. nothing lost: every `ml_models` row present before is still there with identical bytes,
   `ml_meta` and the schema are unchanged (unless the case says otherwise);
4. the models the case did not damage still decrypt and give their original answers with the
   victim's passphrase afterwards (on a copy with the hostile objects removed and the original
   key record restored).

Run: `pytest tests/python/test_hostile_files.py`, or as a script for the table of outcomes:
`/usr/bin/python3 tests/python/test_hostile_files.py --table [--only SUBSTRING] [--details]`
(`SQLML_EXT` picks the extension, as for the other tests).
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

try:
    import pytest
except ImportError:  # script mode (--table) without pytest
    pytest = None

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXT = os.environ.get("SQLML_EXT") or os.path.join(ROOT, "target", "release", "libsqlml0")
PASS = "the victim's long passphrase"
NEW_PASS = "a new passphrase"
ATTACKER = "an attacker passphrase"
MEM_CAP = 2 << 30  # RLIMIT_AS of the victim process: a 4 GB Argon2 cost must not be taken
TIMEOUT = 40  # seconds: more is a hang


def _python():
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sys.executable
    return "/usr/bin/python3"


# --------------------------------------------------------------------------------------------
# The good database
# --------------------------------------------------------------------------------------------

BASE_SQL = [
    "CREATE TABLE msgs(id INTEGER PRIMARY KEY, body TEXT, label TEXT)",
    """WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 59)
       INSERT INTO msgs(body, label)
       SELECT CASE WHEN i % 3 = 0 THEN 'win free prize cash claim now ' || (i % 4)
                   ELSE 'see you at lunch tomorrow meeting home ' || (i % 5) END,
              CASE WHEN i % 3 = 0 THEN 'spam' ELSE 'ham' END FROM c""",
    "CREATE TABLE cust(tenure REAL, plan TEXT, spend REAL, churned TEXT)",
    """WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 59)
       INSERT INTO cust SELECT (i * 37) % 50, CASE i % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'plus' ELSE 'pro' END,
              ((i * 13) % 100) + 0.25, CASE WHEN (i * 7) % 10 < 3 THEN 'yes' ELSE 'no' END FROM c""",
    "CREATE TABLE ratings(user INTEGER, item INTEGER, rating REAL)",
    """WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 119)
       INSERT INTO ratings SELECT i % 10, (i * 7 + i / 10) % 15, 1 + (i * i) % 5 FROM c""",
]
TRAIN_SQL = [
    "SELECT ml_train('txt', 'text', 'msgs', 'label', '{\"ngrams\": 1}')",
    "SELECT ml_train('txt', 'text', 'msgs', 'label')",
    "SELECT ml_train('clf', 'classifier', 'cust', 'churned', '{\"epochs\": 3, \"hidden_layers\": [8]}')",
    "SELECT ml_train('rec', 'recommender', 'ratings', 'rating', '{\"n_epochs\": 5, \"n_factors\": 4}')",
]
MODELS = ["txt", "clf", "rec"]
CHECKS = {
    "txt": "SELECT ml_predict('txt', 'win free prize'), ml_predict_proba('txt', 'lunch at home')",
    "clf": "SELECT ml_predict_proba('clf', 10.0, 'plus', 50.25)",
    "rec": "SELECT ml_predict('rec', 1, 2), ml_explain('rec', 3, 4)",
}
META_FIELDS = ["kdf_salt", "key_check", "db_id", "kdf_m_cost", "kdf_t_cost", "kdf_p_cost", "format", "kdf"]


def _connect(path, ext=True):
    db = sqlite3.connect(path, isolation_level=None, timeout=2)
    if ext:
        db.enable_load_extension(True)
        db.load_extension(EXT)
        db.enable_load_extension(False)
    return db


def build_base(path):
    """The good database and the answers of its models (runs in a subprocess)."""
    db = _connect(path)
    for q in BASE_SQL:
        db.execute(q)
    db.execute("SELECT ml_unlock(?)", (PASS,))
    for q in TRAIN_SQL:
        db.execute(q).fetchall()
    db.close()
    db = _connect(path)
    db.execute("SELECT ml_unlock(?)", (PASS,))
    answers = {m: list(db.execute(q).fetchone()) for m, q in CHECKS.items()}
    meta = [list(r) for r in db.execute("SELECT key, value FROM ml_meta ORDER BY key")]
    db.close()
    return {"answers": answers, "meta": [[k, v.hex() if isinstance(v, bytes) else v] for k, v in meta]}


_BASE = {}


def base():
    """(path of the good database, its facts); built once per process, in a subprocess."""
    if not _BASE:
        d = tempfile.mkdtemp(prefix="sqlml-hostile-")
        path = os.path.join(d, "base.db")
        code = "import json, sys; sys.path.insert(0, %r); import test_hostile_files as t; print(json.dumps(t.build_base(%r)))" % (HERE, path)
        r = subprocess.run([_python(), "-c", code], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, SQLML_EXT=EXT))
        if r.returncode != 0:
            raise RuntimeError("building the base database failed (%s): %s" % (r.returncode, r.stderr[-2000:]))
        facts = json.loads(r.stdout.strip().splitlines()[-1])
        facts["meta"] = [(k, bytes.fromhex(v) if k in ("kdf_salt", "key_check", "db_id") else v) for k, v in facts["meta"]]
        _BASE.update(dir=d, path=path, facts=facts)
        import atexit
        atexit.register(shutil.rmtree, d, True)
    return _BASE["path"], _BASE["facts"]


# --------------------------------------------------------------------------------------------
# Expectations
# --------------------------------------------------------------------------------------------

# SQLite's refusals, sqlml's own ("refused: called from the database schema ..."), and its refusal to
# write from inside a writing statement (a CHECK runs inside the INSERT): none ran with the key
REFUSED = re.compile(r"unsafe use of (virtual table )?\"?ml_\w+|non-deterministic functions prohibited|"
                     r"^ml_\w+: .*refused|^ml_\w+: cannot change sqlml's tables from inside a statement", re.S)


class Ok:
    def __init__(self, value=None, contains=None):
        self.value, self.contains = value, contains

    def problem(self, r):
        if not r["ok"]:
            return "expected success, got error: %s" % r["error"]
        if self.value is not None and r["value"] != self.value:
            return "expected %r, got %r" % (self.value, r["value"])
        if self.contains and self.contains not in str(r["value"]):
            return "expected a value containing %r, got %r" % (self.contains, r["value"])
        return None

    def __repr__(self):
        return "ok" + ("=%r" % self.value if self.value is not None else "")


class Err:
    """An error whose message starts with `prefix` and contains one of `any_of` (if given)."""

    def __init__(self, prefix, *any_of, regex=None):
        self.prefix, self.any_of, self.regex = prefix, any_of, regex

    def problem(self, r):
        if r["ok"]:
            return "expected %r, got success: %r" % (self, r["value"])
        msg = r["error"]
        if self.regex is not None:
            return None if self.regex.search(msg) else "expected an error matching %s, got %r" % (self.regex.pattern[:60], msg[:300])
        if not msg.startswith(self.prefix):
            return "expected an error starting with %r, got %r" % (self.prefix, msg[:300])
        if self.any_of and not any(a.lower() in msg.lower() for a in self.any_of):
            return "expected the error to name %s, got %r" % (" or ".join(repr(a) for a in self.any_of), msg[:300])
        return None

    def __repr__(self):
        if self.regex is not None:
            return "error ~ /%s/" % self.regex.pattern[:40]
        return "error %r%s" % (self.prefix, " naming " + "|".join(self.any_of) if self.any_of else "")


class OkOr:
    def __init__(self, err, value=None):
        self.err, self.ok = err, Ok(value)

    def problem(self, r):
        return self.ok.problem(r) if r["ok"] else self.err.problem(r)

    def __repr__(self):
        return "ok or %r" % self.err


class Any:
    def problem(self, r):
        return None

    def __repr__(self):
        return "anything but a crash"


ANY = Any()
RECONNECT = "-- reconnect"
UNLOCK = ("SELECT ml_unlock(?)", [PASS])


def step(sql, expect, params=(), unlock=False):
    return {"sql": sql, "params": list(params), "expect": expect, "unlock": unlock}


class Case:
    """A hostile file: how to damage the good one, what the victim does, what must hold."""

    def __init__(self, id, group, mutate, steps, damaged=(), cleanup=(), restore_meta=False, meta_may_change=None,
                 schema_may_change=False, verify_pass=None, check=None, models_may_change=(), modes=("unlock", "env")):
        self.id, self.group, self.mutate, self.steps = id, group, mutate, steps
        self.damaged, self.cleanup, self.restore_meta = set(damaged), list(cleanup), restore_meta
        self.meta_may_change, self.schema_may_change = meta_may_change, schema_may_change
        # name -> "active" (its rows may change their active flag) or "any" (may change or go)
        self.verify_pass, self.check = verify_pass, check
        self.models_may_change = dict(models_may_change) if isinstance(models_may_change, dict) else {
            m: "active" for m in models_may_change}
        self.modes = modes


# --------------------------------------------------------------------------------------------
# Mutations (plain sqlite3, no extension: this is what an attacker's tool can write)
# --------------------------------------------------------------------------------------------


def rewrite_schema(db, name, pattern, repl):
    """Edits the CREATE statement of `name` in sqlite_schema (as a hostile file can hold it)."""
    (sql,) = db.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (name,)).fetchone()
    new = re.sub(pattern, repl, sql)
    assert new != sql, (name, pattern, sql)
    version = db.execute("PRAGMA schema_version").fetchone()[0]
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_schema SET sql = ? WHERE name = ?", (new, name))
    db.execute("PRAGMA schema_version = %d" % (version + 1))
    db.execute("PRAGMA writable_schema = OFF")


def recreate_table(db, name, transform):
    """Replaces table `name` by one whose CREATE statement is transform(old sql), same rows."""
    (sql,) = db.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (name,)).fetchone()
    cols = [r[1] for r in db.execute("PRAGMA table_info(%s)" % name)]
    db.execute("ALTER TABLE %s RENAME TO old_%s" % (name, name))
    new_sql, keep = transform(sql, cols)
    db.execute(new_sql)
    db.execute("INSERT INTO %s(%s) SELECT %s FROM old_%s" % (name, ",".join(keep), ",".join(keep), name))
    db.execute("DROP TABLE old_%s" % name)


def meta_value(db, key):
    r = db.execute("SELECT value FROM ml_meta WHERE key = ?", (key,)).fetchone()
    return r[0] if r else None


def set_meta(key, value):
    def m(db):
        db.execute("UPDATE ml_meta SET value = ? WHERE key = ?", (value(db) if callable(value) else value, key))
    return m


def sql(*statements):
    def m(db):
        for s in statements:
            db.execute(s)
    return m


def set_blob(expr):
    """Replaces the active `txt` blob by `expr` (SQL over the old blob `model`)."""
    return sql("UPDATE ml_models SET model = %s WHERE name = 'txt' AND active = 1" % expr)


def patch_blob(offset, byte):
    def m(db):
        (b,) = db.execute("SELECT model FROM ml_models WHERE name = 'txt' AND active = 1").fetchone()
        b = bytearray(b)
        b[offset] = byte if byte is not None else b[offset] ^ 0x40
        db.execute("UPDATE ml_models SET model = ? WHERE name = 'txt' AND active = 1", (bytes(b),))
    return m


def model_not_null_removed(db):
    rewrite_schema(db, "ml_models", r"model\s+BLOB\s+NOT\s+NULL", "model BLOB")


# --------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------


def meta_cases():
    cases = []
    blob_fields = {"kdf_salt", "key_check", "db_id"}
    int_fields = {"kdf_m_cost": 4194304, "kdf_t_cost": 2**31, "kdf_p_cost": 2**24, "format": 2**31}
    for field in META_FIELDS:
        variants = {"missing": sql("DELETE FROM ml_meta WHERE key = '%s'" % field),
                    "null": set_meta(field, None), "real": set_meta(field, 1.5)}
        if field in blob_fields:
            variants.update({
                "text": set_meta(field, lambda db, f=field: meta_value(db, f).hex()),
                "text-bytes": sql("UPDATE ml_meta SET value = CAST(value AS TEXT) WHERE key = '%s'" % field),
                "int": set_meta(field, 7), "empty": set_meta(field, b""),
                "huge": set_meta(field, lambda db: b"\x01" * (10 << 20)),
                "truncated": set_meta(field, lambda db, f=field: meta_value(db, f)[: len(meta_value(db, f)) // 2]),
                "longer": set_meta(field, lambda db, f=field: meta_value(db, f) + b"\x00"),
            })
        elif field in int_fields:
            variants.update({
                # (ml_meta.value has NUMERIC affinity: text that looks like a number is stored as one)
                "text": set_meta(field, lambda db, f=field: "%s KiB" % meta_value(db, f)),
                "blob": set_meta(field, b"\x00\x4c"), "empty": set_meta(field, ""),
                "huge": set_meta(field, int_fields[field]), "zero": set_meta(field, 0), "negative": set_meta(field, -1),
                "max-int": set_meta(field, 2**63 - 1),
            })
        else:  # kdf
            variants.update({"int": set_meta(field, 2), "blob": set_meta(field, b"argon2id"), "empty": set_meta(field, ""),
                             "truncated": set_meta(field, "argon"), "other": set_meta(field, "scrypt")})
        for variant, mutate in variants.items():
            lenient = field == "format" and variant == "huge"
            named = (field,) if field != "format" or variant != "huge" else ("format", "upgrade")
            if lenient:
                steps = [step("SELECT ml_unlock(?)", OkOr(Err("ml_unlock:", *named)), [PASS], unlock=True),
                         step(CHECKS["clf"], OkOr(Err("ml_predict_proba:", *named)))]
            else:
                steps = [
                    step("SELECT ml_unlock(?)", Err("ml_unlock:", field), [PASS], unlock=True),
                    step("SELECT ml_predict('txt', 'free prize')", Err("ml_predict:", field, "no key")),
                    step("SELECT ml_train('fresh', 'text', 'msgs', 'label')", Err("ml_train:", field, "no key")),
                    step("SELECT ml_rekey(?)", Err("ml_rekey:", field, "no key"), [NEW_PASS]),
                ]
                # with SQLML_KEY the first call that needs the key must name the damage
                steps[1]["env_expect"] = Err("ml_predict:", field)
            cases.append(Case("meta/%s/%s" % (field, variant), "ml_meta field", mutate, steps, restore_meta=True))
    damaged_record = [
        step("SELECT ml_unlock(?)", Err("ml_unlock:", "ml_meta", "key record"), [PASS], unlock=True),
        step("SELECT ml_predict('txt', 'free prize')", Err("ml_predict:", "ml_meta", "key record", "no key")),
        step("SELECT ml_train('fresh', 'text', 'msgs', 'label')", Err("ml_train:", "ml_meta", "key record", "no key")),
    ]
    damaged_record[1]["env_expect"] = Err("ml_predict:", "ml_meta", "key record")
    cases += [
        Case("meta/table-dropped", "ml_meta", sql("DROP TABLE ml_meta"), damaged_record, restore_meta=True),
        Case("meta/emptied", "ml_meta", sql("DELETE FROM ml_meta"), damaged_record, restore_meta=True),
        Case("meta/only-key_check-left", "ml_meta", sql("DELETE FROM ml_meta WHERE key != 'key_check'"),
             damaged_record, restore_meta=True),
        Case("meta/extra-row", "ml_meta", sql("INSERT INTO ml_meta VALUES ('zzz', 1)"),
             [step("SELECT ml_unlock(?)", Ok("unlocked"), [PASS], unlock=True), step(CHECKS["clf"], Ok())]),
        Case("meta/duplicate-salt-row", "ml_meta",
             lambda db: recreate_table(db, "ml_meta", lambda s, c: ("CREATE TABLE ml_meta(key TEXT, value ANY)", c))
             or db.execute("INSERT INTO ml_meta VALUES ('kdf_salt', zeroblob(16))"),
             [step("SELECT ml_unlock(?)", Err("ml_unlock:", "kdf_salt", "ml_meta"), [PASS], unlock=True),
              step("SELECT ml_train('fresh', 'text', 'msgs', 'label')", Err("ml_train:"))],
             restore_meta=True, schema_may_change=False),
        Case("meta/is-a-view", "ml_meta",
             sql("ALTER TABLE ml_meta RENAME TO real_meta", "CREATE VIEW ml_meta AS SELECT * FROM real_meta"),
             [step("SELECT ml_unlock(?)", OkOr(Err("ml_unlock:", "ml_meta")), [PASS], unlock=True),
              step("SELECT ml_rekey(?)", Err("ml_rekey:", "ml_meta"), [NEW_PASS])],
             cleanup=["DROP VIEW ml_meta", "ALTER TABLE real_meta RENAME TO ml_meta"]),
        Case("meta/view-instead-of-ignores-writes", "ml_meta",
             sql("ALTER TABLE ml_meta RENAME TO real_meta", "CREATE VIEW ml_meta(key, value) AS SELECT * FROM real_meta",
                 "CREATE TRIGGER meta_sink INSTEAD OF INSERT ON ml_meta BEGIN SELECT 1; END"),
             [step("SELECT ml_unlock(?)", OkOr(Err("ml_unlock:", "ml_meta")), [PASS], unlock=True),
              step("SELECT ml_rekey(?)", Err("ml_rekey:", "ml_meta", "meta_sink"), [NEW_PASS]),
              step(CHECKS["clf"], OkOr(Err("ml_predict_proba:", "ml_meta")))],
             cleanup=["DROP VIEW ml_meta", "ALTER TABLE real_meta RENAME TO ml_meta"]),
        # a database with sqlml's tables but no key and no models: creating a key is right
        Case("meta/fresh-tables-control", "ml_meta", sql("DELETE FROM ml_meta", "DELETE FROM ml_models", "DELETE FROM ml_training_log"),
             [step("SELECT ml_unlock(?)", Ok("key created"), [PASS], unlock=True),
              step("SELECT json_extract(ml_train('fresh', 'text', 'msgs', 'label'), '$.version')", Ok(1)),
              step("SELECT ml_predict('fresh', 'win free prize')", Ok("spam"))],
             damaged=MODELS, meta_may_change=lambda rs: True, models_may_change={m: "any" for m in MODELS}),
    ]
    return cases


ENVELOPE = [
    # (id, mutation, what the error must say)
    ("magic", patch_blob(0, ord("X")), "cannot decrypt"),
    ("version-0", patch_blob(4, 0), "cannot decrypt"),
    ("version-2", patch_blob(4, 2), "upgrade"),
    ("version-255", patch_blob(4, 255), "upgrade"),
    ("aead-id-0", patch_blob(5, 0), "cannot decrypt"),
    ("aead-id-2", patch_blob(5, 2), "cannot decrypt"),
    ("kdf-id-0", patch_blob(6, 0), "cannot decrypt"),
    ("kdf-id-2", patch_blob(6, 2), "cannot decrypt"),
    ("codec-id-0", patch_blob(7, 0), "cannot decrypt"),
    ("codec-id-2", patch_blob(7, 2), "cannot decrypt"),
    ("reserved", patch_blob(8, 1), "cannot decrypt"),
    ("salt", patch_blob(25, None), "cannot decrypt"),
    ("nonce", patch_blob(40, None), "cannot decrypt"),
    ("ciphertext", patch_blob(70, None), "cannot decrypt"),
    ("tag", patch_blob(-1, None), "cannot decrypt"),
    ("truncated-4", set_blob("substr(model, 1, 4)"), "cannot decrypt"),
    ("truncated-header", set_blob("substr(model, 1, 59)"), "cannot decrypt"),
    ("truncated-75", set_blob("substr(model, 1, 75)"), "cannot decrypt"),
    ("truncated-half", set_blob("substr(model, 1, length(model) / 2)"), "cannot decrypt"),
    ("appended-byte", set_blob("model || x'00'"), "cannot decrypt"),
    ("empty-blob", set_blob("x''"), "cannot decrypt"),
    ("text-same-bytes", set_blob("CAST(model AS TEXT)"), None),
    ("text", set_blob("'hello'"), "cannot decrypt"),
    ("integer", set_blob("42"), "cannot decrypt"),
    ("real", set_blob("1.5"), "cannot decrypt"),
    ("null", lambda db: model_not_null_removed(db) or db.execute(
        "UPDATE ml_models SET model = NULL WHERE name = 'txt' AND active = 1"), "cannot decrypt"),
    ("zeroblob-100MB", set_blob("zeroblob(100000000)"), "cannot decrypt"),
    ("other-models-blob", set_blob("(SELECT model FROM ml_models WHERE name = 'clf')"), "cannot decrypt"),
    ("older-version-blob", set_blob("(SELECT model FROM ml_models WHERE name = 'txt' AND version = 1)"), "cannot decrypt"),
]


def envelope_cases():
    cases = []
    for id, mutate, says in ENVELOPE:
        if says is None:  # the same bytes as text: decrypting them is right too
            steps = [step("SELECT ml_unlock(?)", Ok("unlocked"), [PASS], unlock=True),
                     step("SELECT ml_predict('txt', 'free prize')", OkOr(Err("ml_predict:", "cannot decrypt"))),
                     step(CHECKS["clf"], Ok()), step("SELECT ml_rekey(?)", OkOr(Err("ml_rekey:", "txt")), [NEW_PASS]),
                     step(CHECKS["rec"], Ok())]
            cases.append(Case("envelope/" + id, "envelope", mutate, steps, damaged=["txt"], models_may_change=["txt"],
                              modes=("unlock",)))
            continue
        steps = [
            step("SELECT ml_unlock(?)", Ok("unlocked"), [PASS], unlock=True),
            step("SELECT ml_predict('txt', 'free prize')", Err("ml_predict:", says)),
            step("SELECT * FROM ml_top_tokens('txt', 3)", Err("ml_top_tokens:", says)),
            step("SELECT ml_evaluate('txt', 'msgs')", Err("ml_evaluate:", says)),
            step(CHECKS["clf"], Ok()),
            step("SELECT ml_rekey(?)", Err("ml_rekey:", "txt"), [NEW_PASS]),
            step(CHECKS["rec"], Ok()),
            step("SELECT json_extract(ml_train('txt', 'text', 'msgs', 'label'), '$.version')", Ok(3)),
            step("SELECT ml_predict('txt', 'win free prize')", Ok("spam")),
        ]
        cases.append(Case("envelope/" + id, "envelope", mutate, steps, damaged=["txt"], models_may_change=["txt"],
                          modes=("unlock",)))
    return cases


def rows_cases():
    train_new = step("SELECT json_extract(ml_train('fresh', 'text', 'msgs', 'label'), '$.version')", Ok(1))
    unlock = step("SELECT ml_unlock(?)", Ok("unlocked"), [PASS], unlock=True)
    c = []

    def case(id, mutate, steps, damaged=(), **kw):
        c.append(Case("rows/" + id, "ml_models rows", mutate, [unlock] + steps, damaged=damaged, modes=("unlock",), **kw))

    case("version-text", sql("UPDATE ml_models SET version = 'one' WHERE name = 'clf'"),
         [step(CHECKS["clf"], Err("ml_predict_proba:")), step(CHECKS["rec"], Ok()), train_new,
          step("SELECT ml_train('clf', 'classifier', 'cust', 'churned', '{\"epochs\": 1}')", OkOr(Err("ml_train:")))],
         damaged=["clf"], models_may_change=["clf"])
    case("version-real", sql("UPDATE ml_models SET version = 1.5 WHERE name = 'clf'"),
         [step(CHECKS["clf"], Err("ml_predict_proba:")), step(CHECKS["rec"], Ok()), train_new,
          step("SELECT ml_train('clf', 'classifier', 'cust', 'churned', '{\"epochs\": 1}')", OkOr(Err("ml_train:")))],
         damaged=["clf"], models_may_change=["clf"])
    case("version-max", sql("UPDATE ml_models SET version = 9223372036854775807 WHERE name = 'clf'"),
         [step(CHECKS["clf"], Err("ml_predict_proba:")),
          step("SELECT ml_train('clf', 'classifier', 'cust', 'churned', '{\"epochs\": 1}')", Err("ml_train:")),
          step(CHECKS["rec"], Ok())],
         damaged=["clf"])
    case("active-2", sql("PRAGMA ignore_check_constraints = 1", "UPDATE ml_models SET active = 2 WHERE name = 'rec'"),
         [step(CHECKS["rec"], OkOr(Err("ml_predict:", "rec"))), step(CHECKS["clf"], Ok()), train_new],
         damaged=["rec"], models_may_change=["rec"])
    case("two-active-versions", sql("UPDATE ml_models SET active = 1 WHERE name = 'txt'"),
         [step(CHECKS["txt"], OkOr(Err("ml_predict:", "txt"))), step(CHECKS["clf"], Ok()),
          step("SELECT ml_activate('txt', 2)", OkOr(Err("ml_activate:")))],
         models_may_change=["txt"])
    case("kind-unknown", sql("UPDATE ml_models SET kind = 'regressor' WHERE name = 'clf'"),
         [step(CHECKS["clf"], Err("ml_predict_proba:", "clf")), step(CHECKS["rec"], Ok()), train_new],
         damaged=["clf"])
    case("kind-of-other-model", sql("UPDATE ml_models SET kind = 'text' WHERE name = 'clf'"),
         [step(CHECKS["clf"], Err("ml_predict_proba:", "cannot decrypt")), step(CHECKS["rec"], Ok())], damaged=["clf"])
    case("names-swapped", sql("UPDATE ml_models SET name = 'tmp' WHERE name = 'clf'", "UPDATE ml_models SET name = 'clf' WHERE name = 'rec'",
             "UPDATE ml_models SET name = 'rec' WHERE name = 'tmp'"),
         [step(CHECKS["clf"], Err("ml_predict_proba:", "cannot decrypt")),
          step("SELECT ml_predict('rec', 1, 2)", Err("ml_predict:", "cannot decrypt")), step(CHECKS["txt"], Ok())],
         damaged=["clf", "rec"])
    case("duplicate-name-version",
         lambda db: recreate_table(db, "ml_models", lambda s, cols: (re.sub(r",\s*UNIQUE\s*\(name,\s*version\)", "", s), cols))
         or db.execute("INSERT INTO ml_models(name, version, kind, algorithm, created_at, rows, params, metrics, active, size, model) "
                       "SELECT 'txt', 2, kind, algorithm, created_at, rows, params, metrics, 1, size, model FROM ml_models WHERE name = 'clf'"),
         [step(CHECKS["txt"], OkOr(Err("ml_predict:", "txt"))), step(CHECKS["clf"], Ok()),
          step("SELECT ml_rekey(?)", Err("ml_rekey:"), [NEW_PASS])],
         models_may_change={"txt": "any"}, schema_may_change=True)
    case("size-huge", sql("UPDATE ml_models SET size = 4611686018427387904 WHERE name = 'clf'"),
         [step(CHECKS["clf"], OkOr(Err("ml_predict_proba:", "clf"))), step(CHECKS["rec"], Ok()), train_new])
    case("size-negative", sql("UPDATE ml_models SET size = -1, rows = -5 WHERE name = 'clf'"),
         [step(CHECKS["clf"], OkOr(Err("ml_predict_proba:", "clf"))), step(CHECKS["rec"], Ok()), train_new])
    case("params-metrics-not-json", sql("UPDATE ml_models SET params = '{', metrics = x'ff' WHERE name = 'clf'"),
         [step(CHECKS["clf"], OkOr(Err("ml_predict_proba:", "clf"))), step(CHECKS["rec"], Ok()), train_new])
    case("id-max", sql("UPDATE ml_models SET id = 9223372036854775807 WHERE name = 'rec'"),
         [step(CHECKS["rec"], Ok()), step("SELECT ml_train('fresh', 'text', 'msgs', 'label')", Err("ml_train:")),
          step(CHECKS["clf"], Ok())])
    case("sqlite_sequence-tampered", sql("UPDATE sqlite_sequence SET seq = -5 WHERE name = 'ml_models'"),
         [step(CHECKS["rec"], Ok()), train_new, step("SELECT ml_predict('fresh', 'win free prize')", Ok("spam")),
          step(CHECKS["clf"], Ok())])
    return c


def trigger_cases():
    unlock = step("SELECT ml_unlock(?)", Ok("unlocked"), [PASS], unlock=True)
    train = "SELECT ml_train('fresh', 'classifier', 'cust', 'churned', '{\"epochs\": 2}')"
    c = []

    def case(id, mutate, steps, **kw):
        first = unlock
        if "view" in id:  # refusing to unlock a database whose sqlml table is a view is right too
            first = step("SELECT ml_unlock(?)", OkOr(Err("ml_unlock:", "ml_models", "ml_meta")), [PASS], unlock=True)
        c.append(Case("tables/" + id, "triggers and views on sqlml's tables", mutate, [first] + steps, **kw))

    def written_or_refused(trigger, train_idx, predict_idx):
        """ml_train either refuses naming the trigger, or its model is really there."""
        def check(results):
            t, p = results[train_idx], results[predict_idx]
            if t["ok"] and not p["ok"]:
                return "ml_train reported success but its model is not there: %s" % p["error"][:200]
            if not t["ok"] and trigger not in t["error"]:
                return "ml_train failed without naming the trigger %r: %s" % (trigger, t["error"][:200])
            return None
        return check

    case("models-before-insert-raise-ignore",
         sql("CREATE TRIGGER sink BEFORE INSERT ON ml_models BEGIN SELECT RAISE(IGNORE); END"),
         [step(train, ANY), step("SELECT ml_predict('fresh', 10.0, 'plus', 50.25)", ANY), step(CHECKS["txt"], Ok()),
          step(CHECKS["rec"], Ok())],
         cleanup=["DROP TRIGGER sink"], check=written_or_refused("sink", 1, 2))
    # the case: the victim's connection last inserted a row whose id is a model's id
    # (here a row of its own table), and the ignored insert makes the blob land in that model
    case("models-before-insert-raise-ignore-after-app-insert",
         sql("CREATE TRIGGER sink BEFORE INSERT ON ml_models WHEN new.name = 'fresh' BEGIN SELECT RAISE(IGNORE); END"),
         [step("INSERT OR REPLACE INTO msgs(id, body, label) VALUES (2, 'see you at lunch', 'ham')", Ok()),
          step("SELECT ml_train('fresh', 'text', 'SELECT body, label FROM msgs LIMIT 6', 'label', '{\"test_size\": 0}')", ANY),
          step("SELECT ml_predict('fresh', 'free prize')", ANY),
          step(CHECKS["txt"], Ok()), step(CHECKS["clf"], Ok())],
         cleanup=["DROP TRIGGER sink"], check=written_or_refused("sink", 2, 3))
    case("models-after-insert-deletes-other",
         sql("CREATE TRIGGER wipe AFTER INSERT ON ml_models BEGIN DELETE FROM ml_models WHERE name = 'clf'; END"),
         [step(train, Err("ml_train:", "wipe")), step(CHECKS["clf"], Ok())], cleanup=["DROP TRIGGER wipe"])
    case("models-after-insert-overwrites-other",
         sql("CREATE TRIGGER smash AFTER INSERT ON ml_models BEGIN UPDATE ml_models SET model = zeroblob(100) WHERE name = 'rec'; END"),
         [step(train, Err("ml_train:", "smash")), step(CHECKS["rec"], Ok())], cleanup=["DROP TRIGGER smash"])
    case("models-after-update-destroys-other",
         sql("CREATE TRIGGER smash AFTER UPDATE ON ml_models BEGIN UPDATE ml_models SET model = zeroblob(10) WHERE name = 'rec'; END"),
         [step("SELECT ml_activate('txt', 1)", Err("ml_activate:", "smash")), step(CHECKS["rec"], Ok())],
         cleanup=["DROP TRIGGER smash"], models_may_change=["txt"])
    case("models-before-delete-raise-ignore",
         sql("CREATE TRIGGER keep BEFORE DELETE ON ml_models BEGIN SELECT RAISE(IGNORE); END"),
         [step("SELECT ml_drop('clf')", ANY), step(CHECKS["clf"], ANY)],
         cleanup=["DROP TRIGGER keep"], models_may_change={"clf": "any"}, damaged=["clf"],
         check=lambda rs: ("ml_drop reported %r but the model is still there" % rs[1]["value"]
                           if rs[1]["ok"] and rs[2]["ok"] else
                           None if rs[1]["ok"] or "keep" in rs[1]["error"] else
                           "ml_drop failed without naming the trigger: %s" % rs[1]["error"][:200]))
    case("models-update-trigger-on-rekey",
         sql("CREATE TRIGGER undo AFTER UPDATE OF model ON ml_models BEGIN UPDATE ml_models SET model = old.model WHERE id = old.id; END"),
         [step("SELECT ml_rekey(?)", Err("ml_rekey:", "undo"), [NEW_PASS]), step(CHECKS["clf"], Ok())],
         cleanup=["DROP TRIGGER undo"])
    case("meta-before-insert-raise-ignore-on-rekey",
         sql("CREATE TRIGGER sink BEFORE INSERT ON ml_meta BEGIN SELECT RAISE(IGNORE); END"),
         [step("SELECT ml_rekey(?)", Err("ml_rekey:", "sink"), [NEW_PASS]), step(CHECKS["clf"], Ok())],
         cleanup=["DROP TRIGGER sink"])
    case("meta-after-insert-restores-old-salt",
         lambda db: db.execute("CREATE TABLE saved AS SELECT * FROM ml_meta") and db.execute(
             "CREATE TRIGGER back AFTER INSERT ON ml_meta BEGIN UPDATE ml_meta SET value = (SELECT value FROM saved WHERE key = 'kdf_salt') WHERE key = 'kdf_salt'; END"),
         [step("SELECT ml_rekey(?)", Err("ml_rekey:", "back"), [NEW_PASS]), step(CHECKS["clf"], Ok())],
         cleanup=["DROP TRIGGER back"])
    case("log-after-insert-deletes-models",
         sql("CREATE TRIGGER wipe AFTER INSERT ON ml_training_log BEGIN DELETE FROM ml_models WHERE name = 'rec'; END"),
         [step(train, Err("ml_train:", "wipe")), step(CHECKS["rec"], Ok())], cleanup=["DROP TRIGGER wipe"])
    case("log-before-insert-raise-ignore",
         sql("CREATE TRIGGER sink BEFORE INSERT ON ml_training_log BEGIN SELECT RAISE(IGNORE); END"),
         [step(train, OkOr(Err("ml_train:", "sink"))), step(CHECKS["clf"], Ok())], cleanup=["DROP TRIGGER sink"])
    case("log-table-dropped", sql("DROP TABLE ml_training_log"),
         [step(train, OkOr(Err("ml_train:", "ml_training_log"))), step(CHECKS["clf"], Ok())], schema_may_change=True)
    case("models-is-a-view",
         sql("ALTER TABLE ml_models RENAME TO real_models", "CREATE VIEW ml_models AS SELECT * FROM real_models"),
         [step(CHECKS["clf"], OkOr(Err("ml_predict_proba:", "ml_models"))),
          step(train, Err("ml_train:", "ml_models")), step("SELECT ml_rekey(?)", Err("ml_rekey:", "ml_models"), [NEW_PASS])],
         cleanup=["DROP VIEW ml_models", "ALTER TABLE real_models RENAME TO ml_models"])
    case("models-view-instead-of-renames",
         sql("ALTER TABLE ml_models RENAME TO real_models", "CREATE VIEW ml_models AS SELECT * FROM real_models",
             "CREATE TRIGGER divert INSTEAD OF INSERT ON ml_models BEGIN INSERT INTO real_models(name, version, kind, algorithm, "
             "created_at, rows, params, metrics, active, size, model) VALUES ('clf', 99, new.kind, new.algorithm, new.created_at, "
             "new.rows, new.params, new.metrics, 0, new.size, new.model); END"),
         [step(train, Err("ml_train:", "ml_models", "divert")), step(CHECKS["clf"], OkOr(Err("ml_predict_proba:", "ml_models")))],
         cleanup=["DROP VIEW ml_models", "ALTER TABLE real_models RENAME TO ml_models"])
    case("models-extra-column",
         lambda db: recreate_table(db, "ml_models", lambda s, cols: (
             re.sub(r"(id\s+INTEGER PRIMARY KEY AUTOINCREMENT,)", r"\1 note TEXT DEFAULT 'x',", s), cols)),
         [step(CHECKS["clf"], OkOr(Err("ml_predict_proba:", "ml_models"))), step(train, OkOr(Err("ml_train:", "ml_models")))],
         schema_may_change=True)
    case("models-missing-size-column",
         lambda db: recreate_table(db, "ml_models", lambda s, cols: (re.sub(r"\n?\s*size\s+INTEGER NOT NULL,", "", s), [x for x in cols if x != "size"])),
         [step(CHECKS["clf"], OkOr(Err("ml_predict_proba:", "ml_models"))), step(train, Err("ml_train:", "ml_models", "size"))],
         schema_may_change=True)
    case("models-name-nocase",
         lambda db: recreate_table(db, "ml_models", lambda s, cols: (re.sub(r"name\s+TEXT NOT NULL", "name TEXT NOT NULL COLLATE NOCASE", s), cols)),
         [step("SELECT json_extract(ml_train('TXT', 'text', 'msgs', 'label'), '$.version')", OkOr(Err("ml_train:", "ml_models", "collat"))),
          step("SELECT ml_drop('CLF')", Err("ml_drop:")),
          step(CHECKS["txt"], OkOr(Err("ml_predict:", "ml_models", "collat"))),
          step(CHECKS["clf"], OkOr(Err("ml_predict_proba:", "ml_models", "collat")))],
         schema_may_change=True)
    case("models-name-rtrim",
         lambda db: recreate_table(db, "ml_models", lambda s, cols: (re.sub(r"name\s+TEXT NOT NULL", "name TEXT NOT NULL COLLATE RTRIM", s), cols)),
         [step("SELECT ml_drop('clf  ')", Err("ml_drop:")),
          step(CHECKS["clf"], OkOr(Err("ml_predict_proba:", "ml_models", "collat")))],
         schema_may_change=True)
    case("models-unique-index-on-name",
         sql("DELETE FROM ml_models WHERE name = 'txt' AND version = 1", "CREATE UNIQUE INDEX one_version ON ml_models(name)"),
         [step("SELECT ml_train('clf', 'classifier', 'cust', 'churned', '{\"epochs\": 1}')", Err("ml_train:")),
          step(CHECKS["clf"], Ok())],
         schema_may_change=False)
    c.append(Case("tables/meta-value-text-affinity-fresh", "triggers and views on sqlml's tables",
         sql("DELETE FROM ml_models", "DELETE FROM ml_training_log", "DROP TABLE ml_meta",
             "CREATE TABLE ml_meta(key TEXT PRIMARY KEY, value TEXT)"),
         [step("SELECT ml_unlock(?)", OkOr(Err("ml_unlock:", "ml_meta")), [PASS], unlock=True),
          step("SELECT json_extract(ml_train('fresh', 'text', 'msgs', 'label'), '$.version')", OkOr(Err("ml_train:", "ml_meta", "no key"))),
          step(RECONNECT, ANY), step("SELECT ml_unlock(?)", OkOr(Err("ml_unlock:", "ml_meta")), [PASS], unlock=True),
          step("SELECT ml_predict('fresh', 'win free prize')", ANY)],
         damaged=MODELS, models_may_change={m: "any" for m in MODELS}, meta_may_change=lambda rs: True,
         check=lambda rs: ("ml_train reported success but a new connection cannot use the model: %s"
                           % rs[4].get("error", "")[:200] if rs[1]["ok"] and not rs[4]["ok"] else None)))
    def attach_hostile(db):
        """main: a database without sqlml's tables; aux.db (attached by the victim): the good one."""
        main_path = db.execute("PRAGMA database_list").fetchone()[2]
        db.execute("VACUUM INTO ?", (os.path.join(os.path.dirname(main_path), "aux.db"),))
        for t in ("ml_models", "ml_meta", "ml_training_log"):
            db.execute("DROP TABLE %s" % t)

    c.append(Case("tables/sqlml-tables-only-in-attached-db", "triggers and views on sqlml's tables", attach_hostile, [
        step("ATTACH 'aux.db' AS aux", Ok()),
        step("SELECT ml_unlock(?)", OkOr(Err("ml_unlock:", "aux")), [PASS], unlock=True),
        step("SELECT ml_predict('txt', 'free prize')", Err("ml_predict:", "txt")),
        step("SELECT ml_drop('clf')", Err("ml_drop:", "clf")),
        step("SELECT json_extract(ml_train('fresh', 'text', 'msgs', 'label'), '$.version')", OkOr(Err("ml_train:", "aux"))),
        step("SELECT (SELECT count(*) FROM aux.ml_models) || ' ' || (SELECT count(*) FROM aux.ml_meta) || ' ' || "
             "(SELECT count(*) FROM sqlite_schema WHERE name = 'ml_models')", ANY),
    ], damaged=MODELS, models_may_change={m: "any" for m in MODELS}, meta_may_change=lambda rs: True, schema_may_change=True,
        check=lambda rs: None if rs[5]["ok"] and rs[5]["value"] in ("4 8 1", "4 8 0") else
        "the attached database's sqlml tables changed, or the key went there: %r" % (rs[5].get("value") or rs[5].get("error"))))
    case("models-columns-swapped",
         lambda db: recreate_table(db, "ml_models", lambda s, cols: (
             "CREATE TABLE ml_models(id INTEGER PRIMARY KEY AUTOINCREMENT, model BLOB, name TEXT, version INTEGER, kind TEXT, "
             "algorithm TEXT, created_at TEXT, rows INTEGER, params TEXT, metrics TEXT, active INTEGER, size INTEGER)", cols)),
         [step(CHECKS["clf"], OkOr(Err("ml_predict_proba:", "ml_models"))), step(train, OkOr(Err("ml_train:", "ml_models")))],
         schema_may_change=True)
    return c


# Schema places: (id, DDL with the call as CALL, what the victim does that reaches it)
PLACES = [
    ("view", ["CREATE VIEW v AS SELECT CALL AS x"], "SELECT * FROM v"),
    ("trigger", ["CREATE TABLE t(a)", "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT CALL; END"],
     "INSERT INTO t VALUES ('free prize')"),
    ("check", ["CREATE TABLE t(a, CHECK (typeof(CALL) IS NOT NULL))"], "INSERT INTO t VALUES ('free prize')"),
    ("default", ["CREATE TABLE t(a, b DEFAULT (CALL))"], "INSERT INTO t(a) VALUES ('free prize')"),
    ("generated-virtual", ["CREATE TABLE t(a, b AS (CALL))"], "INSERT INTO t(a) VALUES ('free prize')",
     "SELECT b FROM t"),
    ("generated-stored", ["CREATE TABLE t(a, b AS (CALL) STORED)"], "INSERT INTO t(a) VALUES ('free prize')"),
    ("index-expression", ["CREATE TABLE t(a)", "CREATE INDEX ti ON t(CALL)"], "INSERT INTO t VALUES ('free prize')"),
    ("partial-index-where", ["CREATE TABLE t(a)", "CREATE INDEX ti ON t(a) WHERE CALL IS NOT NULL"],
     "INSERT INTO t VALUES ('free prize')"),
]
CALLS = [
    ("ml_predict", "ml_predict('txt', 'free prize')", "coalesce('txt', 'free prize')"),
    ("ml_train", "ml_train('pwn', 'text', 'msgs', 'label')", "coalesce('pwn', 'text', 'msgs', 'label')"),
    ("ml_drop", "ml_drop('clf')", "lower('clf')"),
    ("ml_unlock", "ml_unlock('%s')" % ATTACKER, "lower('%s')" % ATTACKER),
    ("ml_rekey", "ml_rekey('%s')" % ATTACKER, "upper('%s')" % ATTACKER),
    ("ml_activate", "ml_activate('txt', 1)", "coalesce('txt', 1)"),
    ("ml_evaluate", "ml_evaluate('txt', 'msgs')", "coalesce('txt', 'msgs')"),
]
# The victim's own statement names the function (in a string, a comment, or a call of its own):
# the CHECK of the table it writes must still not run the function with the victim's key.
MENTIONS = [
    ("literal", "INSERT INTO t VALUES ('nightly FN of old versions')"),
    ("comment", "INSERT INTO t VALUES ('free prize') -- FN"),
]


def place_mutation(ddl, call, placeholder):
    def m(db):
        for d in ddl:
            db.execute(d.replace("CALL", placeholder))
        for name, in db.execute("SELECT name FROM sqlite_schema WHERE sql LIKE ?", ("%" + placeholder + "%",)).fetchall():
            rewrite_schema(db, name, re.escape(placeholder), call.replace("\\", "\\\\"))
    return m


def schema_cases():
    cases = []
    refused = Err("", regex=REFUSED)
    for place in PLACES:
        pid, ddl, action = place[0], place[1], place[2]
        more = place[3:] if len(place) > 3 else ()
        objects = [re.search(r"CREATE (?:VIEW|TABLE|TRIGGER|INDEX) (\w+)", d).group(1) for d in ddl]
        cleanup = ["PRAGMA writable_schema = ON"] + ["DELETE FROM sqlite_schema WHERE name = '%s'" % o for o in objects]
        for fn, call, placeholder in CALLS:
            steps = [step("SELECT ml_unlock(?)", OkOr(refused, "unlocked"), [PASS], unlock=True),
                     step(action, refused)] + [step(q, OkOr(refused)) for q in more]
            steps.append(step(CHECKS["clf"], OkOr(refused)))
            cases.append(Case("schema/%s/%s" % (pid, fn), "schema places", place_mutation(ddl, call, placeholder), steps,
                              cleanup=cleanup, schema_may_change=False))
        if pid in ("view", "trigger"):
            tv = "(SELECT group_concat(item) FROM ml_recommend('rec', 1, 3))"
            steps = [step("SELECT ml_unlock(?)", OkOr(refused, "unlocked"), [PASS], unlock=True), step(action, refused),
                     step(CHECKS["clf"], OkOr(refused))]
            cases.append(Case("schema/%s/ml_recommend" % pid, "schema places", place_mutation(ddl, tv, "(SELECT 'tvf-placeholder')"),
                              steps, cleanup=cleanup))
    # the victim's statement names the function: SQLite 3.40.1 does not stop a CHECK, and the
    # extension must not take the mention for a call from the application
    check_ddl = ["CREATE TABLE t(a, CHECK (typeof(CALL) IS NOT NULL))"]
    cleanup = ["PRAGMA writable_schema = ON", "DELETE FROM sqlite_schema WHERE name = 't'"]
    for fn, call, placeholder in CALLS:
        victims = [(mid, v.replace("FN", fn)) for mid, v in MENTIONS]
        if fn == "ml_predict":
            victims.append(("same-statement", "INSERT INTO t SELECT ml_predict('clf', 10.0, 'plus', 50.25)"))
        for mid, victim in victims:
            # A statement that itself calls the function cannot be told apart from the CHECK's
            # call by its text: the README states this residual case. What must hold there is
            # that nothing is lost (checked for every case); refusal is not required.
            expect = OkOr(refused) if mid == "same-statement" else refused
            steps = [step("SELECT ml_unlock(?)", Ok("unlocked"), [PASS], unlock=True), step(victim, expect),
                     step(CHECKS["clf"], Ok())]
            cases.append(Case("schema/check-mentioned-%s/%s" % (mid, fn), "schema places, name mentioned by the victim",
                              place_mutation(check_ddl, call, placeholder), steps, cleanup=cleanup, modes=("unlock",)))
    return cases


CASES = meta_cases() + envelope_cases() + rows_cases() + trigger_cases() + schema_cases()
BY_ID = {c.id: c for c in CASES}


# --------------------------------------------------------------------------------------------
# The victim (a subprocess)
# --------------------------------------------------------------------------------------------


def snapshot(path):
    """What must not be lost: rows of ml_models and ml_meta, and the schema (plain sqlite3)."""
    db = sqlite3.connect(path)
    out = {"models": {}, "meta": [], "schema": []}
    try:
        out["schema"] = sorted([list(r) for r in db.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_schema")])
        try:
            for row in db.execute("SELECT id, name, version, kind, active, model FROM ml_models"):
                m = row[5]
                out["models"][str(row[0])] = [row[1], row[2], row[3], row[4],
                                              (m.hex() if isinstance(m, bytes) else repr(m))[:20000000]]
        except sqlite3.Error as e:
            out["models_error"] = str(e)
        try:
            out["meta"] = sorted([[r[0], r[1].hex() if isinstance(r[1], bytes) else r[1]]
                                  for r in db.execute("SELECT key, value FROM ml_meta")], key=repr)
        except sqlite3.Error as e:
            out["meta_error"] = str(e)
    finally:
        db.close()
    return out


def run_steps(db, steps, mode, path=None):
    results = []
    for s in steps:
        if s["unlock"] and mode == "env":
            results.append({"sql": s["sql"], "skipped": True, "ok": True, "value": None})
            continue
        if s["sql"] == RECONNECT:  # a new connection, as the next run of the application
            db.close()
            db = _connect(path)
            results.append({"sql": s["sql"], "ok": True, "value": None})
            continue
        r = {"sql": s["sql"]}
        try:
            rows = db.execute(s["sql"], s["params"]).fetchall()
            r["ok"] = True
            v = rows[0][0] if rows and len(rows[0]) == 1 else rows
            if isinstance(v, bytes):
                v = v.hex()
            r["value"] = v if len(repr(v)) < 2000 else repr(v)[:2000]
        except Exception as e:  # noqa: BLE001
            r["ok"], r["error"], r["type"] = False, str(e)[:4000], type(e).__name__
        if db.in_transaction:
            r["left_transaction_open"] = True
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        results.append(r)
    db.close()
    return results


def victim(spec_path):
    """Runs one case on its file: victim steps, snapshots, then the check of the models."""
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (MEM_CAP, MEM_CAP))
    with open(spec_path) as f:
        spec = json.load(f)
    path = spec["path"]
    out = {"before": snapshot(path)}
    print("phase victim", flush=True)
    db = _connect(path)
    out["results"] = run_steps(db, spec["steps"], spec["mode"], path)
    out["after"] = snapshot(path)
    # the check: a copy without the hostile objects and with the original key record
    print("phase verify", flush=True)
    vpath = path + ".verify.db"
    shutil.copyfile(path, vpath)
    plain = sqlite3.connect(vpath, isolation_level=None)
    for q in spec["cleanup"]:
        plain.execute(q)
    if spec["restore_meta"]:
        plain.execute("DROP TABLE IF EXISTS ml_meta")
        plain.execute("DROP VIEW IF EXISTS ml_meta")
        plain.execute("CREATE TABLE ml_meta(key TEXT PRIMARY KEY, value ANY) WITHOUT ROWID")
        for k, v in spec["base_meta"]:
            plain.execute("INSERT INTO ml_meta VALUES (?, ?)", (k, bytes.fromhex(v) if k in ("kdf_salt", "key_check", "db_id") else v))
    plain.execute("PRAGMA writable_schema = OFF") if spec["cleanup"] else None
    plain.close()
    os.environ.pop("SQLML_KEY", None)
    answers = {}
    if not spec["verify"]:
        out["verify"] = {}
        print("RESULT " + json.dumps(out), flush=True)
        return 0
    try:
        db = _connect(vpath)
        try:
            db.execute("SELECT ml_unlock(?)", (spec["verify_pass"],))
        except sqlite3.OperationalError:
            # after an ml_rekey the victim believed in, the new passphrase is the right one
            db.execute("SELECT ml_unlock(?)", (NEW_PASS,))
            out["verify_pass"] = "new"
        for m in spec["verify"]:
            try:
                answers[m] = list(db.execute(CHECKS[m]).fetchone())
            except Exception as e:  # noqa: BLE001
                answers[m] = "error: %s" % str(e)[:500]
        db.close()
    except Exception as e:  # noqa: BLE001
        answers = {"unlock": "error: %s" % str(e)[:500]}
    out["verify"] = answers
    print("RESULT " + json.dumps(out), flush=True)
    return 0


# --------------------------------------------------------------------------------------------
# Running a case and judging it
# --------------------------------------------------------------------------------------------


def run_case(case, mode, workdir=None):
    """Returns (passed, short outcome, details)."""
    base_path, facts = base()
    d = tempfile.mkdtemp(prefix="case-", dir=workdir or _BASE["dir"])
    try:
        path = os.path.join(d, "hostile.db")
        shutil.copyfile(base_path, path)
        db = sqlite3.connect(path, isolation_level=None)
        try:
            case.mutate(db)
        except Exception as e:  # noqa: BLE001 (a broken case must say so, not stop the table)
            return False, "ERROR: the mutation failed: %s: %s" % (type(e).__name__, e), ""
        finally:
            db.close()
        steps = [{"sql": s["sql"], "params": s["params"], "unlock": s["unlock"]} for s in case.steps]
        # first pass on the results tells the verify passphrase; start with the victim's
        spec = {"path": path, "mode": mode, "steps": steps, "cleanup": case.cleanup, "restore_meta": case.restore_meta,
                "base_meta": [[k, v.hex() if isinstance(v, bytes) else v] for k, v in facts["meta"]],
                "verify": [m for m in MODELS if m not in case.damaged], "verify_pass": PASS}
        if case.verify_pass:
            spec["verify_pass"] = case.verify_pass
        spec_path = os.path.join(d, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        env = dict(os.environ, SQLML_EXT=EXT)
        env.pop("SQLML_KEY", None)
        if mode == "env":
            env["SQLML_KEY"] = PASS
        try:
            code = "import sys; sys.path.insert(0, %r); import test_hostile_files as t; sys.exit(t.victim(%r))" % (HERE, spec_path)
            r = subprocess.run([_python(), "-c", code], capture_output=True,
                               text=True, timeout=TIMEOUT, env=env, cwd=d)
        except subprocess.TimeoutExpired as e:
            phase = (e.stdout or b"")
            phase = phase.decode() if isinstance(phase, bytes) else phase
            last = [line for line in phase.splitlines() if line.startswith("phase")]
            return False, "HANG (> %d s, %s)" % (TIMEOUT, last[-1] if last else "start"), ""
        result_lines = [line for line in r.stdout.splitlines() if line.startswith("RESULT ")]
        if r.returncode != 0 or not result_lines:
            phases = [line for line in r.stdout.splitlines() if line.startswith("phase")]
            sig = -r.returncode
            what = "CRASH (signal %d %s)" % (sig, _signame(sig)) if r.returncode < 0 else "exit %d" % r.returncode
            return False, "%s in %s" % (what, phases[-1] if phases else "start"), r.stderr[-1500:]
        out = json.loads(result_lines[-1][7:])
        return judge(case, mode, out, facts)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _signame(n):
    import signal
    try:
        return signal.Signals(n).name
    except ValueError:
        return ""


def judge(case, mode, out, facts):
    problems = []
    results = out["results"]
    for i, (s, r) in enumerate(zip(case.steps, results)):
        if r.get("skipped"):
            continue
        exp = s.get("env_expect") if mode == "env" and s.get("env_expect") else s["expect"]
        p = exp.problem(r)
        if p:
            problems.append("step %d `%s`: %s" % (i + 1, _short(s["sql"]), p))
        if r.get("left_transaction_open"):
            problems.append("step %d `%s`: left a transaction open" % (i + 1, _short(s["sql"])))
    if case.check:
        try:
            p = case.check(results)
        except Exception as e:  # noqa: BLE001
            p = "the case's own check failed: %s: %s" % (type(e).__name__, e)
        if p:
            problems.append(p)
    before, after = out["before"], out["after"]
    # an ml_rekey that succeeded re-encrypts every model and rewrites the key record: that is
    # checked by decrypting (with the new passphrase), not by comparing bytes
    rekeyed = any(r.get("ok") and not r.get("skipped") and "ml_rekey" in r["sql"] for r in results)
    lost = []
    for id_, row in before["models"].items():
        may = "active" if rekeyed else case.models_may_change.get(row[0])
        if rekeyed:
            row = row[:4]
            after_row = after["models"].get(id_)
            if after_row is not None and after_row[:4] != row:
                lost.append("model %s v%s (id %s) changed" % (row[0], row[1], id_))
            elif after_row is None:
                lost.append("model %s v%s (id %s) deleted" % (row[0], row[1], id_))
            continue
        if may == "any":
            continue
        if id_ not in after["models"]:
            lost.append("model %s v%s (id %s) deleted" % (row[0], row[1], id_))
        else:
            new = after["models"][id_]
            if may == "active":
                new, row = new[:3] + new[4:], row[:3] + row[4:]
            if new != row:
                lost.append("model %s v%s (id %s) changed" % (row[0], row[1], id_))
    meta_ok = rekeyed or (case.meta_may_change(results) if case.meta_may_change else False)
    if not meta_ok and before["meta"] != after["meta"]:
        lost.append("ml_meta rewritten")
    if not case.schema_may_change and before["schema"] != after["schema"]:
        added = {tuple(x) for x in after["schema"]} - {tuple(x) for x in before["schema"]}
        removed = {tuple(x) for x in before["schema"]} - {tuple(x) for x in after["schema"]}
        lost.append("schema changed (added %s, removed %s)" % (sorted(n for _, n, _ in added), sorted(n for _, n, _ in removed)))
    if lost:
        problems.insert(0, "LOST: " + "; ".join(lost))
    bad = []
    for m, got in out["verify"].items():
        if m == "unlock":
            bad.append("the victim's passphrase no longer unlocks: %s" % got)
        elif got != facts["answers"][m]:
            bad.append("%s answers %s" % (m, str(got)[:200]))
    if bad:
        problems.append("models no longer decrypt/predict: " + "; ".join(bad))
    if problems:
        return False, "FAIL: " + problems[0][:300], "\n".join(problems) + "\n\nsteps:\n" + _describe_results(case, results)
    return True, "ok", _describe_results(case, results)


def _short(s, n=70):
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3] + "..."


def _describe_results(case, results):
    lines = []
    for s, r in zip(case.steps, results):
        if r.get("skipped"):
            continue
        got = ("ok %r" % (r["value"],))[:160] if r["ok"] else "error %r" % r["error"][:200]
        lines.append("  %s -> %s (expected %r)" % (_short(s["sql"]), got, s["expect"]))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# pytest
# --------------------------------------------------------------------------------------------

JOBS = int(os.environ.get("SQLML_TEST_JOBS", "2"))


def run_all(keys, jobs=JOBS):
    """Runs (case id, mode) pairs, `jobs` subprocesses at a time; returns {key: future}."""
    from concurrent.futures import ThreadPoolExecutor
    base()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    return pool, {k: pool.submit(run_case, BY_ID[k[0]], k[1]) for k in keys}


if pytest is not None:
    PARAMS = [pytest.param(c.id, m, id="%s[%s]" % (c.id, m)) for c in CASES for m in c.modes]

    @pytest.fixture(scope="module")
    def hostile_results(request):
        """Starts every selected case at once (SQLML_TEST_JOBS subprocesses at a time, default 2)."""
        keys = [(it.callspec.params["case_id"], it.callspec.params["mode"]) for it in request.session.items
                if getattr(it, "originalname", "") == "test_hostile_file" and hasattr(it, "callspec")]
        pool, futures = run_all(keys)
        yield futures
        pool.shutdown(wait=True, cancel_futures=True)

    @pytest.mark.parametrize("case_id,mode", PARAMS)
    def test_hostile_file(case_id, mode, hostile_results):
        fut = hostile_results.get((case_id, mode))
        ok, outcome, details = fut.result() if fut else run_case(BY_ID[case_id], mode)
        assert ok, outcome + "\n" + details


# --------------------------------------------------------------------------------------------
# Script mode: the table for the issue note
# --------------------------------------------------------------------------------------------


def table(only=None, verbose=False):
    rows = []
    t0 = __import__("time").monotonic()
    keys = [(c.id, m) for c in CASES if not only or only in c.id for m in c.modes]
    pool, futures = run_all(keys)
    for cid, m in keys:
        ok, outcome, details = futures[(cid, m)].result()
        rows.append((BY_ID[cid].group, cid, m, ok, outcome, details))
        if verbose:
            print(("PASS " if ok else "FAIL ") + cid + " [" + m + "] " + outcome, file=sys.stderr, flush=True)
    pool.shutdown()
    secs = __import__("time").monotonic() - t0
    print("| group | case | key | outcome |")
    print("|---|---|---|---|")
    for g, cid, m, ok, outcome, _ in rows:
        print("| %s | `%s` | %s | %s |" % (g, cid, "ml_unlock" if m == "unlock" else "SQLML_KEY",
                                         "pass" if ok else outcome.replace("|", "\\|")))
    passed = sum(1 for r in rows if r[3])
    print("\n%d of %d runs pass (%d cases × key modes), %.0f s" % (passed, len(rows), len({r[1] for r in rows}), secs))
    return rows


def main(argv):
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--victim")
    p.add_argument("--table", action="store_true")
    p.add_argument("--only")
    p.add_argument("--details", action="store_true", help="print the details of every failing run")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    if a.victim:
        return victim(a.victim)
    if a.table:
        rows = table(a.only, a.verbose)
        if a.details:
            for g, cid, m, ok, outcome, details in rows:
                if not ok:
                    print("\n### %s [%s]\n%s\n%s" % (cid, m, outcome, details))
        shutil.rmtree(_BASE.get("dir", ""), ignore_errors=True)
        return 0
    p.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
