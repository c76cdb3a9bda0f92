"""Demo sets for programs whose outputs are not one label: cover the slots, balance any enum."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from promptc.data.load import Example
from promptc.optimizers.demos import covering_demos, output_features
from promptc.prompting.program import Field, Program, Signature
from tests.conftest import ConfigWriter

SLOTS = ["artist", "playlist", "city", "time", "rating", "object", "genre", "cuisine"]


def program() -> Program:
    signature = Signature(
        inputs=(Field("text"),),
        outputs=(Field("intent", "enum", labels=("A", "B")), Field("slots", "json")),
    )
    return Program("slots", "1.0.0", signature)


def train(n: int = 200, seed: int = 0) -> list[Example]:
    """Most examples fill one common slot; a few fill a rare one."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        filled = ["artist"] if i % 10 else rng.sample(SLOTS, 2)
        slots = {name: [f"{name} {i}"] for name in filled}
        out.append(Example(f"e{i}", {"text": f"utterance {i}"}, {"intent": "A", "slots": slots}))
    return out


def test_output_features_name_the_key_paths_a_value_fills() -> None:
    value = {"artist": ["x"], "empty": [], "nested": {"a": 1, "b": None}}
    assert output_features(value, "slots") == {
        "slots",
        "slots.artist",
        "slots.nested",
        "slots.nested.a",
    }
    assert output_features("", "answer") == set() and output_features("x", "answer") == {"answer"}


def test_covering_demos_show_more_slot_kinds_than_a_random_draw() -> None:
    examples = train()

    def kinds(demos: tuple) -> int:  # type: ignore[type-arg]
        return len({k for d in demos for k in d.outputs["slots"]})

    covered = covering_demos(program(), examples, 6, random.Random(1))
    drawn = [random.Random(s).sample(examples, 6) for s in range(50)]
    mean_random = sum(len({k for e in d for k in e.outputs["slots"]}) for d in drawn) / len(drawn)
    assert len(covered) == 6
    assert kinds(covered) == len(SLOTS) > mean_random + 2


def test_covering_demos_are_deterministic_for_a_seed_and_fill_up_to_the_size() -> None:
    examples = [Example(f"q{i}", {"text": str(i)}, {"intent": "A", "slots": {}}) for i in range(10)]
    first = covering_demos(program(), examples, 4, random.Random(3))
    again = covering_demos(program(), examples, 4, random.Random(3))
    assert [d.source_id for d in first] == [d.source_id for d in again] and len(first) == 4
    assert len(covering_demos(program(), examples[:2], 4, random.Random(3))) == 2


def test_balanced_demos_keep_labels_even_and_cover_the_other_outputs() -> None:
    from promptc.optimizers.base import CompileInputs
    from promptc.optimizers.demos import balanced_demos

    examples = train()
    for i, e in enumerate(examples):
        e.outputs["intent"] = "AB"[i % 2]
    unused: Any = None  # choosing demos calls neither the metric nor the model
    inputs = CompileInputs(program(), tuple(examples), (), unused, unused, 0, {})
    demos = balanced_demos(inputs, 6, 0)
    intents = [d.outputs["intent"] for d in demos]
    assert sorted(intents) == ["A", "A", "A", "B", "B", "B"]
    assert len({k for d in demos for k in d.outputs["slots"]}) >= len(SLOTS) - 1


def test_traces_of_a_json_program_keep_only_answers_the_metric_accepts(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # The learner answers like the nearest demo: a traced ticket gets another ticket's slots, right
    # in part at best. Only answers at or above the threshold become demos, as the model gave them.
    from promptc.optimizers.demos import trace_pool
    from promptc.optimizers.settings import DemoSettings
    from tests.test_auto import _inputs, _slots_program

    inputs = _inputs(write_config(lambda c: _slots_program(c, tmp_path)))
    settings = DemoSettings()
    assert trace_pool(inputs, settings) == {}  # never exactly right: nothing accepted at 1.0
    accepted = trace_pool(inputs, DemoSettings(metric_threshold=0.3))
    gold = {e.id: e.outputs for e in inputs.train}
    assert 0 < len(accepted) < settings.max_traced
    scores = [inputs.metric(gold[i], d.outputs).score for i, d in accepted.items()]
    assert all(score >= 0.3 for score in scores) and any(d.outputs != gold[i] for i, d in accepted.items())


def test_nearest_demos_help_a_json_program(write_config: ConfigWriter, tmp_path: Path) -> None:
    from promptc.evaluation.evaluate import evaluate
    from promptc.optimizers.demos import labeled_demo
    from promptc.prompting.program import Candidate
    from tests.test_auto import _inputs, _slots_program

    inputs = _inputs(write_config(lambda c: _slots_program(c, tmp_path)))
    pool = tuple(labeled_demo(e) for e in inputs.train)

    def score(candidate: Candidate) -> float:
        return evaluate(inputs.program, candidate, inputs.val, inputs.metric, inputs.lm).overall.mean

    assert score(Candidate("Route the ticket.")) == 0.0
    assert score(Candidate("Route the ticket.", pool, knn=2)) > score(
        Candidate("Route the ticket.", pool[:2])
    )
