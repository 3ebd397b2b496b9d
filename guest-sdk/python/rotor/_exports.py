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


class Interceptor:
    """``interceptor``."""

    def before(self, context, request):
        return rotor.intercept_before(context, request)

    def after(self, context, reply):
        return rotor.intercept_after(context, reply)
