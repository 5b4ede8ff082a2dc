#!/usr/bin/env bash
# A throw-away PostgreSQL server on loopback for the distributed tests and benchmarks.
#
#   eval "$(bash scripts/postgres.sh start)"   # prints: export AUTOML_BRIDGE_TEST_PG_URL=...
#   bash scripts/postgres.sh stop
#
# Uses Debian's server package (installs it with apt-get when it is missing and this runs as
# root). The cluster lives in $PGTEST_DIR (default /tmp/automl-bridge-pg), listens on
# 127.0.0.1:$PGTEST_PORT (default: the first free port from 55432) only, and has one role whose password holds special
# characters (so the tests also check that such passwords work). Nothing outside the folder
# is changed; "stop" removes it.
set -euo pipefail
DIR="${PGTEST_DIR:-/tmp/automl-bridge-pg}"
PORT="${PGTEST_PORT:-}"
ROLE="automl_bridge"
PASSWORD='p@ss:w/rd{x}%'           # percent-encoded in the URL below
PASSWORD_URL='p%40ss%3Aw%2Frd%7Bx%7D%25'
DB="automl_bridge_test"

bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

as_owner() {  # initdb and postgres refuse to run as root
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

free_port() {
  local p
  for p in $(seq 55432 55499); do
    if ! (echo > "/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

start() {
  local bin
  if ! bin="$(bindir)"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing postgresql (Debian package)..." >&2
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql \
        >/dev/null) >&2
      bin="$(bindir)"
    else
      echo "PostgreSQL is not installed and cannot be installed here" >&2
      return 1
    fi
  fi
  if [ -f "$DIR/data/postmaster.pid" ] && as_owner "'$bin/pg_ctl' -D '$DIR/data' status" >/dev/null 2>&1; then
    PORT="$(sed -n 4p "$DIR/data/postmaster.pid")"
    echo "export AUTOML_BRIDGE_TEST_PG_URL='postgresql://$ROLE:$PASSWORD_URL@127.0.0.1:$PORT/$DB'"
    return 0
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR"
  [ -n "$PORT" ] || PORT="$(free_port)"
  [ "$(id -u)" = 0 ] && chown postgres "$DIR"
  as_owner "'$bin/initdb' -D '$DIR/data' -A trust --auth-host=scram-sha-256 -U postgres" >/dev/null
  as_owner "'$bin/pg_ctl' -D '$DIR/data' -l '$DIR/log' -w -o \"-c listen_addresses=127.0.0.1 -p $PORT -k '$DIR' -c max_connections=200 -c fsync=off\" start" >/dev/null
  as_owner "'$bin/psql' -h '$DIR' -p $PORT -U postgres -q -v ON_ERROR_STOP=1" >/dev/null <<SQL
CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
CREATE DATABASE $DB OWNER $ROLE;
SQL
  echo "export AUTOML_BRIDGE_TEST_PG_URL='postgresql://$ROLE:$PASSWORD_URL@127.0.0.1:$PORT/$DB'"
}

stop() {
  local bin
  bin="$(bindir)" || return 0
  if [ -d "$DIR/data" ]; then
    as_owner "'$bin/pg_ctl' -D '$DIR/data' -m immediate stop" >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
