"""The model layer: the only module that imports litellm.

Call cache, bounded concurrency, retries with backoff on transient errors, usage
accounting, caps, and provider exceptions turned into typed errors. Hosted models are
called through litellm; in-process models (local GGUF files, fakes) are called directly,
with the same parameters and the same cache entries as through their litellm bridge.
PROMPTC_VIA_LITELLM=1 sends those through litellm too (to compare the two paths).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

from promptc.cache import CallCache, call_key
from promptc.config import Target
from promptc.errors import (
    BadInput,
    BudgetExceeded,
    PromptcError,
    ProviderError,
    RevisionDrift,
    RevisionMismatch,
)
from promptc.ratelimit import RateLimiter

T = TypeVar("T")
R = TypeVar("R")
Messages = list[dict[str, str]]


class Provider(Protocol):
    """An in-process model provider: called directly, and bridged into litellm as a custom provider."""

    supports_grammar: bool  # honours params["grammar"] (GBNF) to constrain the reply
    supports_label_scores: bool  # implements score_labels

    def complete(self, model: str, messages: Messages, params: dict[str, Any]) -> tuple[str, int, int]:
        """Return (text, prompt_tokens, completion_tokens)."""
        ...

    def score_labels(
        self, model: str, messages: Messages, params: dict[str, Any]
    ) -> tuple[dict[str, float], int]:
        """Log-probability of each of params["score_labels"] as the reply after params["answer_prefix"]."""
        ...

    def revision(self, model: str) -> str:
        """The exact revision of the named model (for GGUF files: sha256 prefix)."""
        ...


class TransientProviderError(Exception):
    """Raised by in-process providers for failures worth retrying."""


class _Transient(Exception):
    """A failed attempt worth retrying: the exception's kind, a short description, and how long
    the provider asked us to wait (its Retry-After), if it did."""

    def __init__(self, kind: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(kind, detail)
        self.kind, self.detail, self.retry_after = kind, detail, retry_after


MAX_RETRY_AFTER_S = 60.0  # a provider's Retry-After is honoured up to this long per attempt
ROUTER_COOLDOWN_S = 30.0  # a deployment that failed is not picked again for this long


def _served_alike(a: Target, b: Target) -> bool:
    """Whether two targets send their calls to the same model on the same servers, under the same caps."""
    keys = ("model", "api_base", "deployments", "rpm", "tpm")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def deployment_id(index: int) -> str:
    """The router's id for target.deployments[index] (never its URL or key)."""
    return f"deployment-{index}"


# Custom providers: litellm prefix -> "module:attribute" of a Provider class.
PROVIDERS: dict[str, str] = {
    "local": "promptc.local:LocalProvider",
    "fake": "promptc.testing:FakeProvider",
}

_setup_lock = threading.RLock()
_providers: dict[str, Provider] = {}
_registered: list[Any] = []  # litellm, once our providers are registered with it


