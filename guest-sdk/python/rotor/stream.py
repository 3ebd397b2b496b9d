"""A subscription stream's side of the host: publish to the subscriber, ask
to be woken, end the stream. Only a plugin with a ``@rotor.subscribe_stream``
handler may import this module.

Each call lands when the current callback returns: publications go out in
order after it, a timer replaces the one asked for before, and a closed
stream gets no more callbacks.
"""

import math
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from componentize_py_types import Err
from wit_world.imports import stream as _host

from . import to_bytes

__all__ = ["StreamError", "publish", "wake_after", "close", "tag_pairs"]

#: The longest wait the host takes, in milliseconds (a WIT ``u32``).
MAX_WAIT_MS = 2**32 - 1

Tags = Union[Dict[str, str], Iterable[Tuple[str, str]], None]


class StreamError(Exception):
    """A publication the host refused: the stream is closing, or it is over a limit."""

    def __init__(self, message: str) -> None:
        super().__init__(f"stream: {message}")
        self.message = message


def tag_pairs(tags: Tags) -> List[Tuple[str, str]]:
    """Tags as the WIT's list of pairs, from a dict or pairs."""
    if tags is None:
        return []
    items = tags.items() if isinstance(tags, dict) else tags
    return [(str(key), str(value)) for key, value in items]


def publish(data: Any, tags: Tags = None) -> None:
    """Sends ``data`` (bytes, str or JSON) to the subscriber, with ``tags``.

    Raises ``StreamError`` once the stream is closing, past the host's
    publications per callback (64), or when the publication is larger than
    the tenant's ``max_reply``.
    """
    try:
        _host.publish(to_bytes(data), tag_pairs(tags))
    except Err as failure:
        raise StreamError(str(failure.value)) from None


def wake_after(ms: Optional[float]) -> None:
    """Asks for ``on_wake`` after ``ms`` milliseconds (at least 10; more than
    2³²−1 is cut to that), replacing an earlier request."""
    if ms is None or not isinstance(ms, (int, float)) or math.isnan(ms) or ms < 0:
        raise ValueError(f"wake_after: {ms!r} is not a duration in milliseconds")
    _host.wake_after(min(MAX_WAIT_MS, math.ceil(ms)))


def close() -> None:
    """Ends the stream once this callback returns: Centrifugo unsubscribes the
    client ("server unsubscribe")."""
    _host.close()
