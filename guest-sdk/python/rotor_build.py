"""Builds a Rotor plugin component from a Python module with componentize-py.

    python rotor_build.py plugin.py -o plugin.wasm [--wit DIR]
    python rotor_build.py bindings -o DIR [--wit DIR]

1. componentize-py generates Python bindings for every WIT interface;
2. the plugin module is imported once, natively, against them: its
   decorators say which kinds it answers, and the ``wit_world.imports``
   modules it loaded say which host interfaces it uses;
3. a world with exactly those exports and imports is composed, so the
   component asks for no host interface it does not use (a tenant is only
   granted some), and componentize-py builds the component for it.

Plugins must not call the host while their module loads: neither this probe
nor componentize-py's pre-initialisation has a host to call.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

SDK_DIR = Path(__file__).resolve().parent
PACKAGE = "rotor:centrifugo@0.1.0"
WORLD = "rotor-build-plugin"

#: Registered kinds → the WIT interface exported and the class componentize-py binds.
EXPORTS: Dict[str, tuple] = {
    "connect": ("connect-handler", "ConnectHandler"),
    "refresh": ("refresh-handler", "RefreshHandler"),
    "subscribe": ("subscribe-handler", "SubscribeHandler"),
    "publish": ("publish-handler", "PublishHandler"),
    "rpc": ("rpc-handler", "RpcHandler"),
    "sub-refresh": ("sub-refresh-handler", "SubRefreshHandler"),
    "map-publish": ("map-publish-handler", "MapPublishHandler"),
    "map-remove": ("map-remove-handler", "MapRemoveHandler"),
    "shared-poll-refresh": ("shared-poll-refresh-handler", "SharedPollRefreshHandler"),
    "notify-cache-empty": ("notify-cache-empty-handler", "NotifyCacheEmptyHandler"),
    "notify-channel-state": ("notify-channel-state-handler", "NotifyChannelStateHandler"),
    "subscribe-stream": ("stream-handler", "StreamHandler"),
}

#: Host interfaces, by the binding module that wraps each.
HOST_INTERFACES = {
    "log": "log", "config": "config", "kv": "kv", "centrifugo_api": "centrifugo-api", "stream": "stream",
}

#: Host interfaces that only serve a stream handler: outside a stream, ``publish`` fails.
STREAM_INTERFACES = {"stream"}


def wit_name(name: str) -> str:
    """The name as WIT spells it: ``stream`` is a keyword, written ``%stream``."""
    return f"%{name}" if name == "stream" else name

PROBE = """
import importlib, json, sys
sys.path[:0] = json.loads(sys.argv[1])
importlib.import_module(sys.argv[2])
import rotor
loaded = sorted(name.rsplit(".", 1)[1] for name in sys.modules if name.startswith("wit_world.imports."))
print(json.dumps({"registered": rotor.registered(), "imports": loaded}))
"""


def default_wit_dir() -> Path:
    """The WIT the SDK is built against by default: its own ``wit/`` when it is
    a copy that ``rotor new`` wrote into a plugin project, else the repository's."""
    own = SDK_DIR / "wit"
    return own if own.is_dir() else SDK_DIR.parent.parent / "wit"


def componentize_py() -> List[str]:
    """The componentize-py command: beside this Python if installed there, else on PATH."""
    beside = Path(sys.executable).parent / "componentize-py"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("componentize-py")
    if found is None:
        raise SystemExit("rotor_build: componentize-py is not installed (pip install componentize-py==0.25.1)")
    return [found]


def bindings(wit: Path, out: Path, world: str = "host") -> None:
    """Writes the Python bindings of ``world`` (default: every interface) to ``out``."""
    subprocess.run(componentize_py() + ["-q", "-d", str(wit), "-w", world, "bindings", str(out)], check=True)


def compose_world(kinds: List[str], imports: List[str]) -> str:
    """The WIT world exporting ``kinds`` (and the interceptor for ``before``/``after``) and importing ``imports``."""
    lines = [f"package {PACKAGE};", "", f"world {WORLD} {{"]
    lines += [f"    import {wit_name(name)};" for name in imports]
    lines += [f"    export {EXPORTS[kind][0]};" for kind in kinds if kind in EXPORTS]
    if "before" in kinds or "after" in kinds:
        lines.append("    export interceptor;")
    lines += ["}", ""]
    return "\n".join(lines)


