"""The compilation matrix: every program version x model revision cell of a config's targets,
with its newest artifact and the gate verdict on that artifact's stored evaluation."""

from __future__ import annotations

from dataclasses import dataclass

from promptc.artifacts.content import check_target
from promptc.artifacts.registry import LATEST, Registry
from promptc.artifacts.store import Artifact, Store
from promptc.config.load import Config
from promptc.release.gates import GateReport
from promptc.release.reference import stored_gates


@dataclass(frozen=True)
class MatrixCell:
    """One (program version, model revision) cell of the compilation matrix and its newest artifact."""

    version: str
    target: str | None  # the name under targets:, None for a config with one target:
    model: str
    revision: str
    artifact: Artifact | None  # None: never compiled for this cell
    gates: GateReport | None
    aliases: dict[str, str]  # alias -> artifact id, for the aliases on this cell's artifacts

    def scores(self) -> tuple[float, float] | None:
        """The stored holdout means (baseline, candidate), or None for a missing cell."""
        if self.artifact is None:
            return None
        evaluation = self.artifact.typed.evaluation
        return evaluation.baseline.overall.mean, evaluation.candidate.overall.mean


def _version_key(version: str) -> tuple[tuple[int, ...], str]:
    numbers = version.split("-", 1)[0].split(".")
    return tuple(int(n) for n in numbers if n.isdigit()), version


def matrix(configs: tuple[Config, ...]) -> list[MatrixCell]:
    """Every program version x model revision cell of a config's targets, newest artifact each.

    A cell's artifact is the one behind `latest` when that is of the cell's version, else the
    newest of the version; the config's own program version is listed even where never compiled.
    """
    cells: list[MatrixCell] = []
    rows: dict[str, list[MatrixCell]] = {}
    for config in configs:
        model, revision = config.target.model, config.target.revision
        check_target(model, revision, config.path, config.target_key)
        registry = Registry(config.artifacts_dir, config.program.name)
        aliases = registry.aliases(model, revision)
        by_version: dict[str, list[Artifact]] = {config.program.version: []}
        for art in Store(config.artifacts_dir).list(config.program.name, model, revision):
            by_version.setdefault(art.typed.program.version, []).append(art)
        for version, artifacts in by_version.items():
            ids = {a.id: a for a in artifacts}
            latest = ids.get(aliases.get(LATEST, ""))
            chosen = latest or (artifacts[-1] if artifacts else None)
            cell = MatrixCell(
                version,
                config.target_name,
                model,
                revision,
                chosen,
                stored_gates(config, chosen) if chosen else None,
                {alias: i for alias, i in sorted(aliases.items()) if i in ids},
            )
            rows.setdefault(version, []).append(cell)
    for version in sorted(rows, key=_version_key):
        cells.extend(rows[version])
    return cells
