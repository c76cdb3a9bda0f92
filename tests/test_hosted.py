"""Hosted models over HTTP: endpoint and key settings, revision drift, and injected faults.

Everything goes through the CLI and litellm's real OpenAI client, against OpenAI-compatible
servers on 127.0.0.1 (tests/fake_openai.py).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptc.config.load import Deployment, Target, load_config
from promptc.errors import BadInput, ProviderError
from promptc.lm.cache import CallCache
from promptc.lm.model import LM
from promptc.lm.tokens import price
from tests.conftest import LABELS, ConfigWriter
from tests.fake_openai import FAULTS, FakeOpenAI, FaultProxy
from tests.test_cli import artifact_id, invoke

SENTINEL = "sk-promptc-sentinel-5f2a9c81d04e"  # a key value that must never be written or printed
KEY_ENV = "PROMPTC_TEST_KEY"
MODEL, REVISION = "openai/promptc-test", "snapshot-1"


def cache_rows(home: Path) -> list[tuple[str, str]]:
    path = home / "cache.sqlite"
    if not path.exists():
        return []
    return sqlite3.connect(path).execute("SELECT key, response FROM calls ORDER BY key").fetchall()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible server reporting snapshot-1; the key in $PROMPTC_TEST_KEY only."""
    monkeypatch.setenv(KEY_ENV, SENTINEL)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for name in ("OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_BASE_URL", "PROMPTC_VIA_LITELLM"):
        monkeypatch.delenv(name, raising=False)
    with FakeOpenAI(fingerprint="fp_test") as fake:
        fake.start()
        yield fake


def hosted(api_base: str, **target: Any) -> Any:
    """A config edit: the hosted fake model at api_base, its key named by api_key_env."""

    def edit(cfg: dict[str, Any]) -> None:
        cfg["target"].update(model=MODEL, revision=REVISION, api_base=api_base, api_key_env=KEY_ENV, **target)

    return edit


def home() -> Path:
    return Path(os.environ["PROMPTC_HOME"])


# The endpoint and key settings.


def test_the_endpoint_and_key_variable_reach_the_target(
    server: FakeOpenAI, write_config: ConfigWriter
) -> None:
    target = load_config(write_config(hosted(server.url))).target
    assert (target.api_base, target.api_key_env) == (server.url, KEY_ENV)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("api_base", "ftp://127.0.0.1/v1", "an http(s) URL"),
        ("api_base", f"https://user:{SENTINEL}@example.com/v1", "without credentials"),
        ("api_base", f"https://example.com/v1?key={SENTINEL}", "without credentials, query"),
        ("api_base", "http://127.0.0.1:99999/v1", "the port is not a number from 1 to 65535"),
        ("api_key_env", SENTINEL, "the name of the environment variable"),
        ("api_key_env", "", "the name of the environment variable"),
        ("api_key_env", 12345, "never the key itself"),
    ],
)
def test_a_bad_endpoint_or_key_setting_is_refused_without_repeating_it(
    write_config: ConfigWriter, key: str, value: object, expected: str
) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["target"].update({"model": MODEL, "revision": REVISION, "api_key_env": KEY_ENV, key: value})

    config = write_config(edit)
    result = invoke("check", config)
    assert result.exit_code == 2, result.output
    assert f"target.{key}" in result.output and expected in result.output
    assert str(config) in result.output and "fix:" in result.output
    assert SENTINEL not in result.output


@pytest.mark.parametrize("key", ["api_base", "api_key_env"])
def test_an_in_process_model_takes_no_endpoint_or_key(write_config: ConfigWriter, key: str) -> None:
    config = write_config(
        lambda cfg: cfg["target"].update({key: "http://127.0.0.1:8080/v1" if key == "api_base" else KEY_ENV})
    )
    result = invoke("check", config)
    assert result.exit_code == 2
    assert f"target.{key}: fake/learner runs in process" in result.output


