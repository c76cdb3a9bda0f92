"""The benchmark scripts behind bench/RESULTS.md's claims still run against the code they measure
(a few draws each; the full runs live in bench/), and the suite's section of RESULTS.md is what
its recorded rows render to."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def bench() -> Iterator[object]:
    """Import a bench script by name, as the scripts import each other (bench/ on sys.path)."""
    sys.path.insert(0, str(BENCH))
    try:
        yield lambda name: importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("optimizer", ["mipro", "copro", "gepa", "random_search", "auto"])
def test_every_search_optimizer_runs_whole_under_the_null_simulation(
    bench: object, optimizer: str, tmp_path: Path
) -> None:
    sim: ModuleType = bench("selection_simulation")  # type: ignore[operator]
    false, seconds = sim.run_optimizer_null(optimizer, 2, 20, 0.9, tmp_path)
    assert false in (0.0, 0.5, 1.0) and seconds > 0


def test_the_selection_and_looks_simulations_run_a_few_draws(bench: object) -> None:
    sim: ModuleType = bench("selection_simulation")  # type: ignore[operator]
    assert 0.0 <= sim.run_cell(40, 5, 0.9, False, 5, 0.9, seed=1) <= 1.0
    assert 0.0 <= sim.run_train_cell(5, 0.9, True, True, 3, 0.9) <= 1.0
    gates: ModuleType = bench("gate_simulation")  # type: ignore[operator]
    firsts = gates.first_false_passes("spending", 60, 0.9, 20)
    assert len(firsts) == 20 and all(0 <= k <= 20 for k in firsts)


def test_the_suite_section_of_results_is_its_recorded_rows_rendered(bench: object) -> None:
    suite: ModuleType = bench("suite")  # type: ignore[operator]
    text = (BENCH / "RESULTS.md").read_text(encoding="utf-8")
    start, end = text.index(suite.SECTION_START), text.index(suite.SECTION_END) + len(suite.SECTION_END)
    assert text[start:end] == suite.section(suite.load_rows()).rstrip("\n")
