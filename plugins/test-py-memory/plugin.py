"""Test guest: keeps state at module level, so a test sees whether an
instance is reused or fresh.

RPC ``remember`` adds 256 KiB to a module-level list (each block filled
with its call number) and counts the call; it answers
``{"calls": <calls this instance answered>, "kept": <bytes kept>,
"blocks": [<the first byte of each block>]}``. A fresh instance answers
``{"calls": 1, "kept": 262144, "blocks": [1]}`` every time; a reused one
counts on. Any other method is refused with ``104 method not found``.

Reads no config keys and imports nothing from the host.
"""

import rotor
from rotor import RpcRequest

BLOCK = 256 * 1024

calls = 0
kept = []


@rotor.rpc
def remember(request: RpcRequest):
    """Answers ``remember`` with what this instance kept so far."""
    global calls
    if request.method != "remember":
        raise rotor.method_not_found()
    calls += 1
    kept.append(bytes([calls % 256]) * BLOCK)
    return rotor.allow(data={
        "calls": calls,
        "kept": sum(len(block) for block in kept),
        "blocks": [block[0] for block in kept],
    })
