"""The LM layer with the fake provider: cache, retries, caps, typed errors.

In-process models are called directly; PROMPTC_VIA_LITELLM=1 sends them through litellm's
custom-provider path, the one hosted models take. Tests marked with the `route` fixture run
on both, and the two must agree call for call and cache entry for cache entry.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptc.config.load import Target
from promptc.errors import BadInput, BudgetExceeded, ProviderError, RevisionMismatch
from promptc.evaluation.evaluate import predict
from promptc.lm.cache import CallCache
from promptc.lm.label_scores import parsed_label_scores
from promptc.lm.model import LM
from promptc.lm.providers import provider_for
from promptc.prompting.grammar import reply_schema
from promptc.prompting.program import Candidate, Field, Program, Signature
from tests.fake_openai import FakeOpenAI

MESSAGES = [{"role": "system", "content": "x"}, {"role": "user", "content": "ticket: hello"}]


@pytest.fixture(params=["direct", "litellm"])
def route(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on the direct provider path and on the litellm path."""
    if request.param == "litellm":
        monkeypatch.setenv("PROMPTC_VIA_LITELLM", "1")
    else:
        monkeypatch.delenv("PROMPTC_VIA_LITELLM", raising=False)
    return str(request.param)


def test_second_identical_call_is_served_from_the_cache(tmp_path: Path, route: str) -> None:
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


def test_transient_errors_are_retried(tmp_path: Path, route: str) -> None:
    lm = LM(Target("fake/flaky", "fake00000000", max_retries=2), CallCache(tmp_path / "c.sqlite"))
    assert lm.complete([{"role": "user", "content": f"first time on the {route} path"}]).text
    assert lm.usage.retries == 1


def test_exhausted_retries_raise_a_provider_error(route: str) -> None:
    lm = LM(Target("fake/down", "fake00000000", max_retries=1))
    with pytest.raises(ProviderError, match="after 2 attempts") as info:
        lm.complete(MESSAGES)
    assert info.value.exit_code == 3


def test_call_cap_stops_new_calls_but_not_cached_ones(tmp_path: Path, route: str) -> None:
    lm = LM(Target("fake/echo", "fake00000000"), CallCache(tmp_path / "c.sqlite"), max_calls=1)
    lm.complete(MESSAGES)
    lm.complete(MESSAGES)  # cached: free
    with pytest.raises(BudgetExceeded):
        lm.complete([{"role": "user", "content": "another"}])


def test_revision_must_match_the_provider() -> None:
    LM(Target("fake/echo", "fake00000000")).check_revision()
    with pytest.raises(RevisionMismatch, match="compile and evaluate for this model revision"):
        LM(Target("fake/echo", "abcdef123456")).check_revision()


def test_map_keeps_input_order_with_concurrency(tmp_path: Path, route: str) -> None:
    lm = LM(Target("fake/echo", "fake00000000", concurrency=4), CallCache(tmp_path / "c.sqlite"))
    texts = lm.map(lambda i: lm.complete([{"role": "user", "content": f"n{i}"}]).text, range(20))
    assert texts == [f"n{i}" for i in range(20)]


def test_the_answer_grammar_reaches_only_providers_that_honour_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptc.lm.providers import provider_for

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


def test_unusable_label_scores_are_refused_and_never_cached(tmp_path: Path, route: str) -> None:
    lm = LM(Target("fake/garbled", "fake00000000"), CallCache(tmp_path / "c.sqlite"))
    messages = [{"role": "system", "content": "x (one of: a, b)"}, {"role": "user", "content": "y"}]
    for _ in range(2):  # the second attempt is a fresh call, not a cached bad reply
        with pytest.raises(ProviderError, match="label scores are not numbers"):
            lm.label_logprobs(messages, "label:", ["a", "b"])
    assert lm.usage.calls == 2 and lm.usage.cached == 0


SYSTEM = (
    "Route it. Cues: a = login; b = refund.\n\nInputs:\n- ticket\n\nOutputs:\n- category (one of: a, b)"
    "\n\nReply in exactly this format:\ncategory: <category>"
)
ZERO_SHOT = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "ticket: my login"}]
FEW_SHOT = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "ticket: refund please"},
    {"role": "assistant", "content": "category: b"},
    {"role": "user", "content": "ticket: refund now"},
]


