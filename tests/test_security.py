"""What a hostile artifacts/ folder (links, forged files, odd names) cannot make promptc do."""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from promptc.artifacts.content import content_id
from promptc.artifacts.registry import Registry
from promptc.artifacts.sidecar import read_sidecar, write_sidecar
from promptc.artifacts.store import Store
from promptc.errors import ArtifactError, BadInput
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


def test_an_artifact_path_cannot_reach_another_program(write_config: ConfigWriter, tmp_path: Path) -> None:
    other = write_config(lambda c: c["program"].update(name="other"), name="other.yaml")
    other_id = artifact_id(invoke("compile", other).output)
    config = write_config()
    ref = f"../../../other/1.0.0/fake--learner@fake00000000/{other_id}"
    result = invoke("promote", config, "--artifact", ref)
    assert result.exit_code == 2, result.output
    assert "not a valid alias name" in result.output
    assert not (tmp_path / "artifacts/triage/registry.json").exists()


def test_a_copied_artifact_of_another_program_is_refused(write_config: ConfigWriter, tmp_path: Path) -> None:
    other = write_config(lambda c: c["program"].update(name="other"), name="other.yaml")
    other_id = artifact_id(invoke("compile", other).output)
    config = write_config()
    invoke("compile", config)
    source = next((tmp_path / "artifacts/other").rglob(f"{other_id}.json"))
    folder = tmp_path / "artifacts/triage/1.0.0/fake--learner@fake00000000"
    (folder / source.name).write_text(source.read_text())
    result = invoke("promote", config, "--artifact", other_id)
    assert result.exit_code == 3, result.output
    assert "an artifact of other 1.0.0" in result.output and "stored in another program" in result.output


def test_an_artifact_moved_to_another_version_folder_is_refused(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    art = artifact_id(invoke("compile", write_config()).output)
    config = write_config(lambda c: c["program"].update(version="2.0.0"))
    source = next((tmp_path / "artifacts").rglob(f"{art}.json"))
    moved = tmp_path / "artifacts/triage/2.0.0" / source.parent.name / source.name
    moved.parent.mkdir(parents=True)
    source.rename(moved)
    for args in (("promote", config, "--artifact", art), ("list", config)):
        result = invoke(*args)
        assert result.exit_code == 3, result.output
        assert "an artifact of triage 1.0.0" in result.output and "stored in another" in result.output


@pytest.mark.parametrize("ref", ["??????", "******", "[a-f]*", "abc", "ABCDEF12", "x" * 70])
def test_glob_characters_and_bad_names_are_not_artifact_references(
    write_config: ConfigWriter, ref: str
) -> None:
    config = write_config()
    invoke("compile", config)
    for command in ("eval", "promote"):
        result = invoke(command, config, "--artifact", ref)
        assert result.exit_code == 2, result.output
        assert "not a valid alias name" in result.output or "no artifact or alias" in result.output
    served = invoke("run", config, "--alias", ref, "--input", "ticket=refund")
    assert served.exit_code == 2, served.output


@pytest.mark.parametrize("alias", ["../x", "??????", "a/b", "-rf", ""])
def test_promote_and_rollback_refuse_bad_alias_names(write_config: ConfigWriter, alias: str) -> None:
    config = write_config()
    art = artifact_id(invoke("compile", config).output)
    for args in (
        ("promote", config, "--artifact", art, "--alias", alias),
        ("rollback", config, "--alias", alias),
    ):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert "is not a valid alias name" in result.output


def test_a_registry_alias_pointing_outside_is_refused(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    invoke("compile", config)
    registry = tmp_path / "artifacts/triage/registry.json"
    registry.write_text(registry.read_text().replace('"latest": "', '"latest": "../../../x/'))
    result = invoke("eval", config)
    assert result.exit_code == 3, result.output
    assert "registry.json" in result.output and "not an artifact id" in result.output


@pytest.mark.parametrize("revision", ["x/../../escaped", "..", "a*b", "rev with space"])
def test_a_revision_that_is_not_one_folder_name_is_bad_input(
    write_config: ConfigWriter, tmp_path: Path, revision: str
) -> None:
    config = write_config(lambda c: c["target"].update(model="fake/ignorer", revision=revision))
    result = invoke("compile", config)
    assert result.exit_code == 2, result.output
    assert f"target.revision {revision!r} is not a revision id" in result.output
    assert "set target.revision" in result.output
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "artifacts").exists()


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        ({"target": {"model": "fake/learner", "revision": "x/../../../escaped"}}, "target.revision"),
        ({"program": {"name": "../escaped", "version": "1.0.0"}}, "program.name"),
        ({"program": {"name": "triage", "version": "../../escaped"}}, "program.version"),
    ],
)
def test_store_write_keeps_paths_inside_the_root(tmp_path: Path, edit: dict, key: str) -> None:  # type: ignore[type-arg]
    root = tmp_path / "a" / "b" / "artifacts"
    with pytest.raises(BadInput, match=key) as info:
        Store(root).write({**CONTENT, **edit})
    assert info.value.exit_code == 2
    assert not list(tmp_path.rglob("escaped*"))