def _litellm() -> Any:
    """Import litellm (slow; only for a hosted model's cache miss) and register our providers once."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with _setup_lock:
        if not _registered:
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            for prefix in PROVIDERS:
                bridge = _make_bridge(litellm, prefix, _provider(prefix))
                litellm.custom_provider_map.append({"provider": prefix, "custom_handler": bridge})
            from litellm.utils import custom_llm_setup

            custom_llm_setup()  # type: ignore[no-untyped-call]
            _registered.append(litellm)
        return _registered[0]


def _provider(prefix: str) -> Provider:
    """The one instance of an in-process provider; made without importing litellm."""
    with _setup_lock:
        if prefix not in _providers:
            module_name, attr = PROVIDERS[prefix].split(":")
            _providers[prefix] = getattr(importlib.import_module(module_name), attr)()
        return _providers[prefix]


def provider_for(model: str) -> Provider | None:
    """The in-process provider behind a model string, if it is one of ours."""
    prefix = model.split("/", 1)[0]
    return _provider(prefix) if prefix in PROVIDERS else None


def _invoke(
    provider: Provider, prefix: str, model: str, messages: Messages, params: dict[str, Any]
) -> tuple[str, int, int]:
    """One request to an in-process provider: (text, prompt_tokens, completion_tokens)."""
    try:
        if "score_labels" in params:
            # Label scores travel as the reply's text (a JSON object); LM.label_logprobs reads it.
            scores, prompt_tokens = provider.score_labels(model, messages, params)
            return json.dumps(scores, sort_keys=True), prompt_tokens, 0
        return provider.complete(model, messages, params)
    except ValueError as exc:  # the provider refuses the request itself, e.g. an unknown model
        raise BadInput(
            f"target.model {prefix}/{model}: {exc}", fix="name a model this provider has"
        ) from None


def _make_bridge(litellm: Any, prefix: str, provider: Provider) -> Any:
    class Bridge(litellm.CustomLLM):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.provider = provider

        def completion(self, model: str, messages: Messages, *args: Any, **kwargs: Any) -> Any:
            model_response = kwargs["model_response"]
            params = dict(kwargs.get("optional_params") or {})
            try:
                text, prompt_tokens, completion_tokens = _invoke(
                    self.provider, prefix, model, messages, params
                )
            except TransientProviderError as exc:
                raise litellm.ServiceUnavailableError(
                    message=str(exc), llm_provider=prefix, model=model
                ) from exc
            model_response.choices[0].message.content = text
            model_response.model = f"{prefix}/{model}"
            model_response.usage = litellm.Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            )
            return model_response

    return Bridge()


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


@dataclass
class Usage:
    """Counters for an LM: requests, fresh calls (cache misses), tokens, cost."""

    requests: int = 0
    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0
    lm_seconds: float = 0.0
    wait_seconds: float = 0.0  # time spent waiting between attempts (backoff and Retry-After)
    cap_wait_seconds: float = 0.0  # time workers spent waiting for room under target.rpm / tpm
    label_fallbacks: int = 0  # hosted label scores taken from the parsed answer (no answer token)

    def snapshot(self) -> Usage:
        """A copy of the counters."""
        return Usage(**self.__dict__)

    def __add__(self, other: Usage) -> Usage:
        """The counters of two LMs together."""
        return Usage(**{k: v + getattr(other, k) for k, v in self.__dict__.items()})


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
        self.target = target
        self.cache = cache
        self.max_calls = max_calls
        self.max_cost_usd = max_cost_usd
        self._usage = Usage()
        self._lock = threading.Lock()
        self._constrains: bool | None = None
        self._observed: set[tuple[str, str, str]] = set()  # (target model, reported id, fingerprint)
        hosted = not is_in_process(target.model)
        capped = hosted and (target.rpm is not None or target.tpm is not None)
        self._limiter = RateLimiter(target.rpm, target.tpm) if capped else None
        self._deployment_limiters = {
            deployment_id(i): RateLimiter(d.rpm, d.tpm)
            for i, d in enumerate(target.deployments)
            if d.rpm is not None or d.tpm is not None
        }
        self._routed: tuple[Any, list[str]] | None = None  # litellm Router and the keys it holds

    @property
    def usage(self) -> Usage:
        """A snapshot of this LM's counters."""
        with self._lock:
            return self._usage.snapshot()

    def for_target(self, target: Target) -> LM:
        """An LM for another model that shares this one's cache, caps and counters."""
        other = LM(target, self.cache, max_calls=self.max_calls, max_cost_usd=self.max_cost_usd)
        other._usage, other._lock, other._observed = self._usage, self._lock, self._observed
        if _served_alike(target, self.target):  # the same servers: their rate caps hold both
            other._limiter, other._deployment_limiters = self._limiter, self._deployment_limiters
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

    def check_revision(self) -> None:
        """Refuse to run when an in-process model's file is not the configured revision."""
        provider = provider_for(self.target.model)
        if provider is None:
            return  # hosted models: the configured snapshot id is the revision
        actual = provider.revision(self.target.model.split("/", 1)[1])
        if not (actual.startswith(self.target.revision) and len(self.target.revision) >= 8):
            raise RevisionMismatch(
                f"target.revision is {self.target.revision!r} "
                f"but {self.target.model} is revision {actual[:12]!r}",
                fix=f"set target.revision: {actual[:12]} and compile and evaluate for this model revision",
            )

    @property
    def constrains(self) -> bool:
        """Whether answer grammars are sent: target.constrained, and a provider that honours them."""
        if self._constrains is None:
            provider = provider_for(self.target.model) if self.target.constrained else None
            self._constrains = provider is not None and provider.supports_grammar
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

    def complete(self, messages: Messages, sample: int = 0, grammar: str | None = None) -> Completion:
        """One completion, served from the cache when this exact call was made before.

        grammar (GBNF) constrains the reply when target.constrained is on and the provider
        supports grammars (the embedded llama.cpp models); other providers never see it.
        """
        params = self.target.decoding
        if grammar is not None and self.constrains:
            params = {**params, "grammar": grammar}
        return self._request(messages, params, sample)

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
        completion = self._request(messages, params, 0, check=lambda text: _read_label_scores(text, labels))
        logprobs = _read_label_scores(completion.text, labels)
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
        self._check_reported_model(response)  # a reply from another model is never cached
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

    def _check_reported_model(self, response: dict[str, Any]) -> None:
        """Refuse a fresh reply whose reported model is not target.revision (the provider drifted)."""
        reported = response.get("model")
        if reported is None or reported == self.target.revision:
            return
        raise RevisionDrift(
            f"{self.target.model}: the provider reports model {reported!r}, "
            f"but target.revision is {self.target.revision!r}; the reply was not used or cached",
            fix="the provider now serves another model revision: if that is intended, set "
            f"target.revision: {reported} and compile and evaluate again; otherwise pin the "
            "snapshot in target.model or restore the server's model",
        )

    def _call_with_retries(self, messages: Messages, params: dict[str, Any], sample: int) -> dict[str, Any]:
        """One fresh reply, retrying transient failures with backoff; litellm only for hosted models."""
        provider = None if os.environ.get("PROMPTC_VIA_LITELLM") == "1" else provider_for(self.target.model)
        attempt = 0
        while True:
            try:
                if provider is not None:
                    return self._call_provider(provider, messages, params, sample)
                return self._call_capped(messages, params, sample)
            except _Transient as exc:
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
                backoff = min(0.5 * 2 ** (attempt - 1), 8.0)
                wait = backoff if exc.retry_after is None else min(exc.retry_after, MAX_RETRY_AFTER_S)
                with self._lock:
                    self._usage.retries += 1
                    self._usage.wait_seconds += wait
                time.sleep(wait)

    def _call_provider(
        self, provider: Provider, messages: Messages, params: dict[str, Any], sample: int
    ) -> dict[str, Any]:
        """One attempt on an in-process provider, with the parameters its litellm bridge would get."""
        prefix, model = self.target.model.split("/", 1)
        try:
            text, prompt_tokens, completion_tokens = _invoke(
                provider, prefix, model, messages, {**params, "seed": sample}
            )
        except PromptcError:
            raise
        except Exception as exc:  # as through litellm: any other provider failure is retried
            raise _Transient(type(exc).__name__, _short(exc)) from None
        return {
            "text": text or "",
            "prompt_tokens": int(prompt_tokens or 0),
            "completion_tokens": int(completion_tokens or 0),
            "cost_usd": 0.0,  # in-process models have no price
        }

    def _call_capped(self, messages: Messages, params: dict[str, Any], sample: int) -> dict[str, Any]:
        """One attempt through litellm, sent only when it fits under target.rpm and target.tpm (and,
        with deployments, the chosen deployment's rpm and tpm).

        The tokens are estimated before the call (the prompt, counted by litellm's tokenizer,
        plus max_tokens) and replaced by the provider's reported usage after it.
        """
        deployment = self._pick_deployment(messages) if self.target.deployments else None
        limiters = [
            limiter
            for limiter in (self._limiter, self._deployment_limiters.get(deployment or ""))
            if limiter is not None
        ]
        if not limiters:
            return self._call_litellm(messages, params, sample, deployment)
        estimate = count_tokens(self.target.model, messages).count + int(params.get("max_tokens") or 0)
        slots = []
        for limiter in limiters:
            slot, waited = limiter.acquire(estimate)
            slots.append((limiter, slot))
            with self._lock:
                self._usage.cap_wait_seconds += waited
        used = None
        try:
            reply = self._call_litellm(messages, params, sample, deployment)
            used = reply["prompt_tokens"] + reply["completion_tokens"] or None
            return reply
        finally:
            for limiter, slot in slots:
                limiter.release(slot, used)

    def _router(self) -> tuple[Any, list[str]]:
        """A litellm Router across target.deployments (made on the first fresh call), and their keys.

        simple-shuffle picks a deployment at random by weight; a deployment that fails is
        cooled down (not picked) for ROUTER_COOLDOWN_S, so retries go to the live ones.
        """
        with self._lock:
            if self._routed is None:
                litellm = _litellm()
                keys = [
                    self._api_key(d.api_key_env, f"target.deployments.{i}.api_key_env")
                    for i, d in enumerate(self.target.deployments)
                ]
                model_list = [
                    {
                        "model_name": self.target.model,
                        "litellm_params": {
                            "model": self.target.model,
                            "api_base": d.api_base,
                            "weight": d.weight,
                            **({"api_key": key} if key is not None else {}),
                        },
                        "model_info": {"id": deployment_id(i)},
                    }
                    for i, (d, key) in enumerate(zip(self.target.deployments, keys, strict=True))
                ]
                router = litellm.Router(
                    model_list=model_list,
                    routing_strategy="simple-shuffle",
                    num_retries=0,  # promptc retries, with its own backoff and accounting
                    allowed_fails=0,
                    cooldown_time=ROUTER_COOLDOWN_S,
                )
                self._routed = (router, [k for k in keys if k])
            return self._routed

    def _pick_deployment(self, messages: Messages) -> str:
        """The deployment the router picks for this request (by weight, skipping cooled-down ones)."""
        router, keys = self._router()
        from litellm.types.router import RouterRateLimitError

        try:
            deployment = router.get_available_deployment(model=self.target.model, messages=messages)
        except RouterRateLimitError as exc:  # every deployment is cooling down after failures
            raise _Transient("no deployment available", _short(exc, *keys), exc.cooldown_time) from None
        return str(deployment["model_info"]["id"])

    def _call_litellm(
        self, messages: Messages, params: dict[str, Any], sample: int, deployment: str | None = None
    ) -> dict[str, Any]:
        """One attempt through litellm (its router, to one deployment, when there are several); its
        exceptions become typed errors or _Transient."""
        litellm = _litellm()
        if deployment is not None:
            router, secrets = self._router()
            complete, model, endpoint = router.completion, deployment, {}
        else:
            key = self._api_key(self.target.api_key_env, "target.api_key_env")
            secrets = [key] if key else []
            complete, model = litellm.completion, self.target.model
            endpoint = {"api_base": self.target.api_base, "api_key": key}
        transient = (
            litellm.RateLimitError,
            litellm.APIConnectionError,
            litellm.Timeout,
            litellm.ServiceUnavailableError,
            litellm.InternalServerError,
        )
        labels = params.get("score_labels")
        request = dict(params)
        if labels is not None and not is_in_process(self.target.model):
            # A hosted model answers in text; the label scores are read from its token log-probabilities.
            del request["score_labels"], request["answer_prefix"]
            request.update(logprobs=True, top_logprobs=HOSTED_TOP_LOGPROBS)
        try:
            response = complete(
                model=model,
                messages=messages,
                timeout=self.target.timeout_s,
                num_retries=0,
                seed=sample,
                **{k: v for k, v in endpoint.items() if v is not None},
                **request,
            )
        except transient as exc:
            if isinstance(exc.__context__, PromptcError):  # raised by our in-process provider
                raise exc.__context__ from None
            raise _Transient(type(exc).__name__, _short(exc, *secrets), _retry_after(exc)) from None
        except litellm.exceptions.BadRequestError as exc:
            raise ProviderError(
                f"{self.target.model}: the provider rejected the request: {_short(exc, *secrets)}",
                fix="check target.model is a model litellm knows (provider/model)",
            ) from None
        except (litellm.AuthenticationError, litellm.NotFoundError, litellm.APIError) as exc:
            raise ProviderError(
                f"{self.target.model}: {type(exc).__name__}: {_short(exc, *secrets)}"
            ) from None
        text = response.choices[0].message.content or ""
        if labels is not None and not is_in_process(self.target.model):
            prefix = str(params["answer_prefix"])
            try:
                scores: dict[str, Any] = label_scores_from_tokens(_token_logprobs(response), prefix, labels)
            except NoAnswerToken:  # kept, and marked: the same reply gives the same scores every run
                scores = {**parsed_label_scores(text, prefix, labels), FALLBACK_KEY: True}
            text = json.dumps(scores)  # the same reply an in-process provider gives (_read_label_scores)
        usage = getattr(response, "usage", None)
        try:
            cost = float(litellm.completion_cost(completion_response=response))
        except Exception:  # litellm raises for models without a price; those cost nothing we know of
            cost = 0.0
        reply = {
            "text": text,
            "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
            "cost_usd": cost,
        }
        if is_in_process(self.target.model):  # PROMPTC_VIA_LITELLM: the same entry as a direct call
            return reply
        # litellm names some providers' models with its own prefix (ollama/llama3): the id is the rest.
        reported = str(response.model or "").removeprefix(self.target.model.split("/", 1)[0] + "/")
        fingerprint = getattr(response, "system_fingerprint", None)
        return {**reply, "model": reported or None, "system_fingerprint": fingerprint}

    def _api_key(self, name: str | None, setting: str) -> str | None:
        """The key from the environment variable a setting names (None: litellm's own)."""
        if name is None:
            return None
        key = os.environ.get(name)
        if not key:
            raise BadInput(
                f"{setting} names the environment variable {name}, which is "
                + ("empty" if key == "" else "not set"),
                fix=f"export {name}=<your key> before running promptc (the key never goes in the config)",
            )
        return key

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


