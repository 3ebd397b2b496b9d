"""The SDK's reply mapping, decorators and interceptor decisions, and the
logic of the Python example plugins."""

import importlib.util
import json
import unittest
from pathlib import Path

import rotor
from rotor import types
from wit_world.exports import interceptor as wit

PLUGINS = Path(__file__).resolve().parents[3] / "plugins"


def load(name):
    """Imports plugins/<name>/plugin.py under its own module name."""
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), PLUGINS / name / "plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def conn():
    return types.Connection("c1", "websocket", "json", "json")


def rpc_request(method, data=b"", user="42"):
    return types.RpcRequest(conn(), [], user, method, data, b"", [])


class ChannelFeatureReplies(unittest.TestCase):
    def test_map_publish_and_remove(self):
        reply = rotor.to_reply("map-publish", rotor.allow(key="k2", data={"x": 1}, score=3))
        self.assertIsInstance(reply, types.MapPublishReply_Accept)
        self.assertEqual(reply.value.key, "k2")
        self.assertEqual(json.loads(reply.value.data), {"x": 1})
        self.assertEqual(reply.value.score, 3)
        self.assertEqual(reply.value.stream_data, b"")
        self.assertIsNone(rotor.to_reply("map-publish", rotor.allow()).value.data)
        reply = rotor.to_reply("map-remove", rotor.disconnect(4501, "bye"))
        self.assertIsInstance(reply, types.MapRemoveReply_Disconnect)

    def test_shared_poll_refresh(self):
        reply = rotor.to_reply("shared-poll-refresh", rotor.allow(
            items=[{"key": "a", "data": {"p": 1}, "version": 2}], epoch="e"))
        self.assertIsInstance(reply, types.SharedPollRefreshReply_Accept)
        item = reply.value.items[0]
        self.assertEqual((item.key, item.version, item.removed), ("a", 2, False))
        self.assertEqual(json.loads(item.data), {"p": 1})
        self.assertEqual(item.prev_data, b"")
        with self.assertRaises(TypeError):
            rotor.to_reply("shared-poll-refresh", rotor.allow(items=[{"kee": "a"}]))
        # No client is on the call: a disconnect is an error 100.
        reply = rotor.to_reply("shared-poll-refresh", rotor.disconnect(4501, "bye"))
        self.assertIsInstance(reply, types.SharedPollRefreshReply_Reject)
        self.assertEqual((reply.value.code, reply.value.message), (100, "bye"))

    def test_notices(self):
        self.assertEqual(rotor.to_reply("notify-cache-empty", True), types.NotifyCacheEmptyReply(True))
        self.assertEqual(rotor.to_reply("notify-cache-empty", rotor.permission_denied()),
                         types.NotifyCacheEmptyReply(False))
        with self.assertRaises(TypeError):
            rotor.to_reply("notify-cache-empty", "yes")
        self.assertIsInstance(rotor.to_reply("notify-channel-state", None),
                              types.NotifyChannelStateReply_Accept)
        reply = rotor.to_reply("notify-channel-state", rotor.permission_denied())
        self.assertIsInstance(reply, types.NotifyChannelStateReply_Reject)
        self.assertEqual(reply.value.code, 103)


