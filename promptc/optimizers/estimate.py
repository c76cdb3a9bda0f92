"""The dry run of `promptc compile`: what a compile will spend (model calls, tokens and, where
litellm knows the price, dollars), worked out without calling a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promptc.commands.lifecycle import checked_splits
from promptc.config.load import Budget, Config
from promptc.lm.providers import is_in_process
from promptc.lm.tokens import count_tokens, price
from promptc.optimizers import get_optimizer
from promptc.optimizers.base import CallEstimate
from promptc.optimizers.demos import labeled_demo
from promptc.prompting.adapter import render_messages
from promptc.prompting.program import Candidate, baseline_candidate


@dataclass(frozen=True)
class CompileEstimate:
    """What compile will spend, worked out without calling a model."""

    optimizer: str
    sizes: dict[str, int]  # examples per split
    search: CallEstimate
    holdout_calls: int  # the baseline and the candidate on the test split
    cost_usd: float | None  # None when litellm has no price for one of the models
    models: tuple[str, ...]  # the target, and mipro's prompt model when it is another one
    unpriced: tuple[str, ...]  # models litellm has no price for
    budget: Budget
    prompt_tokens: int = 0  # every call's prompt on a cold cache, counted by `tokenizer`
    completion_tokens: int = 0  # every reply at its max_tokens (an upper bound)
    tokenizer: str = ""  # which tokenizer counted the target's prompts

    @property
    def total_calls(self) -> int:
        """Search and holdout calls together."""
        return self.search.total + self.holdout_calls

    @property
    def in_process(self) -> bool:
        """Every call goes to an in-process (local or fake) model: no money is spent."""
        return all(is_in_process(m) for m in self.models)


def estimate_compile(config: Config) -> CompileEstimate:
    """The model calls (and, where litellm knows the price, the cost) of compiling this config."""
    splits = checked_splits(config)
    optimizer = get_optimizer(config.optimizer.name, config.optimizer.settings)
    sizes = {name: len(examples) for name, examples in splits.items()}
    settings = optimizer.read_settings(config.optimizer.settings)
    search = optimizer.estimate_calls(settings, sizes["train"], sizes["val"], config.program)
    holdout = sizes["test"] * (1 + search.holdout_calls_per_example)
    target = config.target.model
    prompt_model = search.prompt_model or target
    models = tuple(dict.fromkeys([target, prompt_model]))
    program = config.program
    probe = [e.inputs for e in (splits.val + splits.test)[:20]]
    demos = tuple(labeled_demo(e) for e in splits.train[: search.max_demos])
    tokenizers: list[str] = []

    def prompt_tokens(candidate: Candidate) -> int:
        counted = [count_tokens(target, render_messages(program, candidate, x)) for x in probe]
        tokenizers.extend(c.tokenizer for c in counted[:1])
        return sum(c.count for c in counted) // max(1, len(counted))

    with_demos = prompt_tokens(Candidate(program.signature.instructions, demos))
    zero_shot = prompt_tokens(baseline_candidate(program))
    reply = config.target.max_tokens  # an upper bound: replies are often shorter
    calls = [
        (target, search.total - search.prompt_model_calls, with_demos, reply),
        # a proposal prompt (signature, data summary, a few examples) is a few hundred tokens
        (prompt_model, search.prompt_model_calls, 600, search.prompt_model_max_tokens),
        (target, sizes["test"], zero_shot, reply),
        (target, sizes["test"] * search.holdout_calls_per_example, with_demos, reply),
    ]
    token_estimate: dict[str, Any] = {
        "prompt_tokens": sum(n * t for _, n, t, _ in calls),
        "completion_tokens": sum(n * r for _, n, _, r in calls),
        "tokenizer": tokenizers[0] if tokenizers else "",
    }
    # In-process models cost nothing; litellm's price table is not consulted for them.
    cost, unpriced = (0.0, ()) if all(is_in_process(m) for m in models) else _price(calls)
    return CompileEstimate(
        config.optimizer.name,
        sizes,
        search,
        holdout,
        cost,
        models,
        unpriced,
        config.budget,
        **token_estimate,
    )


def _price(calls: list[tuple[str, int, int, int]]) -> tuple[float | None, tuple[str, ...]]:
    """The cost of (model, calls, prompt tokens, reply tokens) rows at litellm's list price, and the
    models it has no price for (the cost is None when there is one)."""
    total = 0.0
    unpriced: dict[str, None] = {}
    for model, n, tokens, replies in calls:
        each = price(model, tokens, replies)
        if each is None:
            unpriced[model] = None
        else:
            total += n * each
    return (None if unpriced else total), tuple(unpriced)
