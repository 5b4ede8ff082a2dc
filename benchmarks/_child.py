"""Entry point of benchmark child processes (started by ``common.run_in_child``).

Usage: ``python benchmarks/_child.py module:function payload.json out.json``. Imports
``module`` from ``benchmarks/``, calls ``function(payload)`` and writes its JSON-ready return
value to ``out.json``. Any exception prints its traceback and exits with code 1.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Run one job; see the module docstring."""
    target, payload_path, out_path = argv
    module_name, _, func_name = target.partition(":")
    func = getattr(importlib.import_module(module_name), func_name)
    payload = json.loads(Path(payload_path).read_text())
    result = func(payload)
    from common import write_json

    write_json(Path(out_path), result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
