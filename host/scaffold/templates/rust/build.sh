#!/bin/sh
# Builds the component {{name}}.wasm (needs rustup's wasm32-wasip2 target, added here if missing).
set -e; cd "$(dirname "$0")"; rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2; cargo build --release --target wasm32-wasip2; cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" {{name}}.wasm
