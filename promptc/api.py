"""The Python serving API: `promptc.load()` and the CompiledProgram it returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptc.artifacts.resolve import resolve_artifact
from promptc.artifacts.store import Artifact
from promptc.commands.lifecycle import target_lm
from promptc.config.load import Config, load_config
from promptc.errors import RuntimeFailure
from promptc.evaluation.evaluate import predict
from promptc.prompting.inputs import check_inputs


class CompiledProgram:
    """A released artifact as a callable: outputs for keyword inputs; no optimizer in the loop."""

    def __init__(self, config: Config, artifact: Artifact) -> None:
        self.config = config
        self.artifact = artifact
        self.program = artifact.typed.program
        self.candidate = artifact.typed.candidate
        self._lm = target_lm(config)

    def __call__(self, **inputs: Any) -> dict[str, Any]:
        """Answer one set of inputs, checked and converted as `promptc run` does (BadInput when
        one is missing, unknown or of the wrong type); RuntimeFailure when the reply cannot be parsed."""
        values = check_inputs(self.program.signature, inputs)
        prediction = predict(self.program, self.candidate, self._lm, values)
        if prediction.outputs is None:
            raise RuntimeFailure(f"could not parse the model's reply {prediction.raw!r}: {prediction.error}")
        return prediction.outputs


def load(config_path: str | Path, ref: str = "production", target: str | None = None) -> CompiledProgram:
    """Load the artifact behind an alias (or id) as a callable, refusing another model revision.

    target names one of the config's `targets:` (required when it names several).
    """
    config = load_config(config_path, target)
    return CompiledProgram(config, resolve_artifact(config, ref))