def entry_source(module: str, kinds: List[str]) -> str:
    """The module componentize-py builds: the plugin, then the export classes it needs."""
    classes = [EXPORTS[kind][1] for kind in kinds if kind in EXPORTS]
    if "before" in kinds or "after" in kinds:
        classes.append("Interceptor")
    return f"import {module}  # registers the handlers\nfrom rotor._exports import {', '.join(classes)}\n"


def build(plugin: Path, output: Path, wit: Path) -> dict:
    """Builds ``plugin`` (a ``.py`` file) into the component ``output``; returns what went in."""
    plugin = plugin.resolve()
    if not plugin.is_file():
        raise SystemExit(f"rotor_build: no such module: {plugin}")
    if not wit.is_dir():
        raise SystemExit(f"rotor_build: no WIT directory at {wit} (pass --wit)")
    module = plugin.stem
    with tempfile.TemporaryDirectory(prefix="rotor-build-") as scratch:
        work = Path(scratch)
        full = work / "full"
        bindings(wit, full)
        path = [str(full), str(SDK_DIR), str(plugin.parent)]
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, json.dumps(path), module],
            check=False, capture_output=True, text=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        if probe.returncode != 0:
            raise SystemExit(f"rotor_build: importing {plugin.name} failed:\n{probe.stderr}")
        found = json.loads(probe.stdout.strip().splitlines()[-1])
        kinds = found["registered"]
        if not kinds:
            raise SystemExit(
                f"rotor_build: {plugin.name} registers no handler: decorate a function with "
                "@rotor.connect, @rotor.refresh, @rotor.subscribe, @rotor.publish, @rotor.rpc, "
                "@rotor.sub_refresh, @rotor.map_publish, @rotor.map_remove, "
                "@rotor.shared_poll_refresh, @rotor.notify_cache_empty, "
                "@rotor.notify_channel_state, @rotor.subscribe_stream, @rotor.before or @rotor.after")
        imports = [HOST_INTERFACES[name] for name in HOST_INTERFACES if name in found["imports"]]
        stream_only = [name for name in imports if name in STREAM_INTERFACES]
        if stream_only and "subscribe-stream" not in kinds:
            raise SystemExit(
                f"rotor_build: {plugin.name} imports rotor.{stream_only[0]}, which only a stream "
                "handler may use: decorate a class with @rotor.subscribe_stream")

        world_dir = work / "wit"
        world_dir.mkdir()
        for source in sorted(wit.glob("*.wit")):
            shutil.copy(source, world_dir / source.name)
        world = compose_world(kinds, imports)
        (world_dir / f"{WORLD}.wit").write_text(world)
        entry_dir = work / "entry"
        entry_dir.mkdir()
        (entry_dir / "rotor_entry.py").write_text(entry_source(module, kinds))

        output.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            componentize_py() + [
                "-q", "-d", str(world_dir), "-w", WORLD, "componentize", "rotor_entry",
                "-p", str(entry_dir), "-p", str(SDK_DIR), "-p", str(plugin.parent),
                "-o", str(output),
            ],
            check=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    return {"exports": kinds, "imports": imports, "world": world, "bytes": output.stat().st_size}


def main(argv: List[str]) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(prog="rotor_build.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("plugin", help="the plugin module (.py), or `bindings` to write the bindings")
    parser.add_argument("-o", "--output", required=True, help="the component (or bindings directory) to write")
    parser.add_argument("--wit", type=Path, default=default_wit_dir(), help="the WIT directory")
    args = parser.parse_args(argv)
    if args.plugin == "bindings":
        bindings(args.wit.resolve(), Path(args.output))
        print(f"wrote the bindings of every WIT interface to {args.output}")
        return 0
    started = time.monotonic()
    built = build(Path(args.plugin), Path(args.output), args.wit.resolve())
    print(f"{args.output}: {built['bytes']} bytes in {time.monotonic() - started:.1f}s; "
          f"exports {', '.join(built['exports'])}; imports {', '.join(built['imports']) or 'no host interfaces'}")
    return 0


def cli() -> None:
    """The `rotor-build-py` console script."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
