#!/bin/sh
# Builds the component {{name}}.wasm; the first build installs componentize-py (pinned) into .venv.
set -e; cd "$(dirname "$0")"; [ -x .venv/bin/componentize-py ] || { python3 -m venv .venv && .venv/bin/pip install --quiet --disable-pip-version-check -r rotor-sdk/requirements.txt; }; .venv/bin/python rotor-sdk/rotor_build.py plugin.py -o {{name}}.wasm