HOSTED_TOP_LOGPROBS = 20  # the most alternatives OpenAI-compatible APIs return per token


def _field(obj: Any, name: str) -> Any:
    """A field of a response part, whether litellm gives it as an object or a dict."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _token_logprobs(response: Any) -> list[tuple[str, list[tuple[str, float]]]]:
    """(token, [(alternative, logprob), ...]) for each reply token, from a chat response's logprobs."""
    content = _field(_field(response.choices[0], "logprobs") or {}, "content")
    if not content:
        raise ProviderError(
            "the provider returned no token log-probabilities",
            fix="set target.logprobs: false for this model (its enum outputs are then decided by the reply)",
        )
    return [
        (
            str(_field(item, "token") or ""),
            [
                (str(_field(t, "token")), float(_field(t, "logprob")))
                for t in _field(item, "top_logprobs") or []
            ],
        )
        for item in content
    ]


def label_scores_from_tokens(
    tokens: list[tuple[str, list[tuple[str, float]]]], prefix: str, labels: list[str]
) -> dict[str, float]:
    """Each label's log-probability, read at the reply token where the answer after prefix starts.

    A hosted API cannot be made to continue after the prefix, so the reply is read as sampled:
    the token where the text after ``prefix`` (e.g. ``category:``) begins carries the top
    alternatives. A label scores the best alternative that starts it (its first token, as
    llama.cpp's scores begin); a label with none among them scores the least likely
    alternative shown, an upper bound on its log-probability. Labels sharing a first token
    share a score, so the first token decides among the others only.
    """
    text = ""
    goal = prefix.strip().lower()
    for token, alternatives in tokens:
        before = text
        text += token
        if goal in before.lower() and before.lower().split(goal, 1)[1].strip() == "" and token.strip():
            if not alternatives:
                raise ProviderError(
                    "the provider returned no alternative tokens (top_logprobs) for the answer",
                    fix="set target.logprobs: false for this model",
                )
            floor = min(lp for _, lp in alternatives)
            scores = {}
            for label in labels:
                fits = [
                    lp
                    for alt, lp in alternatives
                    if alt.strip() and label.lower().startswith(alt.strip().lower())
                ]
                scores[label] = max(fits, default=floor)
            return scores
    raise NoAnswerToken(
        f"the reply never reached an answer after {prefix!r}, so no label could be scored: {text[:120]!r}",
        fix="raise target.max_tokens, or set target.logprobs: false for this model",
    )


