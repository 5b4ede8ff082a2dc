#!/usr/bin/env bash
# Set up the project virtual environment, then run the linters and the whole test suite.
# torch: search="gp" and the network tests; aws, gcp, azure: the cloud adapters' offline tests
EXTRAS="${EXTRAS:-dev,torch,aws,gcp,azure}"
source "$(dirname "$0")/_env.sh"
.venv/bin/ruff check automl_bridge tests examples benchmarks
.venv/bin/mypy automl_bridge
exec .venv/bin/python -m pytest -q "$@"
