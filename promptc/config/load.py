"""Load a YAML config, validate it against the shipped JSON Schema, return frozen dataclasses.

Every default lives in the schema (read by config/schema.py): the dataclasses and each section's
builder take theirs from it. Target checks: config/targets.py."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptc.config.digest import config_digest
from promptc.config.safe_yaml import read_yaml
from promptc.config.schema import schema_default, validate, with_defaults
from promptc.config.targets import check_distinct_targets, check_endpoint, pick_target
from promptc.errors import ConfigError
from promptc.fields.json_field import schema_problem
from promptc.metrics import check_metric, metric_label, parse_metric
from promptc.prompting.program import Field, Program, Signature


@dataclass(frozen=True)
class Deployment:
    """One place a hosted model is served, for a router across several (target.deployments)."""

    api_base: str
    api_key_env: str | None = None
    weight: float = float(schema_default("deployment", "weight"))  # share of requests, relative to the others
    rpm: int | None = None  # requests per minute this deployment takes
    tpm: int | None = None  # tokens per minute this deployment takes


@dataclass(frozen=True)
class Target:
    """The model a program is compiled for, pinned to an exact revision."""

    model: str
    revision: str
    temperature: float = float(schema_default("target", "temperature"))
    max_tokens: int = int(schema_default("target", "max_tokens"))
    concurrency: int = int(schema_default("target", "concurrency"))
    max_retries: int = int(schema_default("target", "max_retries"))
    timeout_s: float = float(schema_default("target", "timeout_s"))
    constrained: bool = bool(schema_default("target", "constrained"))  # hold replies to the answer format
    # Where a hosted model is served, and the NAME of the environment variable holding its key.
    # Neither is part of the cache key: the exact revision, checked on every fresh reply, is.
    api_base: str | None = None
    api_key_env: str | None = None
    # A hosted provider that returns token log-probabilities (OpenAI, vLLM, llama.cpp's server):
    # enum outputs can then be decided by label log-probability, as on the embedded models.
    logprobs: bool = bool(schema_default("target", "logprobs"))
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
    split_column: str = str(schema_default("data", "split_column"))
    id_column: str = str(schema_default("data", "id_column"))
    slice_column: str | None = None
    near_duplicate_threshold: float = float(schema_default("data", "near_duplicate_threshold"))


@dataclass(frozen=True)
class OptimizerSpec:
    """Which optimizer to run, its settings and its seed."""

    name: str = str(schema_default("optimizer", "name"))
    seed: int = int(schema_default("optimizer", "seed"))
    settings: dict[str, Any] = field(default_factory=lambda: dict(schema_default("optimizer", "settings")))
    confidence: float = float(
        schema_default("optimizer", "confidence")
    )  # selection: beat the configured program


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
    reference: str = str(schema_default("gates", "reference"))
    mode: str = str(schema_default("gates", "mode"))
    confidence: float = float(schema_default("gates", "confidence"))
    higher_is_better: bool = bool(schema_default("gates", "higher_is_better"))
    holdout_looks: str = str(schema_default("gates", "holdout_looks")["policy"])  # promptc.release.ledger
    max_looks: int = int(schema_default("gates", "holdout_looks")["max_looks"])


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
    metric: str  # canonical text (promptc.metrics.metric_label): load_metric and metric_fingerprint read it
    optimizer: OptimizerSpec
    gates: Gates
    artifacts_dir: Path
    cache_path: Path
    digest: str
    budget: Budget = field(default_factory=Budget)
    # With `targets:`, the name of the target this config was loaded for, and every name in order.
    target_name: str | None = None
    target_names: tuple[str, ...] = ()

    @property
    def target_key(self) -> str:
        """Where this config's target is written: `target`, or `targets.NAME`."""
        return "target" if self.target_name is None else f"targets.{self.target_name}"


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


