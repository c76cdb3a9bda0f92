"""What a hostile artifacts/ folder (links, forged files, odd names) cannot make promptc do."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptc.artifacts import Registry, Store
from promptc.errors import ArtifactError
from tests.conftest import ConfigWriter
from tests.test_cli import artifact_id, invoke

CONTENT = {
    "program": {"name": "triage", "version": "1.0.0"},
    "target": {"model": "fake/learner", "revision": "fake00000000"},
    "candidate": {"instructions": "x", "demos": []},
}


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    return victim


@pytest.mark.parametrize("command", ["compile", "promote"])
def test_a_linked_registry_lock_is_refused_and_its_target_kept(
    write_config: ConfigWriter, tmp_path: Path, command: str
) -> None:
    config = write_config()
    art = artifact_id(invoke("compile", config).output)
    victim = _victim(tmp_path)
    lock = tmp_path / "artifacts/triage/registry.lock"
    lock.unlink()
    lock.symlink_to(victim)
    args = ("compile", config) if command == "compile" else ("promote", config, "--artifact", art)
    result = invoke(*args)
    assert result.exit_code == 3, result.output
    assert "registry.lock: is a symbolic link" in result.output and "remove the link" in result.output
    assert victim.read_text() == "precious\n"
    assert "production" not in Registry(tmp_path / "artifacts", "triage").aliases(
        "fake/learner", "fake00000000"
    )


def test_a_linked_registry_file_is_refused(tmp_path: Path) -> None:
    store, registry = Store(tmp_path / "artifacts"), Registry(tmp_path / "artifacts", "triage")
    art = store.write(CONTENT)
    victim = _victim(tmp_path)
    registry.path.symlink_to(victim)
    with pytest.raises(ArtifactError, match=r"registry\.json: is a symbolic link"):
        registry.set_alias(art, "production")
    assert victim.read_text() == "precious\n" and registry.path.is_symlink()


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_linked_artifact_folder_is_refused_and_nothing_written_through_it(
    tmp_path: Path, depth: int
) -> None:
    root, outside = tmp_path / "artifacts", tmp_path / "outside"
    outside.mkdir()
    parts = ["triage", "1.0.0", "fake--learner@fake00000000"][:depth]
    root.joinpath(*parts[:-1]).mkdir(parents=True, exist_ok=True)
    root.joinpath(*parts).symlink_to(outside, target_is_directory=True)
    with pytest.raises(ArtifactError, match="is a symbolic link") as info:
        Store(root).write(CONTENT)
    assert info.value.exit_code == 3 and parts[-1] in str(info.value)
    assert not list(outside.iterdir())


def test_a_linked_artifact_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    first = Store(root).write(CONTENT)
    first.path.unlink()
    dangling = tmp_path / "elsewhere.json"
    first.path.symlink_to(dangling)
    with pytest.raises(ArtifactError, match=rf"{first.id}\.json: is a symbolic link"):
        Store(root).write(CONTENT)
    assert not dangling.exists()
