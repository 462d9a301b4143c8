"""The `newsetl` command line: the only library code that imports flows (lazily, per command)."""

from newsetl.cli.early import start_early

start_early()  # the `newsetl` program running flows: its private Prefect API boots from here (newsetl/cli/early.py)

from newsetl.cli.main import build_parser, main  # noqa: E402

__all__ = ["build_parser", "main"]
