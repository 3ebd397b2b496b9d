"""Centrifugo's gRPC proxy answered in Python with grpcio: the logic of the
Rotor plugins the benchmark runs, deployed the way a Python backend runs
today.

Scenarios (the same logic as the plugins and the native Rust baseline):

- ``noop``: RPC ``echo`` answers with the call's data.
- ``connect-hs256``: the token in the connect data (``{"token": ...}``) or
  an ``authorization: Bearer`` header must be HS256, signed with the secret
  (compared in constant time), with a non-empty ``sub`` and an ``exp`` in
  the future; ``info`` and ``channels`` are taken over.
- ``publish-json``: a publication must be a JSON object of at most 4096
  bytes; it then goes out unchanged.
- ``noop-3-interceptors``: ``echo`` behind three pass-through server
  interceptors that see each request and each reply.

Deployment: ``--workers`` processes (default: two per core), each with its
own grpcio server bound to the same port with ``SO_REUSEPORT``, so the
kernel spreads connections over them. One process cannot run Python code on
more than one core at a time (the GIL), so this is how grpcio is scaled on
one machine; with more workers than cores, an unlucky spread of the
connections leaves no core idle. The server is grpcio's thread-pool server
(``--server sync``, the default); ``--server aio`` runs ``grpc.aio``
instead, which was slower for these handlers on the benchmark machine.

The message classes are generated from ``proto/proxy.proto`` with
grpcio-tools into a temporary directory at start. Every process exits when
its standard input closes.
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc

MAX_PUBLISH_BYTES = 4096
MAX_MESSAGE_BYTES = 4 << 20
CHAIN_LENGTH = 3
SCENARIOS = ("noop", "connect-hs256", "publish-json", "noop-3-interceptors")


def load_stubs(proto):
    """Generates the proxy's message and service modules and imports them."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="rotor-bench-stubs-")
    try:
        include, name = os.path.split(os.path.abspath(proto))
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"--proto_path={include}",
                f"--python_out={out}",
                f"--grpc_python_out={out}",
                name,
            ]
        )
        if code != 0:
            sys.exit(f"grpc_tools.protoc failed on {proto} ({code})")
        sys.path.insert(0, out)
        import proxy_pb2
        import proxy_pb2_grpc

        return proxy_pb2, proxy_pb2_grpc
    finally:
        # The modules are loaded: the files are no longer needed.
        if out in sys.path:
            sys.path.remove(out)
        shutil.rmtree(out, ignore_errors=True)


class Rejection(Exception):
    """A Centrifugo error to answer with."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def unauthorized():
    return Rejection(101, "unauthorized")


def b64url(part):
    """Decodes unpadded base64url, refusing anything else."""
    return base64.b64decode(part + "=" * (-len(part) % 4), altchars=b"-_", validate=True)


def decode_object(part):
    try:
        value = json.loads(b64url(part))
    except ValueError:
        raise unauthorized() from None
    if not isinstance(value, dict):
        raise unauthorized()
    return value


def verify(token, secret):
    """The claims of an HS256 token signed with ``secret``."""
    parts = token.split(".")
    if len(parts) != 3:
        raise unauthorized()
    header, payload, signature = parts
    if decode_object(header).get("alg") != "HS256":
        raise unauthorized()
    try:
        signature = b64url(signature)
    except ValueError:
        raise unauthorized() from None
    expected = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise unauthorized()
    return decode_object(payload)


def token_of(data, metadata):
    """The token in the data, else in an ``authorization: Bearer`` header."""
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("token"), str):
        return parsed["token"]
    for key, value in metadata():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    raise unauthorized()


def authenticate(data, metadata, secret, now):
    """The accepted connection's fields, or a Rejection."""
    claims = verify(token_of(data, metadata), secret)
    user = claims.get("sub")
    if not isinstance(user, str) or not user:
        raise unauthorized()
    exp = claims.get("exp")
    if exp is None:
        expire_at = 0
    elif isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise unauthorized()
    else:
        expire_at = math.floor(exp)
        if expire_at <= now:
            raise Rejection(109, "token expired")
    info = b""
    if "info" in claims:
        info = json.dumps(claims["info"], separators=(",", ":")).encode()
    channels = claims.get("channels", [])
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise unauthorized()
    return {"user": user, "expire_at": expire_at, "info": info, "channels": channels}


def validate_publication(data):
    if len(data) > MAX_PUBLISH_BYTES:
        raise Rejection(
            106, f"publication is {len(data)} bytes, at most {MAX_PUBLISH_BYTES} allowed"
        )
    try:
        value = json.loads(data)
    except ValueError:
        raise Rejection(107, "publication is not valid JSON") from None
    if not isinstance(value, dict):
        raise Rejection(107, "publication must be a JSON object")


