"""The classes componentize-py binds to the WIT exports; each one hands the
call to what the plugin module registered. The build's entry module imports
only those of the kinds the plugin answers."""

import rotor


class ConnectHandler:
    """``connect-handler``."""

    def handle(self, request):
        return rotor.handle("connect", request)


class RefreshHandler:
    """``refresh-handler``."""

    def handle(self, request):
        return rotor.handle("refresh", request)


class SubscribeHandler:
    """``subscribe-handler``."""

    def handle(self, request):
        return rotor.handle("subscribe", request)


class PublishHandler:
    """``publish-handler``."""

    def handle(self, request):
        return rotor.handle("publish", request)


class RpcHandler:
    """``rpc-handler``."""

    def handle(self, request):
        return rotor.handle("rpc", request)


class SubRefreshHandler:
    """``sub-refresh-handler``."""

    def handle(self, request):
        return rotor.handle("sub-refresh", request)


class MapPublishHandler:
    """``map-publish-handler``."""

    def handle(self, request):
        return rotor.handle("map-publish", request)


class MapRemoveHandler:
    """``map-remove-handler``."""

    def handle(self, request):
        return rotor.handle("map-remove", request)


class SharedPollRefreshHandler:
    """``shared-poll-refresh-handler``."""

    def handle(self, request):
        return rotor.handle("shared-poll-refresh", request)


class NotifyCacheEmptyHandler:
    """``notify-cache-empty-handler``."""

    def handle(self, request):
        return rotor.handle("notify-cache-empty", request)


class NotifyChannelStateHandler:
    """``notify-channel-state-handler``."""

    def handle(self, request):
        return rotor.handle("notify-channel-state", request)


class StreamHandler:
    """``stream-handler``."""

    def open(self, request):
        return rotor.stream_open(request)

    def on_wake(self):
        rotor.stream_callback("on_wake")

    def on_client_data(self, data):
        rotor.stream_callback("on_client_data", data)


class Interceptor:
    """``interceptor``."""

    def before(self, context, request):
        return rotor.intercept_before(context, request)

    def after(self, context, reply):
        return rotor.intercept_after(context, reply)
