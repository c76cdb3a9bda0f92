"""The holdout-reuse ledger: distinct looks per program version, target and test split, across
compile/eval/promote and reruns, under threads and processes, and after a writer is killed."""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from promptc.artifacts.store import Store
from promptc.config.load import Gates, load_config
from promptc.errors import ArtifactError, ConfigError
from promptc.prompting.program import Candidate
from promptc.release.ledger import LEDGER, Ledger, look_confidence, record_look
from tests.conftest import ConfigWriter
from tests.test_cli import artifact_id, invoke

KEY = {"program_version": "1.0.0", "target": "m@r", "test_split": "abc"}


def _ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "artifacts", "triage")


def test_the_same_candidate_is_one_look_and_a_fresh_split_starts_again(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    assert ledger.record(KEY, "c1", {}) == (1, 1)
    assert ledger.record(KEY, "c2", {}) == (2, 2)
    assert ledger.record(KEY, "c1", {}) == (1, 2)  # re-judging c1 is not a new look
    assert ledger.record({**KEY, "test_split": "fresh"}, "c2", {}) == (1, 1)
    assert ledger.record({**KEY, "program_version": "2.0.0"}, "c2", {}) == (1, 1)
    assert len(ledger.lines()) == 4


def test_threads_never_lose_or_double_count_a_look(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    got: list[tuple[str, int]] = []

    def work(t: int) -> None:
        for i in range(10):
            candidate = f"c{(t * 10 + i) % 40}"  # each candidate recorded twice, by two threads
            got.append((candidate, ledger.record(KEY, candidate, {})[0]))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ledger.lines()) == 40
    looks = dict(got)
    assert all(looks[c] == look for c, look in got)  # a candidate always gets its one number
    assert sorted(looks.values()) == list(range(1, 41))


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from promptc.release.ledger import Ledger
    ledger = Ledger(Path(sys.argv[1]), "triage")
    key = {"program_version": "1.0.0", "target": "m@r", "test_split": "abc"}
    for i in range(int(sys.argv[3])):
        ledger.record(key, f"{sys.argv[2]}-{i}", {})
    """
)


def _writer(root: Path, prefix: str, count: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(root), prefix, str(count)], env=env)


def test_processes_never_lose_or_double_count_a_look(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    procs = [_writer(root, f"p{i}", 15) for i in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    lines = Ledger(root, "triage").lines()
    assert len(lines) == 60 and len({e["candidate"] for e in lines}) == 60


def test_a_writer_killed_mid_write_leaves_no_partial_look(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    proc = _writer(root, "killed", 100_000)
    path = root / "triage" / LEDGER
    deadline = time.monotonic() + 60
    while (not path.exists() or path.stat().st_size < 2000) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with path.open("ab") as torn:  # what a kill between a line's first and last byte would leave
        torn.write(b'{"candidate": "torn", "program_ver')
    ledger = Ledger(root, "triage")
    before = ledger.lines()
    assert {e["candidate"] for e in before} == {f"killed-{i}" for i in range(len(before))}
    assert ledger.record(KEY, "after", {}) == (len(before) + 1, len(before) + 1)
    raw = path.read_bytes()
    assert b"torn" not in raw and raw.endswith(b"\n")
    assert len(ledger.lines()) == len(before) + 1


def test_a_damaged_ledger_or_a_link_is_refused(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    ledger.record(KEY, "c1", {})
    ledger.path.write_text("not json\n")
    with pytest.raises(ArtifactError, match="line 1 is not a ledger record"):
        ledger.record(KEY, "c2", {})
    ledger.path.unlink()
    ledger.path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ArtifactError, match="symbolic link"):
        ledger.record(KEY, "c2", {})


def test_spending_keeps_the_sum_of_look_levels_within_the_gates_error() -> None:
    gates = Gates(mode="confidence", confidence=0.95, holdout_looks="spending")
    alphas = [(1 - (look_confidence(gates, k) or 1.0)) / 2 for k in range(1, 2001)]
    assert alphas[0] == pytest.approx(0.025 * 6 / math.pi**2)
    assert all(a > b for a, b in itertools.pairwise(alphas))
    assert sum(alphas) <= 0.025
    bonferroni = Gates(mode="confidence", confidence=0.95, holdout_looks="bonferroni", max_looks=4)
    assert look_confidence(bonferroni, 4) == pytest.approx(1 - 2 * 0.025 / 4)
    assert look_confidence(bonferroni, 5) is None
    assert look_confidence(Gates(confidence=0.95), 7) == pytest.approx(0.95)


def _looks(**looks: Any) -> Any:
    def edit(c: dict[str, Any]) -> None:
        c["gates"] = {"mode": "confidence", "overall": {"min_gain": 0.0}, "holdout_looks": looks}

    return edit


def test_a_policy_in_point_mode_is_refused(write_config: ConfigWriter) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["gates"]["holdout_looks"] = {"policy": "spending"}

    with pytest.raises(ConfigError, match=r"holdout_looks\.policy needs gates\.mode: confidence"):
        load_config(write_config(edit))
    result = invoke("check", write_config(edit))
    assert result.exit_code == 2 and "gates.mode: confidence" in result.output


def test_compile_eval_promote_and_reruns_count_distinct_candidates(write_config: ConfigWriter) -> None:
    config = write_config(_looks(policy="spending"))
    first = artifact_id(invoke("compile", config).output)
    evaluated = invoke("eval", config, "--artifact", first)
    assert "1 distinct candidate judged on this test split; this is look 1" in " ".join(
        evaluated.output.split()
    )
    invoke("promote", config, "--artifact", first)
    invoke("compile", config)  # the same config again: the same candidate, not a new look
    k2 = write_config(lambda c: (_looks(policy="spending")(c), c["optimizer"].update(settings={"k": 2})))
    second = invoke("compile", k2)
    said = " ".join(second.output.split())
    assert "2 distinct candidates judged on this test split; this is look 2" in said
    level = 1 - 2 * 0.025 * 6 / (math.pi**2 * 4)
    assert f"judged at {level * 100:.4g}%" in said
    report = invoke("report", config, first, "--out", str(Path(config).parent / "r.html"))
    assert (
        "2 distinct candidate(s) judged on this artifact's test split; this artifact is look 1"
        in " ".join(report.output.split())
    )
    cfg = load_config(config)
    lines = [json.loads(x) for x in (cfg.artifacts_dir / "triage" / LEDGER).read_text().splitlines()]
    assert [e["command"] for e in lines] == ["compile", "compile"]


def test_bonferroni_refuses_a_look_beyond_its_budget(write_config: ConfigWriter) -> None:
    config = write_config(_looks(policy="bonferroni", max_looks=1))
    invoke("compile", config)
    cfg = load_config(config)
    test_split = next(iter(Ledger(cfg.artifacts_dir, "triage").lines()))["test_split"]
    extra = record_look(cfg, Candidate("another prompt"), test_split, artifact=None, command="eval")
    assert extra.spent and extra.look == 2
    k2 = write_config(
        lambda c: (_looks(policy="bonferroni", max_looks=1)(c), c["optimizer"].update(settings={"k": 2}))
    )
    result = invoke("compile", k2)
    said = " ".join(result.output.split())
    assert "holdout is spent; draw a fresh test split" in said


def test_report_and_matrix_judge_a_stored_artifact_at_its_looks_level(write_config: ConfigWriter) -> None:
    from promptc.release.reference import stored_gates
    from promptc.reports.data import from_artifact

    config = write_config(_looks(policy="spending"))
    first = artifact_id(invoke("compile", config).output)
    k2 = write_config(lambda c: (_looks(policy="spending")(c), c["optimizer"].update(settings={"k": 2})))
    second = artifact_id(invoke("compile", k2).output)
    cfg = load_config(config)
    stored = {a.id: a for a in Store(cfg.artifacts_dir).list("triage", cfg.target.model, cfg.target.revision)}
    # look 1 and look 2 on the same test split: the matrix's and the report's verdicts are at the
    # look's level, as compile and eval judged them, not at the configured 95%
    for artifact, look in ((first, 1), (second, 2)):
        level = look_confidence(cfg.gates, look)
        assert stored_gates(cfg, stored[artifact]).confidence == pytest.approx(level)
        assert from_artifact(cfg, artifact).gates.confidence == pytest.approx(level)
    assert look_confidence(cfg.gates, 2) > look_confidence(cfg.gates, 1) > 0.95
    # the same config with the ledger's policy off: every look at the configured level
    plain = load_config(write_config(_looks(policy="none")))
    assert stored_gates(plain, stored[second]).confidence == pytest.approx(0.95)
