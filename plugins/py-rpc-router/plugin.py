"""Routes RPC calls by method name, like the Rust rpc-router:

- ``echo``: answers with the call's data as it is;
- ``whoami``: answers ``{"user": <user id>, "client": <connection id>}``;
- ``sum``: takes ``{"numbers": [..]}`` and answers ``{"sum": <total>}``;
  anything else is refused with ``107 bad request``;
- any other method is refused with ``104 method not found``.

Reads no config keys and imports nothing from the host.
"""

import math

import rotor
from rotor import RpcRequest


def total(data: bytes):
    """The sum of ``{"numbers": [..]}``: an int when every number is one."""
    value = rotor.json_of(data)
    numbers = value.get("numbers") if isinstance(value, dict) else None
    valid = isinstance(numbers, list) and all(
        isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers)
    if not valid:
        raise rotor.bad_request('expected {"numbers": [<number>, ...]}')
    result = sum(numbers)
    if isinstance(result, float) and not math.isfinite(result):
        raise rotor.bad_request("sum overflows")
    if isinstance(result, int) and not -2**63 <= result < 2**63:
        raise rotor.bad_request("sum overflows")
    return result


@rotor.rpc
def route(request: RpcRequest):
    """Answers ``request`` by its method."""
    if request.method == "echo":
        return rotor.allow(data=request.data)
    if request.method == "whoami":
        return rotor.allow(data={"user": request.user, "client": request.conn.client})
    if request.method == "sum":
        return rotor.allow(data={"sum": total(request.data)})
    raise rotor.method_not_found()
