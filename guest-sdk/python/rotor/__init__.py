"""Write Rotor plugins in Python.

A plugin is a module with one decorated function per call kind it answers::

    import rotor
    from rotor import SubscribeRequest

    @rotor.subscribe
    def acl(request: SubscribeRequest):
        if request.channel == f"user:{request.user}":
            return rotor.allow()
        raise rotor.permission_denied()

Handlers return ``allow(...)`` (``extend(...)`` / ``expire()`` for refresh
and sub-refresh, ``True``/``False`` for a cache-empty notice) and refuse by
raising (or returning) a ``CentrifugoError`` or ``DisconnectError``.
Interceptors are ``@rotor.before`` and ``@rotor.after``. A subscription
stream is a class decorated with ``@rotor.subscribe_stream``, whose ``open``,
``on_wake`` and ``on_client_data`` methods are its callbacks.

Requests and WIT records are the dataclasses componentize-py generates from
the WIT (``rotor.types``). Host imports live in submodules (``rotor.log``,
``rotor.config``, ``rotor.kv``, ``rotor.api``, ``rotor.stream``): the build gives the component
exactly the imports of the submodules the plugin loads.
"""

from __future__ import annotations

import json as _json
import time as _time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from wit_world.imports import types
from wit_world.imports.types import (
    ChannelMatch,
    ChannelsCapability,
    ConnectRequest,
    ConnectResult,
    Connection,
    FilterNode,
    MapPublishRequest,
    MapPublishResult,
    MapRemoveRequest,
    MapRemoveResult,
    NotifyCacheEmptyRequest,
    NotifyChannelStateRequest,
    PublishRequest,
    PublishResult,
    RefreshRequest,
    RefreshResult,
    RpcRequest,
    RpcResult,
    SharedPollEntry,
    SharedPollRefreshRequest,
    SharedPollRefreshResult,
    SubRefreshRequest,
    SubRefreshResult,
    SubscribeOptions,
    SubscribeOverrides,
    SubscribeRequest,
    SubscribeResult,
)

__all__ = [
    "CentrifugoError", "DisconnectError", "allow", "extend", "expire", "rewrite", "connect",
    "refresh", "subscribe", "publish", "rpc", "sub_refresh", "before", "after", "header",
    "json_of", "to_bytes", "unix_now", "kind_of", "types", "ConnectRequest", "RefreshRequest",
    "SubscribeRequest", "PublishRequest", "RpcRequest", "SubRefreshRequest", "map_publish",
    "map_remove", "shared_poll_refresh", "notify_cache_empty", "notify_channel_state",
    "MapPublishRequest", "MapRemoveRequest", "SharedPollRefreshRequest", "SharedPollEntry",
    "NotifyCacheEmptyRequest", "NotifyChannelStateRequest", "subscribe_stream",
]


class CentrifugoError(Exception):
    """An error for the client's command (Centrifugo's ``Error``).

    Codes 100–1999; applications use 400–1999. ``temporary`` makes clients retry.
    """

    def __init__(self, code: int, message: str, temporary: bool = False) -> None:
        super().__init__(f"error {code}: {message}")
        self.code = code
        self.message = message
        self.temporary = temporary

    def record(self) -> types.CentrifugoError:
        """The WIT record."""
        return types.CentrifugoError(self.code, self.message, self.temporary)


class DisconnectError(Exception):
    """Closes the client's connection (Centrifugo's ``Disconnect``).

    Codes 4000–4499 let the client reconnect, 4500–4999 do not; keep
    ``reason`` under 32 bytes.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"disconnect {code}: {reason}")
        self.code = code
        self.reason = reason

    def record(self) -> types.Disconnect:
        """The WIT record."""
        return types.Disconnect(self.code, self.reason)


def internal_error() -> CentrifugoError:
    """``100 internal server error``, temporary: something on the server side failed."""
    return CentrifugoError(100, "internal server error", True)


def unauthorized() -> CentrifugoError:
    """``101 unauthorized``: the credentials are missing or wrong."""
    return CentrifugoError(101, "unauthorized")


def permission_denied() -> CentrifugoError:
    """``103 permission denied``: the user may not do this."""
    return CentrifugoError(103, "permission denied")


def method_not_found() -> CentrifugoError:
    """``104 method not found``: no such RPC method."""
    return CentrifugoError(104, "method not found")


def limit_exceeded(message: str = "limit exceeded") -> CentrifugoError:
    """``106 limit exceeded``: too many or too large."""
    return CentrifugoError(106, message)


def bad_request(message: str = "bad request") -> CentrifugoError:
    """``107 bad request``: the request's data is malformed."""
    return CentrifugoError(107, message)


