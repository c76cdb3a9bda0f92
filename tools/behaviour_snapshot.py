"""Record what promptc prints and writes for a fixed set of fake-model runs, to compare two trees.

A refactor that moves code must not change behaviour. This script runs, in a fresh folder:
`--help` of every command; check, compile (--dry-run and real) once per optimizer, eval with
every report writer, promote, list, history, show, diff, matrix, run, report, export, plan,
rollback, and a sharded eval merged; a slot-filling program with a composite metric; and
`promptc.load()`. Each step's exit code, stdout, stderr and the files it wrote go to OUT, with
wall-clock figures and dates masked. Run it on two trees and diff the folders:

    PYTHONPATH=/path/to/tree .venv/bin/python tools/behaviour_snapshot.py /tmp/before
    .venv/bin/python tools/behaviour_snapshot.py /tmp/after
    diff -r /tmp/before /tmp/after

The working folder is always /tmp/promptc-snapshot, so the paths printed are the same.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import base_config, make_examples, write_jsonl  # noqa: E402

WORK = Path("/tmp/promptc-snapshot")
OPTIMIZERS = {
    "labeled_fewshot": {"k": 8},
    "bootstrap_fewshot": {},
    "random_search": {"num_candidate_programs": 3},
    "mipro": {"auto": "light"},
    "copro": {},
    "gepa": {"auto": "light", "reflection_model": {"model": "fake/learner", "revision": "fake00000000"}},
    "auto": {},
}
MASKS = [
    (re.compile(r"\d{8}T\d{6}-\d+-[0-9a-f]+"), "<run>"),  # an optuna study's run stamp
    (re.compile(r"\d+(\.\d+)? ?(s|ms|min)\b"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(\+00:00|Z)?"), "<date>"),
    (re.compile(r"\d+(\.\d+)? (calls|requests)/s"), "<rate>"),
    (re.compile(r'"(wall_s|seconds|elapsed_s|duration_s|created|at)": [0-9.e+-]+'), r'"\1": <n>'),
]


def mask(text: str) -> str:
    for pattern, repl in MASKS:
        text = pattern.sub(repl, text)
    return text


def environment() -> dict[str, str]:
    env = {
        **os.environ,
        "COLUMNS": "120",
        "NO_COLOR": "1",
        "TERM": "dumb",
        "HOME": str(WORK / "home"),
        "PROMPTC_HOME": str(WORK / "home" / ".promptc"),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    env.pop("PROMPTC_DEBUG", None)
    return env


def promptc(out: Path, name: str, *args: str) -> None:
    """Run one command; keep its exit code, stdout and stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "promptc", *args], cwd=WORK, env=environment(), capture_output=True, text=True
    )
    head = f"$ promptc {' '.join(args)}\nexit {done.returncode}\n"
    text = f"{head}--- stdout\n{done.stdout}--- stderr\n{done.stderr}"
    (out / f"{name}.txt").write_text(mask(text))


