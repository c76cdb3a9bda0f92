"""What a call costs before it is made: prompt tokens by the model's tokenizer, and price."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from promptc.lm.bridge import import_litellm
from promptc.lm.providers import get, is_in_process

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class TokenCount:
    """A prompt's token count and the tokenizer that counted it."""

    count: int
    tokenizer: str


_lock = threading.Lock()
_encodings: dict[str, tuple[Any, str]] = {}  # model -> (tiktoken encoding, how it was chosen)


def _encoding(model: str) -> tuple[Any, str]:
    """The tiktoken encoding for a hosted model, from the encodings litellm bundles (no download)."""
    with _lock:
        if model not in _encodings:
            import_litellm()
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
        count = get("local").count_prompt_tokens(name, messages)  # type: ignore[attr-defined]
        return TokenCount(int(count), f"{model_path_name(name)}'s own GGUF tokenizer")
    if is_in_process(model):
        return TokenCount(
            sum(len(m["content"]) // 4 + 4 for m in messages), "about 4 characters a token (a fake model)"
        )
    encoding, how = _encoding(model)
    count = import_litellm().token_counter(
        model=model, custom_tokenizer={"type": "openai_tokenizer", "tokenizer": encoding}, messages=messages
    )
    return TokenCount(int(count), how)


def model_path_name(name: str) -> str:
    """A local model's short name: the built-in name, or the GGUF file's name."""
    return name if "/" not in name else name.rsplit("/", 1)[1]


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """What litellm's price table says these tokens cost on model; 0 in-process; None when unknown."""
    if is_in_process(model):
        return 0.0
    litellm = import_litellm()
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # litellm raises for models missing from its price table
        return None
    return float(prompt_cost) + float(completion_cost)
