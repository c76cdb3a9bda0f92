"""Start-up cost of the commands CI runs: a cached `promptc eval`, `promptc check`, `promptc --help`.

Run: .venv/bin/python bench/startup.py [--base REV] [--runs N]

Every model call of the bundled example must already be in the call cache (run `make demo`
once). With --base, the same commands also run on a checkout of REV (a temporary git
worktree, given a copy of artifacts/), alternating with this tree, so the before/after
ratio comes from one run on one machine. Prints a Markdown table of median wall seconds and
peak RSS per command.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "configs/support_triage.yaml"
COMMANDS = {
    "promptc eval (every call cached)": ["eval", CONFIG, "--artifact", "production"],
    "promptc check": ["check", CONFIG],
    "promptc --help": ["--help"],
}


def run_once(tree: Path, args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `python -m promptc ARGS` in tree."""
    env = {**os.environ, "PYTHONPATH": str(tree), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptc", *args],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"{tree}: promptc {' '.join(args)} exited {proc.returncode}\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def checkout(rev: str, into: Path) -> Path:
    """A worktree of rev with a copy of this tree's artifacts/ (the aliases eval resolves)."""
    tree = into / "base"
    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), rev], cwd=ROOT, check=True)
    shutil.copytree(ROOT / "artifacts", tree / "artifacts", dirs_exist_ok=True)
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="a git revision to compare with (e.g. a commit of main)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": ROOT}
        if args.base:
            trees = {f"base {args.base}": checkout(args.base, Path(tmp)), **trees}
        try:
            rows = []
            for name, command in COMMANDS.items():
                results: dict[str, list[tuple[float, float]]] = {t: [] for t in trees}
                for tree in trees.values():
                    run_once(tree, command)  # warm the file system cache and .pyc files
                for _ in range(args.runs):
                    for tree_name, tree in trees.items():
                        results[tree_name].append(run_once(tree, command))
                for tree_name, runs in results.items():
                    wall = statistics.median(w for w, _ in runs)
                    rss = max(r for _, r in runs)
                    rows.append(f"| {name} | {tree_name} | {wall:.2f} s | {rss:.0f} MB |")
        finally:
            if args.base:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(trees[f"base {args.base}"])], cwd=ROOT
                )
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"runs per command and tree: {args.runs} (median wall, largest peak RSS)\n")
    print("| command | code | wall | peak RSS |\n|---|---|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