def exercise(lm: LM) -> list[Any]:
    """Completions and label scores over several fake models, samples and grammars."""
    out: list[Any] = []
    for model in ("fake/learner", "fake/echo", "fake/biased"):
        each = lm.for_target(Target(model, "fake00000000", temperature=0.7, max_tokens=12))
        for messages in (ZERO_SHOT, FEW_SHOT):
            out.append(each.complete(messages))
            out.append(each.complete(messages, sample=2, grammar='root ::= "category: " [ab]'))
            out.append(each.label_logprobs(messages, "category:", ["a", "b"]))
    return [(c.__class__.__name__, {k: v for k, v in vars(c).items() if k != "latency_s"}) for c in out]


def rows(path: Path) -> list[tuple[str, str]]:
    return sqlite3.connect(path).execute("SELECT key, response FROM calls ORDER BY key").fetchall()


def test_direct_and_litellm_paths_agree_and_share_cache_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = Target("fake/learner", "fake00000000")
    monkeypatch.delenv("PROMPTC_VIA_LITELLM", raising=False)
    direct = LM(target, CallCache(tmp_path / "direct.sqlite"))
    fresh_direct = exercise(direct)
    monkeypatch.setenv("PROMPTC_VIA_LITELLM", "1")
    via = LM(target, CallCache(tmp_path / "litellm.sqlite"))
    fresh_via = exercise(via)
    assert fresh_direct == fresh_via
    counts = [{k: v for k, v in vars(lm.usage).items() if k != "lm_seconds"} for lm in (direct, via)]
    assert counts[0] == counts[1] and direct.usage.calls == 18
    assert rows(tmp_path / "direct.sqlite") == rows(tmp_path / "litellm.sqlite")

    # A cache written by one path answers every call of the other, in a new process's view.
    read_direct = LM(target, CallCache(tmp_path / "litellm.sqlite"))
    monkeypatch.delenv("PROMPTC_VIA_LITELLM")
    replayed = exercise(read_direct)
    monkeypatch.setenv("PROMPTC_VIA_LITELLM", "1")
    read_via = LM(target, CallCache(tmp_path / "direct.sqlite"))
    assert exercise(read_via) == replayed
    assert read_direct.usage.calls == read_via.usage.calls == 0
    assert read_direct.usage.cached == 18
    strip = [(name, {**fields, "cached": False}) for name, fields in replayed]
    assert strip == fresh_direct


def test_both_paths_hand_the_provider_the_same_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = provider_for("fake/echo")
    assert provider is not None
    seen: list[dict[str, Any]] = []
    complete, score_labels = provider.complete, provider.score_labels

    def recording_complete(model: str, messages: Any, params: dict[str, Any]) -> tuple[str, int, int]:
        seen.append(dict(params))
        return complete(model, messages, params)

    def recording_scores(model: str, messages: Any, params: dict[str, Any]) -> tuple[dict[str, float], int]:
        seen.append(dict(params))
        return score_labels(model, messages, params)

    monkeypatch.setattr(provider, "complete", recording_complete)
    monkeypatch.setattr(provider, "score_labels", recording_scores)
    for via in ("", "1"):
        monkeypatch.setenv("PROMPTC_VIA_LITELLM", via)
        lm = LM(Target("fake/echo", "fake00000000", temperature=0.0), CallCache(tmp_path / f"{via}.sqlite"))
        lm.complete(MESSAGES, sample=5, grammar='root ::= "x"')
        lm.label_logprobs(MESSAGES, "category:", ["a", "b"])
    litellm_own = {"max_retries"}  # litellm adds its retry setting (0: promptc retries) to the parameters
    seen = [p for p in seen if p]  # echo's label scores call complete itself, with no parameters
    direct, via_litellm = seen[:2], [{k: v for k, v in p.items() if k not in litellm_own} for p in seen[2:]]
    assert direct == via_litellm
    assert direct[0] == {"temperature": 0.0, "max_tokens": 64, "grammar": 'root ::= "x"', "seed": 5}