class NoAnswerToken(ProviderError):
    """A hosted reply with log-probabilities that never reached the answer after the prefix."""


FALLBACK_KEY = "(parsed answer)"  # marks cached label scores taken from the reply's text
FALLBACK_FLOOR = -30.0  # the log-probability given to the labels the reply did not answer


def parsed_label_scores(text: str, prefix: str, labels: list[str]) -> dict[str, float]:
    """Label scores from a reply's text when no answer token carries log-probabilities.

    The label the reply names (after the prefix if it appears, else the first label named
    anywhere) scores 0 and the others FALLBACK_FLOOR, so the decision is the parsed answer;
    a reply that names none scores every label alike.
    """
    lowered = text.lower()
    goal = prefix.strip().lower()
    tail = lowered.split(goal, 1)[1] if goal in lowered else lowered
    found = [
        (m.start(), label) for label in labels if (m := re.search(rf"\b{re.escape(label.lower())}\b", tail))
    ]
    if not found:
        return dict.fromkeys(labels, 0.0)
    _, named = min(found)
    return {label: 0.0 if label == named else FALLBACK_FLOOR for label in labels}


def _read_label_scores(text: str, labels: list[str]) -> dict[str, float]:
    """The label log-probabilities in a provider's reply; ProviderError when they are not numbers."""
    try:
        raw = json.loads(text)
        logprobs = {label: float(raw[label]) for label in labels}
    except (ValueError, KeyError, TypeError) as exc:
        raise ProviderError(f"unreadable label scores ({type(exc).__name__}: {exc})") from None
    if not all(math.isfinite(v) or v == -math.inf for v in logprobs.values()):
        raise ProviderError(f"label scores are not numbers: {logprobs}")
    return logprobs


