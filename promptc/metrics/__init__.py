"""Metrics, one module each behind one protocol (base.Builtin), in an explicit registry; custom
`module:function` metrics (custom.py); a composite scoring outputs apart (composite.py); a judge,
a pinned model scoring each reply against a rubric (judge.py).

A metric takes (gold outputs, predicted outputs) and returns a `Verdict`: a score in [0, 1],
feedback saying what was wrong, and per-output scores where outputs are scored apart. A custom
metric may return a number, `{"score": ..., "feedback": "..."}` or `(score, feedback)`. Built-in
metrics never raise on values: None, wrong types, NaN or junk score as a miss with a reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptc.errors import ConfigError
from promptc.metrics import exact_match as _exact_match
from promptc.metrics import json_f1, numeric, set_f1, token_f1
from promptc.metrics import label_accuracy as _label_accuracy
from promptc.metrics.base import Builtin, over_outputs
from promptc.metrics.composite import builtin_part, composite, custom_part
from promptc.metrics.custom import load_custom, module_sha256
from promptc.metrics.judge import Judge, bind_judge
from promptc.metrics.spec import (
    Composite,
    JudgeSpec,
    MetricSpec,
    Part,
    Single,
    custom_names,
    metric_label,
    parse_judge,
)
from promptc.metrics.verdict import MAX_FEEDBACK_CHARS, TRUNCATED, Metric, Verdict, verdict_of
from promptc.prompting.program import Signature

if TYPE_CHECKING:
    from promptc.lm.model import LM

__all__ = [
    "BUILTINS",
    "MAX_FEEDBACK_CHARS",
    "TRUNCATED",
    "Composite",
    "Judge",
    "JudgeSpec",
    "Metric",
    "MetricSpec",
    "Part",
    "Single",
    "Verdict",
    "bind_judge",
    "check_metric",
    "exact_match",
    "label_accuracy",
    "load_metric",
    "metric_fingerprint",
    "metric_label",
    "parse_metric",
    "verdict_of",
]

BUILTINS: dict[str, Builtin] = {
    "exact_match": _exact_match.BUILTIN,
    "label_accuracy": _label_accuracy.BUILTIN,
    "token_f1": token_f1.BUILTIN,
    "set_f1": set_f1.BUILTIN,
    "json_f1": json_f1.BUILTIN,
    "numeric": numeric.BUILTIN,
}

CUSTOM_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
SHAPES = (
    "a metric name, {NAME: {settings}}, {judge: {model, revision, rubric, scale}}, "
    "or {fields: {OUTPUT: METRIC}, weights: {OUTPUT: NUMBER}}"
)


def _defaults(builtin: Builtin) -> dict[str, Any]:
    return {k: s["default"] for k, s in builtin.settings_schema["properties"].items() if "default" in s}


def _settings(name: str, settings: Any, where: str) -> tuple[tuple[str, Any], ...]:
    """A built-in's settings, validated against its schema; only those that differ from the defaults."""
    import jsonschema

    schema = BUILTINS[name].settings_schema
    allowed = ", ".join(schema["properties"]) or "no settings"
    fix = f"{name} accepts: {allowed}"
    for error in jsonschema.Draft202012Validator(schema).iter_errors(settings):
        key = ".".join(map(str, error.absolute_path))
        raise ConfigError(f"{where}{'.' + key if key else ''}: {error.message}", fix=fix)
    out = {}
    for key, value in sorted(settings.items()):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}.{key}: must be a finite number, not {value}", fix=fix)
        value = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        if value != _defaults(BUILTINS[name]).get(key):
            out[key] = value
    return tuple(out.items())


def _single(raw: Any, where: str) -> Single:
    """One metric: a name, or {name: settings}."""
    if isinstance(raw, dict) and len(raw) == 1:
        ((name, settings),) = raw.items()
        where = f"{where}.{name}"
    elif isinstance(raw, str) and raw:
        name, settings = raw, {}
    else:
        raise ConfigError(f"{where}: must be {SHAPES}", fix="see the README's Metrics section")
    if isinstance(name, str) and ":" in name:
        if not CUSTOM_NAME.match(name):
            raise ConfigError(
                f"{where}: {name!r} is not module:function",
                fix="write the module's name, a colon and the function's name, e.g. my_metrics:score",
            )
        if settings:
            raise ConfigError(
                f"{where}: a module:function metric takes no settings", fix="give its name alone"
            )
        return Single(name)
    if name not in BUILTINS:
        raise ConfigError(
            f"{where}: unknown metric {name!r}",
            fix=f"use one of {', '.join(BUILTINS)}, or module:function for your own",
        )
    if not isinstance(settings, dict):
        raise ConfigError(
            f"{where}: the settings of {name} must be a mapping", fix=f"write {{{name}: {{...}}}}"
        )
    return Single(name, _settings(name, settings, where))


