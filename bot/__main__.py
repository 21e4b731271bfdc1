"""`python -m bot …`: the command line."""

from .cli import main

main()
