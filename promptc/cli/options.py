"""The arguments and options several promptc commands share, written once as typer annotations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigArg = Annotated[Path, typer.Argument(help="The promptc YAML config.", show_default=False)]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target", "-t", help="The target to use, by its name under targets: (required with several)."
    ),
]
ArtifactArg = Annotated[str, typer.Argument(help="An artifact .json file, or an id/alias with --config.")]
OptionalConfig = Annotated[
    Path | None, typer.Option("--config", "-c", help="Config to resolve ids and aliases.")
]

# The reports eval and merge write.
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write a JSON report here.")]
JunitOpt = Annotated[Path | None, typer.Option(help="Write JUnit XML (a testcase per gate per slice).")]
MarkdownOpt = Annotated[Path | None, typer.Option(help="Write a Markdown summary for a PR comment.")]
HtmlOpt = Annotated[
    Path | None, typer.Option(help="Write a self-contained HTML report (charts, flips, prompt).")
]
JudgeCheckOpt = Annotated[
    Path | None,
    typer.Option(
        "--judge-check",
        help="Instead of evaluating: score a JSON Lines file of human-scored replies with the config's "
        'judge and report how far they agree ({"inputs": {...}, "outputs": {...}, "gold": {...}, '
        '"human": 4} a line).',
        show_default=False,
    ),
]
