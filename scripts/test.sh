#!/usr/bin/env bash
# Set up the project virtual environment, then run the linters and the whole test suite.
EXTRAS="${EXTRAS:-dev,torch}"   # torch: search="gp" and the network tests
source "$(dirname "$0")/_env.sh"
.venv/bin/ruff check automl_bridge tests examples benchmarks
.venv/bin/mypy automl_bridge
exec .venv/bin/python -m pytest -q "$@"
