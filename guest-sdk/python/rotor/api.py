"""Centrifugo's server API, through the host: publish, manage subscriptions
and connections, read presence and history. Every function raises
``ApiError`` when the call fails."""

from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar, Union

from componentize_py_types import Err, Ok
from wit_world.imports import centrifugo_api as _host
from wit_world.imports.centrifugo_api import (
    ClientInfo, Command_Disconnect, Command_HistoryRemove, Command_Publish, Command_Subscribe,
    Command_Unsubscribe, DisconnectCommand, HistoryPage, HistoryQuery, Membership, Node,
    PresenceCounts, PublishCommand, PublishOptions, StreamPosition,
)

from . import to_bytes

T = TypeVar("T")


class ApiError(Exception):
    """A failed API call. ``kind``: ``centrifugo`` (Centrifugo answered an
    error, see ``code``), ``denied``, ``unavailable`` or ``timeout``."""

    def __init__(self, kind: str, message: str = "", code: int = 0) -> None:
        super().__init__(f"centrifugo error {code}: {message}" if kind == "centrifugo" else f"api {kind}: {message}")
        self.kind = kind
        self.message = message
        self.code = code

    @staticmethod
    def of(error: Any) -> "ApiError":
        """The error for a WIT ``api-error`` variant."""
        if isinstance(error, _host.ApiError_Centrifugo):
            return ApiError("centrifugo", error.value.message, error.value.code)
        if isinstance(error, _host.ApiError_Denied):
            return ApiError("denied", error.value)
        if isinstance(error, _host.ApiError_Unavailable):
            return ApiError("unavailable", error.value)
        return ApiError("timeout")


def _call(operation: Callable[[], T]) -> T:
    try:
        return operation()
    except Err as failure:
        raise ApiError.of(failure.value) from None


def _results(results: List[Any]) -> List[Any]:
    return [result.value if isinstance(result, Ok) else ApiError.of(result.value) for result in results]


def options(skip_history: bool = False, tags: Optional[Dict[str, str]] = None,
            idempotency_key: str = "", delta: bool = False) -> PublishOptions:
    """Options of a publication."""
    return PublishOptions(skip_history, list((tags or {}).items()), idempotency_key, delta)


def publish(channel: str, data: Any, **publish_options: Any) -> StreamPosition:
    """Publishes ``data`` (bytes, str or JSON) into ``channel``."""
    return _call(lambda: _host.publish(channel, to_bytes(data), options(**publish_options)))


def broadcast(channels: List[str], data: Any, **publish_options: Any) -> List[Union[StreamPosition, ApiError]]:
    """Publishes into every channel; one position or ``ApiError`` per channel."""
    return _results(_call(lambda: _host.broadcast(channels, to_bytes(data), options(**publish_options))))


def subscribe(user: str, channel: str, client: str = "") -> None:
    """Subscribes ``user`` (or only its connection ``client``) to ``channel``."""
    _call(lambda: _host.subscribe(user, channel, client))


def unsubscribe(user: str, channel: str, client: str = "") -> None:
    """Unsubscribes ``user`` (or only ``client``) from ``channel``."""
    _call(lambda: _host.unsubscribe(user, channel, client))


def disconnect(user: str, code: int, reason: str, client: str = "") -> None:
    """Disconnects ``user`` (or only ``client``) with ``code`` (4000–4999) and ``reason``."""
    _call(lambda: _host.disconnect(user, client, code, reason))


def refresh(user: str, expire_at: int = 0, expired: bool = False, client: str = "") -> None:
    """Sets a new expiry for ``user``'s connections, or expires them."""
    _call(lambda: _host.refresh(user, client, expire_at, expired))


def presence(channel: str) -> List[ClientInfo]:
    """The connections in ``channel``."""
    return _call(lambda: _host.presence(channel))


def presence_stats(channel: str) -> PresenceCounts:
    """The number of connections and users in ``channel``."""
    return _call(lambda: _host.presence_stats(channel))


def history(channel: str, limit: int = 0, since: Optional[StreamPosition] = None, reverse: bool = False) -> HistoryPage:
    """A page of ``channel``'s history."""
    return _call(lambda: _host.history(channel, HistoryQuery(limit, since, reverse)))


def history_remove(channel: str) -> None:
    """Removes ``channel``'s history."""
    _call(lambda: _host.history_remove(channel))


def channels(pattern: str = "") -> List[Tuple[str, int]]:
    """Active channels matching ``pattern``, with their number of clients."""
    return _call(lambda: _host.channels(pattern))


def info() -> List[Node]:
    """The nodes of the Centrifugo cluster."""
    return _call(lambda: _host.info())


def batch(commands: List[Any], parallel: bool = False) -> List[Optional[ApiError]]:
    """Sends commands (``Command_Publish(PublishCommand(...))``, …) in one API
    call; one ``None`` or ``ApiError`` per command."""
    return _results(_call(lambda: _host.batch(commands, parallel)))
