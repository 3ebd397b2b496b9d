"""Rotor's log: lines go to the host's log, tagged with tenant and plugin.

The host may cut long lines and drop lines past a per-call budget.
"""

from wit_world.imports import log as _host
from wit_world.imports.log import Level

__all__ = ["Level", "write", "trace", "debug", "info", "warn", "error"]


def write(level: Level, message: object) -> None:
    """Writes ``message`` at ``level``."""
    _host.write(level, str(message))


def trace(message: object) -> None:
    """Writes a trace line."""
    write(Level.TRACE, message)


def debug(message: object) -> None:
    """Writes a debug line."""
    write(Level.DEBUG, message)


def info(message: object) -> None:
    """Writes an info line."""
    write(Level.INFO, message)


def warn(message: object) -> None:
    """Writes a warning."""
    write(Level.WARN, message)


def error(message: object) -> None:
    """Writes an error line."""
    write(Level.ERROR, message)
