"""A subscription stream, like the Rust stream-ticker: a tick every
``interval_ms`` milliseconds (setting; default 1000) and, on the
bidirectional form, an echo of what the client publishes. Anonymous clients
are refused with ``103 permission denied``.

Each tick is ``{"tick":N,"channel":"..."}`` with N counting from 1; an echo
is ``{"echo":DATA}``, where DATA is the client's JSON publication as sent.
One instance serves one stream, so the count lives on the handler object.
"""

import json
from typing import Optional

import rotor
from rotor import SubscribeRequest, config, stream

DEFAULT_INTERVAL_MS = 1000


def interval(value: Optional[str]) -> int:
    """The interval from the setting, or the default when it is missing or not a number."""
    if value is not None and value.strip().isdigit():
        return int(value)
    return DEFAULT_INTERVAL_MS


def tick(count: int, channel: str) -> bytes:
    """The publication of tick ``count``."""
    return json.dumps({"tick": count, "channel": channel}, separators=(",", ":")).encode()


def echo(data: bytes) -> bytes:
    """The echo of the client's publication ``data``."""
    return b'{"echo":' + data + b"}"


@rotor.subscribe_stream
class Ticker:
    """The stream handler."""

    def __init__(self) -> None:
        self.channel = ""
        self.count = 0

    def open(self, request: SubscribeRequest):
        if not request.user:
            raise rotor.permission_denied()
        self.channel = request.channel
        stream.wake_after(interval(config.get("interval_ms")))
        return rotor.allow()

    def on_wake(self) -> None:
        self.count += 1
        try:
            stream.publish(tick(self.count, self.channel))
        except stream.StreamError:
            return  # closing: no more ticks
        stream.wake_after(interval(config.get("interval_ms")))

    def on_client_data(self, data: bytes) -> None:
        try:
            stream.publish(echo(data))
        except stream.StreamError:
            pass  # closing: the echo has nowhere to go
