"""The `newsetl` command line: the only library code that imports flows (lazily, per command)."""

from newsetl.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