def test_a_fresh_call_on_an_in_process_model_does_not_import_litellm(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from promptc.lm.cache import CallCache\n"
        "from promptc.config.load import Target\n"
        "from promptc.lm.model import LM\n"
        "lm = LM(Target('fake/learner', 'fake00000000'), CallCache(Path(sys.argv[1])))\n"
        "lm.check_revision()\n"
        "assert not lm.complete([{'role': 'user', 'content': 'hi'}]).cached\n"
        "print('litellm' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "c.sqlite")], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def test_cost_cap_stops_new_calls_but_not_cached_ones(tmp_path: Path, route: str) -> None:
    cache = CallCache(tmp_path / "c.sqlite")
    LM(Target("fake/echo", "fake00000000"), cache).complete(MESSAGES)
    capped = LM(Target("fake/echo", "fake00000000"), cache, max_cost_usd=0.0)
    assert capped.complete(MESSAGES).cached
    with pytest.raises(BudgetExceeded, match="cost cap"):
        capped.complete([{"role": "user", "content": "another"}])
    assert capped.usage.calls == 0 and capped.usage.cached == 1


def test_call_cap_holds_under_concurrency(tmp_path: Path, route: str) -> None:
    lm = LM(Target("fake/echo", "fake00000000", concurrency=4), CallCache(tmp_path / "c.sqlite"), max_calls=5)

    def call(i: int) -> str:
        try:
            return lm.complete([{"role": "user", "content": f"n{i}"}]).text
        except BudgetExceeded:
            return "capped"

    texts = lm.map(call, range(12))
    assert texts.count("capped") == 7 and lm.usage.calls == 5
    assert len(rows(tmp_path / "c.sqlite")) == 5


def test_an_unknown_in_process_model_is_bad_input_on_both_paths(route: str) -> None:
    with pytest.raises(BadInput, match="unknown fake model 'nosuch'"):
        LM(Target("fake/nosuch", "fake00000000")).complete(MESSAGES)


def test_an_unexpected_provider_failure_is_retried_then_reported(
    tmp_path: Path, route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = provider_for("fake/echo")
    assert provider is not None

    def broken(model: str, messages: Any, params: dict[str, Any]) -> tuple[str, int, int]:
        raise RuntimeError("the provider broke")

    monkeypatch.setattr(provider, "complete", broken)
    lm = LM(Target("fake/echo", "fake00000000", max_retries=1), CallCache(tmp_path / "c.sqlite"))
    with pytest.raises(ProviderError, match=r"after 2 attempts.*the provider broke"):
        lm.complete(MESSAGES)
    assert lm.usage.retries == 1 and rows(tmp_path / "c.sqlite") == []


# Hosted models: litellm's OpenAI client against an OpenAI-compatible server on 127.0.0.1.


@pytest.fixture
def hosted(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """An OpenAI-compatible server on 127.0.0.1 that openai/... models reach through litellm."""
    server = FakeOpenAI()
    monkeypatch.setenv("OPENAI_API_BASE", server.start())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("PROMPTC_VIA_LITELLM", raising=False)
    yield server
    server.stop()


def test_a_hosted_model_is_called_through_litellm_and_cached(tmp_path: Path, hosted: FakeOpenAI) -> None:
    lm = LM(Target("openai/promptc-test", "snapshot-1", temperature=0.0), CallCache(tmp_path / "c.sqlite"))
    first = lm.complete(FEW_SHOT, sample=4)
    again = lm.complete(FEW_SHOT, sample=4)
    assert first.text == again.text == "category: b"
    assert not first.cached and again.cached
    assert (first.prompt_tokens, first.completion_tokens) == (34, 2)
    assert lm.usage.calls == 1 and lm.usage.requests == 2 and lm.usage.prompt_tokens == 68
    (request,) = hosted.requests
    assert request["model"] == "promptc-test" and request["messages"] == FEW_SHOT
    assert request["seed"] == 4 and request["temperature"] == 0.0 and request["max_tokens"] == 64


def test_a_hosted_model_is_retried_on_transient_errors(tmp_path: Path, hosted: FakeOpenAI) -> None:
    hosted.failures = [503, 429]
    lm = LM(Target("openai/promptc-test", "snapshot-1", max_retries=2), CallCache(tmp_path / "c.sqlite"))
    assert lm.complete(ZERO_SHOT).text == "category: a"
    assert lm.usage.retries == 2 and len(hosted.requests) == 3


def test_a_hosted_model_that_stays_down_is_a_provider_error_and_nothing_is_cached(
    tmp_path: Path, hosted: FakeOpenAI
) -> None:
    hosted.failures = [503, 503]
    lm = LM(Target("openai/promptc-test", "snapshot-1", max_retries=1), CallCache(tmp_path / "c.sqlite"))
    with pytest.raises(ProviderError, match="after 2 attempts"):
        lm.complete(ZERO_SHOT)
    assert rows(tmp_path / "c.sqlite") == []


def test_a_rejected_hosted_request_is_a_provider_error(tmp_path: Path, hosted: FakeOpenAI) -> None:
    hosted.failures = [400]
    lm = LM(Target("openai/promptc-test", "snapshot-1", max_retries=3), CallCache(tmp_path / "c.sqlite"))
    with pytest.raises(ProviderError, match="rejected the request"):
        lm.complete(ZERO_SHOT)
    assert len(hosted.requests) == 1


@pytest.mark.slow
def test_the_embedded_models_token_count_is_the_prompt_llama_cpp_reads() -> None:
    from promptc.lm.tokens import count_tokens

    pytest.importorskip("llama_cpp")
    model = "local/smollm2-135m-instruct"
    messages = [
        {"role": "system", "content": "Route the ticket."},
        {"role": "user", "content": "ticket: my invoice shows a double charge"},
    ]
    counted = count_tokens(model, messages)
    assert counted.tokenizer == "smollm2-135m-instruct's own GGUF tokenizer"
    _, prompt_tokens, _ = provider_for(model).complete(model.split("/", 1)[1], messages, {"max_tokens": 1})  # type: ignore[union-attr]
    assert counted.count == prompt_tokens


ENTITIES = {
    "type": "object",
    "properties": {"people": {"type": "array", "items": {"type": "string"}}},
    "required": ["people"],
    "additionalProperties": False,
}


def entities_program() -> Program:
    """A program whose one output is a json field with a schema."""
    outputs = (Field("entities", "json", schema=ENTITIES),)
    return Program("ner", "1.0.0", Signature(inputs=(Field("ticket"),), outputs=outputs))


@pytest.mark.parametrize(("model", "sent"), [("openai/gpt-4o-mini", True), ("openai/promptc-test", False)])
def test_a_json_output_asks_hosted_models_for_their_response_format_where_supported(
    tmp_path: Path, hosted: FakeOpenAI, model: str, sent: bool
) -> None:
    program = entities_program()
    hosted.reply_text = json.dumps({"entities": {"people": ["Ann"]}})
    lm = LM(Target(model, "snapshot-1"), CallCache(tmp_path / "c.sqlite"))
    prediction = predict(program, Candidate(""), lm, {"ticket": "Ann called"})
    assert prediction.outputs == {"entities": {"people": ["Ann"]}} and prediction.error is None
    (request,) = hosted.requests
    if sent:
        assert request["response_format"]["type"] == "json_schema"
        assert request["response_format"]["json_schema"]["schema"] == reply_schema(program)
    else:  # litellm knows no schema support: parsed and validated as it comes
        assert "response_format" not in request
    unconstrained = LM(Target(model, "snapshot-1", constrained=False), lm.cache)
    predict(program, Candidate(""), unconstrained, {"ticket": "Ann called"})
    assert "response_format" not in hosted.requests[-1]


def test_a_reply_that_breaks_the_schema_is_a_miss_with_a_reason_every_time(tmp_path: Path) -> None:
    # fake/learner answers a label-shaped reply, which is no JSON: a scored miss, never a crash;
    # the cache keeps the raw reply, which is parsed and validated again whenever it is read
    program = entities_program()
    lm = LM(Target("fake/learner", "fake00000000"), CallCache(tmp_path / "c.sqlite"))
    first = predict(program, Candidate(""), lm, {"ticket": "Ann called"})
    again = predict(program, Candidate(""), lm, {"ticket": "Ann called"})
    assert first.outputs is None and again.outputs is None
    assert first.error == again.error == "parse: entities: no JSON object in 'unknown'"
    assert not first.cached and again.cached


@pytest.mark.parametrize(
    ("text", "named"),
    [("category: C++", "C++"), ("category: C", "C"), ("I'd say C++, not C", "C++"), ("not sure", "not sure")],
)
def test_parsed_label_scores_prefer_the_longer_of_two_prefix_labels(text: str, named: str) -> None:
    labels = ["C", "C++", "not", "not sure"]
    scores = parsed_label_scores(text, "category:", labels)
    assert [label for label, score in scores.items() if score == 0.0] == [named]
