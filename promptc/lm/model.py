"""The model layer: a pinned target model behind one object, LM, and the only importer of litellm.

LM gives every call the call cache, bounded concurrency, retries with backoff on transient
errors, usage accounting and caps. Hosted models are called through litellm (hosted.py);
in-process models (a provider plugin's prefix, see promptc.lm.providers) are called directly, with
the same parameters and the same cache entries as through their litellm bridge (bridge.py).
PROMPTC_VIA_LITELLM=1 sends those through litellm too (to compare the two paths). Only the
modules of this package import litellm, and only when a call needs it.

The rest of promptc imports from here: LM and its records (Usage lives in the leaf promptc.usage),
count_tokens and price (tokens.py), and is_in_process (whether a model string runs in process,
from promptc.lm.providers).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from promptc.config.load import Target
from promptc.errors import BadInput, BudgetExceeded, ProviderError, RevisionMismatch
from promptc.lm.bridge import call_direct
from promptc.lm.cache import CallCache, call_key
from promptc.lm.hosted import Hosted, check_reported_model, served_alike
from promptc.lm.label_scores import FALLBACK_KEY, read_label_scores
from promptc.lm.providers import is_in_process, provider_for
from promptc.lm.retry import Transient, wait_before
from promptc.lm.tokens import TokenCount, count_tokens, price
from promptc.prompting.grammar import constrains
from promptc.usage import Usage

__all__ = [
    "LM",
    "Completion",
    "LabelScores",
    "TokenCount",
    "Usage",
    "count_tokens",
    "is_in_process",
    "price",
]

T = TypeVar("T")
R = TypeVar("R")
Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Completion:
    """One model reply with its accounting."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cached: bool
    latency_s: float
    model: str | None = None  # the model id a hosted provider reported (checked against the revision)
    system_fingerprint: str | None = None  # the provider's backend configuration, where it gives one


@dataclass(frozen=True)
class LabelScores:
    """The log-probability of each label as the model's answer, with accounting."""

    logprobs: dict[str, float]
    prompt_tokens: int
    cached: bool
    latency_s: float
    fallback: bool = False  # the reply never reached the answer: scores come from the parsed label


