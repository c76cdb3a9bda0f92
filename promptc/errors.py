"""The PromptcError hierarchy; every error carries its process exit code."""

from __future__ import annotations


class PromptcError(Exception):
    """A user-facing error: a message that names the file/key/row, and the fix."""

    exit_code = 3

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.fix}" if self.fix else self.message


class BadInput(PromptcError):
    """Usage, config or data the user must change (exit 2)."""

    exit_code = 2


class ConfigError(BadInput):
    """The YAML config is missing, unreadable or invalid."""


class DataError(BadInput):
    """A dataset file is missing, unreadable or does not fit the signature."""


class RevisionMismatch(BadInput):
    """An artifact or model file belongs to another model revision."""


class CheckFailed(PromptcError):
    """A check (split leakage, release gates) said no (exit 1)."""

    exit_code = 1


class RuntimeFailure(PromptcError):
    """The run could not finish: provider, budget, corrupt state (exit 3)."""

    exit_code = 3


class ProviderError(RuntimeFailure):
    """The model provider failed or is unreachable after retries."""


class RevisionDrift(RuntimeFailure):
    """A hosted provider answered with another model than target.revision (checked on fresh replies)."""


class BudgetExceeded(RuntimeFailure):
    """A configured call or cost cap was reached."""


class ArtifactError(RuntimeFailure):
    """An artifact or registry file is missing, corrupt or tampered with."""