def token_expired() -> CentrifugoError:
    """``109 token expired``: the client should get a fresh token and retry."""
    return CentrifugoError(109, "token expired")


def too_many_requests() -> CentrifugoError:
    """``111 too many requests``, temporary: a rate limit was hit."""
    return CentrifugoError(111, "too many requests", True)


def disconnect(code: int, reason: str) -> DisconnectError:
    """Closes the connection; raise or return it."""
    return DisconnectError(code, reason)


@dataclass
class Allow:
    """Accepts a connect, subscribe, publish or RPC call with these result fields."""

    fields: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Extend:
    """Extends a refresh or sub-refresh with these result fields."""

    fields: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Expire:
    """Ends the connection (refresh) or subscription (sub-refresh)."""


@dataclass
class Rewrite:
    """Interceptors: hand this request on instead (same type)."""

    request: Any


def allow(**fields: Any) -> Allow:
    """Accepts the call. ``fields`` are those of the kind's result record
    (``user``, ``expire_at``, ``info``, ``data``, …); the rest default. Byte
    fields take bytes, a str (UTF-8) or any other value (JSON)."""
    return Allow(fields)


def extend(**fields: Any) -> Extend:
    """Extends a refresh or sub-refresh: ``extend(expire_at=…, info=…)``."""
    return Extend(fields)


def expire() -> Expire:
    """Ends the connection or subscription."""
    return Expire()


def rewrite(request: Any) -> Rewrite:
    """Interceptors: hand ``request`` on instead: the request variant, or the bare record of the same kind."""
    return Rewrite(request)


def to_bytes(value: Any) -> bytes:
    """Bytes from bytes, a str (UTF-8), ``None`` (empty) or any other value (JSON)."""
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return _json.dumps(value, separators=(",", ":")).encode()


def json_of(data: bytes) -> Any:
    """The JSON value in ``data``, or ``None`` if it is empty or not JSON."""
    if not data:
        return None
    try:
        return _json.loads(data)
    except ValueError:
        return None


