"""How a command ends, for people and machines: its exit code, its messages and its summary.

Exit codes: 0 completed, 3 completed with problems (a partial run), 1 failed, 2 bad usage or configuration.
`--log-format text` (default) prints the summary to stdout and messages to stderr as plain lines;
`--log-format json` writes each message, the summary and Prefect's terminal logs as one JSON object per line
on stderr (stdout keeps only query results).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_BY_STATUS = {"completed": EXIT_OK, "partial": EXIT_PARTIAL, "failed": EXIT_FAILED}
EXIT_CODES_HELP = "exit codes: 0 completed, 3 completed with problems (partial), 1 failed, 2 bad usage or config"

LOG_FORMATS = ("text", "json")
_state = {"format": "text"}


def exit_code(status: str) -> int:
    """The exit code of a run with this status (completed, partial, failed)."""
    return EXIT_BY_STATUS.get(status, EXIT_FAILED)


def set_log_format(fmt: str) -> None:
    _state["format"] = fmt if fmt in LOG_FORMATS else "text"


def is_json() -> bool:
    return _state["format"] == "json"


def format_from_argv(argv: list[str]) -> str:
    """`--log-format` read before argparse runs, so even a usage error comes out in the asked-for format."""
    for i, arg in enumerate(argv):
        if arg == "--log-format" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--log-format="):
            return arg.split("=", 1)[1]
    return "text"


def _record(level: str, message: str, **fields: object) -> str:
    body = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "level": level,
            "logger": "newsetl.cli", "message": message}
    body.update(fields)
    return json.dumps(body, ensure_ascii=False, default=str)


def note(message: str, **fields: object) -> None:
    """A message of the CLI's own (written 3 files, ...): a line on stderr, or a JSON object."""
    print(_record("info", message, **fields) if is_json() else message, file=sys.stderr, flush=True)


def error(message: str, code: int) -> int:
    """`newsetl: error: ...` (one line, never a traceback), or a JSON object; returns `code`."""
    if is_json():
        print(_record("error", message, exit_code=code), file=sys.stderr, flush=True)
    else:
        print(f"newsetl: error: {message}", file=sys.stderr, flush=True)
    return code


def finish(command: str, status: str, lines: list[str], data: dict | None = None) -> int:
    """Print a run's summary (text lines on stdout, or one JSON object on stderr); return its exit code."""
    code = exit_code(status)
    if is_json():
        print(_record("error" if code == EXIT_FAILED else "warning" if code == EXIT_PARTIAL else "info",
                      lines[0] if lines else status, event="summary", command=command, status=status,
                      exit_code=code, summary=data or {}), file=sys.stderr, flush=True)
    else:
        print("\n".join(lines), flush=True)
    return code


class JsonFormatter(logging.Formatter):
    """One JSON object per log record: ts, level, logger, message (plus the flow/task run name when known)."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {}
        for attr in ("flow_run_name", "flow_run_id", "task_run_name", "task_run_id"):
            value = getattr(record, attr, None)
            if value:
                fields[attr] = str(value)
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        body = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(), **fields}
        return json.dumps(body, ensure_ascii=False, default=str)


class _Stderr(logging.StreamHandler):
    """A stream handler on whatever `sys.stderr` is when a record is written (not when the handler was made)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class _NotExpectedErrors(logging.Filter):
    """Drops log records of expected errors (NewsetlError): the CLI prints those as its one `error:` line."""

    def filter(self, record: logging.LogRecord) -> bool:
        from newsetl.errors import NewsetlError

        return not (record.exc_info and isinstance(record.exc_info[1], NewsetlError))


def _terminal_handlers() -> list[tuple[logging.Logger, logging.Handler]]:
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
                                       if name.startswith("prefect")]
    return [(logger, handler) for logger in loggers for handler in list(logger.handlers)
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)]


def quiet_expected_errors() -> None:
    """Keep Prefect's terminal log of a flow run that raised a NewsetlError (a busy or unreadable warehouse, bad
    input) off the terminal: the CLI says it in one line, and the record still reaches Prefect's API."""
    import prefect  # noqa: F401  (configures Prefect's logging)

    for _, handler in _terminal_handlers():
        if not any(isinstance(f, _NotExpectedErrors) for f in handler.filters):
            handler.addFilter(_NotExpectedErrors())


def json_terminal_logs() -> None:
    """Replace every terminal handler of Prefect's loggers (and the root's) with a JSON-lines one on stderr.

    Handlers that send logs to Prefect's API are kept as they are; only what reaches the terminal changes.
    Call after Prefect has configured logging (after `import prefect`).
    """
    import prefect  # noqa: F401  (configures Prefect's logging)

    for logger, handler in _terminal_handlers():
        replacement = _Stderr()
        replacement.setLevel(handler.level)
        replacement.setFormatter(JsonFormatter())
        for item in handler.filters:
            replacement.addFilter(item)
        logger.removeHandler(handler)
        logger.addHandler(replacement)
