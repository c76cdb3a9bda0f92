"""The config's JSON Schema (promptc/schema/config.schema.json): validation with clear errors, and
the defaults it declares, the one place a config default is written."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from promptc.errors import ConfigError

# Where each section's keys are declared in the schema.
SECTIONS: dict[str, tuple[str, ...]] = {
    "config": (),
    "program": ("properties", "program"),
    "field": ("$defs", "field"),
    "target": ("properties", "target"),
    "deployment": ("properties", "target", "properties", "deployments", "items"),
    "data": ("properties", "data"),
    "optimizer": ("properties", "optimizer"),
    "gates": ("properties", "gates"),
}

# Keys whose wrong values may hold a secret (a key pasted in place of a variable name, a URL
# with credentials): their errors say what is expected and never repeat the value.
UNECHOED_KEYS = (
    ["target", "api_base"],
    ["target", "api_key_env"],
    ["metric", "judge", "api_base"],
    ["metric", "judge", "api_key_env"],
)


@lru_cache(maxsize=1)
def config_schema() -> dict[str, Any]:
    """The shipped JSON Schema of a config file."""
    text = resources.files("promptc").joinpath("schema/config.schema.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def defaults(section: str) -> dict[str, Any]:
    """The `default` of every key of a config section (see SECTIONS) that declares one."""
    node = config_schema()
    for step in SECTIONS[section]:
        node = node[step]
    found = {key: spec["default"] for key, spec in node["properties"].items() if "default" in spec}
    return copy.deepcopy(found)  # the schema is cached: a caller's edit must not reach it


def schema_default(section: str, key: str) -> Any:
    """The schema's default for one key of a config section."""
    return defaults(section)[key]


def with_defaults(section: str, block: dict[str, Any]) -> dict[str, Any]:
    """A validated config block with the schema's defaults filled in for the keys it leaves out."""
    return {**defaults(section), **block}


def _key_path(parts: Any) -> str:
    return ".".join(str(p) for p in parts) or "(top level)"


def _unechoed(parts: list[Any]) -> bool:
    """A target's or a deployment's api_base or api_key_env (see UNECHOED_KEYS), under target or
    under a name in targets."""
    if len(parts) >= 3 and parts[0] == "targets":
        parts = ["target", *parts[2:]]
    return parts in UNECHOED_KEYS or (
        parts[:2] == ["target", "deployments"] and parts[-1:] in (["api_base"], ["api_key_env"])
    )


def _message(err: Any, raw: Any) -> str:
    """What one schema error says to the user."""
    message: str = err.message
    if _unechoed(list(err.absolute_path)):
        return f"must be {err.schema.get('description', 'a string')} (the value is not shown)"
    if err.validator == "oneOf" and list(err.absolute_path) == ["data"]:
        return "give either train, val and test files, or one file with a split column"
    if err.validator == "oneOf" and not err.absolute_path:
        both = "target" in raw and "targets" in raw
        return (
            "give either target (one model) or targets (named models), not both"
            if both
            else "give target (one model) or targets (named models)"
        )
    metric_shape = err.validator in ("type", "maxProperties", "minLength") and "description" in err.schema
    if list(err.absolute_path)[:1] == ["metric"] and metric_shape:
        return f"must be {err.schema['description']}"
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        return message + (f" (allowed keys: {', '.join(allowed)})" if allowed else "")
    if err.validator == "enum":
        return message + f" (allowed: {', '.join(map(str, err.validator_value))})"
    if err.validator == "pattern" and "description" in err.schema:
        return message + f" (expected {err.schema['description']})"
    return message


def validate(raw: Any, path: Path) -> None:
    """Refuse a config the schema does not accept, naming every key that is wrong."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(config_schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    lines = [f"  {_key_path(err.absolute_path)}: {_message(err, raw)}" for err in errors]
    raise ConfigError(
        f"{path}: invalid config\n" + "\n".join(lines),
        fix="edit the keys named above; the schema is promptc/schema/config.schema.json",
    )
