"""The loadable extension from Python's sqlite3 (Debian's python3, SQLite 3.40)."""
import json
import sqlite3

import pytest

from conftest import connect, make_messages

FUNCTIONS = sorted([
    ("ml_activate", 2), ("ml_debug", 0), ("ml_drop", 1), ("ml_drop", 2), ("ml_evaluate", 2),
    ("ml_explain", -1), ("ml_export", 2), ("ml_export", 3), ("ml_import", 3), ("ml_predict", -1),
    ("ml_predict_proba", -1), ("ml_prune", 2), ("ml_rekey", 1), ("ml_train", 4), ("ml_train", 5),
    ("ml_unlock", 1), ("ml_version", 0),
])
MODULES = ["ml_predict_table", "ml_recommend", "ml_similar_items", "ml_top_tokens"]


def test_version_answers(db):
    (v,) = db.execute("SELECT ml_version()").fetchone()
    assert v.startswith("v0.")
    (debug,) = db.execute("SELECT ml_debug()").fetchone()
    assert "Kinds: text, classifier, recommender" in debug


def test_exact_surface(db):
    funcs = db.execute(
        "SELECT DISTINCT name, narg FROM pragma_function_list WHERE name LIKE 'ml\\_%' ESCAPE '\\' ORDER BY 1, 2"
    ).fetchall()
    assert funcs == FUNCTIONS
    mods = [r[0] for r in db.execute(
        "SELECT name FROM pragma_module_list WHERE name LIKE 'ml\\_%' ESCAPE '\\' ORDER BY 1")]
    assert mods == MODULES


def test_train_predict_explain_with_env_key(db, monkeypatch):
    monkeypatch.setenv("SQLML_KEY", "from the environment")
    make_messages(db)
    report = json.loads(db.execute("SELECT ml_train('spam', 'text', 'messages', 'label')").fetchone()[0])
    assert report["version"] == 1 and report["metrics"]["accuracy"] > 0.9
    assert db.execute("SELECT ml_predict('spam', 'free cash prize now')").fetchone()[0] == "spam"
    proba = json.loads(db.execute("SELECT ml_predict_proba('spam', 'lunch tomorrow')").fetchone()[0])
    assert set(proba) == {"ham", "spam"} and proba["ham"] > 0.5
    assert abs(sum(proba.values()) - 1) < 1e-9
    why = json.loads(db.execute("SELECT ml_explain('spam', 'free cash lunch')").fetchone()[0])
    assert isinstance(why, list) and why


def test_errors_are_sql_errors_not_crashes(db):
    db.execute("SELECT ml_unlock('pw')")
    with pytest.raises(sqlite3.OperationalError, match=r"^ml_predict: no model named 'nope'"):
        db.execute("SELECT ml_predict('nope', 'x')").fetchone()
    with pytest.raises(sqlite3.OperationalError, match=r"^ml_train: argument 'kind' must be one of"):
        db.execute("SELECT ml_train('m', 'svm', 'x', 'y')").fetchone()
    # still alive
    assert db.execute("SELECT ml_version()").fetchone()[0].startswith("v")


def test_view_cannot_call(db):
    db.execute("SELECT ml_unlock('pw')")
    make_messages(db, 30)
    db.execute("CREATE VIEW v AS SELECT ml_train('x', 'text', 'messages', 'label') AS r")
    with pytest.raises(sqlite3.OperationalError, match=r"unsafe use of ml_train\(\)"):
        db.execute("SELECT * FROM v").fetchall()


def test_file_holds_no_plaintext_and_wrong_key_fails(tmp_path):
    path = str(tmp_path / "crm.db")
    db = connect(path)
    db.execute("SELECT ml_unlock('right')")
    make_messages(db)
    db.execute("SELECT ml_train('spam', 'text', 'messages', 'label')")
    db.execute("DROP TABLE messages")
    db.execute("VACUUM")
    db.close()
    data = open(path, "rb").read()
    for word in (b"zqxvortex", b"plumbrook", b"right"):
        assert word not in data
    db = connect(path)
    with pytest.raises(sqlite3.OperationalError, match=r"^ml_unlock: wrong passphrase for this database$"):
        db.execute("SELECT ml_unlock('wrong')").fetchone()
    db.execute("SELECT ml_unlock('right')")
    assert db.execute("SELECT ml_predict('spam', 'win a prize')").fetchone()[0] == "spam"
    db.execute("UPDATE ml_models SET model = substr(model, 1, 70) || x'00' || substr(model, 72)")
    db.close()
    db = connect(path)
    db.execute("SELECT ml_unlock('right')")
    with pytest.raises(sqlite3.OperationalError,
                       match=r"^ml_predict: cannot decrypt model 'spam': wrong key or corrupted data$"):
        db.execute("SELECT ml_predict('spam', 'win a prize')").fetchone()


