"""Load a YAML config, validate it against the shipped JSON Schema, return frozen dataclasses."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from promptc.errors import ConfigError
from promptc.program import Field, Program, Signature
from promptc.providers import is_in_process
from promptc.safe_yaml import read_yaml


@dataclass(frozen=True)
class Deployment:
    """One place a hosted model is served, for a router across several (target.deployments)."""

    api_base: str
    api_key_env: str | None = None
    weight: float = 1.0  # share of requests, relative to the other deployments
    rpm: int | None = None  # requests per minute this deployment takes
    tpm: int | None = None  # tokens per minute this deployment takes


@dataclass(frozen=True)
class Target:
    """The model a program is compiled for, pinned to an exact revision."""

    model: str
    revision: str
    temperature: float = 0.0
    max_tokens: int = 64
    concurrency: int = 4
    max_retries: int = 3
    timeout_s: float = 60.0
    constrained: bool = True  # hold replies to the answer format where the provider supports grammars
    # Where a hosted model is served, and the NAME of the environment variable holding its key.
    # Neither is part of the cache key: the exact revision, checked on every fresh reply, is.
    api_base: str | None = None
    api_key_env: str | None = None
    # A hosted provider that returns token log-probabilities (OpenAI, vLLM, llama.cpp's server):
    # enum outputs can then be decided by label log-probability, as on the embedded models.
    logprobs: bool = False
    # Rate caps across all concurrent workers: requests and tokens per minute sent to the provider.
    rpm: int | None = None
    tpm: int | None = None
    # Several deployments of this one model behind a router (instead of api_base / api_key_env).
    deployments: tuple[Deployment, ...] = ()

    @property
    def decoding(self) -> dict[str, Any]:
        """Decoding settings sent with every call (and part of the cache key)."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class DataSpec:
    """Where the splits live and which columns carry ids and slices."""

    train: Path | None = None
    val: Path | None = None
    test: Path | None = None
    file: Path | None = None
    split_column: str = "split"
    id_column: str = "id"
    slice_column: str | None = None
    near_duplicate_threshold: float = 0.5


@dataclass(frozen=True)
class OptimizerSpec:
    """Which optimizer to run, its settings and its seed."""

    name: str = "auto"
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    confidence: float = 0.9  # selection: better than the configured program at this level


@dataclass(frozen=True)
class GateRule:
    """Thresholds for one slice (or overall); None means the rule is not applied."""

    min: float | None = None
    max: float | None = None
    min_n: int | None = None
    max_drop: float | None = None
    max_rel_drop: float | None = None
    min_gain: float | None = None
    min_rel_gain: float | None = None


GATE_RULE_KEYS = ("min", "max", "min_n", "max_drop", "max_rel_drop", "min_gain", "min_rel_gain")


@dataclass(frozen=True)
class Gates:
    """Release gates: overall, a default for every slice, named slices, and how to judge them."""

    overall: GateRule | None = None
    default: GateRule | None = None
    slices: dict[str, GateRule] = field(default_factory=dict)
    reference: str = "baseline"
    mode: str = "point"
    confidence: float = 0.95
    higher_is_better: bool = True


@dataclass(frozen=True)
class Budget:
    """Hard caps on the compile search: new model calls and their cost (the holdout is not capped)."""

    max_calls: int | None = None
    max_cost_usd: float | None = None


@dataclass(frozen=True)
class Config:
    """A validated config. Paths are absolute."""

    path: Path
    program: Program
    target: Target
    data: DataSpec
    metric: str
    optimizer: OptimizerSpec
    gates: Gates
    artifacts_dir: Path
    cache_path: Path
    digest: str
    budget: Budget = field(default_factory=Budget)
    # With `targets:`, the name of the target this config was loaded for, and every name in order.
    target_name: str | None = None
    target_names: tuple[str, ...] = ()