def write_config(path: Path, edit: Any = None) -> Path:
    cfg = base_config(WORK)
    if edit:
        edit(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def slots_config(cfg: dict[str, Any]) -> None:
    """A mixed signature (enum + json + str) scored by a composite metric."""
    rows = {
        s: make_examples(n, seed=i + 1, start=100 * i)
        for i, (s, n) in enumerate((("train", 40), ("val", 24), ("test", 32)))
    }
    (WORK / "slots").mkdir(exist_ok=True)
    for split, examples in rows.items():
        for e in examples:
            e["slots"] = {"topic": [e["ticket"].split()[0]]}
            e["summary"] = e["ticket"].split()[0]
        write_jsonl(WORK / "slots" / f"{split}.jsonl", examples)
        cfg["data"][split] = f"slots/{split}.jsonl"
    cfg["program"]["outputs"] = {
        "category": {"type": "enum", "labels": cfg["program"]["outputs"]["category"]["labels"]},
        "slots": {
            "type": "json",
            "schema": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
        "summary": {"type": "str"},
    }
    cfg["metric"] = {"fields": {"category": "label_accuracy", "slots": "json_f1", "summary": "token_f1"}}
    cfg["optimizer"] = {"name": "auto", "seed": 1, "settings": {}}
    cfg["gates"] = {"overall": {"min_gain": 0.0}}
    cfg["artifacts"] = "artifacts-slots"


def help_pages(out: Path) -> None:
    import typer.main

    from promptc.cli.app import app

    group = typer.main.get_command(app)
    promptc(out, "help", "--help")
    for name in sorted(group.commands):  # type: ignore[attr-defined]
        promptc(out, f"help-{name}", name, "--help")


def optimizer_runs(out: Path) -> None:
    for name, settings in OPTIMIZERS.items():

        def edit(cfg: dict[str, Any], name: str = name, settings: dict[str, Any] = settings) -> None:
            cfg["optimizer"] = {"name": name, "seed": 3, "settings": settings}
            cfg["artifacts"] = f"artifacts-{name}"
            if name in ("copro", "gepa", "mipro"):
                cfg["optimizer"]["settings"] = {**settings}

        path = write_config(WORK / f"{name}.yaml", edit)
        promptc(out, f"opt-{name}-dry-run", "compile", path.name, "--dry-run")
        promptc(out, f"opt-{name}-compile", "compile", path.name)


def lifecycle(out: Path) -> None:
    write_config(WORK / "promptc.yaml")
    steps: list[tuple[str, list[str]]] = [
        ("check", ["check", "promptc.yaml"]),
        ("plan", ["plan", "promptc.yaml"]),
        ("compile", ["compile", "promptc.yaml"]),
        (
            "eval",
            [
                "eval",
                "promptc.yaml",
                "--json",
                "r/eval.json",
                "--junit",
                "r/junit.xml",
                "--markdown",
                "r/eval.md",
                "--html",
                "r/eval.html",
            ],
        ),
        ("promote", ["promote", "promptc.yaml", "--artifact", "latest"]),
        (
            "promote-verify",
            ["promote", "promptc.yaml", "--artifact", "latest", "--alias", "staging", "--verify"],
        ),
        ("list", ["list", "promptc.yaml"]),
        ("history", ["history", "promptc.yaml"]),
        ("show", ["show", "production", "--config", "promptc.yaml"]),
        ("diff", ["diff", "production", "staging", "--config", "promptc.yaml"]),
        ("matrix", ["matrix", "promptc.yaml"]),
        ("matrix-json", ["matrix", "promptc.yaml", "--json"]),
        ("run", ["run", "promptc.yaml", "-i", "ticket=my invoice was charged twice"]),
        ("report", ["report", "promptc.yaml", "production", "--out", "r/report.html"]),
        (
            "report-baseline",
            ["report", "promptc.yaml", "production", "--out", "r/report-b.html", "--against", "baseline"],
        ),
        ("export", ["export", "production", "--config", "promptc.yaml", "--out", "r/export.jsonl"]),
        ("shard-1", ["eval", "promptc.yaml", "--shard", "1/2", "--out", "r/s1.json"]),
        ("shard-2", ["eval", "promptc.yaml", "--shard", "2/2", "--out", "r/s2.json"]),
        ("merge", ["merge", "promptc.yaml", "r/s1.json", "r/s2.json", "--markdown", "r/merge.md"]),
        ("rollback", ["rollback", "promptc.yaml"]),
        ("bad-artifact", ["eval", "promptc.yaml", "--artifact", "nope"]),
    ]
    (WORK / "r").mkdir(exist_ok=True)
    for name, args in steps:
        promptc(out, f"life-{name}", *args)
    write_config(WORK / "slots.yaml", slots_config)
    for name, args in [
        ("slots-compile", ["compile", "slots.yaml"]),
        ("slots-eval", ["eval", "slots.yaml", "--markdown", "r/slots.md", "--html", "r/slots.html"]),
        ("slots-promote", ["promote", "slots.yaml", "--artifact", "latest"]),
        ("slots-run", ["run", "slots.yaml", "-i", "ticket=refund my card payment"]),
    ]:
        promptc(out, name, *args)
    load = (
        "import json, promptc; p = promptc.load('slots.yaml'); "
        "print(json.dumps(p(ticket='refund my card payment'), sort_keys=True))"
    )
    done = subprocess.run(
        [sys.executable, "-c", load], cwd=WORK, env=environment(), capture_output=True, text=True
    )
    (out / "load.txt").write_text(mask(f"exit {done.returncode}\n{done.stdout}{done.stderr}"))


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(WORK, ignore_errors=True)
    out.mkdir(parents=True)
    WORK.mkdir(parents=True)
    help_pages(out)
    optimizer_runs(out)
    lifecycle(out)
    for path in sorted((WORK / "r").iterdir()):
        (out / f"file-{path.name}.txt").write_text(mask(path.read_text()))
    ids = {}
    for folder in sorted(WORK.glob("artifacts*")):
        ids[folder.name] = sorted(p.name for p in folder.rglob("*.json"))
    (out / "artifact-files.json").write_text(json.dumps(ids, indent=1))
    print(f"{len(list(out.iterdir()))} files in {out}")


if __name__ == "__main__":
    main()
