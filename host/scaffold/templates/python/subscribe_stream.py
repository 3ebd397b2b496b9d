"""A subscription stream: anonymous users are refused (``103 permission
denied``); others get ``{"count":N}`` every second, and on the bidirectional
form their own publications back as ``{"echo":DATA}``. One instance serves
one stream, so the count lives on the handler object."""

import rotor
from rotor import SubscribeRequest, stream

EVERY_MS = 1000


@rotor.subscribe_stream
class Counter:
    def __init__(self) -> None:
        self.count = 0

    def open(self, request: SubscribeRequest):
        if not request.user:
            raise rotor.permission_denied()
        stream.wake_after(EVERY_MS)
        return rotor.allow()

    def on_wake(self) -> None:
        self.count += 1
        try:
            stream.publish({"count": self.count})
        except stream.StreamError:
            return  # the stream is closing: ask for no more ticks
        stream.wake_after(EVERY_MS)

    def on_client_data(self, data: bytes) -> None:
        try:
            stream.publish(b'{"echo":' + data + b"}")
        except stream.StreamError:
            pass
