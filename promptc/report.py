"""Machine-readable reports of an evaluation (JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from promptc.artifacts import atomic_write
from promptc.errors import BadInput
from promptc.evaluate import OVERALL
from promptc.lifecycle import EvalOutcome


def eval_report(outcome: EvalOutcome) -> dict[str, Any]:
    """The JSON report of `promptc eval`: verdict, per-slice scores, gate checks, records."""
    base, cand = outcome.baseline.summaries, outcome.candidate.summaries
    slices = []
    for name, summary in cand.items():
        ref = base.get(name)
        slices.append(
            {
                "slice": "overall" if name == OVERALL else name,
                **summary.to_dict(),
                "baseline": ref.mean if ref else None,
                "delta": round(summary.mean - ref.mean, 6) if ref else None,
            }
        )
    usage = outcome.usage
    return {
        "passed": outcome.gates.passed,
        "artifact": outcome.artifact.id,
        "program": outcome.artifact.content["program"]["name"],
        "version": outcome.artifact.content["program"]["version"],
        "model": outcome.artifact.model,
        "revision": outcome.artifact.revision,
        "slices": slices,
        "gates": outcome.gates.to_dict(),
        "usage": {
            "calls": usage.calls,
            "cached": usage.cached,
            "tokens": usage.prompt_tokens + usage.completion_tokens,
        },
        "candidate": outcome.candidate.to_dict(timing=True),
        "baseline": outcome.baseline.to_dict(timing=True),
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON report atomically."""
    try:
        atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise BadInput(
            f"{path}: cannot write report ({exc.strerror})", fix="pass a writable --json path"
        ) from None
