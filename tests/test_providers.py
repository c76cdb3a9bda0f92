"""Provider plugins: a distribution's `promptc.providers` entry point serves `prefix/model`.

Each test writes a tiny installed distribution into tmp_path (a module, and a
`<name>-0.1.dist-info/` with METADATA and entry_points.txt) and puts it on sys.path, or on
PYTHONPATH for a fresh `python -m promptc` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptc.lm import providers
from tests.conftest import ConfigWriter
from tests.test_cli import artifact_id, invoke

# A provider that answers every field with the first label the prompt lists.
FIRST_LABEL = """
import re


class FirstLabel:
    supports_grammar = False
    supports_label_scores = False

    def revision(self, model):
        return "first0000000"

    def complete(self, model, messages, params):
        if model != "one":
            raise ValueError(f"unknown model {model!r} (one)")
        label = re.search(r"\\(one of: ([^,)]+)", messages[0]["content"]).group(1)
        return f"category: {label}", 10, 2

    def score_labels(self, model, messages, params):
        raise NotImplementedError
"""


def install(root: Path, dist: str, module: str, source: str, entries: dict[str, str]) -> Path:
    """Write a distribution named dist with one module and these provider entry points into root."""
    root.mkdir(exist_ok=True)
    (root / f"{module}.py").write_text(source)
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"  # as wheels name it: the name ends at "-"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{prefix} = {value}\n" for prefix, value in entries.items())
    (info / "entry_points.txt").write_text(f"[{providers.GROUP}]\n{lines}")
    return root


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path for test distributions; the registry is read afresh around the test."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    providers.registered.cache_clear()
    yield root
    providers.registered.cache_clear()
    for prefix in [p for p in providers._instances if p not in ("local", "fake")]:
        del providers._instances[prefix]


def on_plugin(model: str) -> Any:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["target"].update(model=model, revision="first0000000")

    return edit


def said(result: Any) -> str:
    return " ".join(result.output.split())


def test_a_plugin_serves_its_prefix_through_promptc(plugins: Path, write_config: ConfigWriter) -> None:
    install(plugins, "promptc-first", "first_label", FIRST_LABEL, {"first": "first_label:FirstLabel"})
    assert providers.is_in_process("first/one") and not providers.is_in_process("openai/gpt-4o")
    assert {"local", "fake"} <= set(providers.registered())  # promptc's own, beside the plugin's
    result = invoke("compile", write_config(on_plugin("first/one")))
    assert result.exit_code == 0, result.output
    assert artifact_id(result.output)
    unknown = invoke("compile", write_config(on_plugin("first/two")))
    assert unknown.exit_code == 2
    assert "target.model first/two: unknown model 'two' (one)" in said(unknown)


def test_a_plugin_serves_its_prefix_through_litellm_in_a_fresh_process(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    site = install(
        tmp_path / "site", "promptc-first", "first_label", FIRST_LABEL, {"first": "first_label:FirstLabel"}
    )
    paths = [str(site), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), "PROMPTC_VIA_LITELLM": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "promptc", "compile", str(write_config(on_plugin("first/one")))],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert artifact_id(done.stdout)


def test_a_plugin_that_fails_to_import_is_bad_input(plugins: Path, write_config: ConfigWriter) -> None:
    install(
        plugins,
        "promptc-broken",
        "broken_plugin",
        "import not_installed_anywhere\n",
        {"broken": "broken_plugin:P"},
    )
    result = invoke("compile", write_config(on_plugin("broken/one")))
    assert result.exit_code == 2, result.output
    assert (
        "the provider plugin for broken/... (broken_plugin:P) failed to load: "
        "ModuleNotFoundError: No module named 'not_installed_anywhere'"
    ) in said(result)
    assert "reinstall the distribution that ships it, or remove it" in said(result)


def test_a_bad_prefix_name_is_bad_input(plugins: Path, write_config: ConfigWriter) -> None:
    install(plugins, "promptc-shouty", "shouty", FIRST_LABEL, {"Shouty": "shouty:FirstLabel"})
    result = invoke("check", write_config())
    assert result.exit_code == 2, result.output
    assert "provider plugin 'shouty:FirstLabel' registers the model prefix 'Shouty'" in said(result)
    assert "a prefix is 1-32 lowercase letters" in said(result)


def test_two_plugins_claiming_one_prefix_are_bad_input(plugins: Path, write_config: ConfigWriter) -> None:
    install(plugins, "promptc-first", "first_label", FIRST_LABEL, {"first": "first_label:FirstLabel"})
    install(plugins, "promptc-other", "other_label", FIRST_LABEL, {"first": "other_label:FirstLabel"})
    result = invoke("check", write_config())
    assert result.exit_code == 2, result.output
    assert (
        "two provider plugins claim the model prefix 'first': "
        "'first_label:FirstLabel' and 'other_label:FirstLabel'"
    ) in said(result)
    assert "uninstall one of the two distributions" in said(result)