class Handlers:
    """The three handlers on the generated message classes."""

    def __init__(self, pb, secret):
        self.pb = pb
        self.secret = secret

    def connect(self, request, metadata):
        pb = self.pb
        try:
            result = authenticate(request.data, metadata, self.secret, int(time.time()))
        except Rejection as rejection:
            return pb.ConnectResponse(error=pb.Error(code=rejection.code, message=rejection.message))
        return pb.ConnectResponse(result=pb.ConnectResult(**result))

    def publish(self, request):
        pb = self.pb
        try:
            validate_publication(request.data)
        except Rejection as rejection:
            return pb.PublishResponse(error=pb.Error(code=rejection.code, message=rejection.message))
        # No result: Centrifugo publishes the client's data as it is.
        return pb.PublishResponse()

    def rpc(self, request):
        pb = self.pb
        if request.method == "echo":
            return pb.RPCResponse(result=pb.RPCResult(data=request.data))
        return pb.RPCResponse(error=pb.Error(code=104, message="method not found"))


class PassThrough:
    """The counterpart of ``test-interceptor`` with default settings: reads
    its settings on each hook, as the component does, and passes."""

    def __init__(self, settings):
        self.settings = settings

    def before(self, request):
        if self.settings.get("before", "pass") != "pass":
            raise ValueError("the benchmark configures pass-through steps only")

    def after(self, reply):
        if self.settings.get("after", "none") != "none":
            raise ValueError("the benchmark configures pass-through steps only")
        return None


class AioInterceptor(grpc.aio.ServerInterceptor):
    """Runs a PassThrough around each unary call of a ``grpc.aio`` server."""

    def __init__(self, step):
        self.step = step

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner, step = handler.unary_unary, self.step

        async def around(request, context):
            step.before(request)
            reply = await inner(request, context)
            replaced = step.after(reply)
            return reply if replaced is None else replaced

        return grpc.unary_unary_rpc_method_handler(
            around,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class SyncInterceptor(grpc.ServerInterceptor):
    """Runs a PassThrough around each unary call of a thread-pool server."""

    def __init__(self, step):
        self.step = step

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner, step = handler.unary_unary, self.step

        def around(request, context):
            step.before(request)
            reply = inner(request, context)
            replaced = step.after(reply)
            return reply if replaced is None else replaced

        return grpc.unary_unary_rpc_method_handler(
            around,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def options():
    return [
        ("grpc.so_reuseport", 1),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]


def chain_for(scenario):
    length = CHAIN_LENGTH if scenario == "noop-3-interceptors" else 0
    return [PassThrough({}) for _ in range(length)]


async def serve_aio(args, pb, pb_grpc):
    handlers = Handlers(pb, args.secret.encode())

    class Proxy(pb_grpc.CentrifugoProxyServicer):
        async def Connect(self, request, context):
            return handlers.connect(request, context.invocation_metadata)

        async def Publish(self, request, context):
            return handlers.publish(request)

        async def RPC(self, request, context):
            return handlers.rpc(request)

    interceptors = [AioInterceptor(step) for step in chain_for(args.scenario)]
    server = grpc.aio.server(interceptors=interceptors, options=options())
    pb_grpc.add_CentrifugoProxyServicer_to_server(Proxy(), server)
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    await server.start()
    await server.wait_for_termination()


def serve_sync(args, pb, pb_grpc):
    handlers = Handlers(pb, args.secret.encode())

    class Proxy(pb_grpc.CentrifugoProxyServicer):
        def Connect(self, request, context):
            return handlers.connect(request, context.invocation_metadata)

        def Publish(self, request, context):
            return handlers.publish(request)

        def RPC(self, request, context):
            return handlers.rpc(request)

    interceptors = [SyncInterceptor(step) for step in chain_for(args.scenario)]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.threads),
        interceptors=interceptors,
        options=options(),
    )
    pb_grpc.add_CentrifugoProxyServicer_to_server(Proxy(), server)
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    server.wait_for_termination()


def exit_when_stdin_closes(then=None):
    """Ends the process once standard input reaches its end."""

    def watch():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        if then is not None:
            then()
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def worker(args, pb, pb_grpc):
    exit_when_stdin_closes()
    if args.server == "aio":
        asyncio.run(serve_aio(args, pb, pb_grpc))
    else:
        serve_sync(args, pb, pb_grpc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scenario", choices=SCENARIOS, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--proto", required=True, help="path of proto/proxy.proto")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--server", choices=("aio", "sync"), default="sync")
    parser.add_argument("--threads", type=int, default=16, help="threads of a sync server")
    args = parser.parse_args()

    pb, pb_grpc = load_stubs(args.proto)
    # No gRPC object exists before the fork: each worker starts its own.
    children = []
    for _ in range(max(1, args.workers)):
        pid = os.fork()
        if pid == 0:
            worker(args, pb, pb_grpc)
            os._exit(0)
        children.append(pid)

    def stop_workers():
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    exit_when_stdin_closes(then=stop_workers)
    # A worker that dies takes the backend down with it, loudly.
    pid, status = os.wait()
    stop_workers()
    sys.exit(f"worker {pid} exited ({status})")


if __name__ == "__main__":
    main()
