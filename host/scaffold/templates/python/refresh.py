"""Answers Centrifugo's refresh calls: extends every connection by the
``extend_seconds`` setting (one hour if unset)."""

import rotor
from rotor import RefreshRequest, config


@rotor.refresh
def extend(request: RefreshRequest):
    value = config.get("extend_seconds", "")
    seconds = int(value) if value.isdigit() else 3600
    return rotor.extend(expire_at=rotor.unix_now() + seconds)
