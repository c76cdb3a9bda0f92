"""`python -m promptc` runs the command line."""

from promptc.cli import main

main()
