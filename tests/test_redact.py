"""The masking boundary: secrets in any shape never survive redact()."""

from __future__ import annotations

import pytest

from promptc.redact import MASK, redact, register_secret

KEY = "sk-redact-sentinel-7c1e0b93aa"


@pytest.mark.parametrize(
    "text",
    [
        f"Bearer {KEY}",
        f"headers: {{'Authorization': 'Bearer {KEY}'}}",
        f'{{"api_key": "{KEY}"}}',
        f"api-key={KEY}&x=1",
        f"x-api-key: {KEY}",
        f"the key {KEY} was rejected",
        "Basic dXNlcjpwYXNzd29yZA==",
        "token=abcdef0123456789",
    ],
)
def test_credential_shapes_are_masked_without_being_registered(text: str) -> None:
    shown = redact(text)
    assert MASK in shown
    for secret in (KEY, "dXNlcjpwYXNzd29yZA", "abcdef0123456789"):
        assert secret not in shown


def test_a_registered_secret_is_masked_in_any_context() -> None:
    odd = "plain-looking-value-Q9"
    assert redact(f"got {odd}!") == f"got {odd}!"
    register_secret(odd)
    assert redact(f"got {odd}!") == f"got {MASK}!"


def test_secret_named_environment_variables_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", "acme0value0long")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "falsetrue")  # not a secret by its name
    assert redact("acme0value0long falsetrue") == f"{MASK} falsetrue"


def test_ordinary_text_is_left_alone() -> None:
    text = "the provider rejected the request: model 'x' not found (status 404)"
    assert redact(text) == text


def test_a_secret_inside_a_longer_one_is_masked_whole() -> None:
    outer, inner = "outer-secret-abc-123456", "secret-abc"
    assert redact(f"[{outer}]", inner, outer) == f"[{MASK}]"
