"""The target blocks of a config: which one a command runs on, and the checks a target's model,
endpoint and deployments must pass (after the schema, before any model call)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from promptc.errors import ConfigError
from promptc.lm.providers import is_in_process

if TYPE_CHECKING:
    from promptc.config.load import Target


def check_endpoint(target: Target, path: Path, where: str = "target") -> None:
    """Refuse api_base or api_key_env on an in-process model, and an api_base with a bad port."""
    if is_in_process(target.model) and target.logprobs:
        raise ConfigError(
            f"{path}: {where}.logprobs: {target.model} runs in process and scores labels already",
            fix=f"remove {where}.logprobs; it is for hosted models that return token log-probabilities",
        )
    for key in ("api_base", "api_key_env"):
        if is_in_process(target.model) and getattr(target, key) is not None:
            raise ConfigError(
                f"{path}: {where}.{key}: {target.model} runs in process; it has no server or key",
                fix=f"remove {where}.{key}, or name a hosted model (e.g. openai/<name>) in {where}.model",
            )
    if target.deployments:
        check_deployments(target, path, where)
    bases = [(f"{where}.api_base", target.api_base)] + [
        (f"{where}.deployments.{i}.api_base", d.api_base) for i, d in enumerate(target.deployments)
    ]
    for key, base in bases:
        if base is None:
            continue
        try:
            port = urlsplit(base).port
        except ValueError:  # not a number, or past 65535
            port = 0
        if port == 0:
            raise ConfigError(
                f"{path}: {key}: the port is not a number from 1 to 65535",
                fix=f"set {key} to a URL such as http://127.0.0.1:8080/v1",
            )


def check_deployments(target: Target, path: Path, where: str = "target") -> None:
    """Refuse deployments on an in-process model, beside target.api_base / api_key_env, or repeated."""
    if is_in_process(target.model):
        raise ConfigError(
            f"{path}: {where}.deployments: {target.model} runs in process; it has no servers",
            fix=f"remove {where}.deployments, or name a hosted model (e.g. openai/<name>) in {where}.model",
        )
    for key in ("api_base", "api_key_env"):
        if getattr(target, key) is not None:
            raise ConfigError(
                f"{path}: {where}.{key}: give it per deployment when {where}.deployments is set",
                fix=f"move {where}.{key} into each entry of {where}.deployments",
            )
    seen: set[str] = set()
    for i, deployment in enumerate(target.deployments):
        if deployment.api_base in seen:
            raise ConfigError(
                f"{path}: {where}.deployments.{i}.api_base: the same server is named twice",
                fix="name each deployment's server once (its weight sets its share of requests)",
            )
        seen.add(deployment.api_base)


def pick_target(raw: dict[str, Any], path: Path, name: str | None) -> tuple[str | None, dict[str, Any]]:
    """The target block a command runs on: `target`, or the one named in `targets` (--target NAME).

    With several named targets a command that needs one must be told which: a default would
    let `promote` or `run` act on a model revision the user did not mean.
    """
    if "target" in raw:
        if name is not None:
            raise ConfigError(
                f"{path}: --target {name!r}: the config names one model under target:, not named targets",
                fix="drop --target, or name each model under targets: NAME: {model: ..., revision: ...}",
            )
        return None, raw["target"]
    targets: dict[str, Any] = raw["targets"]
    names = ", ".join(targets)
    if name is None:
        if len(targets) == 1:
            return next(iter(targets.items()))
        raise ConfigError(
            f"{path}: targets: names {len(targets)} models ({names}); this command runs on one",
            fix=f"pass --target NAME (one of: {names}); promptc compile --matrix compiles them all",
        )
    if name not in targets:
        raise ConfigError(
            f"{path}: --target {name!r}: no such name under targets:",
            fix=f"pass one of: {names}",
        )
    return name, targets[name]


def check_distinct_targets(raw: dict[str, Any], path: Path) -> None:
    """Refuse two named targets on one model revision: they would share one artifact cell."""
    seen: dict[tuple[str, str], str] = {}
    for name, block in raw.get("targets", {}).items():
        key = (block["model"], str(block["revision"]))
        if key in seen:
            raise ConfigError(
                f"{path}: targets.{name}: the same model and revision as targets.{seen[key]} "
                f"({key[0]}@{key[1]})",
                fix="name each model revision once: a program version and a model revision make one cell",
            )
        seen[key] = name
