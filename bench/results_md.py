"""Replace one benchmark's section of bench/RESULTS.md (or append it), leaving the rest alone."""

from __future__ import annotations

from pathlib import Path

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


def replace_section(section: str, start: str, end: str, path: Path = RESULTS_MD) -> None:
    """Put section where the text from start to end was; append it when there is none yet."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section.rstrip("\n") + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
