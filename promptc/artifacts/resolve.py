"""Which artifact a reference names: an alias or id for a config's model revision, or an artifact
file; and whether an artifact was compiled for the program the config declares."""

from __future__ import annotations

from pathlib import Path

from promptc.artifacts.content import check_alias, check_target, is_id_prefix
from promptc.artifacts.registry import Registry
from promptc.artifacts.store import Artifact, Store
from promptc.config.load import Config
from promptc.errors import BadInput, RevisionMismatch


def resolve_artifact(config: Config, ref: str) -> Artifact:
    """An artifact by alias (for the config's model revision) or id, refused for another revision."""
    check_target(config.target.model, config.target.revision, config.path, config.target_key)
    registry = Registry(config.artifacts_dir, config.program.name)
    aliases = registry.aliases(config.target.model, config.target.revision)
    if ref not in aliases and not is_id_prefix(ref):
        check_alias(ref)
        raise BadInput(
            f"no artifact or alias {ref!r} for {config.program.name} on "
            f"{config.target.model}@{config.target.revision}",
            fix=f"see promptc list {config.path} for ids and aliases; run promptc compile first",
        )
    artifact = Store(config.artifacts_dir).find(config.program.name, aliases.get(ref, ref))
    if artifact.model != config.target.model or artifact.revision != config.target.revision:
        raise RevisionMismatch(
            f"artifact {artifact.id} was compiled for {artifact.model}@{artifact.revision}, "
            f"but {config.path} targets {config.target.model}@{config.target.revision}",
            fix="compile and evaluate an artifact for this model revision",
        )
    return artifact


def check_program(config: Config, artifact: Artifact) -> None:
    """Refuse an artifact compiled for another program name, version, module or signature."""
    stored = artifact.typed.program.to_dict()
    current = config.program.to_dict()
    if (stored["name"], stored["version"]) != (current["name"], current["version"]):
        raise BadInput(
            f"artifact {artifact.id} was compiled for {stored['name']} {stored['version']}, "
            f"but {config.path} declares {current['name']} {current['version']}",
            fix=f"compile this program version (promptc compile {config.path}), then use the new artifact",
        )
    parts = ["module"] if stored["module"] != current["module"] else []
    parts += [
        f"signature.{key}"
        for key in ("inputs", "outputs", "instructions")
        if stored["signature"][key] != current["signature"][key]
    ]
    if parts:
        raise BadInput(
            f"artifact {artifact.id} was compiled for another {', '.join(parts)} than {config.path} "
            f"declares for {current['name']} {current['version']}",
            fix=f"compile this program version (promptc compile {config.path}); bump program.version "
            "when the signature changes",
        )


def find_artifact(ref: str, config: Config | None) -> Artifact:
    """An artifact from a file path, or by id/alias within a config's store."""
    path = Path(ref)
    if path.suffix == ".json" and path.is_file():
        return Store.load(path)
    if config is None:
        raise BadInput(
            f"{ref!r} is not an artifact file",
            fix="pass the path of an artifact .json file, or --config CONFIG to look up an id or alias",
        )
    return resolve_artifact(config, ref)