def test_export_import_and_prune_across_files(tmp_path):
    """Train in one file, carry the bundle through a file on disk, import it into another file
    with another key; then prune old versions and VACUUM (the host's SQLite 3.40)."""
    trainer = connect(str(tmp_path / "trainer.db"))
    trainer.execute("SELECT ml_unlock('trainer key')")
    make_messages(trainer)
    for alpha in (0.1, 1, 5):
        trainer.execute("SELECT ml_train('spam', 'text', 'messages', 'label', json_object('alpha', ?))", (alpha,))
    (bundle,) = trainer.execute("SELECT ml_export('spam', 'transfer')").fetchone()
    assert isinstance(bundle, bytes) and bundle[:4] == b"SQMB" and b"zqxvortex" not in bundle
    (tmp_path / "spam.sqmb").write_bytes(bundle)
    bodies = [r[0] for r in trainer.execute("SELECT body FROM messages ORDER BY id")]
    want = [trainer.execute("SELECT ml_predict_proba('spam', ?)", (b,)).fetchone()[0] for b in bodies]

    app = connect(str(tmp_path / "app.db"))
    app.execute("SELECT ml_unlock('app key')")
    with pytest.raises(sqlite3.OperationalError,
                       match=r"^ml_import: cannot open the bundle: wrong passphrase or damaged bundle$"):
        app.execute("SELECT ml_import('spam', ?, 'wrong')", ((tmp_path / "spam.sqmb").read_bytes(),)).fetchone()
    assert app.execute("SELECT count(*) FROM ml_models").fetchone()[0] == 0
    (version,) = app.execute("SELECT ml_import('spam', ?, 'transfer')", ((tmp_path / "spam.sqmb").read_bytes(),)).fetchone()
    assert version == 1
    got = [app.execute("SELECT ml_predict_proba('spam', ?)", (b,)).fetchone()[0] for b in bodies]
    assert got == want

    assert trainer.execute("SELECT ml_prune('spam', 1)").fetchone()[0] == 2
    assert [r[0] for r in trainer.execute("SELECT version FROM ml_models")] == [3]
    trainer.execute("VACUUM")
    with pytest.raises(sqlite3.OperationalError, match=r"^ml_prune: argument 'keep' must be a non-negative integer, got -1$"):
        trainer.execute("SELECT ml_prune('spam', -1)").fetchone()


def test_a_failed_call_leaves_no_key_behind(db, monkeypatch):
    """With SQLML_KEY set on a database without a key, the key is written with the first
    model, in one transaction: a training or import that fails writes nothing, not even the
    key record (the key is still checked before the source is read)."""
    monkeypatch.setenv("SQLML_KEY", "from the environment")
    make_messages(db)
    db.commit()

    def sqlml_tables():
        return [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ml\\_%' ESCAPE '\\' ORDER BY 1")]

    # Fails after the source is read: the fit diverges.
    with pytest.raises(sqlite3.OperationalError, match=r"^ml_train: "):
        db.execute("SELECT ml_train('m', 'classifier', "
                   "'SELECT length(body) AS n, label FROM messages', 'label', "
                   "'{\"learning_rate\": 1e308, \"epochs\": 3}')").fetchone()
    # Fails while reading the source.
    with pytest.raises(sqlite3.OperationalError, match=r"^ml_train: "):
        db.execute("SELECT ml_train('m', 'text', 'SELECT body, label FROM nowhere', 'label')").fetchone()
    # Fails on a bundle that does not open.
    with pytest.raises(sqlite3.OperationalError, match=r"^ml_import: argument 'bundle'"):
        db.execute("SELECT ml_import('m', X'53514D42', 'pw')").fetchone()
    assert sqlml_tables() == []
    report = json.loads(db.execute("SELECT ml_train('m', 'text', 'messages', 'label')").fetchone()[0])
    assert report["version"] == 1
    assert sqlml_tables() == ["ml_meta", "ml_models", "ml_training_log"]
    assert db.execute("SELECT count(*) FROM ml_meta WHERE key = 'kdf_salt'").fetchone()[0] == 1
