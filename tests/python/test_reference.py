"""The SQL examples of sql/reference.md and README.md, run against the built extension.

The documents are the test data. An example is a fenced ```sql block; its statements run in
document order on one database per document, and the lines right after the block (blank lines
allowed) may hold its result:

- a Markdown table: the columns and rows of the block's last statement. Cells are written as
  the value's text: integers and text as they are, reals as Python's repr (round them in the
  SQL), NULL as `NULL`, blobs as X'..'; `|` is written `\\|` and a newline `\\n`;
- or a line `Error: ` followed by the exact error text in a code span: the block's last
  statement must fail with exactly that message.

Every other statement of a block must succeed (its rows are not compared). A block without a
result block must return no rows from its last statement (a SELECT cannot hide its result), unless
the block holds the comment `-- result: not shown` (for output that changes from run to run).
Shell dot-commands: `.load` is skipped (the extension is already loaded), any other is an error.

README.md's database first gets the blocks of sql/reference.md's "Example data" section, the
tables its examples use.

`SQLML_BLESS=1` rewrites the result blocks from what the examples give (then read the diff).
"""
import os
import re
import sqlite3

import pytest

from conftest import connect

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
REFERENCE = os.path.join(ROOT, "sql", "reference.md")
README = os.path.join(ROOT, "README.md")
DATA_SECTION = "## Example data"
NOT_SHOWN = "-- result: not shown"
FENCE = re.compile(r"^(\s*)(`{3,})(\S*)\s*$")
ERROR = re.compile(r"^Error: (`+) ?(.*?) ?\1\s*$")
CELL_SPLIT = re.compile(r"(?<!\\)\|")


class Example:
    def __init__(self, path, line, sql, section):
        self.path, self.line, self.sql, self.section = path, line, sql, section
        self.result = None  # None, ("table", [header, rows...]) or ("error", text)
        self.span = None  # (first, end) line indexes of the result block in the file
        self.after = None  # the line index right after the closing fence

    def where(self):
        return f"{os.path.relpath(self.path, ROOT)}:{self.line}"


def parse(path):
    """Every ```sql block of the file with the result block that follows it."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    examples, section, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line.rstrip()
        m = FENCE.match(line)
        if not m:
            i += 1
            continue
        indent, ticks, info = m.groups()
        start, i = i, i + 1
        body = []
        while i < len(lines) and not (lines[i].strip() == ticks and lines[i].startswith(indent)):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        assert i < len(lines), f"{path}:{start + 1}: unclosed code block"
        i += 1
        if info != "sql":
            continue
        ex = Example(path, start + 1, "\n".join(body), section)
        ex.after = i
        j = i
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j < len(lines) and lines[j].startswith("|"):
            k = j
            while k < len(lines) and lines[k].startswith("|"):
                k += 1
            rows = [cells(l) for l in lines[j:k]]
            assert len(rows) >= 2 and all(re.fullmatch(r":?-+:?", c) for c in rows[1]), \
                f"{path}:{j + 1}: a result table needs a header and a |---| line"
            ex.result = ("table", [rows[0]] + rows[2:])
            ex.span = (j, k)
            i = k
        elif j < len(lines) and lines[j].startswith("Error:"):
            e = ERROR.match(lines[j])
            assert e, f"{path}:{j + 1}: an error result reads Error: `the exact message`"
            ex.result = ("error", e.group(2))
            ex.span = (j, j + 1)
            i = j + 1
        examples.append(ex)
    return lines, examples


def cells(line):
    line = line.strip()
    assert line.startswith("|") and line.endswith("|") and not line.endswith("\\|"), line
    return [c.strip() for c in CELL_SPLIT.split(line[1:-1])]


def cell(value):
    if value is None:
        text = "NULL"
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, bytes):
        text = "X'" + value.hex().upper() + "'"
    else:
        text = str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "\\n").strip()


def statements(sql):
    """The block's statements in order (a dot-command is one line)."""
    out, buf = [], ""
    for line in sql.split("\n"):
        if not re.sub(r"--[^\n]*", "", buf).strip() and line.startswith("."):
            out.append(line.strip())
            continue
        for ch in line + "\n":
            buf += ch
            if ch == ";" and sqlite3.complete_statement(buf):
                out.append(buf.strip())
                buf = ""
    rest = re.sub(r"--[^\n]*", "", buf).strip()
    assert not rest, f"an unfinished statement: {buf.strip()!r}"
    return out