def _forge(path: Path, edit: Callable[[dict[str, Any]], None]) -> str:
    """Edit an artifact and store it under the hash of its new content, as a forger would."""
    content = json.loads(path.read_text())
    edit(content)
    forged = content_id(content)
    path.with_name(f"{forged}.json").write_text(json.dumps(content))
    return forged


def test_promote_verify_refuses_a_forged_artifact(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    art = artifact_id(invoke("compile", config).output)
    path = next((tmp_path / "artifacts").rglob(f"{art}.json"))
    forged = _forge(path, lambda c: c["candidate"].update(demos=[]))  # stored scores kept
    result = invoke("promote", config, "--artifact", forged, "--verify")
    assert result.exit_code == 1, result.output
    assert f"artifact {forged}: its stored evaluation does not match a fresh one" in result.output
    assert "candidate: " in result.output and "baseline: " not in result.output
    assert "do not promote it" in result.output
    assert "production" not in Registry(tmp_path / "artifacts", "triage").aliases(
        "fake/learner", "fake00000000"
    )
    # The content hash is not a signature: without --verify the forgery's own scores are believed.
    assert invoke("promote", config, "--artifact", forged).exit_code == 0


def test_promote_verify_refuses_forged_scores_and_slices(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    art = artifact_id(invoke("compile", config).output)
    path = next((tmp_path / "artifacts").rglob(f"{art}.json"))

    def edit(content: dict[str, Any]) -> None:
        # A forger rewrites the records sidecars too, and points the artifact at the new ones.
        for which, row, key, value in (("baseline", 0, "score", 0.5), ("candidate", 1, "slice", "social")):
            ref = content["evaluation"][which]["records"]
            rows = list(read_sidecar(path.parent / ref["file"], ref["sha256"], ref["count"], path))
            rows[row][key] = value
            content["evaluation"][which]["records"] = write_sidecar(path.parent, rows)

    forged = _forge(path, edit)
    result = invoke("promote", config, "--artifact", forged, "--verify")
    assert result.exit_code == 1, result.output
    assert "baseline: 1 of 32 example(s) differ (E0200)" in result.output
    assert "candidate: 1 of 32 example(s) differ (E0201)" in result.output


def test_promote_verify_passes_a_genuine_artifact(write_config: ConfigWriter) -> None:
    config = write_config()
    art = artifact_id(invoke("compile", config).output)
    result = invoke("promote", config, "--artifact", art, "--verify")
    assert result.exit_code == 0, result.output
    assert "verified: the stored evaluation reproduces on 32 test examples" in result.output
    assert f"production -> {art}" in result.output


# Output paths: a report, shard or export path that is a link, FIFO or device is refused by option,
# before any model call, and left as it was; nothing is written through it or in its place.
REPORT_OPTIONS = ("--json", "--junit", "--markdown", "--html")


@contextlib.contextmanager
def _fifo_with_reader(path: Path) -> Iterator[int]:
    """A FIFO at path with a reader already open, so that a writer that wrongly opens it never blocks."""
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        yield reader
    finally:
        os.close(reader)


def _nothing_written(reader: int) -> bool:
    try:
        return os.read(reader, 1) == b""
    except BlockingIOError:
        return True


@pytest.mark.parametrize("option", REPORT_OPTIONS)
def test_a_linked_report_path_is_refused_and_its_target_kept(
    write_config: ConfigWriter, tmp_path: Path, option: str
) -> None:
    config = write_config(model="fake/down")  # any model call would exit 3
    victim, link = _victim(tmp_path), tmp_path / "report"
    link.symlink_to(victim)
    result = invoke("eval", config, option, link)
    assert result.exit_code == 2, result.output
    assert f"{option} {link}: is a symbolic link (to {victim})" in result.output
    assert f"pass a regular file path as {option}" in result.output
    assert link.is_symlink() and victim.read_text() == "precious\n"


def test_a_report_path_linked_to_stdout_is_refused(write_config: ConfigWriter, tmp_path: Path) -> None:
    (tmp_path / "dv").mkdir()
    link = tmp_path / "dv/stdout"
    link.symlink_to("/proc/self/fd/1")
    result = invoke("eval", write_config(model="fake/down"), "--json", link)
    assert result.exit_code == 2, result.output
    assert "is a symbolic link (to /proc/self/fd/1)" in result.output
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"


@pytest.mark.parametrize("option", REPORT_OPTIONS)
def test_a_fifo_report_path_is_refused_and_never_opened(
    write_config: ConfigWriter, tmp_path: Path, option: str
) -> None:
    fifo = tmp_path / "report.fifo"
    with _fifo_with_reader(fifo) as reader:
        result = invoke("eval", write_config(model="fake/down"), option, fifo)
        assert _nothing_written(reader)
    assert result.exit_code == 2, result.output
    assert f"{option} {fifo}: is a FIFO (named pipe)" in result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_device_report_path_is_refused(write_config: ConfigWriter) -> None:
    result = invoke("eval", write_config(model="fake/down"), "--markdown", "/dev/null")
    assert result.exit_code == 2, result.output
    assert "--markdown /dev/null: is a device" in result.output


def test_links_and_fifos_are_refused_by_report_merge_and_shard_outputs(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config()
    assert invoke("compile", config).exit_code == 0
    victim, link = _victim(tmp_path), tmp_path / "out"
    link.symlink_to(victim)
    fifo = tmp_path / "out.fifo"
    with _fifo_with_reader(fifo) as reader:
        for path in (link, fifo):
            for args in (
                ("report", config, "latest", "--out", path),
                ("merge", config, tmp_path / "no-shard.json", "--json", path),
                ("eval", config, "--shard", "1/2", "--out", path),
            ):
                result = invoke(*args)
                assert result.exit_code == 2, (args, result.output)
                assert f" {path}: is a " in result.output, (args, result.output)
        assert _nothing_written(reader)
    assert link.is_symlink() and victim.read_text() == "precious\n"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_atomic_write_refuses_a_link_or_fifo_placed_after_the_checks(tmp_path: Path) -> None:
    from promptc.files import atomic_write
    from promptc.reports.ci import write_text

    victim, link = _victim(tmp_path), tmp_path / "report.md"
    link.symlink_to(victim)
    with pytest.raises(FileExistsError, match="is a symbolic link"):
        atomic_write(link, "x")
    with pytest.raises(
        BadInput, match=r"cannot write report \(is a symbolic link \(to .*\), not a regular file\)"
    ):
        write_text(link, "x", "--markdown")
    assert link.is_symlink() and victim.read_text() == "precious\n"
    fifo = tmp_path / "report.fifo"
    with _fifo_with_reader(fifo) as reader:
        with pytest.raises(FileExistsError):
            atomic_write(fifo, "x")
        assert _nothing_written(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and not list(tmp_path.glob(".*.tmp"))
