#!/bin/sh
# Builds the component {{name}}.wasm; the first build installs the SDK's npm packages.
set -e; cd "$(dirname "$0")"; [ -d node_modules/@rotor/sdk ] || npm install --no-audit --no-fund --loglevel=error; npm run --silent build
