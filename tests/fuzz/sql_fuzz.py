#!/usr/bin/env python3
"""SQL-level fuzzer of the sqlml loadable extension (issue 10, "Fuzzing and hostile files").

Calls every sqlml SQL function (scalar ones from `pragma_function_list`, table-valued ones from
`pragma_module_list`) with random argument counts and values: NULL, integers at the edges,
reals (inf, -0.0, subnormals), short and 10 MB text, invalid UTF-8, random blobs, JSON
fragments, options objects built from the real option keys with values at their edges, names
of existing models, and sources (tables, views, SELECTs, invalid SQL, statements that write,
SELECTs that call sqlml functions themselves, empty and mixed-type sources), against a database
holding models of every kind.

Architecture: this parent process seeds a database once, then runs N workers (default 2), each
`python3 sql_fuzz.py --worker ...` in its own process on its own copy of the seeded file, with
an address-space cap (RLIMIT_AS, default 3 GiB) and `SQLML_MAX_MEMORY_MB=512`. A worker writes
`B <call>` to its stdout pipe before each call and `E <call> ...` after it, and interrupts a
call still running after `--interrupt-after` seconds (`conn.interrupt()` from a watchdog
thread). The parent counts a worker that dies by a signal (or exits abnormally) as a crash of
the call it had begun, and a worker silent for `--hang-after` seconds as a hang (it kills it);
either way it restarts a worker on a fresh copy from the next call.

Every call is generated from (seed, call index) alone, so the parent can rebuild any call and
write a standalone Python reproducer for it (`<out>/repro/*.py`).

Shapes: a plain `SELECT f(...)`; over rows of a table with column arguments; inside
BEGIN ... ROLLBACK; after a model trained and used in the same rolled-back transaction; nested
(an argument is another sqlml call); table-valued functions also with LIMIT, hidden-column
WHERE and joins. 3% of the calls are interrupted at a random early moment (0.2 ms to 200 ms)
instead of after `--interrupt-after`. Every `--reset-every` calls a worker starts again from
the seeded file (bounded file size, constant cost per call).

Invariants checked by the workers ("lost" violations, with reproducers):
- a call that fails changes nothing in ml_models, ml_meta, ml_training_log or the schema;
- a call of a function that does not write (predict, evaluate, listings...) changes nothing;
- the protected seeded models (`txt`, `clf`, `rec`, `als`) are never named by a top-level call
  that writes, so their rows never change (except their bytes under a top-level `ml_rekey`),
  and every `--check-every` calls they still decrypt and predict exactly as when seeded, from a
  fresh connection;
- a call run inside BEGIN ... ROLLBACK leaves everything as before, and no call ends or leaves
  open a transaction it did not begin;
- every active model answers the same on the worker's connection (model cache) as on a fresh
  connection (checked every `--check-every` calls; such a violation needs the calls before it:
  its note gives the `--replay-seq` command that replays them).
A call that fails with SQLite's own "interrupted" (no "ml_x:" prefix) after its sqlml function
had returned and committed is counted as `interrupted_after_commit`, not as lost.

Usage:
  tests/fuzz/sql_fuzz.py --calls 20000 --seed 1          # the CI run
  tests/fuzz/sql_fuzz.py --calls 1000000 --seed 7 --workers 2 --out target/sql_fuzz/long
  tests/fuzz/sql_fuzz.py --seed 1 --show 1234           # print call 1234
  tests/fuzz/sql_fuzz.py --seed 1 --replay 1234         # run call 1234 on a fresh seeded db here

Prints progress on stderr and one JSON summary line on stdout; exits 1 if any crash, hang or
lost model was found. `SQLML_EXT` is the path of the extension without suffix (default
target/release/libsqlml0); `SQLML_FUZZ_PYTHON` the Python that runs the workers (default this
one if its sqlite3 can load extensions, else /usr/bin/python3).
"""
import argparse
import hashlib
import json
import os
import random
import selectors
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXT = os.environ.get("SQLML_EXT") or os.path.join(ROOT, "target", "release", "libsqlml0")
PASS = "fuzz passphrase"

# --------------------------------------------------------------------------------------------
# The seeded database (pure SQL, so that reproducers can rebuild it).
# --------------------------------------------------------------------------------------------

SETUP_SQL = [
    "CREATE TABLE msgs(id INTEGER PRIMARY KEY, body TEXT, label TEXT)",
    """WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 89)
       INSERT INTO msgs(body, label)
       SELECT CASE WHEN i % 3 = 0
                   THEN 'win free prize ' || substr('cash claim offer now zqxvortex', 1 + i % 17, 9) || ' now ' || (i % 7)
                   ELSE 'see you at lunch ' || substr('tomorrow meeting home later plumbrook', 1 + i % 23, 11) || ' ' || (i % 5)
              END,
              CASE WHEN i % 3 = 0 THEN 'spam' ELSE 'ham' END
       FROM c""",
    "CREATE VIEW v_msgs AS SELECT body, label FROM msgs",
    "CREATE TABLE empty_msgs(body TEXT, label TEXT)",
    "CREATE TABLE zh(body TEXT, label TEXT)",
    """INSERT INTO zh VALUES ('这家酒店的服务很好，房间干净', 'pos'), ('房间太小了，服务很差', 'neg'),
       ('早餐非常好吃，下次还来', 'pos'), ('空调坏了，前台不理人', 'neg'), ('位置方便，价格合理', 'pos'),
       ('床很脏，晚上很吵', 'neg'), ('Sehr gutes Hotel, sauber', 'pos'), ('schlecht und laut', 'neg')""",
    "CREATE TABLE cust(id INTEGER PRIMARY KEY, tenure REAL, plan TEXT, spend REAL, churned TEXT)",
    """WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 79)
       INSERT INTO cust(tenure, plan, spend, churned)
       SELECT CASE WHEN i % 11 = 5 THEN NULL ELSE (i * 37) % 50 END,
              CASE i % 4 WHEN 0 THEN 'basic' WHEN 1 THEN 'plus' WHEN 2 THEN 'pro' ELSE NULL END,
              ((i * 13) % 100) + 0.25,
              CASE WHEN (i * 7) % 10 < 3 THEN 'yes' ELSE 'no' END
       FROM c""",
    "CREATE TABLE ratings(user INTEGER, item INTEGER, rating REAL)",
    """WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 179)
       INSERT INTO ratings SELECT i % 15, (i * 7 + i / 15) % 23, 1 + (i * i + i / 7) % 5 FROM c""",
    "CREATE TABLE ratings_t(user TEXT, item TEXT, w REAL)",
    "INSERT INTO ratings_t SELECT 'u' || user, 'i' || item, rating FROM ratings",
    "CREATE TABLE mixed(a, b, label)",
    """INSERT INTO mixed VALUES (1, 'x', 'a'), ('two', 2.5, 'b'), (x'00ff', NULL, 'a'), (NULL, 3, 'b'),
       (4.5, 'y', 1), (CAST(x'ff' AS TEXT), 1, 'a')""",
    "CREATE TABLE evil(q TEXT)",
    "INSERT INTO evil VALUES ('SELECT ml_evaluate(''txt'', (SELECT q FROM evil)) AS body, ''ham'' AS label')",
    "CREATE TABLE big(body TEXT, label TEXT)",
    "INSERT INTO big VALUES (printf('%.*c', 1048576, 'w'), 'a'), ('short text', 'b')",
]

# Protected models: read by the fuzzer but never named by a top-level call that writes.
TRAIN_SQL = [
    ("txt", "SELECT ml_train('txt', 'text', 'msgs', 'label')"),
    ("clf", "SELECT ml_train('clf', 'classifier', 'SELECT tenure, plan, spend, churned FROM cust', 'churned', "
            "'{\"epochs\": 3, \"hidden_layers\": [8]}')"),
    ("rec", "SELECT ml_train('rec', 'recommender', 'ratings', 'rating', '{\"n_epochs\": 5, \"n_factors\": 4}')"),
    ("als", "SELECT ml_train('als', 'recommender', 'SELECT user, item FROM ratings_t', NULL, "
            "'{\"algorithm\": \"als\", \"factors\": 4, \"iterations\": 3}')"),
]
PROTECTED = [name for name, _ in TRAIN_SQL]
# Scratch models: every function may write them; re-trained when missing.
SCRATCH_SQL = [
    ("stxt", "SELECT ml_train('stxt', 'text', 'zh', 'label', '{\"cjk\": \"bigrams\", \"ngrams\": 3, \"weighting\": \"tfidf\", \"test_size\": 0}')"),
    ("sclf", "SELECT ml_train('sclf', 'classifier', 'cust', 'churned', "
             "'{\"epochs\": 2, \"hidden_layers\": [], \"exclude\": [\"id\"], \"allow_extra_keys\": true}')"),
    ("srec", "SELECT ml_train('srec', 'recommender', 'ratings', 'rating', "
             "'{\"algorithm\": \"svdpp\", \"n_epochs\": 2, \"n_factors\": 3}')"),
]
SCRATCH = [name for name, _ in SCRATCH_SQL]

# Queries whose answers the protected models must keep (from a fresh connection).
CHECK_QUERIES = [
    "SELECT ml_predict('txt', 'win free prize now'), ml_predict_proba('txt', 'lunch at home tomorrow')",
    "SELECT ml_predict_proba('clf', 10.0, 'plus', 50.25), ml_predict('clf', json_object('tenure', NULL, 'plan', 'zzz', 'spend', 3))",
    "SELECT ml_predict('rec', 1, 2), (SELECT group_concat(item || ':' || round(score, 9)) FROM ml_recommend('rec', 3, 5))",
    "SELECT (SELECT group_concat(item) FROM ml_similar_items('als', 'i4', 3)), (SELECT count(*) FROM ml_top_tokens('txt', 3))",
]

KINDS = {"txt": "text", "stxt": "text", "clf": "classifier", "sclf": "classifier",
         "rec": "recommender", "srec": "recommender", "als": "recommender"}

# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


class Lit:
    """An SQL expression written into the statement instead of a bound parameter."""

    def __init__(self, sql):
        self.sql = sql

    def __repr__(self):
        return "Lit(%r)" % self.sql


class Big:
    """A large bound value, built by a Python expression (kept short in reproducers)."""

    _cache = {}

    def __init__(self, code):
        self.code = code

    def value(self):
        v = Big._cache.get(self.code)
        if v is None:
            v = eval(self.code)  # noqa: S307 (our own constant expressions)
            Big._cache[self.code] = v
        return v

    def __repr__(self):
        return "Big(%r)" % self.code


MB = 1 << 20
INTS = [0, -1, 1, 2, 3, 4, 5, 10, 100, 1000, 2**31 - 1, 2**31, -2**31, 2**32, 2**53, 2**62,
        2**63 - 1, -2**63, 268435456, 10**12, 65536]