def check_schemas(spec: dict[str, Any], where: str, path: Path) -> None:
    """Refuse a field schema that is not a valid JSON Schema (every reply would fail against it)."""
    for name, item in spec.items():
        problem = schema_problem(item["schema"]) if "schema" in item else None
        if problem is not None:
            raise ConfigError(
                f"{path}: {where}.{name}.schema: not a valid JSON Schema: {problem}",
                fix="write the schema in JSON Schema (https://json-schema.org), e.g. "
                "{type: object, properties: {name: {type: string}}, required: [name]}",
            )


def _fields(spec: dict[str, Any]) -> tuple[Field, ...]:
    return tuple(
        Field(
            name=name,
            type=item["type"],
            description=item["description"],
            labels=tuple(item.get("labels", ())),
            schema=item.get("schema"),
        )
        for name, item in ((name, with_defaults("field", item)) for name, item in spec.items())
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


def _program(raw: dict[str, Any], path: Path) -> Program:
    """program: the signature, with enum labels and field names checked."""
    prog = with_defaults("program", raw["program"])
    program = Program(
        name=prog["name"],
        version=prog["version"],
        module=prog["module"],
        signature=Signature(
            inputs=_fields(prog["inputs"]),
            outputs=_fields(prog["outputs"]),
            instructions=prog["instructions"].strip(),
        ),
    )
    check_labels(prog["inputs"], "program.inputs", path)
    check_labels(prog["outputs"], "program.outputs", path)
    check_schemas(prog["inputs"], "program.inputs", path)
    check_schemas(prog["outputs"], "program.outputs", path)
    clash = set(prog["inputs"]) & set(prog["outputs"])
    if clash:
        raise ConfigError(
            f"{path}: program: field {sorted(clash)[0]!r} is both an input and an output",
            fix="give input and output fields distinct names",
        )
    return program


def _deployment(block: dict[str, Any]) -> Deployment:
    d = with_defaults("deployment", block)
    weight = float(d["weight"])
    return Deployment(d["api_base"], d.get("api_key_env"), weight, d.get("rpm"), d.get("tpm"))


def _target(block: dict[str, Any]) -> Target:
    """One target block (target, or a name under targets)."""
    t = with_defaults("target", block)
    return Target(
        model=t["model"],
        revision=str(t["revision"]),
        temperature=float(t["temperature"]),
        max_tokens=int(t["max_tokens"]),
        concurrency=int(t["concurrency"]),
        max_retries=int(t["max_retries"]),
        timeout_s=float(t["timeout_s"]),
        constrained=bool(t["constrained"]),
        api_base=t.get("api_base"),
        api_key_env=t.get("api_key_env"),
        logprobs=bool(t["logprobs"]),
        rpm=t.get("rpm"),
        tpm=t.get("tpm"),
        deployments=tuple(_deployment(d) for d in t.get("deployments", ())),
    )


def _data(raw: dict[str, Any], base: Path, path: Path) -> DataSpec:
    """data: the split files, resolved against the config's directory, and their columns."""
    d = with_defaults("data", raw["data"])
    return DataSpec(
        train=_resolve(base, d.get("train"), "data.train", path),
        val=_resolve(base, d.get("val"), "data.val", path),
        test=_resolve(base, d.get("test"), "data.test", path),
        file=_resolve(base, d.get("file"), "data.file", path),
        split_column=d["split_column"],
        id_column=d["id_column"],
        slice_column=d.get("slice_column"),
        near_duplicate_threshold=float(d["near_duplicate_threshold"]),
    )


def _optimizer(raw: dict[str, Any]) -> OptimizerSpec:
    o = with_defaults("optimizer", raw.get("optimizer", {}))
    return OptimizerSpec(
        name=o["name"], seed=int(o["seed"]), settings=dict(o["settings"]), confidence=float(o["confidence"])
    )


def _gate_rule(r: dict[str, Any] | None) -> GateRule | None:
    return None if r is None else GateRule(**{k: r[k] for k in GATE_RULE_KEYS if k in r})


def _gates(raw: dict[str, Any], path: Path) -> Gates:
    g = with_defaults("gates", raw.get("gates", {}))
    looks = {**schema_default("gates", "holdout_looks"), **g["holdout_looks"]}
    if looks["policy"] != "none" and g["mode"] != "confidence":
        fix = "set gates.mode: confidence, or gates.holdout_looks.policy: none"
        raise ConfigError(f"{path}: gates.holdout_looks.policy needs gates.mode: confidence", fix=fix)
    if g["reference"] == "latest":  # the alias every compile moves (artifacts.registry.LATEST)
        fix = "name the alias candidates are judged against, e.g. gates.reference: production"
        raise ConfigError(f"{path}: gates.reference: 'latest' moves with each compile", fix=fix)
    return Gates(
        overall=_gate_rule(g.get("overall")),
        default=_gate_rule(g.get("default")),
        slices={name: GateRule(**r) for name, r in g.get("slices", {}).items()},
        reference=g["reference"],
        mode=g["mode"],
        confidence=float(g["confidence"]),
        higher_is_better=bool(g["higher_is_better"]),
        holdout_looks=str(looks["policy"]),
        max_looks=int(looks["max_looks"]),
    )


def _metric(raw: Any, signature: Signature, path: Path) -> str:
    """The metric's canonical text (metrics.metric_label), refused here if it does not fit the program."""
    try:
        spec = parse_metric(raw)
        check_metric(spec, signature)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}", fix=exc.fix) from None
    return metric_label(spec)


