#!/usr/bin/env bash
# Set up the project virtual environment, then run the linters and the whole test suite.
# torch: search="gp" and the network tests; aws, gcp, azure: the cloud adapters' offline tests;
# postgres: the distributed tests, against a PostgreSQL server started here on loopback
# (Debian's package, installed if missing) and stopped at the end. With
# AUTOML_BRIDGE_TEST_PG_URL already set, that server is used instead; without any server the
# distributed tests are skipped.
EXTRAS="${EXTRAS:-dev,torch,aws,gcp,azure,postgres}"
source "$(dirname "$0")/_env.sh"
.venv/bin/ruff check automl_bridge tests examples benchmarks
.venv/bin/mypy automl_bridge
if [ -z "${AUTOML_BRIDGE_TEST_PG_URL:-}" ]; then
  export PGTEST_DIR="${PGTEST_DIR:-$(mktemp -d /tmp/automl-bridge-test-pg.XXXXXX)}"
  trap 'bash scripts/postgres.sh stop' EXIT
  if started="$(bash scripts/postgres.sh start)"; then
    eval "$started"
  else
    echo "warning: no PostgreSQL server; the distributed tests will be skipped" >&2
  fi
fi
.venv/bin/python -m pytest -q "$@"