def test_compile_eval_promote_run_over_http_and_the_key_is_never_written_or_printed(
    server: FakeOpenAI, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(hosted(server.url))
    outputs = []
    compiled = invoke("compile", config)
    outputs.append(compiled.output)
    assert compiled.exit_code == 0, compiled.output
    artifact = artifact_id(compiled.output)
    for args in (
        ("eval", config, "--json", tmp_path / "eval.json"),
        ("promote", config, "--artifact", artifact, "--alias", "production"),
        ("run", config, "--alias", "production", "--input", "ticket=my invoice shows a double charge"),
        ("show", artifact, "--config", config),
    ):
        result = invoke(*args)
        outputs.append(result.output)
        assert result.exit_code == 0, result.output
    assert re.search(rf"category: ({'|'.join(LABELS)})", outputs[3]), outputs[3]

    assert server.requests and set(server.authorizations) == {f"Bearer {SENTINEL}"}
    assert {r["model"] for r in server.requests} == {"promptc-test"}
    (path,) = (tmp_path / "artifacts").rglob(f"{artifact}.json")
    lineage = json.loads(path.read_text())["lineage"]
    assert lineage["observed_models"] == [
        {"target": MODEL, "model": REVISION, "system_fingerprint": "fp_test"}
    ]

    written = [p for root in (tmp_path, home().parent) for p in root.rglob("*") if p.is_file()]
    assert any(p.name == "cache.sqlite" for p in written) and any(p.suffix == ".json" for p in written)
    leaked = [str(p) for p in written if SENTINEL.encode() in p.read_bytes()]
    assert leaked == []
    assert not any(SENTINEL in out for out in outputs)


def test_a_key_a_provider_repeats_in_its_error_is_masked(
    server: FakeOpenAI, write_config: ConfigWriter
) -> None:
    server.failures = [401]
    result = invoke("compile", write_config(hosted(server.url)))
    assert result.exit_code == 3, result.output
    assert "invalid key [key]" in result.output and SENTINEL not in result.output


# Every provider status through the CLI: the key never printed, only transient ones retried.
STATUSES = (400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529)


@pytest.mark.parametrize("status", STATUSES)
def test_no_provider_status_prints_the_key_and_only_transient_ones_are_retried(
    status: int, server: FakeOpenAI, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTC_DEBUG", "1")  # the traceback is masked too
    server.echo_authorization, server.retry_all, server.retry_after = True, True, {"retry-after": "0"}
    server.failures = [status] * 2
    result = invoke("compile", write_config(hosted(server.url, max_retries=1, concurrency=1)))
    assert result.exit_code == 3, result.output
    assert SENTINEL not in result.output and SENTINEL[3:12] not in result.output
    assert "unexpected" not in result.output and "bug in promptc" not in result.output
    assert "[key]" in result.output or status == 404  # litellm drops a 404's body
    transient = status >= 500 or status in {408, 409, 429}
    assert len(server.requests) == (2 if transient else 1), (status, len(server.requests))
    assert cache_rows(home()) == []


def test_every_litellm_exception_class_is_masked_and_classified() -> None:
    """Each exception class litellm exports, raised with a key in its text, becomes a masked
    Transient or ProviderError: none escapes as an unexpected error."""
    import httpx
    import litellm

    from promptc.lm.hosted import _send
    from promptc.lm.retry import Transient

    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(500, request=request)
    text = f"upstream said: Authorization: Bearer {SENTINEL} api_key={SENTINEL}"
    classes = {
        obj
        for obj in vars(litellm.exceptions).values()
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__.startswith("litellm")
    }
    seen = 0
    for cls in sorted(classes, key=lambda c: c.__name__):
        exc = _make_exception(cls, text, request, response)
        if exc is None:
            continue
        seen += 1

        def complete(**_: Any) -> Any:
            raise exc  # noqa: B023

        with pytest.raises((Transient, ProviderError)) as caught:
            _send(litellm, complete, MODEL, [])
        shown = caught.value.detail if isinstance(caught.value, Transient) else str(caught.value)
        assert SENTINEL not in shown, (cls.__name__, shown)
    assert seen >= 15  # litellm's HTTP-status classes at the least


def _make_exception(cls: type, text: str, request: Any, response: Any) -> Exception | None:
    """An instance of one of litellm's exception classes (their constructors differ)."""
    attempts: list[dict[str, Any]] = [
        {"message": text, "llm_provider": "openai", "model": MODEL, "response": response},
        {"message": text, "llm_provider": "openai", "model": MODEL},
        {"message": text, "llm_provider": "openai", "model": MODEL, "request": request},
        {"status_code": 500, "message": text, "llm_provider": "openai", "model": MODEL, "request": request},
        {"message": text, "model": MODEL, "llm_provider": "openai", "current_cost": 1.0, "max_budget": 0.5},
        {"message": text},
    ]
    for kwargs in attempts:
        try:
            return cls(**kwargs)  # type: ignore[no-any-return]
        except TypeError:
            continue
    return None


def test_a_hosted_reply_that_names_no_model_is_refused_and_not_cached(
    server: FakeOpenAI, write_config: ConfigWriter, tmp_path: Path
) -> None:
    for reported in (None, ""):
        server.reported_model = reported
        result = invoke("compile", write_config(hosted(server.url)))
        assert result.exit_code == 3, result.output
        assert "the provider's reply names no model" in result.output
        assert "target.revision 'snapshot-1'" in result.output
        assert cache_rows(home()) == []
        assert not list((tmp_path / "artifacts").rglob("*.json"))


def test_a_missing_key_variable_is_bad_input_naming_it_but_cached_calls_need_no_key(
    server: FakeOpenAI, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(hosted(server.url))
    monkeypatch.delenv(KEY_ENV)
    refused = invoke("compile", config)
    assert refused.exit_code == 2, refused.output
    assert f"target.api_key_env names the environment variable {KEY_ENV}, which is not set" in refused.output
    assert f"export {KEY_ENV}=" in refused.output and server.requests == []

    monkeypatch.setenv(KEY_ENV, "")
    assert "which is empty" in invoke("compile", config).output

    monkeypatch.setenv(KEY_ENV, SENTINEL)
    first = invoke("compile", config)
    assert first.exit_code == 0, first.output
    monkeypatch.delenv(KEY_ENV)
    server.stop()  # offline, and without the key: every call is in the cache
    again = invoke("compile", config)
    assert again.exit_code == 0, again.output
    assert "model calls: 0 made" in again.output
    assert artifact_id(again.output) == artifact_id(first.output)


def test_a_server_that_is_down_is_named_in_the_error(server: FakeOpenAI, write_config: ConfigWriter) -> None:
    config = write_config(hosted(server.url, max_retries=1, timeout_s=5))
    server.stop()
    result = invoke("compile", config)
    assert result.exit_code == 3, result.output
    assert "after 2 attempts" in result.output
    assert f"check the server at {server.url} is up, or raise target.max_retries" in result.output


# Revision drift: the provider reports the model id it served; a fresh reply must be target.revision.


def test_a_server_reporting_another_model_stops_compile_with_exit_3_and_caches_nothing(
    server: FakeOpenAI, write_config: ConfigWriter, tmp_path: Path
) -> None:
    server.model = "snapshot-2"
    result = invoke("compile", write_config(hosted(server.url)))
    assert result.exit_code == 3, result.output
    assert "openai/promptc-test: the provider reports model 'snapshot-2'" in result.output
    assert "but target.revision is 'snapshot-1'" in result.output
    assert "set target.revision: snapshot-2 and compile and evaluate again" in result.output
    assert cache_rows(home()) == []
    assert not list((tmp_path / "artifacts").rglob("*.json"))


def test_eval_fails_loudly_on_drift_and_a_warm_cache_still_evaluates_offline(
    server: FakeOpenAI, write_config: ConfigWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(hosted(server.url))
    assert invoke("compile", config).exit_code == 0
    warm = home()

    monkeypatch.setenv("PROMPTC_HOME", str(tmp_path / "ci-home"))  # CI: a cold cache
    server.model = "snapshot-2"
    drifted = invoke("eval", config)
    assert drifted.exit_code == 3, drifted.output
    assert "reports model 'snapshot-2'" in drifted.output
    assert cache_rows(tmp_path / "ci-home") == []

    monkeypatch.setenv("PROMPTC_HOME", str(warm))
    server.stop()
    offline = invoke("eval", config)
    assert offline.exit_code == 0, offline.output
    assert "model calls: 0 made" in offline.output


def test_a_hosted_reply_records_the_reported_model_in_its_cache_entry(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    target = Target(MODEL, REVISION, api_base=server.url, api_key_env=KEY_ENV)
    messages = [{"role": "user", "content": "ticket: refund"}]
    first = LM(target, CallCache(tmp_path / "cache.sqlite")).complete(messages)
    assert (first.model, first.system_fingerprint) == (REVISION, "fp_test")
    server.model = "snapshot-2"  # a cached reply is not asked for again, so it cannot drift
    again = LM(target, CallCache(tmp_path / "cache.sqlite")).complete(messages)
    assert again.cached and again.model == REVISION
    ((_, stored),) = cache_rows(tmp_path)
    assert json.loads(stored)["model"] == REVISION


def test_a_reported_id_with_the_provider_prefix_is_the_same_revision(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    server.model = f"openai/{REVISION}"  # as litellm names some providers' models
    lm = LM(
        Target(MODEL, REVISION, api_base=server.url, api_key_env=KEY_ENV), CallCache(tmp_path / "c.sqlite")
    )
    assert lm.complete([{"role": "user", "content": "ticket: login"}]).model == REVISION
    assert lm.observed == [{"target": MODEL, "model": REVISION, "system_fingerprint": "fp_test"}]


# Retries: Retry-After is honoured, up to a bound; backoff otherwise.


@pytest.mark.parametrize(
    ("headers", "waited"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "2"}, 2.0),
        ({"Retry-After": "86400"}, 60.0),  # bounded
        ({}, 0.5),  # no header: the first backoff step
    ],
)
def test_retry_after_is_honoured_up_to_a_bound(
    server: FakeOpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
    waited: float,
) -> None:
    import promptc.lm.model

    sleeps: list[float] = []
    monkeypatch.setattr(promptc.lm.model.time, "sleep", sleeps.append)
    server.failures, server.retry_after = [429], headers
    lm = LM(
        Target(MODEL, REVISION, api_base=server.url, api_key_env=KEY_ENV), CallCache(tmp_path / "c.sqlite")
    )
    assert lm.complete([{"role": "user", "content": "ticket: login"}]).text
    assert sleeps == [waited]
    assert (lm.usage.retries, lm.usage.wait_seconds) == (1, waited)


# Faults do not change results.


def test_a_compile_through_30_percent_injected_faults_writes_the_clean_artifact(
    server: FakeOpenAI, write_config: ConfigWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultProxy(server.url, rate=0.0, seed=11, hang_s=3.0) as proxy:
        proxy.start()
        config = write_config(hosted(proxy.url, timeout_s=2.0, max_retries=8, concurrency=8))
        monkeypatch.setenv("PROMPTC_HOME", str(tmp_path / "clean"))
        clean = invoke("compile", config)
        assert clean.exit_code == 0, clean.output
        assert proxy.attempts and not any(proxy.injected.values())

        proxy.rate, proxy.attempts, proxy.forwarded = 0.3, {}, 0
        monkeypatch.setenv("PROMPTC_HOME", str(tmp_path / "faulty"))
        faulty = invoke("compile", config)
        assert faulty.exit_code == 0, faulty.output

    injected = sum(proxy.injected.values())
    assert all(proxy.injected[kind] > 0 for kind in FAULTS), proxy.injected
    assert injected > 0.2 * proxy.forwarded
    assert artifact_id(faulty.output) == artifact_id(clean.output)
    assert cache_rows(tmp_path / "faulty") == cache_rows(tmp_path / "clean")  # no failed reply kept
    retries = re.search(r"retries: (\d+), [\d.]+ s waiting", faulty.output)
    assert retries is not None and int(retries.group(1)) >= injected


def test_label_scores_are_read_at_the_answer_token_of_a_hosted_reply() -> None:
    from promptc.lm.label_scores import label_scores_from_tokens

    labels = ["billing", "technical", "account", "shipping"]
    tokens = [
        ("category", [("category", -0.01)]),
        (":", [(":", -0.01)]),
        (" bill", [(" bill", -0.3), (" tech", -1.6), (" Account", -2.5), (" billing", -4.0)]),
        ("ing", [("ing", -0.01)]),
    ]
    scores = label_scores_from_tokens(tokens, "category:", labels)
    # The best alternative that starts each label; shipping is not among them: the least likely shown.
    assert scores == {"billing": -0.3, "technical": -1.6, "account": -2.5, "shipping": -4.0}
    with pytest.raises(ProviderError, match="never reached an answer"):
        label_scores_from_tokens([("I", [("I", -0.1)]), (" think", [(" think", -0.1)])], "category:", labels)


def test_a_hosted_model_with_logprobs_scores_labels_and_caches_them(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    server.answer_alternatives = [(" billing", -0.1), (" account", -2.6), (" ship", -3.5)]
    target = Target(MODEL, REVISION, api_base=server.url, api_key_env=KEY_ENV, logprobs=True)
    messages = [  # a demo, so the fake learner answers "category: billing"
        {"role": "user", "content": "ticket: refund my double charge"},
        {"role": "assistant", "content": "category: billing"},
        {"role": "user", "content": "ticket: I was charged twice"},
    ]
    lm = LM(target, CallCache(tmp_path / "cache.sqlite"))
    assert lm.scores_labels
    scores = lm.label_logprobs(messages, "category:", LABELS)
    assert scores.logprobs == {"billing": -0.1, "technical": -3.5, "account": -2.6, "shipping": -3.5}
    sent = server.requests[-1]
    assert sent["logprobs"] is True and sent["top_logprobs"] == 20
    assert "score_labels" not in sent and "answer_prefix" not in sent  # promptc's own, never sent
    again = LM(target, CallCache(tmp_path / "cache.sqlite")).label_logprobs(messages, "category:", LABELS)
    assert again.cached and again.logprobs == scores.logprobs and len(server.requests) == 1


def test_a_server_that_returns_no_logprobs_is_refused_and_nothing_is_cached(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    server.logprobs = False
    target = Target(MODEL, REVISION, api_base=server.url, api_key_env=KEY_ENV, logprobs=True)
    lm = LM(target, CallCache(tmp_path / "cache.sqlite"))
    with pytest.raises(ProviderError, match="no token log-probabilities"):
        lm.label_logprobs([{"role": "user", "content": "ticket: hi"}], "category:", LABELS)
    assert cache_rows(tmp_path) == []
    assert not LM(Target(MODEL, REVISION, api_base=server.url)).scores_labels  # off unless configured


def test_auto_decides_a_hosted_model_by_label_logprobs(
    server: FakeOpenAI, write_config: ConfigWriter, tmp_path: Path
) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        hosted(server.url, logprobs=True, concurrency=1)(cfg)
        cfg["optimizer"] = {"name": "auto", "seed": 0, "settings": {"demo_sets": 0, "knn": 0}}

    config = write_config(edit)
    result = invoke("compile", config)
    assert result.exit_code in (0, 1), result.output
    assert "label log-probabilities" in result.output  # auto scored the prompts by label scores
    assert any(r.get("logprobs") for r in server.requests)


def test_logprobs_on_an_in_process_model_is_refused(write_config: ConfigWriter) -> None:
    config = write_config(lambda c: c["target"].update(logprobs=True))
    result = invoke("check", config)
    assert result.exit_code == 2 and "target.logprobs" in result.output


# Rate caps: requests and tokens per minute, across the concurrent workers.


def most_in_a_window(served: list[tuple[float, int]], window: float) -> tuple[int, int]:
    """The most requests, and the most tokens, the server received inside any one window."""
    most_requests = most_tokens = 0
    for start, _ in served:
        inside = [tokens for at, tokens in served if start <= at < start + window]
        most_requests, most_tokens = max(most_requests, len(inside)), max(most_tokens, sum(inside))
    return most_requests, most_tokens


@pytest.mark.parametrize(("rpm", "tpm"), [(4, None), (None, 60)])
def test_the_server_never_sees_more_than_the_rate_caps_in_a_window(
    server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rpm: int | None, tpm: int | None
) -> None:
    import promptc.lm.ratelimit

    monkeypatch.setattr(promptc.lm.ratelimit, "WINDOW_S", 0.5)  # a half-second "minute", to keep it short
    server.latency_s = 0.02
    target = Target(
        MODEL,
        REVISION,
        api_base=server.url,
        api_key_env=KEY_ENV,
        concurrency=8,
        rpm=rpm,
        tpm=tpm,
        max_tokens=16,
    )
    lm = LM(target, CallCache(tmp_path / "cache.sqlite"))
    tickets = [f"ticket: parcel {i} is late" for i in range(16)]
    replies = lm.map(lambda t: lm.complete([{"role": "user", "content": t}]).text, tickets)
    assert len(server.served) == 16 and all(replies)
    requests, tokens = most_in_a_window(server.served, 0.5)
    if rpm is not None:
        assert requests == rpm  # the cap is reached, and never passed
    if tpm is not None:
        assert tokens <= tpm and requests < 16
    assert lm.usage.cap_wait_seconds > 0

    uncapped = LM(
        Target(MODEL, REVISION, api_base=server.url, api_key_env=KEY_ENV), CallCache(tmp_path / "u.sqlite")
    )
    same = uncapped.map(lambda t: uncapped.complete([{"role": "user", "content": t}]).text, tickets)
    assert same == replies and uncapped.usage.cap_wait_seconds == 0  # caps change timing, never results


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"rpm": 0}, "target.rpm: 0 is less than the minimum of 1"),
        ({"tpm": "lots"}, "target.tpm: 'lots' is not of type 'integer'"),
    ],
)
def test_a_bad_rate_cap_is_refused(write_config: ConfigWriter, target: dict[str, Any], expected: str) -> None:
    result = invoke("check", write_config(hosted("http://127.0.0.1:9/v1", **target)))
    assert result.exit_code == 2, result.output
    assert expected in result.output and "fix:" in result.output


# A hosted reply with log-probabilities that never reaches the answer field.


def test_a_reply_that_never_reaches_the_answer_is_scored_from_its_parsed_label(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    server.reply_text = "Sounds like a Billing problem to me, not shipping."
    target = Target(MODEL, REVISION, api_base=server.url, api_key_env=KEY_ENV, logprobs=True)
    messages = [{"role": "user", "content": "ticket: I was charged twice"}]
    lm = LM(target, CallCache(tmp_path / "cache.sqlite"))
    scores = lm.label_logprobs(messages, "category:", LABELS)
    assert scores.fallback and max(scores.logprobs, key=scores.logprobs.__getitem__) == "billing"
    assert scores.logprobs["billing"] == 0.0 and scores.logprobs["shipping"] < -10
    again = LM(target, CallCache(tmp_path / "cache.sqlite"))
    replay = again.label_logprobs(messages, "category:", LABELS)
    assert replay.cached and replay.fallback and replay.logprobs == scores.logprobs
    assert (lm.usage.label_fallbacks, again.usage.label_fallbacks) == (1, 1)
    server.reply_text = "I cannot tell."
    unnamed = lm.label_logprobs([{"role": "user", "content": "ticket: hm"}], "category:", LABELS)
    assert unnamed.fallback and set(unnamed.logprobs.values()) == {0.0}


def test_auto_on_replies_without_an_answer_field_falls_back_and_says_so(
    server: FakeOpenAI, write_config: ConfigWriter
) -> None:
    server.reply_text = "I would say account."

    def edit(cfg: dict[str, Any]) -> None:
        hosted(server.url, logprobs=True, concurrency=4)(cfg)
        cfg["optimizer"] = {"name": "auto", "seed": 0, "settings": {"demo_sets": 0, "knn": 0}}

    result = invoke("compile", write_config(edit))
    assert result.exit_code in (0, 1), result.output
    found = re.search(r"label\s+scores\s+from\s+parsed\s+answers:\s+(\d+)", result.output)
    assert found is not None and int(found.group(1)) > 0, result.output


# A model litellm prices, served through api_base: dry-run tokens and cost, and the cost cap.

PRICED, PRICED_REVISION = "openai/gpt-4o-mini", "gpt-4o-mini-2024-07-18"


@pytest.fixture
def priced(server: FakeOpenAI) -> FakeOpenAI:
    """The fake server, answering as gpt-4o-mini's snapshot (a model litellm has a price for)."""
    server.model = PRICED_REVISION
    return server


def priced_config(write_config: ConfigWriter, url: str, **budget: Any) -> Path:
    def edit(cfg: dict[str, Any]) -> None:
        hosted(url, concurrency=1)(cfg)
        cfg["target"].update(model=PRICED, revision=PRICED_REVISION)
        cfg["optimizer"] = {"name": "random_search", "seed": 0, "settings": {"num_candidate_programs": 4}}
        if budget:
            cfg["budget"] = budget

    return write_config(edit)


def test_dry_run_counts_tokens_with_the_models_tokenizer_and_prices_them(
    priced: FakeOpenAI, write_config: ConfigWriter
) -> None:
    result = invoke("compile", priced_config(write_config, priced.url, max_cost_usd=0.001), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "counted by tiktoken o200k_base" in result.output  # litellm's bundled encoding, offline
    assert re.search(r"cost: about \$0\.\d{4}", result.output), result.output
    assert "budget: max_cost_usd 0.001" in result.output and priced.requests == []


def test_dry_run_on_an_unknown_hosted_model_says_its_token_count_is_approximate(
    server: FakeOpenAI, write_config: ConfigWriter
) -> None:
    result = invoke("compile", write_config(hosted(server.url)), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "tiktoken cl100k_base (approximate" in " ".join(result.output.split())


def test_the_cost_cap_stops_the_search_cleanly_and_keeps_the_best_so_far(
    priced: FakeOpenAI, write_config: ConfigWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def search_cost(output: str) -> float:
        found = re.search(r"search: \d+ model calls made, \d+ from cache, \$(\d+\.\d+)", output)
        assert found is not None, output
        return float(found.group(1))

    free = invoke("compile", priced_config(write_config, priced.url))
    assert free.exit_code in (0, 1), free.output
    full = search_cost(free.output)  # the calls carry litellm's price for gpt-4o-mini
    assert full > 0 and "stopped by budget" not in free.output

    cap = round(full / 3, 6)
    monkeypatch.setenv("PROMPTC_HOME", str(tmp_path / "cold"))
    served = len(priced.requests)
    capped = invoke("compile", priced_config(write_config, priced.url, max_cost_usd=cap))
    assert capped.exit_code in (0, 1), capped.output
    assert f"stopped by budget: the cost cap of ${cap:.4f} was reached" in capped.output
    spent = search_cost(capped.output)
    each = full / served  # under one search call's price: served counts the holdout calls too
    assert cap <= spent < cap + 3 * each  # one call at a time: it stops at the first call past the cap
    (path,) = (tmp_path / "artifacts").rglob(f"{artifact_id(capped.output)}.json")
    assert json.loads(path.read_text())["lineage"]["stopped_by_budget"] is True
    leftovers = [p for p in (tmp_path / "artifacts").rglob("*") if p.is_file() and ".tmp" in p.name]
    assert leftovers == []  # nothing half-written


def test_a_cost_cap_on_a_model_litellm_cannot_price_is_refused_before_any_call(
    server: FakeOpenAI, write_config: ConfigWriter, tmp_path: Path
) -> None:
    def capped(cfg: dict[str, Any]) -> None:
        hosted(server.url)(cfg)
        cfg["budget"] = {"max_cost_usd": 0.01}

    result = invoke("compile", write_config(capped))
    assert result.exit_code == 2, result.output
    assert f"litellm has no price for {MODEL}" in result.output and "budget.max_calls" in result.output
    assert server.requests == [] and not list((tmp_path / "artifacts").rglob("*.json"))


# A router across several deployments of one model (target.deployments).


@pytest.fixture
def second(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """Another deployment of the same model (same revision), beside `server`."""
    with FakeOpenAI(fingerprint="fp_test") as fake:
        fake.start()
        yield fake


def deployments(*entries: dict[str, Any]) -> tuple[Deployment, ...]:
    return tuple(Deployment(**{"api_key_env": KEY_ENV, **entry}) for entry in entries)


def test_traffic_splits_across_deployments_by_weight(
    server: FakeOpenAI, second: FakeOpenAI, tmp_path: Path
) -> None:
    routed = deployments({"api_base": server.url, "weight": 3}, {"api_base": second.url, "weight": 1})
    lm = LM(Target(MODEL, REVISION, deployments=routed, concurrency=4), CallCache(tmp_path / "c.sqlite"))
    tickets = [f"ticket: my parcel {i} is late" for i in range(80)]
    assert all(lm.map(lambda t: lm.complete([{"role": "user", "content": t}]).text, tickets))
    assert len(server.requests) + len(second.requests) == 80
    assert 0.6 <= len(server.requests) / 80 <= 0.9  # 3:1 by weight, drawn at random
    assert set(server.authorizations + second.authorizations) == {f"Bearer {SENTINEL}"}


def test_a_dead_deployment_fails_over_to_the_live_one(
    server: FakeOpenAI, second: FakeOpenAI, tmp_path: Path
) -> None:
    second.stop()  # the heavier deployment is down
    routed = deployments({"api_base": server.url, "weight": 1}, {"api_base": second.url, "weight": 9})
    target = Target(MODEL, REVISION, deployments=routed, concurrency=1, max_retries=2, timeout_s=5)
    lm = LM(target, CallCache(tmp_path / "c.sqlite"))
    replies = [lm.complete([{"role": "user", "content": f"ticket: login {i}"}]).text for i in range(10)]
    assert all(replies) and len(server.requests) == 10
    assert 1 <= lm.usage.retries <= 2  # the dead one is cooled down after its first failure
    # litellm's router enters unpriced models in its price table at $0; promptc takes them out again,
    # so a report still says the cost is unknown and a cost cap is still refused.
    assert price(MODEL, 1000, 0) is None


def test_a_router_compile_gets_the_artifact_of_a_single_endpoint_and_checks_each_reply(
    server: FakeOpenAI,
    second: FakeOpenAI,
    write_config: ConfigWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTC_HOME", str(tmp_path / "single"))
    single = invoke("compile", write_config(hosted(server.url)))
    assert single.exit_code == 0, single.output

    def routed(cfg: dict[str, Any]) -> None:
        cfg["target"].update(model=MODEL, revision=REVISION, rpm=100000)
        cfg["target"]["deployments"] = [
            {"api_base": server.url, "api_key_env": KEY_ENV, "weight": 1, "rpm": 100000},
            {"api_base": second.url, "api_key_env": KEY_ENV, "weight": 1, "tpm": 10000000},
        ]

    monkeypatch.setenv("PROMPTC_HOME", str(tmp_path / "routed"))
    before = len(second.requests)
    router = invoke("compile", write_config(routed))
    assert router.exit_code == 0, router.output
    assert len(second.requests) > before and SENTINEL not in router.output
    assert artifact_id(router.output) == artifact_id(single.output)
    assert cache_rows(tmp_path / "routed") == cache_rows(tmp_path / "single")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [str(p) for p in written if SENTINEL.encode() in p.read_bytes()] == []

    second.model = "snapshot-2"  # one deployment drifts: its replies are refused
    monkeypatch.setenv("PROMPTC_HOME", str(tmp_path / "drifted"))
    drifted = invoke("compile", write_config(routed))
    assert drifted.exit_code == 3, drifted.output
    assert "the provider reports model 'snapshot-2'" in drifted.output


@pytest.mark.parametrize(
    ("edit", "expected", "code"),
    [
        (
            lambda t: t.update(
                deployments=[{"api_base": "http://127.0.0.1:8080/v1"}], api_base="http://x:1/v1"
            ),
            "target.api_base: give it per deployment when target.deployments is set",
            2,
        ),
        (
            lambda t: t.update(deployments=[{"api_base": f"https://u:{SENTINEL}@h/v1"}]),
            "target.deployments.0.api_base: must be an http(s) URL",
            2,
        ),
        (
            lambda t: t.update(deployments=[{"api_base": "http://127.0.0.1:8080/v1", "weight": 0}]),
            "target.deployments.0.weight: 0 is less than or equal to the minimum of 0",
            2,
        ),
        (
            lambda t: t.update(deployments=[{"api_base": "http://a:1/v1"}, {"api_base": "http://a:1/v1"}]),
            "target.deployments.1.api_base: the same server is named twice",
            2,
        ),
    ],
)
def test_a_bad_deployment_is_refused(write_config: ConfigWriter, edit: Any, expected: str, code: int) -> None:
    def change(cfg: dict[str, Any]) -> None:
        cfg["target"].update(model=MODEL, revision=REVISION)
        edit(cfg["target"])

    config = write_config(change)
    result = invoke("check", config)
    assert result.exit_code == code, result.output
    assert expected in result.output and str(config) in result.output and "fix:" in result.output
    assert SENTINEL not in result.output


def test_deployments_on_an_in_process_model_are_refused(write_config: ConfigWriter) -> None:
    config = write_config(lambda c: c["target"].update(deployments=[{"api_base": "http://127.0.0.1:8/v1"}]))
    result = invoke("check", config)
    assert result.exit_code == 2 and "target.deployments: fake/learner runs in process" in result.output


def test_a_missing_deployment_key_variable_names_the_deployment(
    server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    lm = LM(Target(MODEL, REVISION, deployments=deployments({"api_base": server.url})))
    with pytest.raises(
        BadInput, match=f"target.deployments.0.api_key_env names the environment variable {KEY_ENV}"
    ):
        lm.complete([{"role": "user", "content": "ticket: hi"}])


def test_the_prompt_model_on_the_same_servers_shares_the_targets_rate_caps(
    server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import promptc.lm.ratelimit

    monkeypatch.setattr(promptc.lm.ratelimit, "WINDOW_S", 0.5)
    target = Target(MODEL, REVISION, api_base=server.url, api_key_env=KEY_ENV, concurrency=8, rpm=3)
    lm = LM(target, CallCache(tmp_path / "cache.sqlite"))
    proposer = lm.for_target(dataclasses.replace(target, temperature=0.7, max_tokens=32))
    calls = [(lm if i % 2 else proposer, f"ticket: card {i} declined") for i in range(12)]
    lm.map(lambda c: c[0].complete([{"role": "user", "content": c[1]}]), calls)
    assert most_in_a_window(server.served, 0.5)[0] == 3
