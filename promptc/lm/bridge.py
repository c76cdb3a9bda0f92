"""In-process providers, called directly or through litellm; where litellm is imported and set up.

litellm is imported once, lazily (it takes seconds), and every provider registered in the
`promptc.providers` entry-point group is bridged into it as a custom provider, so a model
such as `fake/learner` takes the same path as a hosted one when PROMPTC_VIA_LITELLM=1. Both
paths send a provider the same request (`invoke`) and store the same cache entry.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from promptc.errors import BadInput, PromptcError
from promptc.lm import providers
from promptc.lm.providers import Provider, TransientProviderError
from promptc.lm.retry import Transient, short

Messages = list[dict[str, str]]

_setup_lock = threading.RLock()
_imported: list[Any] = []  # litellm, once the providers are registered with it


def import_litellm() -> Any:
    """Import litellm (slow; only for a hosted model's cache miss) and register the providers once."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with _setup_lock:
        if not _imported:
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            for prefix in providers.registered():
                bridge = _make_bridge(litellm, prefix)
                litellm.custom_provider_map.append({"provider": prefix, "custom_handler": bridge})
            from litellm.utils import custom_llm_setup

            custom_llm_setup()  # type: ignore[no-untyped-call]
            _imported.append(litellm)
        return _imported[0]


def invoke(
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


def call_direct(
    provider: Provider, target_model: str, messages: Messages, params: dict[str, Any], sample: int
) -> dict[str, Any]:
    """One attempt on an in-process provider, with the parameters its litellm bridge would get."""
    prefix, model = target_model.split("/", 1)
    try:
        text, prompt_tokens, completion_tokens = invoke(
            provider, prefix, model, messages, {**params, "seed": sample}
        )
    except PromptcError:
        raise
    except Exception as exc:  # as through litellm: any other provider failure is retried
        raise Transient(type(exc).__name__, short(exc)) from None
    return {
        "text": text or "",
        "prompt_tokens": int(prompt_tokens or 0),
        "completion_tokens": int(completion_tokens or 0),
        "cost_usd": 0.0,  # in-process models have no price
    }


def _make_bridge(litellm: Any, prefix: str) -> Any:
    """A litellm custom provider that serves prefix/... through the registered provider."""

    class Bridge(litellm.CustomLLM):  # type: ignore[misc]
        def completion(self, model: str, messages: Messages, *args: Any, **kwargs: Any) -> Any:
            model_response = kwargs["model_response"]
            params = dict(kwargs.get("optional_params") or {})
            try:
                text, prompt_tokens, completion_tokens = invoke(
                    providers.get(prefix), prefix, model, messages, params
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
