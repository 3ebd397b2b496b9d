"""Answers shared poll refreshes from versioned state in ``kv``, like the
Rust shared-poll-state (and reading the same entries, so the two can share a
tenant's store):

- for each key Centrifugo asks about, reads ``poll:<channel>:<key>``, stored
  as ``<version> set\\n<data>`` or ``<version> removed\\n``, and answers the
  keys whose version is newer than the one Centrifugo holds (removed keys
  with ``removed``); keys without an entry, or not newer, are left out;
- the epoch is ``poll-epoch:<channel>``, empty when unset.

Reads no config keys. A ``kv`` failure answers error 100, which Centrifugo
logs before it asks again at the next interval.
"""

from typing import Optional, Tuple

import rotor
from rotor import SharedPollRefreshRequest, kv, log


def decode(stored: bytes) -> Optional[Tuple[int, Optional[bytes]]]:
    """The version and data (``None`` once removed) of a stored entry, or
    ``None`` for bytes this format does not describe."""
    header, newline, data = stored.partition(b"\n")
    if not newline:
        return None
    version, _, state = header.decode("utf-8", "replace").partition(" ")
    if not version.isdigit():
        return None
    if state == "set":
        return int(version), data
    if state == "removed":
        return int(version), None
    return None


@rotor.shared_poll_refresh
def refresh(request: SharedPollRefreshRequest):
    """The keys that changed since the versions Centrifugo holds."""
    try:
        epoch = kv.get(f"poll-epoch:{request.channel}")
        items = []
        for item in request.items:
            stored = kv.get(f"poll:{request.channel}:{item.key}")
            entry = decode(stored) if stored is not None else None
            if entry is None or entry[0] <= item.version:
                continue
            version, data = entry
            items.append({"key": item.key, "version": version, "data": data or b"", "removed": data is None})
    except kv.KvError as error:
        log.error(f"py-shared-poll-state: {error}")
        raise rotor.CentrifugoError(100, "cannot read the state", True)
    return rotor.allow(items=items, epoch=(epoch or b"").decode("utf-8", "replace"))
