"""`python -m promptc` runs the command line."""

from promptc.cli.app import main

main()
