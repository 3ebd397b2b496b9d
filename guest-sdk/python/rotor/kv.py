"""Small shared state that outlives one call: counters, bookings, caches.

Keys are private to the tenant. Every function raises ``KvError`` when the
store fails.
"""

from typing import Any, Callable, Optional, TypeVar

from componentize_py_types import Err
from wit_world.imports import kv as _host

from . import to_bytes

__all__ = ["KvError", "get", "set", "delete", "increment", "compare_and_set"]

T = TypeVar("T")


class KvError(Exception):
    """A failed store operation: ``kind`` is ``unavailable`` or ``invalid``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"kv {kind}: {message}")
        self.kind = kind
        self.message = message


def _call(operation: Callable[[], T]) -> T:
    try:
        return operation()
    except Err as failure:
        error = failure.value
        kind = "unavailable" if isinstance(error, _host.KvError_Unavailable) else "invalid"
        raise KvError(kind, error.value) from None


def _millis(ttl_ms: Optional[float]) -> Optional[int]:
    return None if ttl_ms is None else max(0, int(ttl_ms))


def get(key: str) -> Optional[bytes]:
    """The bytes at ``key``, or ``None``."""
    return _call(lambda: _host.get(key))


def set(key: str, value: Any, ttl_ms: Optional[float] = None) -> None:
    """Sets ``key`` to ``value`` (bytes, str or JSON), expiring after ``ttl_ms`` if given."""
    _call(lambda: _host.set(key, to_bytes(value), _millis(ttl_ms)))


def delete(key: str) -> bool:
    """Removes ``key``; true if it was set."""
    return _call(lambda: _host.delete(key))


def increment(key: str, delta: int = 1, ttl_ms: Optional[float] = None) -> int:
    """Adds ``delta`` to the counter at ``key`` and returns the new value;
    ``ttl_ms`` applies when the call creates the key (a fixed window)."""
    return _call(lambda: _host.increment(key, delta, _millis(ttl_ms)))


def compare_and_set(key: str, expected: Any, value: Any, ttl_ms: Optional[float] = None) -> bool:
    """Sets ``key`` to ``value`` only if it holds ``expected`` (``None``: only if unset); true if set."""
    expected_bytes = None if expected is None else to_bytes(expected)
    return _call(lambda: _host.compare_and_set(key, expected_bytes, to_bytes(value), _millis(ttl_ms)))