class Replies(unittest.TestCase):
    def test_allow_fills_defaults_and_encodes_bytes(self):
        reply = rotor.to_reply("connect", rotor.allow(user="42", info={"name": "Ada"}))
        self.assertIsInstance(reply, types.ConnectReply_Accept)
        self.assertEqual(reply.value.user, "42")
        self.assertEqual(reply.value.expire_at, 0)
        self.assertEqual(json.loads(reply.value.info), {"name": "Ada"})
        self.assertEqual(reply.value.channels, [])
        with self.assertRaises(TypeError):
            rotor.to_reply("connect", rotor.allow(usr="42"))

    def test_errors_become_rejections_and_disconnects(self):
        reply = rotor.to_reply("rpc", rotor.method_not_found())
        self.assertEqual(reply, types.RpcReply_Reject(types.CentrifugoError(104, "method not found", False)))
        reply = rotor.to_reply("subscribe", rotor.disconnect(4501, "bye"))
        self.assertEqual(reply, types.SubscribeReply_Disconnect(types.Disconnect(4501, "bye")))
        with self.assertRaises(TypeError):
            rotor.to_reply("rpc", None)

    def test_refresh_kinds_extend_or_expire(self):
        reply = rotor.to_reply("refresh", rotor.extend(expire_at=5))
        self.assertEqual(reply, types.RefreshReply_Extend(types.RefreshResult(5, b"", b"", [])))
        self.assertIsInstance(rotor.to_reply("sub-refresh", rotor.expire()), types.SubRefreshReply_Expire)
        self.assertIsInstance(rotor.to_reply("sub-refresh", rotor.permission_denied()), types.SubRefreshReply_Expire)

    def test_headers_ignore_case(self):
        self.assertEqual(rotor.header([("Authorization", "x"), ("authorization", "y")], "AUTHORIZATION"), "x")
        self.assertIsNone(rotor.header([], "a"))


class WithEmptyRegistry(unittest.TestCase):
    """A test that registers handlers of its own, on an empty registry it puts back after."""

    def setUp(self):
        self.saved = dict(rotor._registered)
        rotor._registered.clear()

    def tearDown(self):
        rotor._registered.clear()
        rotor._registered.update(self.saved)


class Interceptors(WithEmptyRegistry):
    def test_before_passes_rewrites_answers_and_rejects(self):
        context = wit.CallContext("default", 1)
        request = types.Request_Rpc(rpc_request("ping"))
        self.assertIsInstance(rotor.intercept_before(context, request), wit.Decision_Pass)

        outcomes = iter([
            rotor.rewrite(rpc_request("pong")),
            rotor.allow(data="hi"),
            rotor.permission_denied(),
        ])
        rotor.before(lambda context, request: next(outcomes))
        decision = rotor.intercept_before(context, request)
        self.assertEqual(decision, wit.Decision_Rewrite(types.Request_Rpc(rpc_request("pong"))))
        decision = rotor.intercept_before(context, request)
        self.assertEqual(decision, wit.Decision_Answer(types.Reply_Rpc(types.RpcReply_Accept(types.RpcResult(b"hi")))))
        decision = rotor.intercept_before(context, request)
        self.assertEqual(decision, wit.Decision_Reject(types.CentrifugoError(103, "permission denied", False)))

    def test_after_keeps_or_replaces_the_reply(self):
        context = wit.CallContext("default", 1)
        reply = types.Reply_Rpc(types.RpcReply_Accept(types.RpcResult(b"{}")))
        self.assertIsNone(rotor.intercept_after(context, reply))
        rotor.after(lambda context, reply: rotor.method_not_found())
        replaced = rotor.intercept_after(context, reply)
        self.assertEqual(replaced, types.Reply_Rpc(types.RpcReply_Reject(types.CentrifugoError(104, "method not found", False))))

    def test_a_kind_registers_once(self):
        rotor.rpc(lambda request: rotor.allow())
        with self.assertRaises(ValueError):
            rotor.rpc(lambda request: rotor.allow())


def subscribe_request(user="42", channel="ticks:a"):
    return types.SubscribeRequest(conn(), [], user, channel, "", b"", b"", [])