REALS = [0.0, -0.0, 0.5, -0.5, 1.0, 1.5, 3.0, 1e-9, 1e308, -1e308, 5e-324, 2.2250738585072014e-308,
         1e15, 9.0e15, 9.3e18, 4.9999, Lit("1e999"), Lit("-1e999"), Lit("(0.0 / 0)")]
SHORT_TEXTS = ["", " ", "a", "x", "free cash", "win free prize now", "lunch tomorrow", "0", "1", "-1",
               "1.5", "NULL", "null", "txt", "clf", "rec", "'", "\"", "%s%n", "a\x00b", "\x00",
               "中文 测试 免费 奖品", "酒店服务很好", "🎉🎉 emoji 🎉", "é" * 50, "\u0301" * 30,
               "ﬁ ﬂ Ǆ ﷺ", "a" * 1000, "word " * 300, "\t\n\r", "SELECT 1", "{}", "[1,2]",
               "Ünïcödé Straße", "\U0010ffff", "\u200b\u200d\ufeff"]
BIG_TEXTS = [Big("'x' * (10 << 20)"), Big("'free cash win ' * (700 << 10)"), Big("'字' * (3 << 20)"),
             Big("'a ' * (5 << 20)"), Lit("printf('%.*c', 10485760, 'w')"),
             Big("' '.join('w%d' % i for i in range(1 << 20))")]
INVALID_UTF8 = [Lit("CAST(x'ff' AS TEXT)"), Lit("CAST(x'c0af' AS TEXT)"), Lit("CAST(x'eda080' AS TEXT)"),
                Lit("CAST(x'f4908080' AS TEXT)"), Lit("CAST(x'6672656520ff63617368' AS TEXT)"),
                Lit("CAST(x'e4b8' AS TEXT)"), Lit("CAST(x'00' AS TEXT)"), Lit("CAST(x'fffe' AS TEXT)")]
BIG_BLOBS = [Lit("zeroblob(10485760)"), Big("b'\\xff' * (10 << 20)"), Lit("zeroblob(0)")]
JSON_FRAGMENTS = ["{", "}", "{}", "[]", "null", "true", "1", "\"x\"", "{\"a\":1}", "{\"epochs\":}",
                  "{\"epochs\":1e999}", "{\"epochs\": NaN}", "{\"epochs\": Infinity}", "[" * 200 + "]" * 200,
                  "{\"a\":" * 300 + "1" + "}" * 300, "[" * 5000, "{\"x\":\"\\ud800\"}",
                  "{\"epochs\":1,\"epochs\":2}", "{\"seed\":-1}", "{\"\":1}", "{\"a\":{\"b\":[1,{\"c\":null}]}}",
                  "{\"tenure\": 1, \"plan\": \"basic\", \"spend\": 3}", "{\"tenure\": [1], \"plan\": {}, \"spend\": \"x\"}",
                  "{\"hidden_layers\": " + "[" * 1000 + "]" * 1000 + "}", " { } ", "{} {}", "\ufeff{}",
                  "{\"n_factors\": 18446744073709551616}", "{\"seed\": 18446744073709551615}",
                  "{\"test_size\": 1e-400}", "{\"alpha\": -0}"]


def sql_quote(v):
    """v as an SQL literal (for nested calls)."""
    if v is None:
        return "NULL"
    if isinstance(v, Lit):
        return "(" + v.sql + ")"
    if isinstance(v, Big):
        return "NULL"
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "NULL"
        if v in (float("inf"), float("-inf")):
            return "1e999" if v > 0 else "-1e999"
        return repr(v)
    if isinstance(v, bytes):
        return "x'" + v.hex() + "'"
    if "\x00" in v or any(ord(c) < 32 for c in v):
        return "CAST(x'" + v.encode("utf-8").hex() + "' AS TEXT)"
    return "'" + v.replace("'", "''") + "'"


# --------------------------------------------------------------------------------------------
# Names, sources, targets, options
# --------------------------------------------------------------------------------------------

READ_NAMES = PROTECTED + SCRATCH + ["x", "nope", "", "TXT", "txt ", " txt", "txt\x00", "o'q", "z" * 300]
WRITE_NAMES = SCRATCH + ["x", "y", "X y", "o'q", "txt\x00x", "TXT", "nope", "", "z" * 300, "модель", "数据"]

SOURCES_BY_KIND = {
    "text": ["msgs", "main.msgs", "\"msgs\"", "[msgs]", "`msgs`", "v_msgs", "zh", "SELECT body, label FROM msgs",
             "SELECT body AS t, label FROM msgs", "SELECT body, label FROM msgs WHERE id < 5",
             "SELECT body, label FROM msgs LIMIT 1", "SELECT body, label FROM msgs WHERE 0", "empty_msgs",
             "SELECT body, id % 2 AS label FROM msgs", "SELECT NULL AS body, label FROM msgs",
             "SELECT body, NULL AS label FROM msgs", "SELECT body, label FROM msgs;", "  select body, label from msgs  ",
             "(SELECT body, label FROM msgs)", "WITH t AS (SELECT body, label FROM msgs) SELECT * FROM t",
             "VALUES ('a b', 'x'), ('c d', 'y')", "big", "SELECT body, label FROM zh UNION ALL SELECT body, label FROM msgs",
             "SELECT id, body, label FROM msgs", "SELECT body, body AS label FROM msgs",
             "SELECT body, label, label AS l2 FROM msgs", "SELECT 1.5 AS body, label FROM msgs",
             "SELECT body, label, randomblob(8) AS att FROM msgs",
             "SELECT id, body, label, randomblob(8) AS att, CASE WHEN id % 3 THEN 'x' ELSE id END AS notes FROM msgs",
             "SELECT randomblob(8) AS att, label FROM msgs"],
    "classifier": ["SELECT tenure, plan, spend, churned FROM cust", "cust", "SELECT tenure, churned FROM cust",
                   "SELECT plan, churned FROM cust", "SELECT tenure, plan, spend, NULL AS churned FROM cust",
                   "SELECT tenure, plan, spend, churned FROM cust WHERE id < 3",
                   "SELECT id % 100 AS a, id AS b, churned FROM cust", "SELECT 1 AS a, churned FROM cust",
                   "SELECT tenure * 1e300 AS tenure, plan, spend, churned FROM cust",
                   "SELECT tenure, plan || id AS plan, spend, churned FROM cust",
                   "SELECT tenure, plan, spend, id % 7 AS churned FROM cust",
                   "SELECT tenure, plan, spend, churned FROM cust WHERE 0",
                   "SELECT churned FROM cust", "SELECT NULL AS a, churned FROM cust",
                   "SELECT tenure, plan, spend, churned, randomblob(4) AS att FROM cust",
                   "SELECT tenure, plan, spend, churned, CASE WHEN id % 2 THEN 'n/a' ELSE id END AS notes FROM cust"],
    "recommender": ["ratings", "SELECT user, item, rating FROM ratings", "ratings_t", "SELECT user, item FROM ratings",
                    "SELECT user, item, rating * 1e300 AS rating FROM ratings",
                    "SELECT user, item, NULL AS rating FROM ratings", "SELECT 1 AS user, 1 AS item, 5 AS rating",
                    "SELECT user, item, rating FROM ratings WHERE 0", "SELECT item, user, rating FROM ratings",
                    "SELECT user, user AS item, rating FROM ratings", "SELECT user, item, w FROM ratings_t",
                    "SELECT 'u' || user AS user, item, -rating AS rating FROM ratings",
                    "SELECT user, item, rating, rating AS r2 FROM ratings",
                    "SELECT user, item, rating, randomblob(4) AS att FROM ratings",
                    "SELECT randomblob(4) AS att, user, item, rating FROM ratings"],
}
GENERATED_SOURCES = [
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 5000) "
    "SELECT 'w' || (i % 97) || ' z' || (i % 13) AS body, i % 3 AS label FROM c",
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000) "
    "SELECT i % 50 AS user, (i * 7) % 300 AS item, 1 + i % 5 AS rating FROM c",
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) "
    "SELECT 'c' || i AS cat, i * 0.5 AS x, i % 2 AS y FROM c",
]
RARE_SOURCES = [
    # never ends: only an interruption stops it
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT 'w' || i AS body, i % 2 AS label FROM c",
    # 100k distinct categories (issue 10, point 4)
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100000) "
    "SELECT 'c' || i AS cat, i % 2 AS y FROM c",
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200000) "
    "SELECT i AS user, i AS item, 1 + i % 5 AS rating FROM c",
]
HOSTILE_SOURCES = [
    "nonexistent", "temp.nope", "main.", ".", "\"\"", "ml_models", "ml_meta", "ml_training_log",
    "sqlite_schema", "sqlite_master", "mixed", "SELECT a, label FROM mixed", "SELECT b, label FROM mixed",
    "SELEC body FROM msgs", "SELECT", "SELECT * FROM", "SELECT 1/0 AS a, 'x' AS b",
    "SELECT abs(-9223372036854775808) AS body, 'a' AS label", "SELECT randomblob(4) AS body, 'a' AS label",
    "SELECT zeroblob(2000000000) AS body, 'a' AS label", "SELECT CAST(x'ff' AS TEXT) AS body, 'a' AS label",
    "DELETE FROM msgs", "INSERT INTO msgs(body, label) VALUES ('a', 'b')", "UPDATE ml_models SET active = 0",
    "DROP TABLE ml_models", "CREATE TABLE zz(a)", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT s", "RELEASE ml_train",
    "ROLLBACK TO ml_train", "VACUUM", "ANALYZE", "PRAGMA writable_schema = 1", "PRAGMA table_info(msgs)",
    "ATTACH ':memory:' AS aux", "DETACH main", "REINDEX", "EXPLAIN SELECT 1", "SELECT 1; DELETE FROM ml_models",
    "VALUES (1, 2); DROP TABLE ml_models", "WITH a AS (SELECT 1) DELETE FROM ml_models",
    "WITH a AS (SELECT 1) INSERT INTO msgs(body) SELECT 1 FROM a", "SELECT * FROM msgs -- comment",
    "SELECT * FROM msgs /* unterminated", "select body, label from msgs where body = 'x'''",
    "SELECT load_extension('/nonexistent')", "SELECT * FROM pragma_function_list",
    "SELECT name AS body, kind AS label FROM ml_models", "SELECT hex(model) AS body, name AS label FROM ml_models",
    "SELECT * FROM msgs, msgs, msgs, msgs", "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 50) SELECT 'a' AS body, printf('%d', i) AS label FROM c",
    # re-entrancy: sources that call sqlml functions (issue 10, point 1)
    "SELECT ml_drop('txt') AS body, 'a' AS label UNION ALL SELECT body, label FROM msgs",
    "SELECT body, label FROM msgs WHERE ml_drop('clf') > 0",
    "SELECT ml_rekey('other passphrase') AS body, label FROM msgs",
    "SELECT body, label FROM msgs WHERE (SELECT ml_rekey('x')) IS NULL",
    "SELECT ml_predict('txt', body) AS body, label FROM msgs",
    "SELECT ml_predict_proba('clf', tenure, plan, spend) AS p, churned FROM cust",
    "SELECT ml_train('txt', 'text', 'msgs', 'label') AS body, label FROM msgs",
    "SELECT ml_train('x', 'text', 'SELECT ml_drop(''rec'') AS body, ''a'' AS label', 'label') AS body, 'a' AS label",
    "SELECT ml_evaluate('txt', 'msgs') AS body, label FROM msgs",
    "SELECT ml_evaluate('txt', (SELECT q FROM evil)) AS body, 'ham' AS label",
    "SELECT ml_unlock('wrong') AS body, label FROM msgs",
    "SELECT ml_unlock('" + PASS + "') AS body, label FROM msgs",
    "SELECT ml_activate('txt', 1) AS body, label FROM msgs",
    "SELECT ml_activate('clf', 2) AS a, churned FROM cust",
    "SELECT item AS body, 'a' AS label FROM ml_recommend('rec', 1, 5)",
    "SELECT token AS body, label FROM ml_top_tokens('txt', 5)",
    "SELECT ml_explain('rec', user, item) AS e, rating FROM ratings",
    "SELECT ml_version() AS body, label FROM msgs", "SELECT ml_debug() AS body, label FROM msgs",
    "SELECT ml_drop('stxt') AS body, 'a' AS label",
]


