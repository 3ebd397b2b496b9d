"""Answers Centrifugo's RPC calls: method ``hello`` answers
``{"hello": <user>}``, any other method ``104 method not found``."""

import rotor
from rotor import RpcRequest, log


@rotor.rpc
def route(request: RpcRequest):
    if request.method != "hello":
        raise rotor.method_not_found()
    log.info(f"hello from {request.user}")
    return rotor.allow(data={"hello": request.user})  # dicts are sent as JSON
