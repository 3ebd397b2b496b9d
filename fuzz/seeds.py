#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into fuzz/corpus/<target>/.

The seeds are small, valid inputs of each kind (and a few invalid ones),
from which the fuzzers mutate. Run it again after changing a harness's
input format; the files it writes are committed.
"""

import struct
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"


# Protobuf, enough for the proxy requests: varints and length-delimited fields.
def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def labels(number, pairs):
    return b"".join(field(number, field(1, k) + field(2, v)) for k, v in pairs)


def conn(encoding="json"):
    return field(1, "c1") + field(2, "websocket") + field(3, "json") + field(4, encoding)


REQUESTS = {
    "connect": bytes([0]) + conn() + field(10, '{"a":1}') + field(12, "web")
    + field(13, "1.0") + field(14, "chat:index"),
    "connect-binary": bytes([0]) + conn("binary") + field(11, "eyJhIjoxfQ=="),
    "connect-bad-base64": bytes([0]) + conn("binary") + field(11, "not base64!"),
    "refresh": bytes([1]) + conn() + field(10, "42") + field(11, "{}")
    + labels(12, [("region", "eu")]),
    "subscribe": bytes([2]) + conn() + field(10, "42") + field(11, "$chat:room")
    + field(12, "token") + field(14, "{}") + labels(16, [("k", "v")]),
    "publish": bytes([3]) + conn() + field(10, "42") + field(11, "chat:room")
    + field(12, '{"text":"hi"}'),
    "rpc": bytes([4]) + conn() + field(10, "42") + field(11, "booking:reserve")
    + field(12, '{"seat":"1A"}') + labels(15, [("a", "b"), ("c", "d")]),
    "rpc-binary": bytes([4]) + conn("binary") + field(11, "ping") + field(13, "AAEC"),
    "sub-refresh": bytes([5]) + conn() + field(10, "42") + field(11, "chat:room"),
    "empty": bytes([4]),
}


# Replies, in the byte format of `Input` in host/fuzz.rs.
def s(text):
    data = text.encode()
    return bytes([len(data)]) + data


def u32(value):
    return struct.pack("<I", value)


def s64(value):
    return struct.pack("<q", value)


def node(op="", key="", cmp="", val="", vals=(), children=()):
    return (s(op) + s(key) + s(cmp) + s(val) + bytes([len(vals)])
            + b"".join(s(v) for v in vals) + bytes([len(children)]) + bytes(children))


def options(filter_nodes=None):
    # Overrides: presence true, join_leave false, the rest unset.
    out = s64(0) + s('{"i":1}') + s("{}") + b"\x01" + b"\x01\x01" + b"\x01\x00" + b"\x00\x00\x00"
    if filter_nodes is None:
        return out + b"\x00" + b"\x00"
    return out + b"\x01" + bytes([len(filter_nodes)]) + b"".join(filter_nodes) + b"\x00"


TREE = [node("and", children=(1, 2)), node(key="k", cmp="eq", val="v"),
        node(key="n", cmp="in", vals=("a", "b"))]
SHARED = [node("or", children=(1, 1)), node(key="k", cmp="eq", val="v")]

REPLIES = {
    "connect-accept": bytes([0]) + s("42") + s64(0) + s("{}") + s('{"x":1}')
    + bytes([1]) + s("chat:index") + bytes([1]) + s("chat:room") + options(TREE)
    + s("") + bytes([1]) + bytes([1]) + s("chat:*") + bytes([1]) + s("sub") + b"\x01"
    + bytes([1]) + s("region") + s("eu"),
    "connect-reject": bytes([6]) + u32(1000) + s("denied") + b"\x00",
    "connect-disconnect": bytes([12]) + u32(4500) + s("bye"),
    "refresh-extend": bytes([1]) + s64(1_900_000_000) + s("{}") + s("") + b"\x00",
    "refresh-expire": bytes([7]),
    "subscribe-accept": bytes([2]) + s64(0) + s("{}") + s("{}") + b"\x00"
    + bytes([1]) + s("pub") + b"\x01" + bytes([len(TREE)]) + b"".join(TREE),
    "subscribe-shared-children": bytes([2]) + s64(0) + s("") + s("") + b"\x00"
    + b"\x00" + b"\x01" + bytes([len(SHARED)]) + b"".join(SHARED),
    "publish-accept": bytes([3]) + b"\x01" + s('{"text":"hi"}') + b"\x00"
    + bytes([1]) + s("t") + s("v") + s("key") + b"\x00" + s64(3) + s("epoch"),
    "publish-as-is": bytes([3]) + b"\x00\x00\x00" + s("") + b"\x00" + s64(0) + s(""),
    "rpc-accept": bytes([4]) + s('{"ok":true}'),
    "rpc-reject": bytes([10]) + u32(104) + s("method not found") + b"\x01",
    "sub-refresh-extend": bytes([5]) + s64(0) + s("{}"),
}

CONFIGS = {
    "minimal.toml": 'listen = "127.0.0.1:10001"\n',
    "limits.toml": '[limits]\nmemory = "16MiB"\ntimeout = "100ms"\nconcurrency = 8\n'
    'fuel = 1000000\ncpu = 0.5\nmax_request = "64KiB"\nmax_reply = "64KiB"\n'
    'kv_bytes = "1MiB"\nkv_ops = 16\napi_calls = 4\nlog_rate = 50\n',
    "transport.toml": '[transport]\nmax_streams = 64\nmax_connections = 16\n'
    'max_header_bytes = "8KiB"\nrequest_timeout = "5s"\n[naming]\nprivate_prefix = "$"\n'
    'namespace_boundary = ":"\n[kv]\nbackend = "memory"\n',
    "tenants.toml": '[tenancy]\nby = "namespace"\nfallback = "a"\n[tenants.a]\n'
    'namespaces = ["chat"]\ngrants = ["log", "kv"]\nlimits = { concurrency = 2 }\n'
    '[tenants.b]\nnamespaces = ["shop"]\non_refresh_failure = "expire"\n',
    "routes.toml": '[handlers]\nconnect = "auth.wasm"\n[handlers.rpc]\ndefault = "r.wasm"\n'
    'methods = { "booking:" = "b.wasm" }\n[interceptors]\n"*" = ["t.wasm"]\n'
    '[settings."auth.wasm"]\nsecret = "s"\n[isolation."r.wasm"]\nmode = "reuse"\n',
    "admin.toml": '[admin]\nlisten = "127.0.0.1:9901"\nhosts = ["rotor.internal"]\n'
    '[centrifugo]\napi = "http://127.0.0.1:10000"\ntimeout = "60m"\n',
}


def write(target, seeds):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        (directory / name).write_bytes(data)


if __name__ == "__main__":
    write("decode_request", REQUESTS)
    write("convert_reply", REPLIES)
    write("parse_config", CONFIGS)
