"""The provider plugin interface's public import path: `from promptc.providers import Provider`
(the code lives in promptc/lm/providers.py)."""

from promptc.lm.providers import GROUP, Provider, TransientProviderError

__all__ = ["GROUP", "Provider", "TransientProviderError"]
