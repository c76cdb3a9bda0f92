"""The digest of one cell of the compilation matrix: what the artifact id and lineage carry of
the config."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Where and how fast a model is served does not change what it answers (the revision, checked on
# every fresh reply, does), so these stay out of the config digest, as out of the cache key: the
# target's, and the judge's where the metric is one.
SERVING_KEYS = ("api_base", "api_key_env", "deployments", "rpm", "tpm")


def unserved(block: dict[str, Any]) -> dict[str, Any]:
    """A target or judge block without where and how fast it is served."""
    return {k: v for k, v in block.items() if k not in SERVING_KEYS}


def config_digest(raw: dict[str, Any], target: dict[str, Any]) -> str:
    """The sha256 of one cell's config: the file with this target only (adding a model to the matrix
    changes no other cell), leaving out where and how fast the target and the judge are served."""
    cell = {k: v for k, v in raw.items() if k != "targets"} | {"target": unserved(target)}
    metric = raw.get("metric")
    if isinstance(metric, dict) and isinstance(metric.get("judge"), dict):
        cell["metric"] = metric | {"judge": unserved(metric["judge"])}
    return hashlib.sha256(json.dumps(cell, sort_keys=True, default=str).encode()).hexdigest()
