"""benchmarks/run_all.py: RESULT lines are parsed, the generated block is replaced in place and
the prose around it is kept; every benchmark script has an entry."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load():
    spec = importlib.util.spec_from_file_location("run_all", REPO / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_result_line_format_round_trips():
    run_all = load()
    out = subprocess.run(
        [sys.executable, "-c", "from _result import result; result('x_s', 1.234, 's', '<= 5', True);"
         " result('n', 12345, 'rows')"],
        cwd=REPO / "benchmarks", capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    parsed = [run_all.RESULT.match(line).groups() for line in out]
    assert parsed == [("x_s", "1.23", "s", "<= 5", "yes"), ("n", "12345", "rows", "-", "-")]


def test_generated_block_is_replaced_and_prose_kept(tmp_path):
    import datetime as dt

    run_all = load()
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Import\n\nprose stays\n", encoding="utf-8")
    rows = [{"name": "import_bench", "size": "100,000 rows", "code": 0,
             "results": [("import_seconds", "41", "s", "<= 60", "yes")]}]  # fmt: skip
    when = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    run_all.write(doc, run_all.table(rows, when, False, (1.0, 2.0)))
    rows[0]["results"] = [("import_seconds", "75", "s", "<= 60", "no")]
    run_all.write(doc, run_all.table(rows, when, True, (1.0, 2.0)))
    text = doc.read_text(encoding="utf-8")
    assert text.count(run_all.BEGIN) == 1 and text.count(run_all.END) == 1
    assert "| 75 s | <= 60 | **no** |" in text and "41 s" not in text
    assert text.startswith("# Benchmarks\n") and text.rstrip().endswith("prose stays")


def test_every_benchmark_script_has_an_entry():
    run_all = load()
    scripts = {p.stem for p in (REPO / "benchmarks").glob("*.py")}
    assert scripts - set(run_all.BENCHMARKS) <= {"run_all", "_result", "sandbox_bench_server"}