class StreamHandlers(WithEmptyRegistry):
    def test_open_answers_as_subscribe_and_callbacks_reach_the_instance(self):
        seen = []

        @rotor.subscribe_stream
        class Recorder:
            def open(self, request):
                if request.user == "":
                    raise rotor.permission_denied()
                seen.append(("open", request.channel))
                return rotor.allow(data={"hello": 1})

            def on_client_data(self, data):
                seen.append(("data", data, id(self)))

        self.assertIn("subscribe-stream", rotor.registered())
        refused = rotor.stream_open(subscribe_request(user=""))
        self.assertEqual(refused, types.SubscribeReply_Reject(types.CentrifugoError(103, "permission denied", False)))
        reply = rotor.stream_open(subscribe_request())
        self.assertIsInstance(reply, types.SubscribeReply_Accept)
        self.assertEqual(json.loads(reply.value.data), {"hello": 1})
        rotor.stream_callback("on_client_data", b"hi")
        rotor.stream_callback("on_wake")  # not defined: nothing happens
        self.assertEqual(seen[0], ("open", "ticks:a"))
        self.assertEqual(seen[1][:2], ("data", b"hi"))
        self.assertIs(rotor._stream[0].__class__, Recorder)
        self.assertEqual(seen[1][2], id(rotor._stream[0]))

    def test_only_classes_with_open_register(self):
        with self.assertRaises(TypeError):
            rotor.subscribe_stream(lambda request: rotor.allow())
        with self.assertRaises(TypeError):
            rotor.subscribe_stream(type("NoOpen", (), {}))

    def test_tags_become_pairs(self):
        from rotor import stream

        self.assertEqual(stream.tag_pairs(None), [])
        self.assertEqual(stream.tag_pairs({"n": 1}), [("n", "1")])
        self.assertEqual(stream.tag_pairs([("a", "b")]), [("a", "b")])
        with self.assertRaises(ValueError):
            stream.wake_after(-1)


class Examples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        saved = dict(rotor._registered)
        rotor._registered.clear()
        cls.acl = load("py-subscribe-acl")
        cls.router = load("py-rpc-router")
        cls.ticker = load("py-stream-ticker")
        cls.handlers = dict(rotor._registered)
        rotor._registered.clear()
        rotor._registered.update(saved)

    def test_acl_rules(self):
        public = self.acl.public_namespaces(None)
        self.assertEqual(public, ["public", "news"])
        self.assertEqual(self.acl.public_namespaces(" a , ,b,"), ["a", "b"])
        self.assertTrue(self.acl.allowed("42", "user:42", public))
        self.assertTrue(self.acl.allowed("", "news:today", public))
        for user, channel in [("42", "user:43"), ("42", "user:42:inbox"), ("", "user:"),
                              ("42", "chat:1"), ("42", "news"), ("", ":x")]:
            self.assertFalse(self.acl.allowed(user, channel, public), channel)
        self.assertFalse(self.acl.allowed("", "user:42", ["user"]))

    def test_router_methods(self):
        route = lambda method, data=b"": rotor.to_reply("rpc", rotor._outcome(self.handlers["rpc"], rpc_request(method, data)))
        self.assertEqual(json.loads(route("whoami").value.data), {"user": "42", "client": "c1"})
        self.assertEqual(json.loads(route("sum", b'{"numbers":[1,2]}').value.data), {"sum": 3})
        self.assertEqual(json.loads(route("sum", b'{"numbers":[1,0.5]}').value.data), {"sum": 1.5})
        for bad in [b"", b"[1]", b'{"numbers":[true]}', b'{"numbers":[9223372036854775807,1]}']:
            self.assertEqual(route("sum", bad).value.code, 107, bad)
        self.assertEqual(route("nope").value.code, 104)

    def test_ticker_parts(self):
        self.assertEqual(self.ticker.interval(None), 1000)
        self.assertEqual(self.ticker.interval("x"), 1000)
        self.assertEqual(self.ticker.interval(" 50 "), 50)
        self.assertEqual(self.ticker.tick(2, "ticks:a"), b'{"tick":2,"channel":"ticks:a"}')
        self.assertEqual(self.ticker.echo(b'{"a":1}'), b'{"echo":{"a":1}}')
        # Anonymous clients are refused before the stream asks for a timer.
        ticker = self.handlers["subscribe-stream"]()
        reply = rotor.to_reply("subscribe", rotor._outcome(ticker.open, subscribe_request(user="")))
        self.assertEqual(reply.value.code, 103)


if __name__ == "__main__":
    unittest.main()
