"""The LM layer through litellm with the fake provider: cache, retries, caps, typed errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptc.cache import CallCache
from promptc.config import Target
from promptc.errors import BudgetExceeded, ProviderError, RevisionMismatch
from promptc.lm import LM

MESSAGES = [{"role": "system", "content": "x"}, {"role": "user", "content": "ticket: hello"}]


def test_second_identical_call_is_served_from_the_cache(tmp_path: Path) -> None:
    cache = CallCache(tmp_path / "c.sqlite")
    lm = LM(Target("fake/echo", "fake00000000"), cache)
    first = lm.complete(MESSAGES)
    again = LM(Target("fake/echo", "fake00000000"), cache).complete(MESSAGES)
    assert first.text == again.text == "ticket: hello"
    assert not first.cached and again.cached
    assert lm.usage.calls == 1


def test_cache_key_includes_sample_and_decoding(tmp_path: Path) -> None:
    lm = LM(Target("fake/echo", "fake00000000"), CallCache(tmp_path / "c.sqlite"))
    lm.complete(MESSAGES)
    lm.complete(MESSAGES, sample=1)
    LM(Target("fake/echo", "fake00000000", temperature=0.7), lm.cache).complete(MESSAGES)
    assert lm.usage.calls == 2 and lm.usage.cached == 0


def test_transient_errors_are_retried(tmp_path: Path) -> None:
    lm = LM(Target("fake/flaky", "fake00000000", max_retries=2), CallCache(tmp_path / "c.sqlite"))
    assert lm.complete(MESSAGES).text
    assert lm.usage.retries == 1


def test_exhausted_retries_raise_a_provider_error() -> None:
    lm = LM(Target("fake/down", "fake00000000", max_retries=1))
    with pytest.raises(ProviderError, match="after 2 attempts") as info:
        lm.complete(MESSAGES)
    assert info.value.exit_code == 3


def test_call_cap_stops_new_calls_but_not_cached_ones(tmp_path: Path) -> None:
    lm = LM(Target("fake/echo", "fake00000000"), CallCache(tmp_path / "c.sqlite"), max_calls=1)
    lm.complete(MESSAGES)
    lm.complete(MESSAGES)  # cached: free
    with pytest.raises(BudgetExceeded):
        lm.complete([{"role": "user", "content": "another"}])


def test_revision_must_match_the_provider() -> None:
    LM(Target("fake/echo", "fake00000000")).check_revision()
    with pytest.raises(RevisionMismatch, match="compile and evaluate for this model revision"):
        LM(Target("fake/echo", "abcdef123456")).check_revision()


def test_map_keeps_input_order_with_concurrency(tmp_path: Path) -> None:
    lm = LM(Target("fake/echo", "fake00000000", concurrency=4), CallCache(tmp_path / "c.sqlite"))
    texts = lm.map(lambda i: lm.complete([{"role": "user", "content": f"n{i}"}]).text, range(20))
    assert texts == [f"n{i}" for i in range(20)]


def test_the_answer_grammar_reaches_only_providers_that_honour_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptc.lm import provider_for

    provider = provider_for("fake/echo")
    assert provider is not None
    seen: list[dict[str, object]] = []
    complete = provider.complete

    def recording(
        model: str, messages: list[dict[str, str]], params: dict[str, object]
    ) -> tuple[str, int, int]:
        seen.append(params)
        return complete(model, messages, params)  # type: ignore[arg-type]

    monkeypatch.setattr(provider, "complete", recording)
    grammar = 'root ::= "ticket: " [a-z]+'
    LM(Target("fake/echo", "fake00000000"), CallCache(tmp_path / "a.sqlite")).complete(
        MESSAGES, grammar=grammar
    )
    LM(Target("fake/echo", "fake00000000", constrained=False)).complete(MESSAGES, grammar=grammar)
    monkeypatch.setattr(provider, "supports_grammar", False)
    LM(Target("fake/echo", "fake00000000")).complete(MESSAGES, grammar=grammar)
    assert [p.get("grammar") for p in seen] == [grammar, None, None]


def test_unusable_label_scores_are_refused_and_never_cached(tmp_path: Path) -> None:
    lm = LM(Target("fake/garbled", "fake00000000"), CallCache(tmp_path / "c.sqlite"))
    messages = [{"role": "system", "content": "x (one of: a, b)"}, {"role": "user", "content": "y"}]
    for _ in range(2):  # the second attempt is a fresh call, not a cached bad reply
        with pytest.raises(ProviderError, match="label scores are not numbers"):
            lm.label_logprobs(messages, "label:", ["a", "b"])
    assert lm.usage.calls == 2 and lm.usage.cached == 0