class LM:
    """A pinned target model behind litellm, with cache, retries, caps and accounting."""

    def __init__(
        self,
        target: Target,
        cache: CallCache | None = None,
        *,
        max_calls: int | None = None,
        max_cost_usd: float | None = None,
    ) -> None:
        if max_cost_usd is not None and price(target.model, 1, 1) is None:
            raise BadInput(
                f"budget.max_cost_usd: litellm has no price for {target.model}, so promptc cannot count "
                "what its calls cost and the cap would never stop the search",
                fix="cap the search with budget.max_calls instead, or name the model as litellm prices "
                "it (for example openai/gpt-4o-mini, with target.api_base for a self-hosted server)",
            )
        self.target = target
        self.cache = cache
        self.max_calls = max_calls
        self.max_cost_usd = max_cost_usd
        self._usage = Usage()
        self._lock = threading.Lock()
        self._constrains: bool | None = None
        self._observed: set[tuple[str, str, str]] = set()  # (target model, reported id, fingerprint)
        self._hosted = Hosted(target, self._count_cap_wait)

    @property
    def usage(self) -> Usage:
        """A snapshot of this LM's counters."""
        with self._lock:
            return self._usage.snapshot()

    def for_target(self, target: Target) -> LM:
        """An LM for another model that shares this one's cache, caps and counters."""
        other = LM(target, self.cache, max_calls=self.max_calls, max_cost_usd=self.max_cost_usd)
        other._usage, other._lock, other._observed = self._usage, self._lock, self._observed
        if served_alike(target, self.target):  # the same servers: their rate caps hold both
            other._hosted.share_caps(self._hosted)
        return other

    def count_replayed(self, requests: int, prompt_tokens: int, completion_tokens: int) -> None:
        """Count requests an optimizer answered from its own saved search state as cache hits,
        so a resumed search accounts for the same requests and tokens as an uninterrupted one."""
        with self._lock:
            self._usage.requests += requests
            self._usage.cached += requests
            self._usage.prompt_tokens += prompt_tokens
            self._usage.completion_tokens += completion_tokens

    @property
    def observed(self) -> list[dict[str, str]]:
        """The model ids (and system fingerprints) hosted providers reported, fresh or cached."""
        with self._lock:
            found = sorted(self._observed)
        return [{"target": t, "model": m, "system_fingerprint": f} for t, m, f in found if m]

    def check_revision(self, key: str = "target") -> None:
        """Refuse to run when an in-process model's file is not the configured revision (`key`: where
        the config names the target, for the message)."""
        provider = provider_for(self.target.model)
        if provider is None:
            return  # hosted models: the configured snapshot id is the revision
        actual = provider.revision(self.target.model.split("/", 1)[1])
        if not (actual.startswith(self.target.revision) and len(self.target.revision) >= 8):
            raise RevisionMismatch(
                f"{key}.revision is {self.target.revision!r} "
                f"but {self.target.model} is revision {actual[:12]!r}",
                fix=f"set {key}.revision: {actual[:12]} and compile and evaluate for this model revision",
            )

    @property
    def constrains(self) -> bool:
        """Whether answer grammars are sent to this target (promptc.prompting.grammar.constrains)."""
        if self._constrains is None:
            self._constrains = constrains(self.target)
        return self._constrains

    @property
    def scores_labels(self) -> bool:
        """Whether the target can score labels by log-probability: the embedded models and fakes,
        and hosted models whose provider returns token log-probabilities (target.logprobs)."""
        provider = provider_for(self.target.model)
        if provider is None:
            return self.target.logprobs
        return bool(getattr(provider, "supports_label_scores", False))

    @property
    def reuses_prompt_prefix(self) -> bool:
        """Whether a call costs less when its prompt starts like the previous call's (llama.cpp
        keeps the previous prompt's key-value cache), so calls are best made in prompt order."""
        provider = provider_for(self.target.model)
        return provider is not None and getattr(provider, "reuses_prompt_prefix", False)

    def complete(
        self,
        messages: Messages,
        sample: int = 0,
        grammar: str | None = None,
        schema: dict[str, Any] | None = None,
        check: Callable[[str], object] | None = None,
    ) -> Completion:
        """One completion, served from the cache when this exact call was made before.

        grammar (GBNF) constrains the reply when target.constrained is on and the provider
        supports grammars (the embedded llama.cpp models); other providers never see it.
        schema (the reply as a JSON Schema, promptc.prompting.grammar.reply_schema) goes, with
        target.constrained, to a hosted model, as its response_format where litellm says the
        model supports one (lm/hosted.py). check (which raises) reads a fresh reply before it is
        cached, so a reply the caller cannot use is never cached.
        """
        params = self.target.decoding
        if grammar is not None and self.constrains:
            params = {**params, "grammar": grammar}
        elif schema is not None and self.target.constrained and not is_in_process(self.target.model):
            params = {**params, "response_schema": schema}
        return self._request(messages, params, sample, check)

    def label_logprobs(self, messages: Messages, prefix: str, labels: list[str]) -> LabelScores:
        """Each label's log-probability as the reply after prefix (one cached request).

        Only for targets where scores_labels is true; the optimizers check before asking.
        """
        if not self.scores_labels:
            raise ProviderError(
                f"{self.target.model} cannot score labels by log-probability",
                fix="use decision: generate for this target (compile it again)",
            )
        params = {**self.target.decoding, "score_labels": list(labels), "answer_prefix": prefix}
        completion = self._request(messages, params, 0, check=lambda text: read_label_scores(text, labels))
        logprobs = read_label_scores(completion.text, labels)
        fallback = FALLBACK_KEY in json.loads(completion.text)
        if fallback:
            with self._lock:
                self._usage.label_fallbacks += 1
        return LabelScores(
            logprobs, completion.prompt_tokens, completion.cached, completion.latency_s, fallback
        )

    def _request(
        self,
        messages: Messages,
        params: dict[str, Any],
        sample: int,
        check: Callable[[str], object] | None = None,
    ) -> Completion:
        """One request through the cache; check (which raises) runs on a fresh reply before it is cached."""
        key = call_key(self.target.model, self.target.revision, messages, params, sample)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                with self._lock:
                    self._usage.cached += 1
                    self._count(hit)
                    self._observe(hit)
                return Completion(cached=True, latency_s=0.0, **hit)
        with self._lock:
            if self.max_calls is not None and self._usage.calls >= self.max_calls:
                raise BudgetExceeded(f"the call cap of {self.max_calls} model calls was reached")
            if self.max_cost_usd is not None and self._usage.cost_usd >= self.max_cost_usd:
                raise BudgetExceeded(f"the cost cap of ${self.max_cost_usd:.4f} was reached")
            self._usage.calls += 1  # reserved before the call so concurrent workers respect the cap
        start = time.perf_counter()
        response = self._call_with_retries(messages, params, sample)
        latency = time.perf_counter() - start
        with self._lock:
            self._usage.cost_usd += response["cost_usd"]  # spent, whether or not the reply is kept
        check_reported_model(self.target, response)  # a reply from another model is never cached
        if check is not None:
            check(response["text"])  # an unusable reply is never cached
        if self.cache is not None:
            self.cache.put(key, response)
        with self._lock:
            self._usage.lm_seconds += latency
            self._count(response)
            self._observe(response)
        return Completion(cached=False, latency_s=latency, **response)

    def _count(self, response: dict[str, Any]) -> None:
        self._usage.requests += 1
        self._usage.prompt_tokens += response["prompt_tokens"]
        self._usage.completion_tokens += response["completion_tokens"]

    def _observe(self, response: dict[str, Any]) -> None:
        if response.get("model"):
            fingerprint = response.get("system_fingerprint") or ""
            self._observed.add((self.target.model, response["model"], fingerprint))

    def _call_with_retries(self, messages: Messages, params: dict[str, Any], sample: int) -> dict[str, Any]:
        """One fresh reply, retrying transient failures with backoff; litellm only for hosted models."""
        provider = None if os.environ.get("PROMPTC_VIA_LITELLM") == "1" else provider_for(self.target.model)
        attempt = 0
        while True:
            try:
                if provider is not None:
                    return call_direct(provider, self.target.model, messages, params, sample)
                return self._hosted.call(messages, params, sample)
            except Transient as exc:
                if attempt >= self.target.max_retries:
                    raise ProviderError(
                        f"{self.target.model}: {exc.kind} after {attempt + 1} attempts: {exc.detail}",
                        fix=(
                            f"check the server at {self.target.api_base} is up"
                            if self.target.api_base
                            else "check the provider is reachable"
                        )
                        + ", or raise target.max_retries",
                    ) from None
                attempt += 1
                wait = wait_before(attempt, exc.retry_after)
                with self._lock:
                    self._usage.retries += 1
                    self._usage.wait_seconds += wait
                time.sleep(wait)

    def _count_cap_wait(self, seconds: float) -> None:
        with self._lock:
            self._usage.cap_wait_seconds += seconds

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        on_done: Callable[[], None] | None = None,
    ) -> list[R]:
        """Apply fn to items with at most target.concurrency in flight; results in input order."""
        items = list(items)
        if self.target.concurrency <= 1 or len(items) <= 1:
            results = []
            for item in items:
                results.append(fn(item))
                if on_done:
                    on_done()
            return results
        pool = ThreadPoolExecutor(max_workers=self.target.concurrency)
        try:
            futures = [pool.submit(fn, item) for item in items]
            out = []
            for fut in futures:
                out.append(fut.result())
                if on_done:
                    on_done()
            return out
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
