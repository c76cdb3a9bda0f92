"""Demo sets the optimizers share: teacher traces, labeled draws, seeded shuffles, balanced sets.

A trace is a training example the teacher (the program with labeled demos) answered in a
way the metric accepts. bootstrap_fewshot, random_search and mipro build demo sets from
accepted traces, topped up with labeled examples; labeled_fewshot draws labeled examples
only; auto shows class-balanced labeled sets.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from promptc.data.load import Example
from promptc.evaluation.evaluate import predict, score_prediction
from promptc.fields import kind_of
from promptc.optimizers.base import CompileInputs, seeded_rng
from promptc.optimizers.settings import DemoSettings
from promptc.prompting.adapter import label_field
from promptc.prompting.program import Candidate, Demo, Program

MAX_LABELS_SHOWN = 24  # a balanced set shows every label once, up to this many


def labeled_demo(example: Example) -> Demo:
    """A demo made from a training example's gold outputs."""
    return Demo(inputs=dict(example.inputs), outputs=dict(example.outputs), source_id=example.id)


def trace(
    inputs: CompileInputs, examples: Sequence[Example], teacher_pool: Sequence[Example], s: DemoSettings
) -> dict[str, Demo]:
    """Run the teacher over examples; the answers the metric accepts, as demos by example id."""
    instructions = inputs.program.signature.instructions
    advance = inputs.reporter.stage("bootstrapping demos on train", len(examples))

    def one(example: Example) -> Demo | None:
        teacher = Candidate(
            instructions=instructions,
            demos=tuple(labeled_demo(e) for e in teacher_pool if e.id != example.id)[: s.teacher_demos],
        )
        prediction = predict(inputs.program, teacher, inputs.lm, example.inputs)
        if prediction.outputs is None:
            return None
        if score_prediction(inputs.metric, example, prediction) < s.metric_threshold:
            return None
        return Demo(
            inputs=dict(example.inputs),
            outputs=dict(prediction.outputs),
            reasoning=prediction.reasoning,
            source_id=example.id,
        )

    traces = inputs.lm.map(one, examples, advance)
    return {e.id: demo for e, demo in zip(examples, traces, strict=True) if demo is not None}


def seeded_order(inputs: CompileInputs) -> tuple[list[Example], random.Random]:
    """The training examples shuffled with the seed, and the generator that shuffled them."""
    rng = random.Random(inputs.seed)
    order = list(inputs.train)
    rng.shuffle(order)
    return order, rng


def trace_pool(inputs: CompileInputs, s: DemoSettings) -> dict[str, Demo]:
    """Trace the first max_traced examples of the seeded order (nothing when no demo is wanted)."""
    if s.max_bootstrapped_demos == 0:
        return {}
    order, _ = seeded_order(inputs)
    return trace(inputs, order[: s.max_traced], order[: s.teacher_demos + 1], s)


def traced_count(s: DemoSettings, n_train: int) -> int:
    """Model calls trace_pool makes."""
    return 0 if s.max_bootstrapped_demos == 0 else min(s.max_traced, n_train)


def demo_set(
    order: Sequence[Example],
    accepted: dict[str, Demo],
    n_bootstrapped: int,
    n_total: int,
    rng: random.Random | None = None,
) -> tuple[tuple[Demo, ...], int]:
    """Up to n_bootstrapped accepted traces in this order, topped up with labeled ones to n_total.

    The labeled ones are the next in order, or drawn with rng when given. Returns the
    demos and how many of them are bootstrapped.
    """
    boot = [accepted[e.id] for e in order if e.id in accepted][:n_bootstrapped]
    used = {d.source_id for d in boot}
    rest = [e for e in order if e.id not in used]
    n_labeled = max(0, min(n_total - len(boot), len(rest)))
    labeled = rng.sample(rest, n_labeled) if rng else rest[:n_labeled]
    return (*boot, *map(labeled_demo, labeled)), len(boot)


def labeled_set(inputs: CompileInputs, k: int) -> tuple[Demo, ...]:
    """k labeled training examples drawn with the seed."""
    picked = random.Random(inputs.seed).sample(list(inputs.train), min(k, len(inputs.train)))
    return tuple(labeled_demo(e) for e in picked)