def header(headers: List[Tuple[str, str]], name: str) -> Optional[str]:
    """The value of header ``name`` (any case); the first one wins."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def unix_now() -> int:
    """Now, in whole Unix seconds."""
    return int(_time.time())


# Result records by kind: the class and the default of every field.
_RESULTS: Dict[str, Tuple[type, Dict[str, Callable[[], Any]]]] = {
    "connect": (ConnectResult, {
        "user": str, "expire_at": int, "info": bytes, "data": bytes, "channels": list,
        "subs": list, "meta": bytes, "caps": list, "labels": list,
    }),
    "subscribe": (SubscribeResult, {
        "expire_at": int, "info": bytes, "data": bytes, "overrides": lambda: None,
        "allow": list, "server_tags_filter": lambda: None,
    }),
    "publish": (PublishResult, {
        "data": lambda: None, "skip_history": bool, "tags": list, "idempotency_key": str,
        "delta": bool, "version": int, "version_epoch": str,
    }),
    "rpc": (RpcResult, {"data": bytes}),
    "refresh": (RefreshResult, {"expire_at": int, "info": bytes, "meta": bytes, "caps": list}),
    "sub-refresh": (SubRefreshResult, {"expire_at": int, "info": bytes}),
    "map-publish": (MapPublishResult, {
        "key": str, "data": lambda: None, "tags": list, "score": int, "key_mode": str,
        "stream_data": bytes, "idempotency_key": str, "delta": bool, "version": int,
        "version_epoch": str,
    }),
    "map-remove": (MapRemoveResult, {"key": str, "tags": list, "idempotency_key": str}),
    "shared-poll-refresh": (SharedPollRefreshResult, {"items": list, "epoch": str}),
    # One changed key of a shared poll refresh (inside ``items``).
    "shared-poll-entry": (SharedPollEntry, {
        "key": str, "data": bytes, "version": int, "removed": bool, "prev_data": bytes,
    }),
}
_BYTE_FIELDS = {"info", "data", "meta", "stream_data", "prev_data"}
_REFRESH_KINDS = {"refresh", "sub-refresh"}
# Calls Centrifugo makes with no client behind them: there is no connection
# to close, so a ``DisconnectError`` answers as error 100 with its reason.
_CLIENTLESS_KINDS = {"shared-poll-refresh", "notify-cache-empty", "notify-channel-state"}

# Reply variant cases by kind: accept/extend, reject, disconnect, expire.
_REPLIES = {
    "connect": (types.ConnectReply_Accept, types.ConnectReply_Reject, types.ConnectReply_Disconnect),
    "subscribe": (types.SubscribeReply_Accept, types.SubscribeReply_Reject, types.SubscribeReply_Disconnect),
    "publish": (types.PublishReply_Accept, types.PublishReply_Reject, types.PublishReply_Disconnect),
    "rpc": (types.RpcReply_Accept, types.RpcReply_Reject, types.RpcReply_Disconnect),
    "refresh": (types.RefreshReply_Extend, types.RefreshReply_Expire),
    "sub-refresh": (types.SubRefreshReply_Extend, types.SubRefreshReply_Expire),
    "map-publish": (types.MapPublishReply_Accept, types.MapPublishReply_Reject, types.MapPublishReply_Disconnect),
    "map-remove": (types.MapRemoveReply_Accept, types.MapRemoveReply_Reject, types.MapRemoveReply_Disconnect),
    "shared-poll-refresh": (types.SharedPollRefreshReply_Accept, types.SharedPollRefreshReply_Reject),
    "notify-channel-state": (types.NotifyChannelStateReply_Accept, types.NotifyChannelStateReply_Reject),
}

# The `request` and `reply` variants' cases, by kind.
_REQUEST_CASES = {
    "connect": types.Request_Connect, "refresh": types.Request_Refresh,
    "subscribe": types.Request_Subscribe, "publish": types.Request_Publish,
    "rpc": types.Request_Rpc, "sub-refresh": types.Request_SubRefresh,
    "map-publish": types.Request_MapPublish, "map-remove": types.Request_MapRemove,
    "shared-poll-refresh": types.Request_SharedPollRefresh,
    "notify-cache-empty": types.Request_NotifyCacheEmpty,
    "notify-channel-state": types.Request_NotifyChannelState,
}
_REPLY_CASES = {
    "connect": types.Reply_Connect, "refresh": types.Reply_Refresh,
    "subscribe": types.Reply_Subscribe, "publish": types.Reply_Publish,
    "rpc": types.Reply_Rpc, "sub-refresh": types.Reply_SubRefresh,
    "map-publish": types.Reply_MapPublish, "map-remove": types.Reply_MapRemove,
    "shared-poll-refresh": types.Reply_SharedPollRefresh,
    "notify-cache-empty": types.Reply_NotifyCacheEmpty,
    "notify-channel-state": types.Reply_NotifyChannelState,
}


def kind_of(variant: Any) -> str:
    """The kind (``connect``, …, ``notify-channel-state``) of a ``request`` or ``reply`` variant."""
    for kind, case in _REQUEST_CASES.items():
        if isinstance(variant, case) or isinstance(variant, _REPLY_CASES[kind]):
            return kind
    raise TypeError(f"not a request or reply variant: {variant!r}")


def _record(kind: str, fields: Dict[str, Any]) -> Any:
    cls, defaults = _RESULTS[kind]
    unknown = set(fields) - set(defaults)
    if unknown:
        raise TypeError(f"{kind}: the result has no field {sorted(unknown)} (fields: {', '.join(defaults)})")
    values = {}
    for name, default in defaults.items():
        if name not in fields or fields[name] is None:
            values[name] = default()
        elif name in _BYTE_FIELDS:
            values[name] = to_bytes(fields[name])
        elif kind == "shared-poll-refresh" and name == "items":
            values[name] = [
                item if isinstance(item, SharedPollEntry) else _record("shared-poll-entry", item)
                for item in fields[name]
            ]
        else:
            values[name] = fields[name]
    return cls(**values)


def to_reply(kind: str, outcome: Any) -> Any:
    """The WIT reply of ``kind`` for what a handler returned or raised.

    Refresh kinds cannot fail (Centrifugo ignores errors there), so an error
    or a disconnect becomes ``expire``.
    """
    if kind == "notify-cache-empty":
        return _cache_empty_reply(outcome)
    if kind in _CLIENTLESS_KINDS and isinstance(outcome, DisconnectError):
        outcome = CentrifugoError(100, outcome.reason, True)
    cases = _REPLIES[kind]
    if kind in _CLIENTLESS_KINDS:
        accept_case, reject_case = cases
        if kind == "notify-channel-state" and (outcome is None or isinstance(outcome, Allow)):
            return accept_case()
        if isinstance(outcome, Allow):
            return accept_case(_record(kind, outcome.fields))
        if isinstance(outcome, CentrifugoError):
            return reject_case(outcome.record())
        if isinstance(outcome, cases):
            return outcome
        raise TypeError(f"{kind} handler answered {outcome!r}; expected allow(...) or an error")
    if kind in _REFRESH_KINDS:
        extend_case, expire_case = cases
        if isinstance(outcome, Extend):
            return extend_case(_record(kind, outcome.fields))
        if isinstance(outcome, (Expire, CentrifugoError, DisconnectError)):
            return expire_case()
        if isinstance(outcome, cases):
            return outcome
        raise TypeError(f"{kind} handler answered {outcome!r}; expected extend(...) or expire()")
    accept_case, reject_case, disconnect_case = cases
    if isinstance(outcome, Allow):
        return accept_case(_record(kind, outcome.fields))
    if isinstance(outcome, CentrifugoError):
        return reject_case(outcome.record())
    if isinstance(outcome, DisconnectError):
        return disconnect_case(outcome.record())
    if isinstance(outcome, cases):
        return outcome
    raise TypeError(f"{kind} handler answered {outcome!r}; expected allow(...) or an error")


def _cache_empty_reply(outcome: Any) -> Any:
    """A cache-empty notice's reply: whether the cache was populated. The
    response has no error, so an error answers ``populated=False``."""
    if isinstance(outcome, bool):
        return types.NotifyCacheEmptyReply(outcome)
    if isinstance(outcome, (CentrifugoError, DisconnectError)):
        return types.NotifyCacheEmptyReply(False)
    if isinstance(outcome, types.NotifyCacheEmptyReply):
        return outcome
    raise TypeError(f"notify-cache-empty handler answered {outcome!r}; expected True or False")


def _outcome(function: Callable[..., Any], *args: Any) -> Any:
    try:
        return function(*args)
    except (CentrifugoError, DisconnectError) as error:
        return error


# What the plugin module registered, by kind; `before`/`after` for interceptors.
_registered: Dict[str, Callable[..., Any]] = {}


def _register(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        if kind in _registered:
            raise ValueError(f"a {kind} handler is registered already")
        _registered[kind] = function
        return function

    return decorator


connect = _register("connect")
"""Decorates the connect handler: ``(ConnectRequest) -> allow(user=…, …)``."""
refresh = _register("refresh")
"""Decorates the refresh handler: ``(RefreshRequest) -> extend(expire_at=…) | expire()``."""
subscribe = _register("subscribe")
"""Decorates the subscribe handler: ``(SubscribeRequest) -> allow(…)``."""
publish = _register("publish")
"""Decorates the publish handler: ``(PublishRequest) -> allow(…)``."""
rpc = _register("rpc")
"""Decorates the RPC handler: ``(RpcRequest) -> allow(data=…)``."""
sub_refresh = _register("sub-refresh")
"""Decorates the sub-refresh handler: ``(SubRefreshRequest) -> extend(…) | expire()``."""
map_publish = _register("map-publish")
"""Decorates the map publish handler: ``(MapPublishRequest) -> allow(key=…, data=…, …)``;
``allow()`` publishes the client's key and data."""
map_remove = _register("map-remove")
"""Decorates the map remove handler: ``(MapRemoveRequest) -> allow(…)``."""
shared_poll_refresh = _register("shared-poll-refresh")
"""Decorates the shared poll refresh handler: ``(SharedPollRefreshRequest) ->
allow(items=[{"key": …, "data": …, "version": …}, …], epoch=…)`` listing the
keys that changed; an error is logged by Centrifugo, which asks again later."""
notify_cache_empty = _register("notify-cache-empty")
"""Decorates the cache-empty handler (Centrifugo PRO): ``(NotifyCacheEmptyRequest) -> bool``,
whether the cache was populated."""
notify_channel_state = _register("notify-channel-state")
"""Decorates the channel-state handler (Centrifugo PRO): ``(NotifyChannelStateRequest) -> None``
takes the events of one channel namespace; raise an error to fail them."""
before = _register("before")
"""Decorates an interceptor's ``before(context, request)``: return nothing to
pass, ``rewrite(request)``, an answer (``allow(…)``, …) or raise an error."""
after = _register("after")
"""Decorates an interceptor's ``after(context, reply)``: return nothing to keep
the reply, or a replacement (``allow(…)``, an error, a reply variant)."""