def _budget(raw: dict[str, Any]) -> Budget:
    cost = raw.get("max_cost_usd")
    return Budget(max_calls=raw.get("max_calls"), max_cost_usd=None if cost is None else float(cost))


def target_names(path: str | Path) -> tuple[str | None, ...]:
    """The target names of a config, in file order; (None,) for a config with one `target:`."""
    raw = read_yaml(Path(path))
    if isinstance(raw, dict) and isinstance(raw.get("targets"), dict) and raw["targets"]:
        return tuple(raw["targets"])
    return (None,)  # load_config reports anything wrong with the file


def load_configs(path: str | Path) -> tuple[Config, ...]:
    """One Config per target (the compilation matrix), in file order."""
    return tuple(load_config(path, name) for name in target_names(path))


def promptc_home() -> Path:
    """The directory for promptc's own state (call cache); $PROMPTC_HOME overrides."""
    env = os.environ.get("PROMPTC_HOME")
    return Path(env) if env else Path.home() / ".cache" / "promptc"


def _read(path: Path) -> dict[str, Any]:
    """The config file's YAML mapping, validated against the schema."""
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: the config must be a YAML mapping with keys program, target, ...",
            fix="see configs/ for an example",
        )
    validate(raw, path)
    return raw


def load_config(path: str | Path, target_name: str | None = None) -> Config:
    """Read, validate and convert a YAML config file, for one target (by name with `targets:`)."""
    path = Path(path)
    raw = _read(path)
    base = path.resolve().parent
    program = _program(raw, path)
    check_distinct_targets(raw, path)
    name, block = pick_target(raw, path, target_name)
    target = _target(block)
    check_endpoint(target, path, "target" if name is None else f"targets.{name}")
    data = _data(raw, base, path)
    optimizer, gates = _optimizer(raw), _gates(raw, path)
    top = with_defaults("config", raw)
    artifacts_dir = _resolve(base, top["artifacts"], "artifacts", path)
    cache_path = _resolve(base, raw.get("cache"), "cache", path) or promptc_home() / "cache.sqlite"
    assert artifacts_dir is not None
    return Config(
        path=path,
        program=program,
        target=target,
        data=data,
        metric=_metric(raw["metric"], program.signature, path),
        optimizer=optimizer,
        gates=gates,
        artifacts_dir=artifacts_dir,
        cache_path=cache_path,
        digest=config_digest(raw, block),
        budget=_budget(raw.get("budget", {})),
        target_name=name,
        target_names=tuple(raw.get("targets", ())),
    )