@dataclass(frozen=True)
class TokenCount:
    """A prompt's token count and the tokenizer that counted it."""

    count: int
    tokenizer: str


_encodings: dict[str, tuple[Any, str]] = {}  # model -> (tiktoken encoding, how it was chosen)


def _encoding(model: str) -> tuple[Any, str]:
    """The tiktoken encoding for a hosted model, from the encodings litellm bundles (no download)."""
    with _setup_lock:
        if model not in _encodings:
            _litellm()
            import tiktoken

            # litellm points tiktoken at the encodings it bundles (TIKTOKEN_CACHE_DIR) on this import
            from litellm.litellm_core_utils.default_encoding import encoding as default

            try:
                name = tiktoken.encoding_name_for_model(model.split("/", 1)[-1])
                _encodings[model] = (tiktoken.get_encoding(name), f"tiktoken {name}")
            except Exception:  # unknown to tiktoken, or an encoding litellm does not bundle
                _encodings[model] = (
                    default,
                    f"tiktoken {default.name} (approximate: no tokenizer is known for {model})",
                )
        return _encodings[model]


def count_tokens(model: str, messages: Messages) -> TokenCount:
    """The prompt tokens of a chat call: by the model's tokenizer where promptc has it.

    Hosted models: litellm's token counter with the model's tiktoken encoding where tiktoken
    knows the model, else litellm's default encoding (an approximation, said so). Local GGUF
    models: the file's own tokenizer. Fakes: about four characters a token.
    """
    prefix, name = model.split("/", 1)
    if prefix == "local":
        count = _provider("local").count_prompt_tokens(name, messages)  # type: ignore[attr-defined]
        return TokenCount(int(count), f"{model_path_name(name)}'s own GGUF tokenizer")
    if is_in_process(model):
        return TokenCount(
            sum(len(m["content"]) // 4 + 4 for m in messages), "about 4 characters a token (a fake model)"
        )
    encoding, how = _encoding(model)
    count = _litellm().token_counter(
        model=model, custom_tokenizer={"type": "openai_tokenizer", "tokenizer": encoding}, messages=messages
    )
    return TokenCount(int(count), how)


def model_path_name(name: str) -> str:
    """A local model's short name: the built-in name, or the GGUF file's name."""
    return name if "/" not in name else name.rsplit("/", 1)[1]


def is_in_process(model: str) -> bool:
    """Whether a model string names one of our in-process providers (local GGUF files, fakes)."""
    return model.split("/", 1)[0] in PROVIDERS


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """What litellm's price table says these tokens cost on model; 0 in-process; None when unknown."""
    if is_in_process(model):
        return 0.0
    litellm = _litellm()
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # litellm raises for models missing from its price table
        return None
    return float(prompt_cost) + float(completion_cost)


def _retry_after(exc: Exception) -> float | None:
    """Seconds a provider's reply asked us to wait (retry-after-ms, or Retry-After in seconds)."""
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:  # an HTTP date
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                continue
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


def _short(exc: Exception, *secrets: str, limit: int = 300) -> str:
    """The first lines of an exception's message, with the API keys (if any) masked."""
    text = " ".join(str(exc).split("Traceback (most recent call last)", 1)[0].split())
    for secret in secrets:
        text = text.replace(secret, "[key]")
    return text[:limit] + ("..." if len(text) > limit else "")
