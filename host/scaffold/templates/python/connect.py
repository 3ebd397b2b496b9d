"""Answers Centrifugo's connect calls: accepts the user that the gateway in
front of Centrifugo names in the ``x-user-id`` header, and refuses a client
without one with ``101 unauthorized``."""

import rotor
from rotor import ConnectRequest


@rotor.connect
def auth(request: ConnectRequest):
    user = rotor.header(request.headers, "x-user-id")
    if not user:
        raise rotor.unauthorized()
    return rotor.allow(user=user)
