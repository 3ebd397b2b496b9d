"""Runs the Python SDK's unit tests natively: generates the WIT bindings into
a scratch directory with componentize-py, puts them and the SDK on the path,
and runs the tests beside this file.

    target/guest-py/venv/bin/python guest-sdk/python/tests/run.py
"""

import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
SDK = HERE.parent
sys.path.insert(0, str(SDK))

import rotor_build  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="rotor-py-tests-") as scratch:
        rotor_build.bindings(rotor_build.default_wit_dir(), Path(scratch))
        sys.path.insert(0, scratch)
        suite = unittest.defaultTestLoader.discover(str(HERE), pattern="test_*.py")
        result = unittest.TextTestRunner(verbosity=1).run(suite)
        return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