def _schema() -> dict[str, Any]:
    text = resources.files("promptc").joinpath("schema/config.schema.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def _key_path(parts: Any) -> str:
    return ".".join(str(p) for p in parts) or "(top level)"


# Keys whose wrong values may hold a secret (a key pasted in place of a variable name, a URL
# with credentials): their errors say what is expected and never repeat the value.
UNECHOED_KEYS = (["target", "api_base"], ["target", "api_key_env"])


def _unechoed(parts: list[Any]) -> bool:
    """A target's or a deployment's api_base or api_key_env (see UNECHOED_KEYS), under target or
    under a name in targets."""
    if len(parts) >= 3 and parts[0] == "targets":
        parts = ["target", *parts[2:]]
    return parts in UNECHOED_KEYS or (
        parts[:2] == ["target", "deployments"] and parts[-1:] in (["api_base"], ["api_key_env"])
    )


def _validate(raw: Any, path: Path) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    lines = []
    for err in errors:
        message = err.message
        if _unechoed(list(err.absolute_path)):
            message = f"must be {err.schema.get('description', 'a string')} (the value is not shown)"
        elif err.validator == "oneOf" and list(err.absolute_path) == ["data"]:
            message = "give either train, val and test files, or one file with a split column"
        elif err.validator == "oneOf" and not err.absolute_path:
            both = "target" in raw and "targets" in raw
            message = (
                "give either target (one model) or targets (named models), not both"
                if both
                else "give target (one model) or targets (named models)"
            )
        elif err.validator == "additionalProperties":
            allowed = sorted(err.schema.get("properties", {}))
            message += f" (allowed keys: {', '.join(allowed)})" if allowed else ""
        elif err.validator == "enum":
            message += f" (allowed: {', '.join(map(str, err.validator_value))})"
        elif err.validator == "pattern" and "description" in err.schema:
            message += f" (expected {err.schema['description']})"
        lines.append(f"  {_key_path(err.absolute_path)}: {message}")
    raise ConfigError(
        f"{path}: invalid config\n" + "\n".join(lines),
        fix="edit the keys named above; the schema is promptc/schema/config.schema.json",
    )


def check_labels(spec: dict[str, Any], where: str, path: Path) -> None:
    """Refuse enum labels that differ only in case or surrounding space (answers are matched so)."""
    for name, item in spec.items():
        seen: dict[str, str] = {}
        for label in item.get("labels", ()):
            key = label.strip().casefold()
            if key in seen:
                raise ConfigError(
                    f"{path}: {where}.{name}.labels: {seen[key]!r} and {label!r} differ only in case",
                    fix="give labels that differ in more than case: answers are matched ignoring case",
                )
            seen[key] = label


def _fields(spec: dict[str, Any]) -> tuple[Field, ...]:
    return tuple(
        Field(
            name=name,
            type=item["type"],
            description=item.get("description", ""),
            labels=tuple(item.get("labels", ())),
            schema=item.get("schema"),
        )
        for name, item in spec.items()
    )


def _resolve(base: Path, value: str | None, key: str, config: Path) -> Path | None:
    if value is None:
        return None
    p = Path(os.path.expanduser(value))
    if p.is_absolute():
        return p
    try:
        return (base / p).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
        raise ConfigError(
            f"{config}: {key}: cannot resolve {value!r} ({exc})",
            fix=f"point {key} at a real path (no symlink loop)",
        ) from None


def _budget(raw: dict[str, Any]) -> Budget:
    cost = raw.get("max_cost_usd")
    return Budget(max_calls=raw.get("max_calls"), max_cost_usd=None if cost is None else float(cost))


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


def target_names(path: str | Path) -> tuple[str | None, ...]:
    """The target names of a config, in file order; (None,) for a config with one `target:`."""
    raw = read_yaml(Path(path))
    if isinstance(raw, dict) and isinstance(raw.get("targets"), dict) and raw["targets"]:
        return tuple(raw["targets"])
    return (None,)  # load_config reports anything wrong with the file


def load_configs(path: str | Path) -> tuple[Config, ...]:
    """One Config per target (the compilation matrix), in file order."""
    return tuple(load_config(path, name) for name in target_names(path))


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


# Where and how fast a hosted model is served does not change what it answers (the revision,
# checked on every fresh reply, does), so these stay out of the config digest, as out of the cache key.
SERVING_KEYS = ("api_base", "api_key_env", "deployments", "rpm", "tpm")


def config_digest(raw: dict[str, Any], target: dict[str, Any]) -> str:
    """The sha256 of one cell's config: the file with this target only (adding a model to the matrix
    changes no other cell), leaving out where and how fast the target is served."""
    served = {k: v for k, v in target.items() if k not in SERVING_KEYS}
    cell = {k: v for k, v in raw.items() if k != "targets"} | {"target": served}
    return hashlib.sha256(json.dumps(cell, sort_keys=True, default=str).encode()).hexdigest()


def promptc_home() -> Path:
    """The directory for promptc's own state (call cache); $PROMPTC_HOME overrides."""
    env = os.environ.get("PROMPTC_HOME")
    return Path(env) if env else Path.home() / ".cache" / "promptc"


def load_config(path: str | Path, target_name: str | None = None) -> Config:
    """Read, validate and convert a YAML config file, for one target (by name with `targets:`)."""
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: the config must be a YAML mapping with keys program, target, ...",
            fix="see configs/ for an example",
        )
    _validate(raw, path)

    base = path.resolve().parent
    prog = raw["program"]
    program = Program(
        name=prog["name"],
        version=prog["version"],
        module=prog.get("module", "predict"),
        signature=Signature(
            inputs=_fields(prog["inputs"]),
            outputs=_fields(prog["outputs"]),
            instructions=prog.get("instructions", "").strip(),
        ),
    )
    check_labels(prog["inputs"], "program.inputs", path)
    check_labels(prog["outputs"], "program.outputs", path)
    clash = set(prog["inputs"]) & set(prog["outputs"])
    if clash:
        raise ConfigError(
            f"{path}: program: field {sorted(clash)[0]!r} is both an input and an output",
            fix="give input and output fields distinct names",
        )
    check_distinct_targets(raw, path)
    name, t = pick_target(raw, path, target_name)
    where = "target" if name is None else f"targets.{name}"
    target = Target(
        model=t["model"],
        revision=str(t["revision"]),
        temperature=float(t.get("temperature", 0.0)),
        max_tokens=int(t.get("max_tokens", 64)),
        concurrency=int(t.get("concurrency", 4)),
        max_retries=int(t.get("max_retries", 3)),
        timeout_s=float(t.get("timeout_s", 60.0)),
        constrained=bool(t.get("constrained", True)),
        api_base=t.get("api_base"),
        api_key_env=t.get("api_key_env"),
        logprobs=bool(t.get("logprobs", False)),
        rpm=t.get("rpm"),
        tpm=t.get("tpm"),
        deployments=tuple(
            Deployment(
                api_base=d["api_base"],
                api_key_env=d.get("api_key_env"),
                weight=float(d.get("weight", 1.0)),
                rpm=d.get("rpm"),
                tpm=d.get("tpm"),
            )
            for d in t.get("deployments", ())
        ),
    )
    check_endpoint(target, path, where)
    d = raw["data"]
    data = DataSpec(
        train=_resolve(base, d.get("train"), "data.train", path),
        val=_resolve(base, d.get("val"), "data.val", path),
        test=_resolve(base, d.get("test"), "data.test", path),
        file=_resolve(base, d.get("file"), "data.file", path),
        split_column=d.get("split_column", "split"),
        id_column=d.get("id_column", "id"),
        slice_column=d.get("slice_column"),
        near_duplicate_threshold=float(d.get("near_duplicate_threshold", 0.5)),
    )
    o = raw.get("optimizer", {})
    optimizer = OptimizerSpec(
        name=o.get("name", "auto"),
        seed=int(o.get("seed", 0)),
        settings=dict(o.get("settings", {})),
        confidence=float(o.get("confidence", 0.9)),
    )
    g = raw.get("gates", {})

    def rule(r: dict[str, Any] | None) -> GateRule | None:
        return None if r is None else GateRule(**{k: r[k] for k in GATE_RULE_KEYS if k in r})

    gates = Gates(
        overall=rule(g.get("overall")),
        default=rule(g.get("default")),
        slices={name: GateRule(**r) for name, r in g.get("slices", {}).items()},
        reference=g.get("reference", "baseline"),
        mode=g.get("mode", "point"),
        confidence=float(g.get("confidence", 0.95)),
        higher_is_better=bool(g.get("higher_is_better", True)),
    )
    artifacts_dir = _resolve(base, raw.get("artifacts", "artifacts"), "artifacts", path)
    cache_path = _resolve(base, raw.get("cache"), "cache", path) or promptc_home() / "cache.sqlite"
    assert artifacts_dir is not None
    digest = config_digest(raw, t)
    return Config(
        path=path,
        program=program,
        target=target,
        data=data,
        metric=raw["metric"],
        optimizer=optimizer,
        gates=gates,
        artifacts_dir=artifacts_dir,
        cache_path=cache_path,
        digest=digest,
        budget=_budget(raw.get("budget", {})),
        target_name=name,
        target_names=tuple(raw.get("targets", ())),
    )