def subscribe_stream(cls: type) -> type:
    """Decorates the subscription stream handler: a class whose instance
    serves the stream. One component instance serves one stream, so the
    instance (made at ``open``) keeps the stream's state in its attributes.

    - ``open(self, request: SubscribeRequest)`` answers as a subscribe
      handler does: ``allow(…)`` starts the stream, an error refuses it;
    - ``on_wake(self)`` (optional): the timer of ``stream.wake_after`` fired;
    - ``on_client_data(self, data: bytes)`` (optional): the client published
      ``data`` (the bidirectional form only).

    An exception in ``on_wake`` or ``on_client_data`` traps the instance and
    the host ends the stream as a fault; end it on purpose with
    ``rotor.stream.close()``.
    """
    if not isinstance(cls, type) or not callable(getattr(cls, "open", None)):
        raise TypeError("@rotor.subscribe_stream decorates a class with an `open(self, request)` method")
    return _register("subscribe-stream")(cls)


# The instance of the registered stream class serving this component's stream.
_stream: List[Any] = []


def stream_open(request: Any) -> Any:
    """Makes the stream handler's instance and answers ``open`` with its WIT reply."""
    instance = _registered["subscribe-stream"]()
    _stream[:] = [instance]
    return to_reply("subscribe", _outcome(instance.open, request))