def run(db, ex):
    """(kind, value) of the block's last statement: ('rows', table), ('none', None) or ('error', text)."""
    stmts = statements(ex.sql)
    assert stmts, f"{ex.where()}: an empty sql block"
    outcome = ("none", None)
    for n, stmt in enumerate(stmts):
        last = n == len(stmts) - 1
        if stmt.startswith("."):
            assert stmt.split()[0] == ".load", f"{ex.where()}: unsupported dot-command {stmt!r}"
            outcome = ("none", None)
            continue
        try:
            cur = db.execute(stmt)
            rows = cur.fetchall()
        except sqlite3.Error as e:
            if not last:
                raise AssertionError(f"{ex.where()}: {stmt!r} failed: {e}") from None
            return ("error", str(e))
        if cur.description is None:
            outcome = ("none", None)
        else:
            header = [cell(d[0]) for d in cur.description]
            outcome = ("rows", [header] + [[cell(v) for v in row] for row in rows])
    return outcome


def markdown_table(table):
    header, rows = table[0], table[1:]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def error_line(text):
    ticks = "`" * (max((len(t) for t in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"Error: {ticks}{pad}{text}{pad}{ticks}"


def check(db, path, bless, skip_compare=False, examples=None):
    lines, found = parse(path)
    examples = found if examples is None else examples
    problems, edits = [], []
    for ex in examples:
        try:
            kind, value = run(db, ex)
        except AssertionError as e:
            problems.append(str(e))
            continue
        if skip_compare:
            continue
        if NOT_SHOWN in ex.sql:
            if ex.result is not None:
                problems.append(f"{ex.where()}: the block says '{NOT_SHOWN}' but has a result block")
            if kind == "error":
                problems.append(f"{ex.where()}: failed: {value}")
            continue
        if kind == "none":
            got, new = None, None
        elif kind == "rows":
            got, new = ("table", value), markdown_table(value)
        else:
            got, new = ("error", value), [error_line(value)]
        if got != ex.result:
            if bless:
                edits.append((ex, new))
            else:
                want = "no rows" if ex.result is None else ex.result
                problems.append(f"{ex.where()} ({ex.section}): expected {want}, got {got}")
    if bless and edits:
        for ex, new in sorted(edits, key=lambda e: e[0].after, reverse=True):
            block = [""] if new is None else ["", *new]
            if ex.span:
                first, end = ex.span
                lines[ex.after:end] = block
            else:
                lines[ex.after:ex.after] = block
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
    return found, problems


@pytest.fixture
def clean_env(monkeypatch):
    # The examples show what a connection with no key and the default budget does.
    for var in ("SQLML_KEY", "SQLML_MAX_MEMORY_MB", "SQLML_PROGRESS"):
        monkeypatch.delenv(var, raising=False)


def data_blocks():
    return [ex for ex in parse(REFERENCE)[1] if ex.section == DATA_SECTION]


@pytest.mark.parametrize("name", ["sql/reference.md", "README.md"])
def test_examples(name, tmp_path, clean_env):
    path = os.path.join(ROOT, name)
    bless = bool(os.environ.get("SQLML_BLESS"))
    db = connect(str(tmp_path / "reference.db"))
    try:
        if path == README:
            setup = data_blocks()
            assert setup, f"sql/reference.md has no {DATA_SECTION!r} section with sql blocks"
            _, problems = check(db, REFERENCE, False, skip_compare=True, examples=setup)
            assert not problems, problems
        examples, problems = check(db, path, bless)
    finally:
        db.close()
    assert examples, f"{name} has no sql examples"
    assert not problems, "\n".join([f"{len(problems)} of {len(examples)} examples differ "
                                    "(SQLML_BLESS=1 rewrites the result blocks):"] + problems)


def test_the_parser_reads_results_and_errors(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("## S\n\n```sql\nSELECT 1 AS a, 'x|y' AS b;  -- c\n```\n\n| a | b |\n|---|---|\n"
                   "| 1 | x\\|y |\n\nprose\n\n```sql\nSELECT nope();\n```\nError: `no such function: nope`\n"
                   "```sql\n.load ./x\nCREATE TABLE t(a);\n```\n", encoding="utf-8")
    _, examples = parse(str(doc))
    assert [ex.result for ex in examples] == [
        ("table", [["a", "b"], ["1", "x\\|y"]]), ("error", "no such function: nope"), None]
    db = sqlite3.connect(":memory:")
    assert [run(db, ex) for ex in examples] == [
        ("rows", [["a", "b"], ["1", "x\\|y"]]), ("error", "no such function: nope"), ("none", None)]
    assert statements("SELECT ';'; SELECT 2; -- a comment;\n") == ["SELECT ';';", "SELECT 2;"]
    assert error_line("a `b`") == "Error: `` a `b` ``" and ERROR.match(error_line("a `b`")).group(2) == "a `b`"
