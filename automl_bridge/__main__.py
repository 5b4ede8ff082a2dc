"""``python -m automl_bridge``: the same as the ``automl-bridge`` command.

Example:
    python -m automl_bridge backends
"""

from __future__ import annotations

from automl_bridge.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
