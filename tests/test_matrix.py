"""The compilation matrix: named targets, one artifact and one set of aliases per model revision."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from promptc.api import load
from promptc.config.load import load_config, load_configs
from promptc.errors import ConfigError, RevisionMismatch
from tests.conftest import ConfigWriter
from tests.test_cli import invoke

# Two revisions of one model alias (a provider-side update), and another model.
TARGETS = {
    "learner": {"model": "fake/learner", "revision": "fake00000000"},
    "learner-next": {"model": "fake/learner", "revision": "fake000000000"},
    "ignorer": {"model": "fake/ignorer", "revision": "fake00000000"},
}


def named_targets(cfg: dict[str, Any], names: tuple[str, ...] = tuple(TARGETS)) -> None:
    cfg.pop("target")
    cfg["targets"] = {name: dict(TARGETS[name]) for name in names}


def artifact_ids(output: str) -> list[str]:
    return re.findall(r"artifact (\w{16}) written", output)


def test_one_target_config_loads_as_before(write_config: ConfigWriter) -> None:
    cfg = load_config(write_config())
    assert cfg.target_name is None and cfg.target_names == ()
    assert [c.target.model for c in load_configs(write_config())] == ["fake/learner"]


def test_targets_load_one_config_per_name_in_file_order(write_config: ConfigWriter) -> None:
    path = write_config(named_targets)
    configs = load_configs(path)
    assert [c.target_name for c in configs] == list(TARGETS)
    assert [(c.target.model, c.target.revision) for c in configs] == [
        (t["model"], t["revision"]) for t in TARGETS.values()
    ]
    assert load_config(path, "ignorer").target.model == "fake/ignorer"
    assert configs[0].target_names == tuple(TARGETS)


def test_target_and_targets_together_are_refused(write_config: ConfigWriter) -> None:
    path = write_config(lambda c: c.update(targets={"a": TARGETS["learner"]}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in info.value.message
    assert (
        "(top level): give either target (one model) or targets (named models), not both"
        in info.value.message
    )


def test_a_config_without_target_or_targets_says_so(write_config: ConfigWriter) -> None:
    with pytest.raises(ConfigError, match=r"give target \(one model\) or targets"):
        load_config(write_config(lambda c: c.pop("target")))


@pytest.mark.parametrize("name", ["Prod", "../up", "a b", "-x", "x" * 33, "gemma\x1b[31m", ""])
def test_target_names_must_be_safe_slugs(write_config: ConfigWriter, name: str) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        named_targets(cfg, ("learner",))
        cfg["targets"][name] = dict(TARGETS["ignorer"])

    with pytest.raises(ConfigError) as info:
        load_config(write_config(edit), "learner")
    assert "targets: " in info.value.message
    assert "expected a target name: lowercase letters, digits" in info.value.message
    assert "\x1b" not in info.value.message


def test_a_target_block_is_checked_like_target(write_config: ConfigWriter) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        named_targets(cfg, ("learner",))
        cfg["targets"]["learner"].update(temperature=5, api_key_env="sk-live-secret")

    with pytest.raises(ConfigError) as info:
        load_config(write_config(edit))
    assert "targets.learner.temperature: 5 is greater than the maximum of 2" in info.value.message
    assert "targets.learner.api_key_env: must be" in info.value.message
    assert "sk-live-secret" not in info.value.message


def test_two_names_for_one_model_revision_are_refused(write_config: ConfigWriter) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        named_targets(cfg, ("learner",))
        cfg["targets"]["again"] = dict(TARGETS["learner"], temperature=0.5)

    with pytest.raises(ConfigError, match=r"targets.again: the same model and revision as targets.learner"):
        load_config(write_config(edit))


def test_several_targets_need_a_name_for_one_target_commands(write_config: ConfigWriter) -> None:
    path = write_config(named_targets)
    for args in (
        ("compile", path),
        ("eval", path),
        ("promote", path, "--artifact", "latest"),
        ("list", path),
    ):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert "names 3 models (learner, learner-next, ignorer)" in result.output
        assert "--target NAME" in result.output


def test_an_unknown_target_name_lists_the_names(write_config: ConfigWriter) -> None:
    result = invoke("compile", write_config(named_targets), "--target", "gemma")
    assert result.exit_code == 2
    assert "--target 'gemma': no such name under targets:" in result.output
    assert "learner, learner-next, ignorer" in result.output


def test_target_on_a_one_target_config_is_refused(write_config: ConfigWriter) -> None:
    result = invoke("compile", write_config(), "--target", "learner")
    assert result.exit_code == 2
    assert "names one model under target:" in result.output


def test_matrix_and_target_together_are_refused(write_config: ConfigWriter) -> None:
    result = invoke("compile", write_config(named_targets), "--matrix", "--target", "learner")
    assert result.exit_code == 2 and "--matrix compiles every target" in result.output


def test_compile_matrix_writes_one_artifact_per_model_revision(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config(named_targets)
    before = invoke("matrix", path)
    assert before.exit_code == 0, before.output
    assert before.output.count("missing") == 4  # three cells and the hint
    result = invoke("compile", path, "--matrix")
    assert result.exit_code == 0, result.output
    assert "[1/3] triage 1.0.0 for learner (fake/learner@fake00000000)" in result.output
    assert "[3/3] triage 1.0.0 for ignorer (fake/ignorer@fake00000000)" in result.output
    ids = artifact_ids(result.output)
    assert len(set(ids)) == 3
    folders = sorted(p.parent.name for p in (tmp_path / "artifacts/triage/1.0.0").glob("*/*.json"))
    assert folders == sorted(
        ["fake--learner@fake00000000", "fake--learner@fake000000000", "fake--ignorer@fake00000000"]
    )
    # The same model alias at another revision is compiled and evaluated separately.
    assert ids[0] != ids[1]

    rows = json.loads(invoke("matrix", path, "--json").output)
    assert [(r["target"], r["revision"], r["artifact"]) for r in rows] == [
        (name, t["revision"], i) for (name, t), i in zip(TARGETS.items(), ids, strict=True)
    ]
    assert [r["gates"] for r in rows] == ["pass", "pass", "fail"]  # the ignorer stays below min 0.5
    assert all(r["aliases"] == {"latest": r["artifact"]} for r in rows)
    assert rows[2]["baseline"] == rows[2]["candidate"] == 0.25

    table = invoke("matrix", path)
    assert table.exit_code == 0
    for i in ids:
        assert i in table.output
    assert "missing" not in table.output


def test_compile_target_compiles_one_cell_and_the_rest_stay_missing(write_config: ConfigWriter) -> None:
    path = write_config(named_targets)
    result = invoke("compile", path, "--target", "learner-next")
    assert result.exit_code == 0, result.output
    rows = json.loads(invoke("matrix", path, "--json").output)
    assert [r["artifact"] is not None for r in rows] == [False, True, False]
    assert rows[1]["artifact"] == artifact_ids(result.output)[0]


def test_a_cell_does_not_depend_on_the_other_targets(write_config: ConfigWriter) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["targets"] = {"learner": cfg.pop("target"), "ignorer": TARGETS["ignorer"]}

    single = invoke("compile", write_config())
    matrix = invoke("compile", write_config(edit, name="matrix.yaml"), "--target", "learner")
    assert single.exit_code == 0 and matrix.exit_code == 0, matrix.output
    # Same target block, same data and settings: the same artifact, whatever else the matrix holds.
    assert artifact_ids(single.output) == artifact_ids(matrix.output)


def test_promote_moves_an_alias_in_one_cell_only(write_config: ConfigWriter) -> None:
    path = write_config(named_targets)
    ids = artifact_ids(invoke("compile", path, "--matrix").output)
    promoted = invoke("promote", path, "--target", "learner-next", "--artifact", "latest")
    assert promoted.exit_code == 0, promoted.output
    assert f"production -> {ids[1]} for fake/learner@fake000000000" in promoted.output
    rows = json.loads(invoke("matrix", path, "--json").output)
    assert [sorted(r["aliases"]) for r in rows] == [["latest"], ["latest", "production"], ["latest"]]
    # An artifact of another revision cannot be promoted in this cell.
    refused = invoke("promote", path, "--target", "learner", "--artifact", ids[1])
    assert refused.exit_code == 2
    assert f"artifact {ids[1]} was compiled for fake/learner@fake000000000" in refused.output
    assert "compile and evaluate an artifact for this model revision" in refused.output


def test_an_artifact_is_never_served_for_another_revision(write_config: ConfigWriter) -> None:
    path = write_config(named_targets)
    ids = artifact_ids(invoke("compile", path, "--matrix").output)
    assert invoke("promote", path, "--target", "learner", "--artifact", "latest").exit_code == 0
    served = invoke("run", path, "--target", "learner", "-i", "ticket=refund for my invoice please")
    assert served.exit_code == 0, served.output
    # The same alias on the next revision of the same model points at nothing yet.
    unset = invoke("run", path, "--target", "learner-next", "-i", "ticket=refund please")
    assert unset.exit_code == 2
    assert "no artifact or alias 'production' for triage on fake/learner@fake000000000" in unset.output
    by_id = invoke("run", path, "--target", "learner-next", "--alias", ids[0], "-i", "ticket=refund please")
    assert by_id.exit_code == 2
    assert f"artifact {ids[0]} was compiled for fake/learner@fake00000000" in by_id.output
    with pytest.raises(RevisionMismatch, match="compile and evaluate an artifact for this model revision"):
        load(path, ids[0], target="ignorer")
    assert set(load(path, "production", target="learner")(ticket="my invoice is late")) == {"category"}


def test_matrix_lists_each_program_version_per_revision(write_config: ConfigWriter) -> None:
    path = write_config(lambda c: named_targets(c, ("learner", "ignorer")))
    assert invoke("compile", path, "--matrix").exit_code == 0
    bumped = write_config(
        lambda c: (named_targets(c, ("learner", "ignorer")), c["program"].update(version="1.1.0"))
    )
    compiled = invoke("compile", bumped, "--target", "ignorer")
    assert compiled.exit_code == 0, compiled.output
    rows = json.loads(invoke("matrix", bumped, "--json").output)
    cells = [(r["version"], r["target"], r["artifact"] is not None) for r in rows]
    assert cells == [
        ("1.0.0", "learner", True),
        ("1.0.0", "ignorer", True),
        ("1.1.0", "learner", False),
        ("1.1.0", "ignorer", True),
    ]
    # latest moved to 1.1.0 on the ignorer's revision; the 1.0.0 cell keeps its artifact without it
    assert rows[1]["aliases"] == {} and "latest" in rows[3]["aliases"]


@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        ("deadbeef0000", "targets.other.revision is 'deadbeef0000' but fake/learner is revision"),
        ("not a revision", "targets.other.revision 'not a revision' is not a revision id"),
    ],
)
def test_a_wrong_revision_under_targets_is_named_by_its_key(
    write_config: ConfigWriter, revision: str, expected: str
) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        named_targets(cfg, ("learner",))
        cfg["targets"]["other"] = {"model": "fake/learner", "revision": revision}

    result = invoke("compile", write_config(edit), "--target", "other")
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())
    assert "set targets.other.revision" in " ".join(result.output.split())
