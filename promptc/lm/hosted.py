"""Hosted models through litellm: endpoint and key, a router across deployments, rate caps, one
attempt's request and reply, and the check that the reply came from the pinned revision.

Only promptc/lm/ imports litellm (here, in bridge.py and in tokens.py), always lazily.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from promptc.config.load import Target
from promptc.errors import BadInput, PromptcError, ProviderError, RevisionDrift
from promptc.lm.bridge import import_litellm
from promptc.lm.label_scores import HOSTED_TOP_LOGPROBS, hosted_label_scores
from promptc.lm.providers import is_in_process
from promptc.lm.ratelimit import RateLimiter
from promptc.lm.retry import Transient, retry_after, short
from promptc.lm.tokens import count_tokens
from promptc.redact import register_secret

Messages = list[dict[str, str]]
ROUTER_COOLDOWN_S = 30.0  # a deployment that failed is not picked again for this long


def served_alike(a: Target, b: Target) -> bool:
    """Whether two targets send their calls to the same model on the same servers, under the same caps."""
    keys = ("model", "api_base", "deployments", "rpm", "tpm")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def deployment_id(index: int) -> str:
    """The router's id for target.deployments[index] (never its URL or key)."""
    return f"deployment-{index}"


def api_key(name: str | None, setting: str) -> str | None:
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
    register_secret(key)  # masked in every message from here on, whatever echoes it
    return key


def check_reported_model(target: Target, response: dict[str, Any]) -> None:
    """Refuse a fresh hosted reply whose reported model is not target.revision (the provider
    drifted), or that reports no model at all (then drift could not be seen)."""
    if "model" not in response:  # an in-process model: its revision is its file's hash
        return
    reported = response["model"]
    if reported == target.revision:
        return
    if not reported:
        raise RevisionDrift(
            f"{target.model}: the provider's reply names no model, so it cannot be checked "
            f"against target.revision {target.revision!r}; the reply was not used or cached",
            fix="promptc pins every hosted reply to its revision: make the server report the "
            "model it served (an OpenAI-compatible server's `model` field in each reply)",
        )
    raise RevisionDrift(
        f"{target.model}: the provider reports model {reported!r}, "
        f"but target.revision is {target.revision!r}; the reply was not used or cached",
        fix="the provider now serves another model revision: if that is intended, set "
        f"target.revision: {reported} and compile and evaluate again; otherwise pin the "
        "snapshot in target.model or restore the server's model",
    )


