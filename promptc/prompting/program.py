"""Signature, Program and Candidate: the pure data a prompt program is made of."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

FieldType = Literal["str", "int", "float", "bool", "enum", "json"]
ModuleKind = Literal["predict", "chain_of_thought"]


@dataclass(frozen=True)
class Field:
    """One input or output field of a signature."""

    name: str
    type: FieldType = "str"
    description: str = ""
    labels: tuple[str, ...] = ()
    schema: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as stored in artifacts."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "description": self.description}
        if self.labels:
            out["labels"] = list(self.labels)
        if self.schema is not None:
            out["schema"] = self.schema
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Field:
        """Inverse of to_dict."""
        return cls(
            name=data["name"],
            type=data["type"],
            description=data.get("description", ""),
            labels=tuple(data.get("labels", ())),
            schema=data.get("schema"),
        )


@dataclass(frozen=True)
class Signature:
    """Input fields, output fields and the task instructions."""

    inputs: tuple[Field, ...]
    outputs: tuple[Field, ...]
    instructions: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as stored in artifacts."""
        return {
            "inputs": [f.to_dict() for f in self.inputs],
            "outputs": [f.to_dict() for f in self.outputs],
            "instructions": self.instructions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        """Inverse of to_dict."""
        return cls(
            inputs=tuple(Field.from_dict(f) for f in data["inputs"]),
            outputs=tuple(Field.from_dict(f) for f in data["outputs"]),
            instructions=data.get("instructions", ""),
        )


@dataclass(frozen=True)
class Program:
    """A signature, a module kind and the program's version."""

    name: str
    version: str
    signature: Signature
    module: ModuleKind = "predict"

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as stored in artifacts."""
        return {
            "name": self.name,
            "version": self.version,
            "module": self.module,
            "signature": self.signature.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Program:
        """Inverse of to_dict."""
        return cls(
            name=data["name"],
            version=data["version"],
            signature=Signature.from_dict(data["signature"]),
            module=data.get("module", "predict"),
        )


@dataclass(frozen=True)
class Demo:
    """A worked example shown to the model: inputs, outputs, optional reasoning."""

    inputs: dict[str, Any]
    outputs: dict[str, Any]
    reasoning: str | None = None
    source_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as stored in artifacts."""
        out: dict[str, Any] = {"inputs": self.inputs, "outputs": self.outputs}
        if self.reasoning is not None:
            out["reasoning"] = self.reasoning
        if self.source_id is not None:
            out["source_id"] = self.source_id
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Demo:
        """Inverse of to_dict."""
        return cls(
            inputs=dict(data["inputs"]),
            outputs=dict(data["outputs"]),
            reasoning=data.get("reasoning"),
            source_id=data.get("source_id"),
        )


Decision = Literal["generate", "logprob"]


@dataclass(frozen=True)
class Candidate:
    """The compiled state: instructions, demos and how the answer is decided. Pure data, no code.

    - decision: "generate" parses the model's reply; "logprob" (programs with one enum output)
      asks the model for each label's log-probability and answers the most likely label.
    - calibration: per-label biases added to those log-probabilities before the choice
      (contextual calibration); empty means none.
    - knn: when above 0, the demos are a pool and each input is shown its knn most similar
      pool examples (BM25 over the input text) instead of the fixed list.
    - members: an ensemble; each input is answered by every member and the answers are
      combined (label probabilities averaged where members give them, else a vote).
    """

    instructions: str
    demos: tuple[Demo, ...] = field(default=())
    decision: Decision = "generate"
    calibration: dict[str, float] = field(default_factory=dict)
    knn: int = 0
    members: tuple[Candidate, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as stored in artifacts (defaults left out, so older ids stay valid)."""
        out: dict[str, Any] = {"instructions": self.instructions, "demos": [d.to_dict() for d in self.demos]}
        if self.decision != "generate":
            out["decision"] = self.decision
        if self.calibration:
            out["calibration"] = dict(sorted(self.calibration.items()))
        if self.knn:
            out["knn"] = self.knn
        if self.members:
            out["members"] = [m.to_dict() for m in self.members]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        """Inverse of to_dict."""
        return cls(
            instructions=data["instructions"],
            demos=tuple(Demo.from_dict(d) for d in data.get("demos", ())),
            decision=data.get("decision", "generate"),
            calibration={str(k): float(v) for k, v in data.get("calibration", {}).items()},
            knn=int(data.get("knn", 0)),
            members=tuple(cls.from_dict(m) for m in data.get("members", ())),
        )

    def decision_lines(self) -> list[str]:
        """How this candidate answers, line by line (show and diff print these)."""
        if self.members:
            lines = [f"ensemble of {len(self.members)}: label distributions averaged (else a vote)"]
            for i, member in enumerate(self.members, 1):
                lines += [f"member {i}: {line}" for line in member.decision_lines()]
            return lines
        lines = [
            "answer: the most likely label by the model's log-probabilities"
            if self.decision == "logprob"
            else "answer: the model's generated reply, parsed"
        ]
        if self.calibration:
            biases = ", ".join(f"{label} {bias:+.3f}" for label, bias in sorted(self.calibration.items()))
            lines.append(f"calibration (added to each label's log-probability): {biases}")
        if self.knn:
            lines.append(f"demos: for each input, its {self.knn} most similar of {len(self.demos)} (BM25)")
        else:
            lines.append(f"demos: {len(self.demos)} fixed")
        return lines

    def digest(self) -> str:
        """A short hash of the candidate's content: which trial produced an artifact's candidate."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def describe(self) -> str:
        """A short human-readable summary: demos, decision, calibration, ensemble size."""
        if self.members:
            return f"ensemble of {len(self.members)}"
        parts = [f"{self.knn} nearest of {len(self.demos)} demos" if self.knn else f"{len(self.demos)} demos"]
        if self.decision == "logprob":
            parts.append("label log-probabilities" + (", calibrated" if self.calibration else ""))
        return ", ".join(parts)


def baseline_candidate(program: Program) -> Candidate:
    """The uncompiled program: the configured instructions and no demos."""
    return Candidate(instructions=program.signature.instructions)