def _stat(path: Path) -> os.stat_result | None:
    """The path's stat, or None when it does not exist (yet)."""
    try:
        return path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None


def check_writable(config: Config, key: str) -> None:
    """Refuse an `artifacts` or `cache` location promptc could not write, before any model call."""
    path = config.artifacts_dir if key == "artifacts" else config.cache_path
    fix = f"set {key}: in {config.path} to a path in a writable directory" + (
        " (or set PROMPTC_HOME)" if key == "cache" else ""
    )

    def refuse(what: str) -> ConfigError:
        return ConfigError(f"{config.path}: {key}: {what}", fix=fix)

    try:
        directory = path
        if key == "cache":
            directory = path.parent
            found = _stat(path)
            if found is not None and stat.S_ISDIR(found.st_mode):
                raise refuse(f"{path} is a directory, not the cache file")
            if found is not None and not os.access(path, os.W_OK):
                raise refuse(f"{path} is not writable")
        probe, found = directory, _stat(directory)
        while found is None and probe != probe.parent:
            probe = probe.parent
            found = _stat(probe)
    except OSError as exc:
        raise refuse(f"{path}: {exc.strerror or exc}") from None
    if found is None or not stat.S_ISDIR(found.st_mode):
        raise refuse(f"{probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise refuse(f"{probe} is not writable")