def choose(rng, pool):
    return pool[rng.randrange(len(pool))]


def gen_source(rng, kind):
    r = rng.random()
    if r < 0.55 and kind in SOURCES_BY_KIND:
        return choose(rng, SOURCES_BY_KIND[kind])
    if r < 0.62:
        return choose(rng, SOURCES_BY_KIND[choose(rng, list(SOURCES_BY_KIND))])
    if r < 0.66:
        return choose(rng, GENERATED_SOURCES)
    if r < 0.662:
        return choose(rng, RARE_SOURCES)
    if r < 0.93:
        return choose(rng, HOSTILE_SOURCES)
    return any_value(rng)


TARGETS = {"text": ["label"], "classifier": ["churned", "y"], "recommender": ["rating", None, "w"]}
OTHER_TARGETS = ["body", "nope", "", "tenure", "id", "LABEL", "label ", "\"label\"", "user", "item", "a", "b", "cat"]


def gen_target(rng, kind):
    if rng.random() < 0.75 and kind in TARGETS:
        return choose(rng, TARGETS[kind])
    if rng.random() < 0.7:
        return choose(rng, OTHER_TARGETS)
    return any_value(rng)


TEXT_KEYS = ["text", "language", "cjk", "stopwords", "stem", "ngrams", "min_df", "max_features", "weighting",
             "algorithm", "alpha", "priors"]
CLF_KEYS = ["features", "exclude", "hidden_layers", "learning_rate", "batch_size", "epochs", "l2", "dropout",
            "class_weight", "validation_split", "patience", "shuffle", "max_categories", "allow_extra_keys"]
REC_KEYS = ["user", "item", "algorithm", "feedback", "rating_scale", "relevant", "n_factors", "n_epochs", "biased",
            "init_mean", "init_std_dev", "lr_all", "reg_all", "lr_bu", "lr_bi", "lr_pu", "lr_qi", "lr_yj",
            "reg_bu", "reg_bi", "reg_pu", "reg_qi", "reg_yj", "factors", "iterations", "regularization", "alpha"]
COMMON_KEYS = ["seed", "test_size", "max_memory_mb", "progress", "activate"]
KEYS_BY_KIND = {"text": TEXT_KEYS, "classifier": CLF_KEYS, "recommender": REC_KEYS}
ODD_KEYS = ["bogus", "", "EPOCHS", "epochs ", "keep", "memory", "max_memory_mb", "progress", "\u0000", "k" * 500]

RATES = [0.005, 0.001, 0.1, 1, 0, -1, 1e308, 1e-320, 5e-324, 10, -0.0, 1e-9]
# key -> (common values, rare values: expensive or huge; drawn 2% of the time)
OPTION_VALUES = {
    "seed": ([0, 1, 42, -1, 2**63 - 1, 18446744073709551615, 1.5, "x", 2**31], []),
    "test_size": ([0, 0.2, 0.5, 0.99, 1, -0.1, 1.5, 1e-300, "0.2", 0.0001], []),
    "max_memory_mb": ([1, 16, 64, 512, 0, -1, 1.5, "512"], [4096, 65536, 2**31, 2**53]),
    "progress": ([True, False, 1, 0, "loud"], []),
    "activate": (["always", "if_better", "never", "x", 1], []),
    "text": (["body", "label", "id", "nope", "", 1, "t"], []),
    "language": (["en", "auto", "zh", "de", "german", "xx", "", "EN", "chinese", "ja", "ru", "english"], []),
    "cjk": (["words", "bigrams", "x", ""], []),
    "stopwords": ([True, False, 1, 0, 2, "yes"], []),
    "stem": ([True, False, 1, 0, 2, "yes"], []),
    "ngrams": ([1, 2, 3, 5, 6, 0, -1, [1, 2], [1, 5], [2, 1], [0, 3], [1, 6], [5, 5], [], [1, 2, 3], ["a"], "[1,2]",
                [3, 3], [2**31, 2**31]], []),
    "min_df": ([1, 2, 0, 100, -1, 2**31, 1.5], []),
    "max_features": ([1, 0, 10, 2**63 - 1, -1, 3], []),
    "weighting": (["count", "binary", "tfidf", "x"], []),
    "algorithm": (["multinomial", "complement", "bernoulli", "svd", "svdpp", "als", "x", ""], []),
    "alpha": ([0.1, 1, 0, -1, 1e-320, 5e-324, 1e308, 1e-9, 40], []),
    "priors": (["learned", "uniform", "x"], []),
    "features": ([["tenure", "plan", "spend"], ["plan"], [], ["nope"], ["churned"], ["tenure", "tenure"], "tenure",
                  "[\"plan\",\"spend\"]", ["cat", "x"], [1]], []),
    "exclude": ([["id"], ["plan"], ["tenure", "plan", "spend"], ["nope"], "id", [], ["att"]], []),
    "hidden_layers": ([[], [4], [8, 8], [1], [0], [-1], [4, 4, 4, 4], 4, "[4]", [2.5], [3, 0]],
                      [[65536, 65536], [1 << 20], [100000] * 3, [2**31 - 1], [1024, 1024, 1024], [2**62]]),
    "learning_rate": (RATES, []),
    "batch_size": ([1, 32, 0, -1, 1000, 2**31 - 1, 2**63 - 1, 7], []),
    "epochs": ([1, 2, 3, 0, -1, 5, "3", 1.5], [100000, 2**31 - 1, 10**9]),
    "l2": ([0, 0.1, -1, 1e308, 1e-320, 1e10], []),
    "dropout": ([0, 0.5, 0.99, 1, -0.1, 0.999999, 0.1], []),
    "class_weight": (["none", "balanced", "x", {}], []),
    "validation_split": ([0, 0.2, 0.5, 0.99, 1, -1, 0.01], []),
    "patience": ([0, 1, 2, -1, 1000], []),
    "shuffle": ([True, False, 2], []),
    "max_categories": ([1, 2, 50, 0, -1, 3], [100000, 2**31 - 1, 2**62]),
    "allow_extra_keys": ([True, False], []),
    "user": (["user", "item", "rating", "nope", "", "w"], []),
    "item": (["item", "user", "rating", "nope", ""], []),
    "feedback": (["explicit", "implicit", "x"], []),
    "rating_scale": ([[1, 5], [5, 1], [0, 0], [1], [], [-1e308, 1e308], ["a", "b"], [1, 5, 7], [1, 1]], []),
    "relevant": ([4, 0, -1, 1e308, 2.5], []),
    "n_factors": ([1, 2, 4, 0, -1, 1025, 20], [1024]),
    "n_epochs": ([1, 2, 3, 0, -1], [10**6, 2**31 - 1]),
    "biased": ([True, False], []),
    "init_mean": ([0, 1e308, -1e308, 1e-320, 1], []),
    "init_std_dev": ([0.1, 0, -1, 1e308, 10], []),
    "factors": ([1, 4, 0, -1, 1025, 8], [1024]),
    "iterations": ([1, 2, 0, -1, 3], [10**6, 2**31 - 1]),
    "regularization": ([0.01, 0, -1, 1e308, 1e-320], []),
}
for _k in ["lr_all", "reg_all", "lr_bu", "lr_bi", "lr_pu", "lr_qi", "lr_yj", "reg_bu", "reg_bi", "reg_pu", "reg_qi",
           "reg_yj"]:
    OPTION_VALUES[_k] = (RATES, [])


