"""Exceptions users can cause; the CLI prints them as one line, never a traceback."""


class NewsetlError(Exception):
    """An expected failure with a message fit for the user."""

    exit_code = 1


class ConfigError(NewsetlError):
    """Bad configuration or command-line usage."""

    exit_code = 2


class WarehouseBusy(NewsetlError):
    """Another process holds the warehouse's write lock."""

    exit_code = 1


class WarehouseOutOfMemory(NewsetlError):
    """DuckDB needed more memory than the configured `memory_limit` allows."""

    exit_code = 1


class RejectError(Exception):
    """A single input that cannot be processed; becomes a row in `rejects`."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


class UsageError(NewsetlError):
    """A command used wrongly (bad SQL, nothing to do, conflicting options)."""

    exit_code = 2