def _weight(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigError(
            f"{where}: must be a finite number, 0 or more (got {value!r})", fix="give a weight like 1 or 2"
        )
    return float(value)


def parse_metric(raw: Any, where: str = "metric") -> MetricSpec:
    """The metric as written in YAML (or its canonical text, metric_label), checked; errors name the key."""
    if isinstance(raw, str) and raw.startswith("{"):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ConfigError(f"{where}: {raw[:80]!r} is not a metric", fix=f"write {SHAPES}") from None
    if isinstance(raw, dict) and "judge" in raw and len(raw) == 1:
        return parse_judge(raw["judge"], f"{where}.judge")
    if not (isinstance(raw, dict) and ("fields" in raw or "weights" in raw)):
        return _single(raw, where)
    if "fields" not in raw:
        raise ConfigError(
            f"{where}.weights: weights need fields", fix="give metric.fields: {OUTPUT: METRIC} too"
        )
    fields, weights = raw["fields"], raw.get("weights") or {}
    unknown = sorted(map(str, set(raw) - {"fields", "weights"}))
    if unknown or not isinstance(fields, dict) or not fields or not isinstance(weights, dict):
        raise ConfigError(
            f"{where}: must be {{fields: {{OUTPUT: METRIC}}, weights: {{OUTPUT: NUMBER}}}}",
            fix="see the README's Metrics section",
        )
    for name in weights:
        if name not in fields:
            raise ConfigError(
                f"{where}.weights.{name}: {name!r} is not under {where}.fields",
                fix=f"weigh only the fields listed under {where}.fields ({', '.join(map(str, fields))})",
            )
    parts = []
    for name, metric in fields.items():
        if isinstance(metric, dict) and ("fields" in metric or "weights" in metric):
            raise ConfigError(
                f"{where}.fields.{name}: a field's metric is one metric, not fields", fix="name one metric"
            )
        if isinstance(metric, dict) and "judge" in metric:
            raise ConfigError(
                f"{where}.fields.{name}.judge: a judge scores the whole reply, not one output",
                fix=f"write the judge as {where}: {{judge: {{...}}}}, its rubric saying what each output "
                "should be",
            )
        weight = _weight(weights.get(name, 1.0), f"{where}.weights.{name}")
        parts.append(Part(str(name), _single(metric, f"{where}.fields.{name}"), weight))
    if not any(p.weight > 0 for p in parts):
        raise ConfigError(
            f"{where}.weights: every weight is 0", fix="give at least one field a weight above 0"
        )
    return Composite(tuple(sorted(parts, key=lambda p: p.output)))  # one order, as metric_label writes it


def _check_types(single: Single, outputs: dict[str, str], where: str) -> None:
    """Refuse a built-in metric on outputs of a type it cannot score (label_accuracy: enum only)."""
    types = None if single.custom else BUILTINS[single.name].types
    wrong = [name for name, kind in outputs.items() if types is not None and kind not in types]
    if not wrong:
        return
    kinds = " or ".join(sorted(types or ()))
    if len(outputs) > 1 and where == "metric":
        raise ConfigError(
            f"metric: {single.name} needs every output field to be of type {kinds}",
            fix="use exact_match, or give the outputs type: enum with labels, "
            "or score outputs apart with metric.fields",
        )
    raise ConfigError(
        f"{where}: {single.name} needs an output of type {kinds}; {wrong[0]} is {outputs[wrong[0]]}",
        fix=f"use exact_match, or give {wrong[0]} type: enum with labels",
    )


def check_metric(spec: MetricSpec, signature: Signature) -> None:
    """Refuse a metric that does not fit the program: a field that is not an output, a wrong type."""
    types = {f.name: str(f.type) for f in signature.outputs}
    if isinstance(spec, JudgeSpec):
        return  # a judge reads outputs of every type
    if isinstance(spec, Single):
        _check_types(spec, types, "metric")
        return
    for part in spec.parts:
        where = f"metric.fields.{part.output}"
        if part.output not in types:
            raise ConfigError(
                f"{where}: {part.output!r} is not an output of the program (outputs: {', '.join(types)})",
                fix="name one of program.outputs under metric.fields, or add the output to program.outputs",
            )
        _check_types(part.metric, {part.output: types[part.output]}, where)


def _build(single: Single, config_dir: Path) -> Any:
    """A built-in's value scorer with its settings, or a custom metric."""
    if single.custom:
        return load_custom(single.name, config_dir)
    builtin = BUILTINS[single.name]
    return builtin.build(_defaults(builtin) | dict(single.settings))


def load_metric(
    metric: str | MetricSpec, signature: Signature, config_dir: Path, lm: LM | None = None
) -> Metric:
    """The metric of a config (its spec, or its text as in config.metric) for a program.

    A custom module:function is loaded by its file path from config_dir, or as an installed module.
    A judge calls its model through an LM that shares lm's cache, caps and counters; without lm,
    evaluate() gives it one beside the LM it runs on (bind_judge).
    """
    spec = metric if isinstance(metric, Single | Composite | JudgeSpec) else parse_metric(metric)
    check_metric(spec, signature)
    if isinstance(spec, JudgeSpec):
        judge = Judge(spec)
        return judge if lm is None else judge.bind(lm)
    if isinstance(spec, Single):
        built = _build(spec, config_dir)
        return built if spec.custom else over_outputs(BUILTINS[spec.name], built)
    parts = []
    for part in spec.parts:
        built = _build(part.metric, config_dir)
        parts.append(
            (part.output, custom_part(built) if part.metric.custom else builtin_part(built), part.weight)
        )
    return composite(parts)


def metric_fingerprint(metric: str | MetricSpec | dict[str, Any], config_dir: Path) -> str:
    """What a score was made under: the metric's canonical text (a judge's model, revision, rubric
    and scale included; not where it is served) and the sha256 of each custom metric's module file.
    Scores are comparable only under the same fingerprint.

    metric is config.metric (or a spec, or the YAML form); config_dir is the config's folder.
    """
    spec = metric if isinstance(metric, Single | Composite | JudgeSpec) else parse_metric(metric)
    modules = {name: module_sha256(name.split(":", 1)[0], config_dir) for name in custom_names(spec)}
    if isinstance(spec, JudgeSpec):  # where the judge is served does not change its scores
        spec = dataclasses.replace(spec, api_base=None, api_key_env=None)
    text = json.dumps({"metric": metric_label(spec), "modules": modules}, sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# The built-in metrics over a program's outputs, for code that scores without a config.
exact_match: Metric = over_outputs(BUILTINS["exact_match"], _exact_match.exact_match)
label_accuracy: Metric = over_outputs(BUILTINS["label_accuracy"], _label_accuracy.label_accuracy)