def json_value(rng, depth=0):
    r = rng.random()
    if r < 0.15:
        return None
    if r < 0.35:
        return choose(rng, INTS)
    if r < 0.5:
        v = choose(rng, REALS)
        return 0.5 if isinstance(v, Lit) else v
    if r < 0.65:
        return choose(rng, SHORT_TEXTS)
    if r < 0.75:
        return rng.random() < 0.5
    if r < 0.88 and depth < 3:
        return [json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if depth < 3:
        return {choose(rng, ODD_KEYS + COMMON_KEYS): json_value(rng, depth + 1) for _ in range(rng.randrange(3))}
    return 7


def gen_options(rng, kind):
    """Options text: mostly a JSON object of real keys with values at their edges."""
    r = rng.random()
    if r < 0.04:
        return choose(rng, JSON_FRAGMENTS)
    if r < 0.06:
        return any_value(rng)
    if r < 0.08:
        return Lit(choose(rng, ["json_object('epochs', 1e999)", "json_object('alpha', -1e999)",
                                "json_object('hidden_layers', json_array(4, 4))", "json('{\"seed\": 1}')",
                                "json_object('ngrams', json_array(1, 3), 'stopwords', json('true'))",
                                "json_object('test_size', 0, 'seed', 9223372036854775807)"]))
    keys = KEYS_BY_KIND.get(kind, TEXT_KEYS + CLF_KEYS + REC_KEYS)
    obj = {}
    for _ in range(choose(rng, [0, 1, 1, 2, 2, 2, 3, 3, 4, 6])):
        q = rng.random()
        if q < 0.8:
            key = choose(rng, keys)
        elif q < 0.9:
            key = choose(rng, COMMON_KEYS)
        elif q < 0.95:
            key = choose(rng, TEXT_KEYS + CLF_KEYS + REC_KEYS)
        else:
            key = choose(rng, ODD_KEYS)
        common, rare = OPTION_VALUES.get(key, ([], []))
        if rare and rng.random() < 0.02:
            obj[key] = choose(rng, rare)
        elif common and rng.random() < 0.85:
            obj[key] = choose(rng, common)
        else:
            obj[key] = json_value(rng)
    # keep CI fast: small trainings unless the options ask otherwise
    if kind == "classifier" and "epochs" not in obj and rng.random() < 0.8:
        obj["epochs"] = 2
    if kind == "classifier" and "hidden_layers" not in obj and rng.random() < 0.8:
        obj["hidden_layers"] = [8]
    if kind == "recommender" and "n_epochs" not in obj and rng.random() < 0.8:
        obj["n_epochs"] = 3
    text = json.dumps(obj, allow_nan=True)
    if rng.random() < 0.03:
        text += choose(rng, ["x", ",", "}", " ", "\x00"])
    return text


# --------------------------------------------------------------------------------------------
# Arguments by role
# --------------------------------------------------------------------------------------------


def any_value(rng):
    r = rng.random()
    if r < 0.12:
        return None
    if r < 0.30:
        return choose(rng, INTS) if rng.random() < 0.8 else rng.randrange(-1000, 1000)
    if r < 0.42:
        return choose(rng, REALS)
    if r < 0.60:
        return choose(rng, SHORT_TEXTS)
    if r < 0.67:
        cps = [rng.randrange(0x20, 0x3000) for _ in range(rng.randrange(1, 40))]
        return "".join(chr(c) for c in cps if not 0xD800 <= c < 0xE000)
    if r < 0.672:
        return choose(rng, BIG_TEXTS)
    if r < 0.72:
        return choose(rng, INVALID_UTF8)
    if r < 0.79:
        return rng.randbytes(rng.choice([0, 1, 4, 16, 60, 76, 100, 1000]))
    if r < 0.793:
        return choose(rng, BIG_BLOBS)
    if r < 0.85:
        return choose(rng, JSON_FRAGMENTS)
    if r < 0.88:
        return gen_options(rng, choose(rng, list(KEYS_BY_KIND)))
    if r < 0.94:
        return choose(rng, READ_NAMES)
    return choose(rng, HOSTILE_SOURCES + SOURCES_BY_KIND["text"])


def gen_text_input(rng):
    r = rng.random()
    if r < 0.6:
        return choose(rng, SHORT_TEXTS)
    if r < 0.61:
        return choose(rng, BIG_TEXTS)
    return any_value(rng)


def gen_clf_inputs(rng):
    r = rng.random()
    if r < 0.45:
        vals = [choose(rng, [1.0, 10, 0, -1, None, 1e308, 25.5, "3", Lit("1e999"), "basic"]),
                choose(rng, ["basic", "plus", "pro", "zzz", None, 1, "", Lit("CAST(x'ff' AS TEXT)")]),
                choose(rng, [3.25, 0, None, -1e308, 5e-324, "x", 100])]
        if rng.random() < 0.2:
            del vals[rng.randrange(3)]
        if rng.random() < 0.1:
            vals.append(any_value(rng))
        return vals
    if r < 0.8:
        obj = {"tenure": choose(rng, [1, 2.5, None, "x", 1e308, [1], {}]),
               "plan": choose(rng, ["basic", "pro", None, 3, "zzz"]),
               "spend": choose(rng, [3, None, -1, "y", True])}
        if rng.random() < 0.2:
            obj.pop(choose(rng, list(obj)))
        if rng.random() < 0.2:
            obj[choose(rng, ODD_KEYS + ["id", "churned"])] = json_value(rng)
        return [json.dumps(obj)]
    if r < 0.9:
        return [choose(rng, JSON_FRAGMENTS)]
    return [any_value(rng) for _ in range(rng.randrange(6))]


ID_POOL = [0, 1, 2, 3, 7, 14, 22, 999999, -1, None, 2**63 - 1, -2**63, 1.5, "1", "u1", "i4", "u14", b"\x01", "",
           Lit("CAST(x'ff' AS TEXT)"), 1e308]


def gen_inputs(rng, name):
    kind = KINDS.get(name) if rng.random() < 0.9 else None
    if kind == "text":
        return [gen_text_input(rng)] if rng.random() < 0.9 else [gen_text_input(rng) for _ in range(rng.randrange(4))]
    if kind == "classifier":
        return gen_clf_inputs(rng)
    if kind == "recommender":
        if rng.random() < 0.85:
            return [choose(rng, ID_POOL), choose(rng, ID_POOL)]
        return [choose(rng, ID_POOL) for _ in range(rng.randrange(5))]
    return [any_value(rng) for _ in range(rng.randrange(1, 5))]


K_POOL = [None, 0, 1, 3, 10, 100, -1, 2**31 - 1, 2**63 - 1, 268435456, 1.5, "x", "3", 1e308, 1 << 40]


def role_value(rng, role, name=None, kind=None):
    """A value for an argument with a known role, or (20%) any value at all."""
    if rng.random() < 0.12:
        return any_value(rng)
    if role == "rname":
        return choose(rng, PROTECTED + SCRATCH if rng.random() < 0.75 else READ_NAMES)
    if role == "wname":
        return choose(rng, SCRATCH + ["x", "y"] if rng.random() < 0.7 else WRITE_NAMES)
    if role == "kind":
        return choose(rng, ["text", "classifier", "recommender"] * 4 + ["TEXT", "Text ", "svd", "", "regressor"])
    if role == "pass":
        return choose(rng, [PASS, PASS, "wrong", "", "fuzz passphrase ", "other passphrase", "é" * 10,
                            Lit("CAST(x'ff' AS TEXT)"), Big("'p' * (10 << 20)"), "\x00"])
    if role == "version":
        return choose(rng, [1, 2, 3, 0, -1, 2**63 - 1, -2**63, 1.5, "1", None, 1e308, 9e15, 100])
    if role == "k":
        return choose(rng, K_POOL)
    if role == "keep":
        return choose(rng, [0, 1, 1, 2, 3, 100, -1, None, "1", 1.5, 2**63 - 1, -2**63])
    if role == "bundle":
        return gen_bundle(rng)
    if role == "user":
        return choose(rng, ID_POOL)
    if role == "bool":
        return choose(rng, [None, 0, 1, 2, -1, "1", 1.0, True])
    if role == "ptoptions":
        return choose(rng, [None, "{}", '{"key": "id"}', '{"key": "user"}', '{"key": "nope"}', '{"key": 3}',
                            '{"batch": 1}', "[1]", "x", "", 7])
    return any_value(rng)


def gen_bundle(rng, pw=None):
    """A bundle argument: a real one (an ml_export in the same statement, of a protected or
    scratch model, with the passphrase `pw` or a random one), one cut, extended or with a
    changed byte, bytes that start like a bundle, or any value."""
    name = choose(rng, PROTECTED + SCRATCH + ["x", "nope"] if pw is None else PROTECTED + SCRATCH)
    pw = pw or choose(rng, [PASS, PASS, "other passphrase"])
    export = "ml_export('%s', %s'%s')" % (name, choose(rng, ["", "", "1, ", "NULL, ", "2, "]), pw)
    r = rng.random()
    if r < 0.4:
        return Lit(export)
    if r < 0.5:
        return Lit("substr(%s, 1, %d)" % (export, choose(rng, [0, 3, 4, 20, 63, 64, 84, 100, 1000])))
    # (|| makes text of blobs: cast back)
    if r < 0.55:
        return Lit("CAST(%s || x'%s' AS BLOB)" % (export, rng.randbytes(rng.choice([1, 16])).hex()))
    if r < 0.65:
        at = rng.randrange(1, 120)
        return Lit("CAST(substr(%s, 1, %d) || x'%02x' || substr(%s, %d) AS BLOB)"
                   % (export, at - 1, rng.randrange(256), export, at + 1))
    if r < 0.8:
        head = b"SQMB" + bytes([rng.choice([0, 1, 1, 2, 255])]) + bytes([1, 1, 1])
        if rng.random() < 0.6:  # costs and model format in range: reaches the key derivation
            head += b"".join(v.to_bytes(4, "little") for v in (rng.choice([8, 64, 1024]), 1, 1, rng.choice([1, 1, 2])))
        return head + rng.randbytes(rng.choice([0, 8, 56, 76, 200, 5000]))
    return any_value(rng)


# function -> (roles, natural argument counts)
ROLES = {
    "ml_version": ([], [0]),
    "ml_debug": ([], [0]),
    "ml_unlock": (["pass"], [1]),
    "ml_rekey": (["pass"], [1]),
    "ml_train": (["wname", "kind", "source", "target", "options"], [4, 5, 5]),
    "ml_evaluate": (["rname", "source"], [2]),
    "ml_predict": (["rname", "inputs"], None),
    "ml_predict_proba": (["rname", "inputs"], None),
    "ml_explain": (["rname", "inputs"], None),
    "ml_activate": (["wname", "version"], [2]),
    "ml_drop": (["wname", "version"], [1, 2]),
    "ml_prune": (["wname", "keep"], [2]),
    "ml_export": (["rname", "version", "pass"], [2, 3, 3]),
    "ml_import": (["wname", "bundle", "pass"], [3]),
    "ml_recommend": (["rname", "user", "k", "bool"], [2, 3, 3, 4]),
    "ml_similar_items": (["rname", "user", "k"], [2, 3]),
    "ml_top_tokens": (["rname", "k"], [1, 2]),
    "ml_predict_table": (["rname", "source", "ptoptions"], [2, 3]),
}
WEIGHTS = {"ml_version": 0.5, "ml_debug": 0.5, "ml_unlock": 0.6, "ml_rekey": 0.4, "ml_train": 18, "ml_evaluate": 7,
           "ml_predict": 14, "ml_predict_proba": 8, "ml_explain": 8, "ml_activate": 4, "ml_drop": 3,
           "ml_recommend": 8, "ml_similar_items": 5, "ml_top_tokens": 5, "ml_predict_table": 6, "ml_prune": 2,
           "ml_export": 3, "ml_import": 3}
WRITERS = {"ml_train", "ml_drop", "ml_activate", "ml_rekey", "ml_unlock", "ml_prune", "ml_import"}
KEY_FUNCS = {"ml_unlock", "ml_rekey"}


class Call:
    def __init__(self, idx, fn, args, sql, pre=(), post=(), shape="plain", tvf=False):
        self.idx, self.fn, self.args, self.sql = idx, fn, args, sql
        self.pre, self.post, self.shape, self.tvf = list(pre), list(post), shape, tvf
        self.interrupt_at = None  # seconds; None: the run's --interrupt-after

    def params(self):
        out = []
        for a in self.args:
            if isinstance(a, Lit):
                continue
            out.append(a.value() if isinstance(a, Big) else a)
        return out

    def describe(self):
        def short(a):
            if isinstance(a, (Lit, Big)):
                return repr(a)
            r = repr(a)
            return r if len(r) <= 120 else r[:100] + "...(%d chars)" % len(r)
        return "%s [%s] %s" % (self.fn, self.shape, ", ".join(short(a) for a in self.args))


def placeholders(args):
    return ", ".join(a.sql if isinstance(a, Lit) else "?" for a in args)


def gen_call(seed, idx, functions, modules):
    """The call number `idx` of a run with `seed` (a pure function of them and the lists)."""
    rng = random.Random(seed * 1_000_003 + idx)
    names = sorted(set(functions) | set(modules))
    weights = [WEIGHTS.get(n, 2.0) for n in names]
    fn = rng.choices(names, weights)[0]
    tvf = fn in modules
    roles, natural = ROLES.get(fn, ([], None))
    narg_choices = functions.get(fn, [])
    if rng.random() < 0.9 and (natural or roles or narg_choices):
        if natural:
            n = choose(rng, natural)
        elif fn in ("ml_predict", "ml_predict_proba", "ml_explain"):
            n = -1  # name + inputs for the model
        else:
            n = choose(rng, [c for c in narg_choices if c >= 0] or [rng.randrange(6)])
    else:
        n = rng.randrange(6 if tvf else 7)
    args = []
    kind = None
    if fn == "ml_train" and n in (4, 5) and rng.random() < 0.5:
        # coherent: a real kind with one of its good sources, its target, and a few options
        kind = choose(rng, list(KEYS_BY_KIND))
        # (A name keeps its kind: mostly a name of this kind, so that the training goes on.)
        same_kind = [n for n in SCRATCH if KINDS[n] == kind] + ["x_" + kind]
        name = choose(rng, same_kind if rng.random() < 0.8 else SCRATCH + ["x", "y"])
        args = [name, kind, choose(rng, SOURCES_BY_KIND[kind][:6]),
                choose(rng, TARGETS[kind])]
        if n == 5:
            args.append(gen_options(rng, kind))
        n = 0
    elif fn == "ml_import" and n == 3 and rng.random() < 0.5:
        # coherent: a bundle exported in the same statement, imported with its passphrase
        args = [choose(rng, SCRATCH + ["x", "y"]), gen_bundle(rng, PASS), PASS]
        n = 0
    elif fn == "ml_evaluate" and n == 2 and rng.random() < 0.5:
        name = choose(rng, PROTECTED + SCRATCH)
        args = [name, choose(rng, SOURCES_BY_KIND[KINDS[name]][:6])]
        n = 0
    if n == -1:
        name = role_value(rng, "rname")
        args = [name] + gen_inputs(rng, name if isinstance(name, str) else "")
    else:
        kind = None
        for i in range(n):
            role = roles[i] if i < len(roles) else None
            if role == "kind":
                v = role_value(rng, "kind")
                kind = v if isinstance(v, str) else None
            elif role == "source":
                v = gen_source(rng, kind or choose(rng, list(KEYS_BY_KIND)))
            elif role == "target":
                v = gen_target(rng, kind)
            elif role == "options":
                v = gen_options(rng, kind)
            elif role == "inputs":
                v = any_value(rng)
            else:
                v = role_value(rng, role) if role else any_value(rng)
            args.append(v)
        if fn == "ml_evaluate" and n == 2 and isinstance(args[0], str) and rng.random() < 0.7:
            args[1] = gen_source(rng, KINDS.get(args[0], "text"))
        if fn == "ml_export" and n == 2:
            args[1] = role_value(rng, "pass")  # ml_export(name, passphrase)
    # a top-level call that writes never names a protected model (they must stay as seeded)
    if fn in WRITERS and args and isinstance(args[0], str) and args[0] in PROTECTED:
        args[0] = "x"
    # the statement's shape
    shape = "plain"
    pre, post = [], []
    r = rng.random()
    if tvf:
        q = rng.random()
        if q < 0.7:
            sql = "SELECT * FROM %s(%s)" % (fn, placeholders(args))
        elif q < 0.8:
            sql = "SELECT * FROM %s(%s) LIMIT %s" % (fn, placeholders(args), choose(rng, ["0", "1", "5", "-1", "2147483647", "9223372036854775807", "?"]))
            if sql.endswith("?"):
                args.append(choose(rng, K_POOL))
            shape = "limit"
        elif q < 0.88 and len(args) >= 1:
            cols = ["name", "user", "k", "include_rated"] if fn == "ml_recommend" else (
                ["name", "of_item", "k"] if fn == "ml_similar_items" else (
                    ["name", "source", "options"] if fn == "ml_predict_table" else ["name", "k"]))
            conds = ["%s = %s" % (c, a.sql if isinstance(a, Lit) else "?") for c, a in zip(cols, args)]
            sql = "SELECT * FROM %s WHERE %s" % (fn, " AND ".join(conds) or "1")
            args = args[:len(cols)]
            shape = "where"
        elif q < 0.95 and fn in ("ml_recommend", "ml_similar_items"):
            if not args:
                args = ["rec"]
            rest = args[2:]
            sql = ("SELECT u.v, r.* FROM (SELECT DISTINCT user AS v FROM ratings LIMIT 4) u, %s(%s) r"
                   % (fn, ", ".join(["?" if not isinstance(args[0], Lit) else args[0].sql, "u.v"]
                                    + [a.sql if isinstance(a, Lit) else "?" for a in rest])))
            args = [args[0] if args else "rec"] + rest
            shape = "join"
        else:
            sql = "SELECT count(*), typeof(min(1)) FROM %s(%s)" % (fn, placeholders(args))
            shape = "count"
        if r < 0.06:
            pre, post, shape = ["BEGIN"], ["ROLLBACK"], shape + "+rollback"
        return with_interrupt(rng, Call(idx, fn, args, sql, pre, post, shape, tvf=True))
    if r < 0.78 or fn in KEY_FUNCS:
        sql = "SELECT %s(%s)" % (fn, placeholders(args))
    elif r < 0.86:
        # over rows, with column references as arguments
        table, cols = choose(rng, [("msgs", ["body", "label", "id"]), ("cust", ["tenure", "plan", "spend", "churned"]),
                                   ("ratings", ["user", "item", "rating"])])
        args = [Lit(choose(rng, cols)) if (i > 0 and rng.random() < 0.5) else a for i, a in enumerate(args)]
        sql = "SELECT %s(%s) FROM (SELECT * FROM %s LIMIT %d)" % (fn, placeholders(args), table, rng.randrange(1, 6))
        shape = "rows"
    elif r < 0.90:
        sql = "SELECT %s(%s)" % (fn, placeholders(args))
        pre, post, shape = ["BEGIN"], ["ROLLBACK"], "rollback"
    elif r < 0.93:
        # a model trained and used inside a transaction that is rolled back: nothing of it may
        # survive, not even in the connection's model cache
        kind = choose(rng, list(KEYS_BY_KIND))
        name = choose(rng, ["x", "y", "tmp"])
        probe_sql = PROBES[kind].replace("?", "'%s'" % name)
        opts = {"text": "{}", "classifier": '{"epochs": 1, "hidden_layers": [4]}', "recommender": '{"n_epochs": 1}'}[kind]
        pre = ["BEGIN", "SELECT ml_train('%s', '%s', '%s', '%s', '%s')" % (
            name, kind, SOURCES_BY_KIND[kind][0] if kind != "classifier" else "cust", TARGETS[kind][0], opts), probe_sql]
        sql = "SELECT %s(%s)" % (fn, placeholders(args))
        post, shape = ["ROLLBACK"], "train+rollback"
    else:
        # nested: one argument is another top-level sqlml call
        inner = gen_call(seed, idx + 7_919_000_000, {k: v for k, v in functions.items() if k not in KEY_FUNCS and k not in WRITERS}, {})
        inner_sql = "%s(%s)" % (inner.fn, ", ".join(sql_quote(a) for a in inner.args))
        if args:
            args[rng.randrange(len(args))] = Lit(inner_sql)
        sql = "SELECT %s(%s)" % (fn, placeholders(args))
        shape = "nested"
    return with_interrupt(rng, Call(idx, fn, args, sql, pre, post, shape))


def with_interrupt(rng, call):
    """3% of the calls are interrupted early, at a random moment of their work."""
    if rng.random() < 0.03:
        call.interrupt_at = choose(rng, [0.0002, 0.001, 0.003, 0.006, 0.01, 0.02, 0.03, 0.045, 0.06, 0.1, 0.2])
        call.shape += "+interrupt@%gs" % call.interrupt_at
    return call


# --------------------------------------------------------------------------------------------
# Database helpers (worker side: need a Python whose sqlite3 loads extensions)
# --------------------------------------------------------------------------------------------


def connect(path):
    db = sqlite3.connect(path, isolation_level=None, timeout=1.0)
    db.enable_load_extension(True)
    db.load_extension(EXT)
    db.enable_load_extension(False)
    return db


def make_seed(path):
    """Builds the seeded database; returns (functions, modules, expected check answers)."""
    if os.path.exists(path):
        os.remove(path)
    db = connect(path)
    for q in SETUP_SQL:
        db.execute(q)
    db.execute("SELECT ml_unlock(?)", (PASS,))
    for _, q in TRAIN_SQL + SCRATCH_SQL:
        db.execute(q).fetchall()
    functions = {}
    for name, narg in db.execute("SELECT name, narg FROM pragma_function_list WHERE name LIKE 'ml\\_%' ESCAPE '\\'"):
        functions.setdefault(name, []).append(narg)
    modules = [r[0] for r in db.execute("SELECT name FROM pragma_module_list WHERE name LIKE 'ml\\_%' ESCAPE '\\'")]
    db.close()
    expected = check_answers(path, PASS)
    return {k: sorted(v) for k, v in sorted(functions.items())}, sorted(modules), expected


def check_answers(path, passphrase):
    """The protected models' answers to CHECK_QUERIES and their rows, from a fresh connection."""
    db = connect(path)
    try:
        db.execute("SELECT ml_unlock(?)", (passphrase,))
        answers = [list(db.execute(q).fetchone()) for q in CHECK_QUERIES]
        rows = db.execute("SELECT name, version, kind, active FROM ml_models WHERE name IN (%s) ORDER BY name, version"
                          % ",".join("?" * len(PROTECTED)), PROTECTED).fetchall()
        return {"answers": answers, "rows": [list(r) for r in rows]}
    finally:
        db.close()


def state_hashes(db):
    """(hash of everything sqlml keeps + the schema, hash of the protected models' rows)."""
    full = hashlib.blake2b(digest_size=16)
    prot = hashlib.blake2b(digest_size=16)
    try:
        for row in db.execute("SELECT id, name, version, kind, algorithm, active, params, metrics, size, model "
                              "FROM ml_models ORDER BY id"):
            b = repr(row[:9]).encode() + (row[9] if isinstance(row[9], bytes) else repr(row[9]).encode())
            full.update(b)
            if row[1] in PROTECTED:
                prot.update(b)
        for row in db.execute("SELECT key, value FROM ml_meta ORDER BY key"):
            full.update(repr(row).encode())
        full.update(repr(db.execute("SELECT count(*), total(epoch), total(version), total(length(name)), total(loss) "
                                    "FROM ml_training_log").fetchone()).encode())
        full.update(repr(db.execute("SELECT group_concat(type || name || coalesce(sql, ''), '|') FROM "
                                    "(SELECT * FROM sqlite_schema ORDER BY name)").fetchone()).encode())
    except sqlite3.Error as e:
        full.update(("error %s" % e).encode())
        prot.update(("error %s" % e).encode())
    return full.hexdigest(), prot.hexdigest()


# --------------------------------------------------------------------------------------------
# Worker
# --------------------------------------------------------------------------------------------


class Watchdog(threading.Thread):
    """Interrupts the connection when a call runs longer than `after` seconds."""

    def __init__(self, after):
        super().__init__(daemon=True)
        self.after = after
        self.cv = threading.Condition()
        self.deadline = None
        self.db = None
        self.fired = False

    def arm(self, db, after=None):
        with self.cv:
            self.db, self.fired = db, False
            self.deadline = time.monotonic() + (self.after if after is None else after)
            self.cv.notify()

    def disarm(self):
        with self.cv:
            self.deadline = None
            return self.fired

    def run(self):
        with self.cv:
            while True:
                if self.deadline is None:
                    self.cv.wait()
                    continue
                left = self.deadline - time.monotonic()
                if left > 0:
                    self.cv.wait(left)
                    continue
                try:
                    self.db.interrupt()
                except Exception:
                    pass
                self.fired = True
                self.deadline = None


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run_call(db, call, dog, max_rows=100000):
    """Executes a call; returns ((outcome, detail), interrupted) with outcome 'ok' or 'error'."""
    params = call.params()
    fired = False
    try:
        for q in call.pre:
            db.execute(q)
        dog.arm(db, call.interrupt_at)
        try:
            cur = db.execute(call.sql, params)
            rows = cur.fetchmany(max_rows)
            cur.close()
        finally:
            fired = dog.disarm()
        result = ("ok", rows[:3])
    except Exception as e:  # noqa: BLE001 (any failure is an outcome)
        result = ("error", (type(e).__name__, str(e)))
    finally:
        for q in call.post:
            try:
                if db.in_transaction:
                    db.execute(q)
            except sqlite3.Error:
                pass
    return result, fired


def worker(args):
    import resource
    cap = int(args.mem_cap_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    with open(args.meta) as f:
        meta = json.load(f)
    functions, modules, expected = meta["functions"], meta["modules"], meta["expected"]
    path = args.db
    use_env = args.worker_id % 2 == 1

    def fresh():
        """A new copy of the seeded file, opened (and unlocked unless the key is in the env)."""
        shutil.copyfile(args.seed_db, path)
        conn = connect(path)
        if not use_env:
            conn.execute("SELECT ml_unlock(?)", (PASS,))
        return conn

    db = fresh()
    current_pass = PASS
    dog = Watchdog(args.interrupt_after)
    dog.start()
    full, prot = state_hashes(db)
    since_check = 0
    idx = segment_start = args.start
    while idx < args.calls:
        call = gen_call(args.seed, idx, functions, modules)
        emit("B %d" % idx)
        t0 = time.monotonic()
        (outcome, detail), fired = run_call(db, call, dog)
        ms = (time.monotonic() - t0) * 1000
        violations = []
        late_commit = False  # SQLite's own "interrupted" after the sqlml call had committed
        if db.in_transaction:
            violations.append("the call left a transaction open")
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        new_full, new_prot = state_hashes(db)
        succeeded = outcome == "ok"
        if call.post == ["ROLLBACK"]:
            if new_full != full:
                violations.append("BEGIN; call; ROLLBACK changed sqlml's tables")
        elif not succeeded and new_full != full and not (call.shape.startswith("rows") and call.fn in WRITERS):
            # (a statement over several rows may fail at row 2 after row 1 wrote: not a violation)
            if detail[1] == "interrupted" and fired:
                late_commit = True
                # SQLite's own "interrupted" (no "ml_x:" prefix): the interruption came after the
                # function had returned and committed; counted apart, see the summary
                emit("R %d %s" % (idx, call.fn))
                if call.fn == "ml_rekey" and call.args:
                    a = call.args[0]
                    candidate = db.execute("SELECT " + a.sql).fetchone()[0] if isinstance(a, Lit) else (
                        a.value() if isinstance(a, Big) else a)
                    try:
                        probe_db = connect(path)
                        probe_db.execute("SELECT ml_unlock(?)", (candidate,))
                        probe_db.close()
                        current_pass = candidate
                    except Exception:  # noqa: BLE001
                        pass
            else:
                violations.append("a call that failed changed sqlml's tables")
        elif succeeded and call.fn not in WRITERS and new_full != full:
            violations.append("%s (which does not write) changed sqlml's tables" % call.fn)
        if new_prot != prot:
            if (succeeded or late_commit) and call.fn == "ml_rekey" and call.shape.startswith("plain"):
                pass  # re-encrypted: bytes change, answers are checked below
            elif not violations:
                violations.append("the rows of a protected model changed")
        if succeeded and call.fn == "ml_rekey" and call.shape.startswith("plain") and call.args:
            a = call.args[0]
            if isinstance(a, Lit):
                current_pass = db.execute("SELECT " + a.sql).fetchone()[0]
            else:
                current_pass = a.value() if isinstance(a, Big) else a
            since_check = args.check_every  # check right away
        full, prot = new_full, new_prot
        kind = "ok" if succeeded else "error"
        if not succeeded:
            name, msg = detail
            if ("no key for this database" in msg or "key changed since" in msg) and not use_env:
                # e.g. BEGIN; ml_rekey(...); ROLLBACK leaves the connection without a key
                try:
                    db.execute("SELECT ml_unlock(?)", (current_pass,))
                except sqlite3.Error:
                    pass
            if "interrupt" in msg:
                kind = "interrupted"
            if len(msg) > 4000:
                emit("X %d %s" % (idx, json.dumps({"len": len(msg), "head": msg[:200]})))
        if (args.known_open_after_interrupt and violations == ["the call left a transaction open"]
                and not succeeded and "interrupted" in detail[1] and new_full == full):
            # Known open bug (issue 10 note): an interrupt that lands on sqlml's own COMMIT or
            # ROLLBACK leaves the transaction open (nothing of the call is visible; the fuzzer
            # rolls it back). Counted and reported apart when the flag says so.
            emit("O %d %s" % (idx, call.fn))
            violations = []
        for v in violations:
            emit("V %d %s" % (idx, json.dumps({"what": v, "outcome": outcome,
                                                 "detail": repr(detail)[:500]})))
        late = 1 if fired and ms > (args.interrupt_after + 1.0) * 1000 else 0
        head = "-" if succeeded else "%s: %s" % (detail[0], detail[1][:90])
        emit("E %d %s %s %d %d %s" % (idx, kind, call.fn, int(ms), late, json.dumps(head)))
        if violations:
            # start again from the seeded file: one violation must not cascade into many
            segment_start = idx + args.stride
            db.close()
            db, current_pass = fresh(), PASS
            full, prot = state_hashes(db)
        since_check += 1
        if since_check >= args.check_every or idx + args.stride >= args.calls:
            since_check = 0
            emit("K %d" % idx)
            problem = protected_check(path, current_pass, expected) or cache_check(db, path, current_pass)
            if problem:
                emit("V %d %s" % (idx, json.dumps({
                    "what": "models check: " + problem, "outcome": outcome, "check": True,
                    "detail": "found by the check after call %d; replay the calls since the last reset with: "
                              "tests/fuzz/sql_fuzz.py --seed %d --worker-id %d --replay-seq %d:%d:%d"
                              % (idx, args.seed, args.worker_id, segment_start, idx, args.stride)})))
                db.close()
                db, current_pass = fresh(), PASS
                segment_start = idx + args.stride
            if idx - segment_start >= args.reset_every:
                # a fresh copy now and then: the versions trained by the calls would otherwise
                # grow the file, and every call hashes sqlml's tables
                db.close()
                db, current_pass = fresh(), PASS
                segment_start = idx + args.stride
            reseed_scratch(db)
            full, prot = state_hashes(db)
            emit("K %d" % idx)
        idx += args.stride
    emit("D")
    db.close()
    return 0


def protected_check(path, passphrase, expected):
    try:
        got = check_answers(path, passphrase)
    except Exception as e:  # noqa: BLE001
        return "fresh connection failed: %s: %s" % (type(e).__name__, str(e)[:300])
    if got["rows"] != expected["rows"]:
        return "rows %r, expected %r" % (got["rows"], expected["rows"])
    if got["answers"] != expected["answers"]:
        return "answers %r, expected %r" % (got["answers"], expected["answers"])
    return None


PROBES = {
    "text": "SELECT ml_predict_proba(?, 'free cash win lunch')",
    "classifier": "SELECT ml_predict_proba(?, 10, 'plus', 50)",
    "recommender": "SELECT ml_predict(?, 1, 2)",
}


def probe(db, name, kind):
    try:
        return ["ok", db.execute(PROBES.get(kind, PROBES["text"]), (name,)).fetchone()[0]]
    except Exception as e:  # noqa: BLE001
        return ["error", str(e)[:300]]


def cache_check(db, path, passphrase):
    """Every active model answers the same on the worker's connection (with its model cache)
    and on a fresh one: a stale cache entry (e.g. a row id reused after a ROLLBACK) differs."""
    try:
        fresh = connect(path)
        fresh.execute("SELECT ml_unlock(?)", (passphrase,))
        models = db.execute("SELECT name, kind FROM ml_models WHERE active = 1 ORDER BY name").fetchall()
    except Exception as e:  # noqa: BLE001
        return "fresh connection failed: %s: %s" % (type(e).__name__, str(e)[:300])
    try:
        for name, kind in models:
            if not isinstance(name, str) or "\x00" in name:
                continue
            a, b = probe(db, name, kind), probe(fresh, name, kind)
            if a != b and "interrupted" not in repr(a):
                return "model %r (%s): this connection answers %r, a fresh one %r" % (name, kind, a, b)
    finally:
        fresh.close()
    return None


def reseed_scratch(db):
    """Re-trains scratch models the fuzz calls dropped or deactivated (not counted as calls)."""
    for name, q in SCRATCH_SQL:
        try:
            active = db.execute("SELECT count(*) FROM ml_models WHERE name = ? AND active = 1", (name,)).fetchone()[0]
            if not active:
                db.execute(q).fetchall()
        except sqlite3.Error:
            pass


# --------------------------------------------------------------------------------------------
# Reproducers
# --------------------------------------------------------------------------------------------


def arg_code(a):
    if isinstance(a, Big):
        return a.code
    return repr(a)


INTERRUPT_AFTER = 2.0


def reproducer(call, seed, what, note):
    args = [a for a in call.args if not isinstance(a, Lit)]
    lines = [
        "#!/usr/bin/python3",
        "# sqlml SQL fuzzer reproducer: %s" % what,
        "# seed %d, call %d (%s); replay with: tests/fuzz/sql_fuzz.py --seed %d --replay %d" % (seed, call.idx, call.fn, seed, call.idx),
    ]
    for n in note.splitlines():
        lines.append("# " + n)
    lines += [
        "# The call ran on a worker's copy after other calls; this replays it on a freshly seeded database.",
        "import os, resource, shutil, sqlite3, tempfile, threading",
        "EXT = os.environ.get('SQLML_EXT') or %r" % EXT,
        "os.environ.setdefault('SQLML_MAX_MEMORY_MB', '512')",
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))",
        "SETUP = %s" % json.dumps(SETUP_SQL, indent=1, ensure_ascii=False),
        "TRAIN = %s" % json.dumps([q for _, q in TRAIN_SQL + SCRATCH_SQL], indent=1, ensure_ascii=False),
        "d = tempfile.mkdtemp()",
        "db = sqlite3.connect(os.path.join(d, 'repro.db'), isolation_level=None)",
        "db.enable_load_extension(True); db.load_extension(EXT); db.enable_load_extension(False)",
        "for q in SETUP: db.execute(q)",
        "db.execute('SELECT ml_unlock(?)', (%r,))" % PASS,
        "for q in TRAIN: db.execute(q).fetchall()",
        "before = db.execute('SELECT name, version, active, model FROM ml_models ORDER BY id').fetchall()",
        "SQL = %r" % call.sql,
        "ARGS = [%s]" % ", ".join(arg_code(a) for a in args),
    ]
    for q in call.pre:
        lines.append("db.execute(%r)" % q)
    lines += [
        "timer = threading.Timer(%r, db.interrupt)  # the fuzzer's per-call time limit" % (
            INTERRUPT_AFTER if call.interrupt_at is None else call.interrupt_at),
        "timer.start()",
        "try:",
        "    print('result:', repr(db.execute(SQL, ARGS).fetchmany(5))[:500])",
        "except Exception as e:",
        "    print('error:', type(e).__name__, str(e)[:500])",
        "timer.cancel()",
        "print('in_transaction after the call:', db.in_transaction)",
    ]
    for q in call.post:
        lines.append("if db.in_transaction: db.execute(%r)" % q)
    lines += [
        "after = db.execute('SELECT name, version, active, model FROM ml_models ORDER BY id').fetchall()",
        "print('ml_models unchanged' if after == before else 'ml_models CHANGED: %d rows before, %d after' % (len(before), len(after)))",
        "shutil.rmtree(d)",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Parent
# --------------------------------------------------------------------------------------------


def worker_python():
    env = os.environ.get("SQLML_FUZZ_PYTHON")
    if env:
        return env
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sys.executable
    return "/usr/bin/python3"


SIGNAMES = {getattr(signal, n): n for n in dir(signal) if n.startswith("SIG") and not n.startswith("SIG_")}


class Parent:
    def __init__(self, args):
        self.args = args
        self.out = os.path.abspath(args.out or os.path.join(ROOT, "target", "sql_fuzz", "seed-%d" % args.seed))
        for sub in ("repro", "work"):  # a run's directory holds that run only
            shutil.rmtree(os.path.join(self.out, sub), ignore_errors=True)
            os.makedirs(os.path.join(self.out, sub))
        for f in ("findings.jsonl", "summary.json"):
            if os.path.exists(os.path.join(self.out, f)):
                os.remove(os.path.join(self.out, f))
        self.py = worker_python()
        self.stats = {"calls": 0, "crashes": 0, "hangs": 0, "lost": 0, "errors": 0, "ok": 0, "interrupted": 0,
                      "late_interrupts": 0, "big_errors": 0, "interrupted_after_commit": 0, "open_after_interrupt": 0}
        self.by_function = {}
        self.events = []
        self.repro_groups = {}
        self.incarnation = 0
        self.top_errors = {}
        self.lost_calls = set()

    def log_event(self, ev):
        self.events.append(ev)
        with open(os.path.join(self.out, "findings.jsonl"), "a") as f:
            f.write(json.dumps(ev) + "\n")

    def fn_stats(self, fn):
        return self.by_function.setdefault(fn, {"calls": 0, "ok": 0, "errors": 0, "crashes": 0, "hangs": 0, "lost": 0})

    def seed(self):
        seed_db = os.path.join(self.out, "seed.db")
        meta = os.path.join(self.out, "meta.json")
        code = ("import json, sys; sys.path.insert(0, %r); import sql_fuzz as f; fns, mods, exp = f.make_seed(%r); "
                "json.dump({'functions': fns, 'modules': mods, 'expected': exp}, open(%r, 'w'))") % (HERE, seed_db, meta)
        env = dict(os.environ, SQLML_EXT=EXT)
        env.pop("SQLML_KEY", None)
        subprocess.run([self.py, "-c", code], check=True, env=env)
        with open(meta) as f:
            m = json.load(f)
        self.functions, self.modules = m["functions"], m["modules"]
        self.seed_db, self.meta = seed_db, meta

    def spawn(self, wid, start):
        self.incarnation += 1
        inc = self.incarnation
        dbp = os.path.join(self.out, "work", "w%d-%d.db" % (wid, inc))
        errp = os.path.join(self.out, "work", "w%d-%d.err" % (wid, inc))
        a = self.args
        cmd = [self.py, os.path.abspath(__file__), "--worker", "--worker-id", str(wid), "--seed", str(a.seed),
               "--calls", str(a.calls), "--start", str(start), "--stride", str(a.workers), "--db", dbp,
               "--seed-db", self.seed_db, "--meta", self.meta, "--interrupt-after", str(a.interrupt_after),
               "--mem-cap-gb", str(a.mem_cap_gb), "--check-every", str(a.check_every), "--reset-every", str(a.reset_every)]
        if a.known_open_after_interrupt:
            cmd.append("--known-open-after-interrupt")
        env = dict(os.environ, SQLML_EXT=EXT, SQLML_MAX_MEMORY_MB=str(a.budget_mb), PYTHONHASHSEED="0")
        env.pop("SQLML_PROGRESS", None)
        if wid % 4 == 3:
            env["SQLML_PROGRESS"] = "1"  # progress lines go to the worker's stderr file
        if wid % 2 == 1:
            env["SQLML_KEY"] = PASS
        else:
            env.pop("SQLML_KEY", None)
        err = open(errp, "wb")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, cwd=self.out)
        err.close()
        os.set_blocking(proc.stdout.fileno(), False)
        return {"wid": wid, "proc": proc, "db": dbp, "err": errp, "buf": b"", "cur": None, "last_done": None,
                "last_progress": time.monotonic(), "done": False, "in_check": False}

    def write_repro(self, kind, idx, group, note):
        n = self.repro_groups.get(group, 0)
        self.repro_groups[group] = n + 1
        if n >= self.args.max_repros_per_group:
            return None
        call = gen_call(self.args.seed, idx, self.functions, self.modules)
        p = os.path.join(self.out, "repro", "%s-%d.py" % (kind, idx))
        with open(p, "w") as f:
            f.write(reproducer(call, self.args.seed, "%s (%s)" % (kind, group), note + "\ncall: " + call.describe()[:2000]))
        return p

    def handle_line(self, w, line):
        parts = line.split(" ", 2)
        tag = parts[0]
        w["last_progress"] = time.monotonic()
        if tag == "B":
            w["cur"] = int(parts[1])
        elif tag == "E":
            idx, rest = int(parts[1]), parts[2].split(" ", 4)
            kind, fn, ms, late = rest[0], rest[1], int(rest[2]), int(rest[3])
            head = json.loads(rest[4])
            if head != "-":
                key = fn + " | " + head
                self.top_errors[key] = self.top_errors.get(key, 0) + 1
            w["cur"], w["last_done"] = None, idx
            self.stats["calls"] += 1
            fs = self.fn_stats(fn)
            fs["calls"] += 1
            if kind == "ok":
                self.stats["ok"] += 1
                fs["ok"] += 1
            else:
                self.stats["errors"] += 1
                fs["errors"] += 1
                if kind == "interrupted":
                    self.stats["interrupted"] += 1
            if late:
                self.stats["late_interrupts"] += 1
                self.log_event({"kind": "late_interrupt", "call": idx, "fn": fn, "ms": ms})
                self.write_repro("late", idx, "late:" + fn, "interrupt after %.1f s honoured only after %d ms" % (self.args.interrupt_after, ms))
        elif tag == "V":
            idx, info = int(parts[1]), json.loads(parts[2])
            call = gen_call(self.args.seed, idx, self.functions, self.modules)
            if idx not in self.lost_calls:
                self.lost_calls.add(idx)
                self.stats["lost"] += 1
                self.fn_stats(call.fn)["lost"] += 1
            if info.get("check"):
                p = None
                group = "check:" + info["what"][:60]
                self.repro_groups[group] = self.repro_groups.get(group, 0) + 1
            else:
                p = self.write_repro("lost", idx, "lost:%s:%s" % (call.fn, info["what"][:40]), "%s; outcome %s %s" % (info["what"], info["outcome"], info["detail"]))
            self.log_event({"kind": "lost", "call": idx, "fn": call.fn, "what": info["what"], "outcome": info["outcome"],
                            "detail": info["detail"], "repro": p, "describe": call.describe()[:1000]})
        elif tag == "X":
            idx, info = int(parts[1]), json.loads(parts[2])
            self.stats["big_errors"] += 1
            call = gen_call(self.args.seed, idx, self.functions, self.modules)
            p = self.write_repro("bigerror", idx, "big:" + call.fn, "error message of %d characters" % info["len"])
            self.log_event({"kind": "big_error", "call": idx, "fn": call.fn, "len": info["len"], "head": info["head"], "repro": p})
        elif tag == "O":
            idx = int(parts[1])
            self.stats["open_after_interrupt"] = self.stats.get("open_after_interrupt", 0) + 1
            if self.stats["open_after_interrupt"] <= 5:
                p = self.write_repro("open-after-interrupt", idx, "open-after-interrupt", "an interrupted call left its (empty) transaction open")
                self.log_event({"kind": "open_after_interrupt", "call": idx, "fn": parts[2], "repro": p})
        elif tag == "R":
            idx = int(parts[1])
            self.stats["interrupted_after_commit"] += 1
            if self.stats["interrupted_after_commit"] <= 5:
                p = self.write_repro("late-error", idx, "late-error", "SQLite reported 'interrupted' for a statement whose sqlml call had already changed its tables")
                self.log_event({"kind": "interrupted_after_commit", "call": idx, "fn": parts[2], "repro": p})
        elif tag == "K":
            w["in_check"] = not w["in_check"]
        elif tag == "D":
            w["done"] = True

    def finish_worker(self, w, hung):
        proc = w["proc"]
        rc = proc.wait()
        try:
            with open(w["err"], "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 3000))
                err_tail = f.read().decode("utf-8", "replace")
        except OSError:
            err_tail = ""
        restart = None
        if hung or not (rc == 0 and w["done"]):
            idx = w["cur"] if w["cur"] is not None else w["last_done"]
            during = "call" if w["cur"] is not None else ("check after call" if w["in_check"] else "between calls")
            if idx is None:
                sys.exit("sql_fuzz: worker %d failed before its first call (%s):\n%s" % (w["wid"], rc, err_tail))
            sig = SIGNAMES.get(-rc, str(-rc)) if rc < 0 else "exit %d" % rc
            kind = "hang" if hung else "crash"
            self.stats["hangs" if hung else "crashes"] += 1
            call = gen_call(self.args.seed, idx, self.functions, self.modules) if idx >= 0 else None
            fn = call.fn if call else "?"
            if call and during == "call":
                self.fn_stats(fn)["hangs" if hung else "crashes"] += 1
                self.stats["calls"] += 1
                self.fn_stats(fn)["calls"] += 1
            note = "%s during %s; worker %d: %s\nstderr tail: %s" % (kind, during, w["wid"], sig, err_tail[-600:].replace("\n", " | "))
            p = self.write_repro(kind, idx, "%s:%s:%s" % (kind, fn, sig if not hung else ""), note) if call else None
            self.log_event({"kind": kind, "call": idx, "fn": fn, "during": during, "signal": None if hung else sig,
                            "stderr": err_tail[-1500:], "repro": p, "describe": call.describe()[:1000] if call else ""})
            nxt = idx + self.args.workers if idx >= 0 else w["wid"]
            if nxt < self.args.calls:
                restart = nxt
        else:
            os.remove(w["err"])
        for p in (w["db"], w["db"] + "-journal", w["db"] + "-wal", w["db"] + "-shm"):
            if os.path.exists(p):
                os.remove(p)
        return restart

    def run(self):
        t0 = time.monotonic()
        self.seed()
        sel = selectors.DefaultSelector()
        live = {}
        for wid in range(min(self.args.workers, self.args.calls)):
            w = self.spawn(wid, wid)
            live[wid] = w
            sel.register(w["proc"].stdout, selectors.EVENT_READ, w)
        last_report = time.monotonic()
        while live:
            for key, _ in sel.select(timeout=0.5):
                w = key.data
                try:
                    chunk = os.read(w["proc"].stdout.fileno(), 65536)
                except BlockingIOError:
                    continue
                if chunk:
                    w["buf"] += chunk
                    *lines, w["buf"] = w["buf"].split(b"\n")
                    for line in lines:
                        self.handle_line(w, line.decode("utf-8", "replace"))
                    continue
                sel.unregister(w["proc"].stdout)
                w["proc"].stdout.close()
                del live[w["wid"]]
                restart = self.finish_worker(w, hung=False)
                if restart is not None:
                    nw = self.spawn(w["wid"], restart)
                    live[w["wid"]] = nw
                    sel.register(nw["proc"].stdout, selectors.EVENT_READ, nw)
            now = time.monotonic()
            for wid, w in list(live.items()):
                if now - w["last_progress"] > self.args.hang_after:
                    try:
                        os.kill(w["proc"].pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    sel.unregister(w["proc"].stdout)
                    w["proc"].stdout.close()
                    del live[wid]
                    restart = self.finish_worker(w, hung=True)
                    if restart is not None:
                        nw = self.spawn(wid, restart)
                        live[wid] = nw
                        sel.register(nw["proc"].stdout, selectors.EVENT_READ, nw)
            if not self.args.quiet and now - last_report > 10:
                last_report = now
                s = self.stats
                print("[sql_fuzz] %.0fs calls %d ok %d errors %d crashes %d hangs %d lost %d" % (
                    now - t0, s["calls"], s["ok"], s["errors"], s["crashes"], s["hangs"], s["lost"]),
                    file=sys.stderr, flush=True)
        secs = time.monotonic() - t0
        self.verify_repros()
        summary = dict(self.stats, seconds=round(secs, 1), seed=self.args.seed, workers=self.args.workers,
                       out=self.out, by_function=dict(sorted(self.by_function.items())))
        with open(os.path.join(self.out, "summary.json"), "w") as f:
            top = sorted(self.top_errors.items(), key=lambda kv: -kv[1])[:80]
            json.dump(dict(summary, top_errors=top), f, indent=1, ensure_ascii=False)
        print(json.dumps(summary), flush=True)
        return 1 if (self.stats["crashes"] or self.stats["hangs"] or self.stats["lost"]) else 0

    def verify_repros(self):
        """Runs the first reproducers of crashes and hangs alone and notes whether they reproduce."""
        done = 0
        for ev in self.events:
            if done >= self.args.verify_repros or ev["kind"] not in ("crash", "hang", "lost") or not ev.get("repro"):
                continue
            done += 1
            try:
                r = subprocess.run([self.py, ev["repro"]], capture_output=True, timeout=self.args.hang_after + 5,
                                   env=dict(os.environ, SQLML_EXT=EXT, SQLML_MAX_MEMORY_MB=str(self.args.budget_mb)))
                outcome = "signal %s" % SIGNAMES.get(-r.returncode, r.returncode) if r.returncode < 0 else (
                    "exit %d: %s" % (r.returncode, r.stdout.decode("utf-8", "replace")[-300:].strip()))
            except subprocess.TimeoutExpired:
                outcome = "timeout"
            ev["alone"] = outcome
            with open(os.path.join(self.out, "findings.jsonl"), "a") as f:
                f.write(json.dumps({"kind": "verify", "repro": ev["repro"], "alone": outcome}) + "\n")


def replay_seq(args):
    """Runs a worker's calls start, start+stride, ... <= end on a fresh seeded database, in this
    process, then the checks the worker runs (for violations that need the calls before them)."""
    start, end, stride = (int(x) for x in args.replay_seq.split(":"))
    d = tempfile.mkdtemp()
    try:
        seed_db = os.path.join(d, "seed.db")
        functions, modules, expected = make_seed(seed_db)
        path = os.path.join(d, "work.db")
        shutil.copyfile(seed_db, path)
        use_env = args.worker_id % 2 == 1
        if use_env:
            os.environ["SQLML_KEY"] = PASS
        db = connect(path)
        if not use_env:
            db.execute("SELECT ml_unlock(?)", (PASS,))
        dog = Watchdog(args.interrupt_after)
        dog.start()
        current_pass = PASS
        for idx in range(start, end + 1, stride):
            call = gen_call(args.seed, idx, functions, modules)
            (outcome, detail), fired = run_call(db, call, dog)
            if outcome == "ok" and call.fn == "ml_rekey" and call.shape.startswith("plain") and call.args:
                a = call.args[0]
                current_pass = db.execute("SELECT " + a.sql).fetchone()[0] if isinstance(a, Lit) else (
                    a.value() if isinstance(a, Big) else a)
            print(idx, outcome, call.describe()[:300], "->", repr(detail)[:200])
        print("check:", protected_check(path, current_pass, expected) or cache_check(db, path, current_pass) or "ok")
        return 0
    finally:
        shutil.rmtree(d)


def replay(args, idx, show_only):
    d = tempfile.mkdtemp()
    try:
        seed_db = os.path.join(d, "seed.db")
        functions, modules, _ = make_seed(seed_db)
        call = gen_call(args.seed, idx, functions, modules)
        print(call.describe())
        print("SQL:", call.sql)
        if show_only:
            print(reproducer(call, args.seed, "replay", ""))
            return 0
        db = connect(seed_db)
        db.execute("SELECT ml_unlock(?)", (PASS,))
        dog = Watchdog(args.interrupt_after)
        dog.start()
        before = state_hashes(db)
        (outcome, detail), fired = run_call(db, call, dog)
        print(outcome, repr(detail)[:1000], "(interrupted by the watchdog)" if fired else "")
        print("state unchanged" if state_hashes(db) == before else "state CHANGED")
        return 0
    finally:
        shutil.rmtree(d)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--calls", type=int, default=20000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", help="output directory (default target/sql_fuzz/seed-N)")
    p.add_argument("--interrupt-after", type=float, default=2.0, help="seconds before a call is interrupted")
    p.add_argument("--hang-after", type=float, default=15.0, help="seconds without progress that make a hang")
    p.add_argument("--mem-cap-gb", type=float, default=3.0, help="RLIMIT_AS of each worker")
    p.add_argument("--budget-mb", type=int, default=512, help="SQLML_MAX_MEMORY_MB of each worker")
    p.add_argument("--check-every", type=int, default=250, help="calls between protected-model checks")
    p.add_argument("--reset-every", type=int, default=10000,
                   help="a worker starts again from the seeded file after this many of the run's calls")
    p.add_argument("--max-repros-per-group", type=int, default=3)
    p.add_argument("--verify-repros", type=int, default=5, help="reproducers to re-run alone at the end")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--known-open-after-interrupt", action="store_true",
                   help="count an interrupted call that left an empty transaction open (a known open bug) apart, not as lost")
    p.add_argument("--replay", type=int, help="run call N on a fresh seeded database, in this process")
    p.add_argument("--show", type=int, help="print call N and its reproducer")
    p.add_argument("--replay-seq", help="START:END:STRIDE: replay a worker's calls (with --worker-id), then check")
    # worker mode
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--worker-id", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--stride", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--seed-db", help=argparse.SUPPRESS)
    p.add_argument("--meta", help=argparse.SUPPRESS)
    args = p.parse_args()
    global INTERRUPT_AFTER
    INTERRUPT_AFTER = args.interrupt_after
    if args.worker:
        return worker(args)
    if args.replay_seq:
        return replay_seq(args)
    if args.replay is not None or args.show is not None:
        return replay(args, args.replay if args.replay is not None else args.show, args.show is not None)
    return Parent(args).run()


if __name__ == "__main__":
    sys.exit(main())