class Hosted:
    """The litellm side of one target: its rate caps, its router, and one attempt at a call."""

    def __init__(self, target: Target, on_cap_wait: Callable[[float], None]) -> None:
        self.target = target
        self._on_cap_wait = on_cap_wait  # seconds a worker waited for room under the caps
        capped = not is_in_process(target.model) and (target.rpm is not None or target.tpm is not None)
        self.limiter = RateLimiter(target.rpm, target.tpm) if capped else None
        self.deployment_limiters = {
            deployment_id(i): RateLimiter(d.rpm, d.tpm)
            for i, d in enumerate(target.deployments)
            if d.rpm is not None or d.tpm is not None
        }
        self._lock = threading.Lock()
        self._routed: tuple[Any, list[str]] | None = None  # litellm Router and the keys it holds

    def share_caps(self, other: Hosted) -> None:
        """Count this target's calls under other's rate caps (the same servers hold both)."""
        self.limiter, self.deployment_limiters = other.limiter, other.deployment_limiters

    def call(self, messages: Messages, params: dict[str, Any], sample: int) -> dict[str, Any]:
        """One attempt through litellm, sent only when it fits under target.rpm and target.tpm (and,
        with deployments, the chosen deployment's rpm and tpm).

        The tokens are estimated before the call (the prompt, counted by litellm's tokenizer,
        plus max_tokens) and replaced by the provider's reported usage after it.
        """
        deployment = self._pick_deployment(messages) if self.target.deployments else None
        limiters = [
            limiter
            for limiter in (self.limiter, self.deployment_limiters.get(deployment or ""))
            if limiter is not None
        ]
        if not limiters:
            return self._call_litellm(messages, params, sample, deployment)
        estimate = count_tokens(self.target.model, messages).count + int(params.get("max_tokens") or 0)
        slots = []
        for limiter in limiters:
            slot, waited = limiter.acquire(estimate)
            slots.append((limiter, slot))
            self._on_cap_wait(waited)
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
                litellm = import_litellm()
                keys = [
                    api_key(d.api_key_env, f"target.deployments.{i}.api_key_env")
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
                priced = set(litellm.model_cost)
                router = litellm.Router(
                    model_list=model_list,
                    routing_strategy="simple-shuffle",
                    num_retries=0,  # promptc retries, with its own backoff and accounting
                    allowed_fails=0,
                    cooldown_time=ROUTER_COOLDOWN_S,
                )
                # The router enters its deployments in litellm's process-wide price table, a model
                # litellm has no price for at $0; taken out again, such a model stays unpriced.
                for name in set(litellm.model_cost) - priced:
                    del litellm.model_cost[name]
                self._routed = (router, [k for k in keys if k])
            return self._routed

    def _pick_deployment(self, messages: Messages) -> str:
        """The deployment the router picks for this request (by weight, skipping cooled-down ones)."""
        router, keys = self._router()
        from litellm.types.router import RouterRateLimitError

        try:
            deployment = router.get_available_deployment(model=self.target.model, messages=messages)
        except RouterRateLimitError as exc:  # every deployment is cooling down after failures
            raise Transient("no deployment available", short(exc, *keys), exc.cooldown_time) from None
        return str(deployment["model_info"]["id"])

    def _endpoint(self, deployment: str | None) -> tuple[Callable[..., Any], str, dict[str, Any], list[str]]:
        """Where one attempt goes: (completion function, model, endpoint arguments, keys to mask)."""
        if deployment is not None:
            router, secrets = self._router()
            return router.completion, deployment, {}, secrets
        key = api_key(self.target.api_key_env, "target.api_key_env")
        endpoint = {"api_base": self.target.api_base, "api_key": key}
        return import_litellm().completion, self.target.model, endpoint, [key] if key else []

    def _call_litellm(
        self, messages: Messages, params: dict[str, Any], sample: int, deployment: str | None = None
    ) -> dict[str, Any]:
        """One attempt through litellm (its router, to one deployment, when there are several)."""
        litellm = import_litellm()
        complete, model, endpoint, secrets = self._endpoint(deployment)
        labels = params.get("score_labels")
        request = dict(params)
        if labels is not None and not is_in_process(self.target.model):
            # A hosted model answers in text; the label scores are read from its token log-probabilities.
            del request["score_labels"], request["answer_prefix"]
            request.update(logprobs=True, top_logprobs=HOSTED_TOP_LOGPROBS)
        schema = request.pop("response_schema", None)
        if schema is not None and litellm.supports_response_schema(model=self.target.model):
            # Elsewhere the reply is parsed and validated as it comes (a miss that says why).
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": schema},
            }
        kwargs = {k: v for k, v in endpoint.items() if v is not None}
        kwargs.update(request, model=model, messages=messages, timeout=self.target.timeout_s)
        response = _send(litellm, complete, self.target.model, secrets, num_retries=0, seed=sample, **kwargs)
        return self._reply(litellm, response, params, labels)

    def _reply(
        self, litellm: Any, response: Any, params: dict[str, Any], labels: list[str] | None
    ) -> dict[str, Any]:
        """The cache entry for a litellm response: text, tokens, cost and, hosted, the reported model."""
        text = response.choices[0].message.content or ""
        if labels is not None and not is_in_process(self.target.model):
            # the same reply an in-process provider gives (read_label_scores)
            text = hosted_label_scores(response, text, str(params["answer_prefix"]), labels)
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


# HTTP statuses worth another attempt (as the OpenAI client retries them); any other 4xx is final.
TRANSIENT_STATUS = frozenset({408, 409, 425, 429})


def is_transient(exc: Exception) -> bool:
    """Whether a failed attempt is worth retrying: by HTTP status where the exception has one
    (5xx and TRANSIENT_STATUS), else by kind; unknown kinds without a status are retried."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 100 <= status < 600:
        return status >= 500 or status in TRANSIENT_STATUS
    name = type(exc).__name__
    final = (
        "BadRequest",
        "Authentication",
        "PermissionDenied",
        "NotFound",
        "UnprocessableEntity",
        "ContextWindow",
        "ContentPolicy",
        "UnsupportedParams",
        "Budget",
        "JSONSchemaValidation",
    )
    return not any(word in name for word in final)


def _send(litellm: Any, complete: Callable[..., Any], name: str, secrets: list[str], /, **kwargs: Any) -> Any:
    """complete(**kwargs), with every provider-side exception turned into Transient (worth
    retrying) or ProviderError, its text masked (promptc.redact)."""
    import httpx
    import openai

    try:
        return complete(**kwargs)
    except PromptcError:
        raise
    except Exception as exc:
        provider_side = isinstance(exc, openai.OpenAIError | httpx.HTTPError) or type(
            exc
        ).__module__.startswith("litellm")
        if not provider_side:  # promptc's own failure: the error boundary reports it, masked
            raise
        if isinstance(exc.__context__, PromptcError):  # raised by an in-process provider
            raise exc.__context__ from None
        kind = type(exc).__name__
        if is_transient(exc):
            raise Transient(kind, short(exc, *secrets), retry_after(exc)) from None
        if isinstance(exc, litellm.exceptions.BadRequestError):
            raise ProviderError(
                f"{name}: the provider rejected the request: {short(exc, *secrets)}",
                fix="check target.model is a model litellm knows (provider/model)",
            ) from None
        raise ProviderError(f"{name}: {kind}: {short(exc, *secrets)}") from None
