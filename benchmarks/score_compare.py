"""score_bench of two versions back to back, alternating, on the same machine at the same time.

    python benchmarks/score_compare.py [--baseline main] [--candidate WORKTREE] [--rounds 3]
        [-- score_bench arguments, e.g. --recipients 30000]

This VM is shared and its speed changes from minute to minute, so one version's figure from
an hour ago says little about another's now. Each round runs the baseline's
benchmarks/score_bench.py and then the candidate's (a git ref exported with `git archive` to
a temp folder, or WORKTREE: this checkout as it is on disk), each in its own process with its
own freshly generated database, and prints both figures and their ratio (wall times, and the
batch's CPU seconds: this process + its workers, which a loaded machine distorts less); the last
lines give the medians. The 1-minute load average is printed beside each run.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULT = re.compile(r"^RESULT name=(\S+) value=(\S+) unit=")
# score_bench's CPU line: under load the wall time mostly measures the queue, CPU seconds less so
CPU = re.compile(r"CPU: this process ([\d.]+) s, worker processes ([\d.]+) s")
WORKTREE = "WORKTREE"


def export(ref: str, into: str) -> Path:
    """The repository at `ref` as plain files (the benchmark imports bot/ from beside it)."""
    if ref == WORKTREE:
        return REPO
    target = Path(into) / re.sub(r"[^A-Za-z0-9_.-]", "_", ref)
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def run(tree: Path, args: list[str]) -> dict[str, float]:
    """One score_bench run of the tree: {result name: value}, plus the load average."""
    load = os.getloadavg()[0]
    out = subprocess.run(
        [sys.executable, str(tree / "benchmarks" / "score_bench.py"), *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = {"load": load}
    for line in out.splitlines():
        m = RESULT.match(line)
        if m:
            figures[m.group(1)] = float(m.group(2))
        cpu = CPU.search(line)
        if cpu:
            figures["recompute_all_cpu_s"] = float(cpu.group(1)) + float(cpu.group(2))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git ref (default: main)")
    parser.add_argument("--candidate", default=WORKTREE, help="git ref (default: this checkout)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("bench_args", nargs="*", help="passed to score_bench.py (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"baseline": export(args.baseline, tmp), "candidate": export(args.candidate, tmp)}
        runs: dict[str, list[dict[str, float]]] = {"baseline": [], "candidate": []}
        for i in range(1, args.rounds + 1):
            for name, tree in trees.items():
                runs[name].append(run(tree, args.bench_args))
            base, cand = runs["baseline"][-1], runs["candidate"][-1]
            for key in sorted(k for k in base if k != "load"):
                print(
                    f"round {i} {key}: baseline {base[key]:.2f} (load {base['load']:.1f}),"
                    f" candidate {cand.get(key, float('nan')):.2f} (load {cand['load']:.1f}),"
                    f" ratio {cand.get(key, float('nan')) / base[key]:.2f}",
                    flush=True,
                )
        for key in sorted(k for k in runs["baseline"][0] if k != "load"):
            b = statistics.median(r[key] for r in runs["baseline"])
            c = statistics.median(r[key] for r in runs["candidate"])
            print(f"median {key}: baseline {b:.2f}, candidate {c:.2f}, ratio {c / b:.2f}")


if __name__ == "__main__":
    main()