def stream_callback(name: str, *args: Any) -> None:
    """Runs the stream handler's ``name`` callback, if it has one."""
    if not _stream:
        raise RuntimeError(f"{name} before the stream opened")
    method = getattr(_stream[0], name, None)
    if method is not None:
        method(*args)


def handle(kind: str, request: Any) -> Any:
    """Runs the registered handler of ``kind`` on ``request`` and returns its WIT reply."""
    return to_reply(kind, _outcome(_registered[kind], request))


def to_decision(request: Any, outcome: Any) -> Any:
    """The WIT decision for what ``before`` returned or raised about ``request``."""
    from wit_world.exports import interceptor as wit

    kind = kind_of(request)
    if outcome is None:
        return wit.Decision_Pass()
    if isinstance(outcome, CentrifugoError):
        return wit.Decision_Reject(outcome.record())
    if isinstance(outcome, DisconnectError):
        return wit.Decision_Disconnect(outcome.record())
    if isinstance(outcome, Rewrite):
        replacement = outcome.request
        if not isinstance(replacement, tuple(_REQUEST_CASES.values())):
            replacement = _REQUEST_CASES[kind](replacement)
        return wit.Decision_Rewrite(replacement)
    if isinstance(outcome, (wit.Decision_Pass, wit.Decision_Rewrite, wit.Decision_Answer,
                            wit.Decision_Reject, wit.Decision_Disconnect)):
        return outcome
    if isinstance(outcome, tuple(_REPLY_CASES.values())):
        return wit.Decision_Answer(outcome)
    return wit.Decision_Answer(_REPLY_CASES[kind](to_reply(kind, outcome)))


def intercept_before(context: Any, request: Any) -> Any:
    """Runs the registered ``before`` (pass if none) and returns the WIT decision."""
    function = _registered.get("before")
    if function is None:
        return to_decision(request, None)
    return to_decision(request, _outcome(function, context, request))


def intercept_after(context: Any, reply: Any) -> Any:
    """Runs the registered ``after`` (keep if none) and returns the replacement reply or ``None``."""
    function = _registered.get("after")
    if function is None:
        return None
    outcome = _outcome(function, context, reply)
    if outcome is None:
        return None
    if isinstance(outcome, tuple(_REPLY_CASES.values())):
        return outcome
    kind = kind_of(reply)
    return _REPLY_CASES[kind](to_reply(kind, outcome))


def registered() -> List[str]:
    """The kinds (and ``before``/``after``) the plugin module registered."""
    return list(_registered)
