"""Answers Centrifugo's publish calls: accepts a JSON object whose ``text`` is
a non-empty string of at most 1000 bytes, and refuses anything else with
``107 bad request``."""

import rotor
from rotor import PublishRequest


@rotor.publish
def validate(request: PublishRequest):
    message = rotor.json_of(request.data)
    text = message.get("text") if isinstance(message, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text.encode()) > 1000:
        raise rotor.bad_request("`text` must be 1 to 1000 bytes")
    return rotor.allow()
