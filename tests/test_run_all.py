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
    helpers = {"run_all", "_result", "sandbox_bench_server", "score_compare"}
    assert helpers == run_all.HELPERS
    assert scripts - set(run_all.BENCHMARKS) <= helpers


def test_only_run_replaces_just_its_rows(tmp_path):
    import datetime as dt

    run_all = load()
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nprose stays\n", encoding="utf-8")
    when = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    full = [
        {"name": "import_bench", "size": "100,000 rows", "code": 0,
         "results": [("import_seconds", "41", "s", "<= 60", "yes")]},
        {"name": "score_bench", "size": "100,000 recipients", "code": 0,
         "results": [("score_all", "17.3", "s", "<= 10", "no"), ("score_one", "1", "ms", "<= 5", "yes")]},
        {"name": "ops_bench", "size": "5,000", "code": 0,
         "results": [("ops_backup", "0.2", "s", "-", "-")]},
    ]  # fmt: skip
    run_all.write(doc, run_all.table(full, when, False, (0.2, 1.0)))
    only = [{"name": "score_bench", "size": "100,000 recipients", "code": 0,
             "results": [("score_all", "8.3", "s", "<= 10", "yes")]}]  # fmt: skip
    later = when + dt.timedelta(hours=2)
    generated = run_all.table(only, later, False, (0.5, 1.5))
    run_all.write(doc, run_all.merge_rows(doc, ["score_bench"], generated, later, (0.5, 1.5)))
    rows = [line for line in doc.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    figures = [line.split(" | ")[2] for line in rows[1:]]  # rows[0]: the header
    assert figures == ["import_seconds", "score_all", "ops_backup"]  # in place, others kept
    assert "| 8.3 s | <= 10 | yes |" in rows[2] and "17.3" not in doc.read_text(encoding="utf-8")
    assert "Rows of score_bench re-run with `--only` on 2026-11-28 02:00 UTC" in doc.read_text(
        encoding="utf-8"
    )
