"""Sharded evaluation on a large holdout: eval --shard I/N per shard, merge, against one eval.

Run: .venv/bin/python bench/shards.py [--examples 5000] [--shards 4]

On the fake provider (answers cached after compile, so the numbers are promptc's own cost),
compiles a config with a holdout of `--examples` examples, then times one unsharded
`promptc eval --json`, each `promptc eval --shard I/N --out FILE` and `promptc merge --json`,
reports the shard sizes, the shard file sizes, and whether the merged report equals the
unsharded one (timing fields and call counts aside). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import base_config, make_examples, write_jsonl  # noqa: E402
from tests.test_shards import comparable  # noqa: E402


def promptc(*args: Any, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "promptc", *map(str, args)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(
            f"promptc {' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = base_config(folder)
        # Synthetic tickets share a small vocabulary: only identical inputs count as leaks here.
        config["data"]["near_duplicate_threshold"] = 1.0
        write_jsonl(folder / "data/test.jsonl", make_examples(args.examples, seed=3, start=100_000))
        path = folder / "promptc.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PROMPTC_HOME": str(folder / "home"),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
        compile_s = promptc("compile", path, env=env)
        whole = promptc("eval", path, "--json", folder / "whole.json", env=env)
        files, times = [], []
        for i in range(1, args.shards + 1):
            out = folder / f"shard-{i}.json"
            times.append(promptc("eval", path, "--shard", f"{i}/{args.shards}", "--out", out, env=env))
            files.append(out)
        merge = promptc("merge", path, *files, "--json", folder / "merged.json", env=env)
        same = comparable(json.loads((folder / "whole.json").read_text())) == comparable(
            json.loads((folder / "merged.json").read_text())
        )
        sizes = [len(json.loads(f.read_text())["candidate"]) for f in files]
        nbytes = [f.stat().st_size for f in files]
    print(f"holdout {args.examples} examples, {args.shards} shards, fake provider, every call cached\n")
    print("| step | wall s |")
    print("|---|---:|")
    print(f"| compile (fresh calls) | {compile_s:.2f} |")
    print(f"| eval (unsharded) | {whole:.2f} |")
    for i, t in enumerate(times, 1):
        print(f"| eval --shard {i}/{args.shards} | {t:.2f} |")
    print(f"| merge | {merge:.2f} |")
    print(
        f"\nshard sizes {sizes}; shard files {min(nbytes)}-{max(nbytes)} bytes "
        f"({sum(nbytes) / args.examples:.0f} bytes per example); merged equals unsharded: {same}"
    )


if __name__ == "__main__":
    main()
