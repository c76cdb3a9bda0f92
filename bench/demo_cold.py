"""`make demo` on a cold call cache: wall time, model calls and holdout result, before and after.

Run: .venv/bin/python bench/demo_cold.py [--base REV]

Runs the demo's five commands (check, compile, eval, promote, run; the Makefile's `demo`
target) with `python -m promptc` on this tree, and with --base first on a temporary git
worktree of REV, each with an empty PROMPTC_HOME (no cached call, no remembered model hash)
and an empty artifacts folder. The installed packages are shared, so only promptc's code
differs. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "configs/support_triage.yaml"
TICKET = "ticket=I was charged twice for my Studio plan this month"


def demo(tree: Path, home: Path) -> dict[str, object]:
    """Run the demo's commands in tree with PROMPTC_HOME=home; time them and read the results."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PROMPTC_HOME": str(home)}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    report = home / "eval.json"
    steps = [
        ["check", CONFIG],
        ["compile", CONFIG],
        ["eval", CONFIG, "--artifact", "latest", "--json", str(report)],
        ["promote", CONFIG, "--artifact", "latest", "--alias", "production"],
        ["run", CONFIG, "--alias", "production", "--input", TICKET],
    ]
    times, outputs = [], []
    start = time.perf_counter()
    for args in steps:
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "promptc", *args], cwd=tree, env=env, capture_output=True, text=True
        )
        times.append(round(time.perf_counter() - t, 1))
        outputs.append(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise SystemExit(f"{tree}: promptc {args[0]} exited {proc.returncode}\n{outputs[-1][-3000:]}")
    wall = time.perf_counter() - start
    compile_out = outputs[1]
    calls = re.search(r"model calls: ([\d,]+) made", compile_out)
    model_s = re.search(r"time in the model: ([\d.]+) s", compile_out)
    data = json.loads(report.read_text())
    summaries = {k: data[k]["summaries"]["(overall)"]["mean"] for k in ("baseline", "candidate") if k in data}
    return {
        "wall_s": round(wall, 1),
        "steps_s": dict(zip([s[0] for s in steps], times, strict=True)),
        "model_calls": int(calls.group(1).replace(",", "")) if calls else None,
        "model_s": float(model_s.group(1)) if model_s else None,
        "holdout": summaries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="a git revision to run first, for the before figures")
    args = parser.parse_args()
    rows = {}
    runs = ([("base " + args.base, args.base)] if args.base else []) + [("this tree", None)]
    for name, rev in runs:
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "tree"
            if rev is None:  # this working tree as it is, without its artifacts or environments
                skip = shutil.ignore_patterns(".git", ".venv*", "artifacts", ".suite", "__pycache__")
                shutil.copytree(ROOT, tree, ignore=skip)
                (tree / "artifacts").mkdir()
            else:
                subprocess.run(
                    ["git", "worktree", "add", "-q", "--detach", str(tree), rev], cwd=ROOT, check=True
                )
            try:
                rows[name] = demo(tree, Path(tmp) / "home")
            finally:
                if rev is not None:
                    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
        print(name, json.dumps(rows[name]), flush=True)
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}\n")
    print("| code | wall | model calls | time in the model | steps (s) | holdout baseline -> compiled |")
    print("|---|---:|---:|---:|---|---|")
    for name, r in rows.items():
        steps = ", ".join(f"{k} {v}" for k, v in r["steps_s"].items())  # type: ignore[attr-defined]
        h = r["holdout"]
        print(
            f"| {name} | {r['wall_s']} s | {r['model_calls']} | {r['model_s']} s | {steps} | "
            f"{h.get('baseline', 0):.3f} -> {h.get('candidate', 0):.3f} |"  # type: ignore[union-attr]
        )


if __name__ == "__main__":
    main()
