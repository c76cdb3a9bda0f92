"""The test fakes' public import path: `from promptc.testing import FakeProvider`, and the
`fake` entry point of the `promptc.providers` group (the code lives in promptc/lm/fake.py)."""

from promptc.lm.fake import REVISION, FakeProvider

__all__ = ["REVISION", "FakeProvider"]
