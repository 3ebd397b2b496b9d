"""Answers Centrifugo's sub-refresh calls: extends every subscription by the
``extend_seconds`` setting (one hour if unset)."""

import rotor
from rotor import SubRefreshRequest, config


@rotor.sub_refresh
def extend(request: SubRefreshRequest):
    value = config.get("extend_seconds", "")
    seconds = int(value) if value.isdigit() else 3600
    return rotor.extend(expire_at=rotor.unix_now() + seconds)
