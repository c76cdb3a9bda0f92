"""The command line: typer apps, one module per verb family."""
