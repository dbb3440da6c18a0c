"""Turn a dotted ``snakemake --config`` key into one line instead of a traceback.

Snakemake parses ``--config`` before any workflow code runs, and refuses a key such as
``memory.epochs=5`` with a Python traceback. It does, however, import every installed
logger plugin while it builds its command line, which is earlier. This package is such a
plugin: on import it looks at the command line of a ``snakemake`` process and, where a
``--config`` key has a dot (which Snakemake refuses anyway), prints the nested form to
write instead and exits with status 2. Nothing else changes: with any other command line
the import has no effect, and the log handler below (``--logger rnnrepro``, which Snakemake
requires every logger plugin to define) writes plain messages to the standard error.
"""

from __future__ import annotations

import re
import sys
from logging import LogRecord
from pathlib import Path

from snakemake_interface_logger_plugins.base import LogHandlerBase

# Snakemake's own rule for a --config key (snakemake.cli.parse_config).
SNAKEMAKE_KEY = re.compile(r"[a-zA-Z_][\w-]*\w$")
DOTTED_KEY = re.compile(r"[a-zA-Z_][\w-]*(\.[a-zA-Z_][\w-]*)+$")


def config_entries(argv: list[str]) -> list[str]:
    """The ``KEY=VALUE`` entries given to ``--config`` / ``-C`` on a command line."""
    entries: list[str] = []
    taking = False
    for argument in argv:
        if argument in ("--config", "-C"):
            taking = True
        elif argument.startswith("--config="):
            entries.append(argument.removeprefix("--config="))
            taking = True
        elif argument.startswith("-"):
            taking = False
        elif taking:
            entries.append(argument)
    return entries


def nested_form(entry: str) -> str | None:
    """``memory='{epochs: 5}'`` for ``memory.epochs=5``; None for a key Snakemake takes."""
    key, equals, value = entry.partition("=")
    if not equals or SNAKEMAKE_KEY.match(key) or not DOTTED_KEY.match(key):
        return None
    first, *rest = key.split(".")
    inner = value
    for part in reversed(rest):
        inner = f"{{{part}: {inner}}}"
    return f"{first}='{inner}'"


def dotted_config_error(argv: list[str]) -> str | None:
    """The one-line error for the first dotted ``--config`` key in ``argv``, if any."""
    for entry in config_entries(argv):
        nested = nested_form(entry)
        if nested is not None:
            return (f"snakemake --config {entry}: Snakemake takes no dotted keys; "
                    f"give the nested value instead: --config {nested}")
    return None


def _check_command_line() -> None:
    """Exit with the one-line error where this is a snakemake process given a dotted key."""
    program = Path(sys.argv[0])
    if not (program.name == "snakemake"
            or (program.name == "__main__.py" and program.parent.name == "snakemake")):
        return
    message = dotted_config_error(sys.argv[1:])
    if message is not None:
        print(message, file=sys.stderr)
        raise SystemExit(2)


class LogHandler(LogHandlerBase):
    """Plain messages on the standard error, without colour or filtering. What the interface
    asks of a handler is given as class attributes: it writes to a stream, not a file, and
    keeps Snakemake's filter and formatter; it needs no rule graph."""

    writes_to_stream = True
    writes_to_file = False
    has_filter = False
    has_formatter = False
    needs_rulegraph = False

    def emit(self, record: LogRecord) -> None:
        """Write the record's message."""
        print(record.getMessage(), file=sys.stderr)


_check_command_line()
