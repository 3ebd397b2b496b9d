"""Answers Centrifugo's subscribe calls: users may subscribe to their own
channel, ``user:<id>``, and to nothing else (``103 permission denied``)."""

import rotor
from rotor import SubscribeRequest


@rotor.subscribe
def acl(request: SubscribeRequest):
    if request.channel == f"user:{request.user}":
        return rotor.allow()
    raise rotor.permission_denied()