def bootstrapped_sets(
    inputs: CompileInputs, accepted: dict[str, Demo], s: DemoSettings, n_shuffled: int, min_bootstrapped: int
) -> list[tuple[str, tuple[Demo, ...]]]:
    """Demo sets as in DSPy's random search: train order, then seeded shuffles with a random demo count
    (min_bootstrapped..max_bootstrapped_demos)."""
    demos, n_boot = demo_set(inputs.train, accepted, s.max_bootstrapped_demos, s.max_labeled_demos)
    sets = [(f"bootstrap in train order {n_boot}+{len(demos) - n_boot} labeled", demos)]
    low = min(min_bootstrapped, s.max_bootstrapped_demos)
    for i in range(n_shuffled):
        rng = seeded_rng(inputs.seed, "shuffle", i)
        order = list(inputs.train)
        rng.shuffle(order)
        size = rng.randint(low, s.max_bootstrapped_demos)
        demos, n_boot = demo_set(order, accepted, size, s.max_labeled_demos)
        sets.append((f"shuffle {i}: bootstrap {n_boot}+{len(demos) - n_boot} labeled", demos))
    return sets


def balanced_demos(inputs: CompileInputs, max_demos: int, draw: int) -> tuple[Demo, ...]:
    """Labeled demos with every label of the first enum output equally often, labels interleaved in
    a seeded order, each label's next demo the one that shows the most key paths not shown yet
    (other outputs' slots; the first in the seeded order at a tie). Without an enum output,
    demos drawn to cover the outputs' key paths (covering_demos)."""
    rng = seeded_rng(inputs.seed, "balanced", draw)
    program = inputs.program
    f = label_field(program) or next((o for o in program.signature.outputs if kind_of(o).closed), None)
    if f is None:
        return covering_demos(program, inputs.train, max_demos, rng)
    by_label = {label: [e for e in inputs.train if e.outputs[f.name] == label] for label in f.labels}
    for examples in by_label.values():
        rng.shuffle(examples)
    order = [label for label in f.labels if by_label[label]]
    rng.shuffle(order)
    total = min(max(max_demos, len(order)), MAX_LABELS_SHOWN, sum(len(v) for v in by_label.values()))
    demos: list[Demo] = []
    shown: set[str] = set()
    while len(demos) < total:
        for label in order:
            if len(demos) < total and by_label[label]:
                pool = by_label[label]
                gains = [len(example_features(program, e) - shown) for e in pool]
                example = pool.pop(gains.index(max(gains)))
                shown |= example_features(program, example)
                demos.append(labeled_demo(example))
    return tuple(demos)


def example_features(program: Program, example: Example) -> set[str]:
    """The key paths an example's gold outputs fill (output_features over every output)."""
    return set().union(
        *(output_features(example.outputs.get(o.name), o.name) for o in program.signature.outputs)
    )


def output_features(value: Any, path: str) -> set[str]:
    """The key paths a gold value fills (an object's keys, recursively; a list counts when it is
    non-empty), so that demos can be chosen to show as many of them as they can."""
    if isinstance(value, dict):
        found = {path} if value else set()
        for key, item in value.items():
            found |= output_features(item, f"{path}.{key}")
        return found
    if isinstance(value, list):
        found = {path} if value else set()
        for item in value:
            found |= {p for p in output_features(item, f"{path}[]") if p != f"{path}[]"}
        return found
    return {path} if value not in (None, "") else set()


def covering_demos(
    program: Program, train: Sequence[Example], max_demos: int, rng: random.Random
) -> tuple[Demo, ...]:
    """Up to max_demos labeled examples, each adding the most key paths the set does not show yet
    (slot names, object keys), ties broken in a seeded order; then topped up in that order."""
    order = list(train)
    rng.shuffle(order)
    features = [example_features(program, e) for e in order]
    shown: set[str] = set()
    picked: list[int] = []
    while len(picked) < min(max_demos, len(order)):
        gains = [(len(features[i] - shown), -i) for i in range(len(order)) if i not in picked]
        gain, neg_index = max(gains)
        if gain == 0:
            break
        picked.append(-neg_index)
        shown |= features[-neg_index]
    rest = [i for i in range(len(order)) if i not in picked]
    picked += rest[: max(0, max_demos - len(picked))]
    return tuple(labeled_demo(order[i]) for i in picked)
