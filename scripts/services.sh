#!/usr/bin/env bash
# Throwaway PostgreSQL cluster and S3-compatible server on loopback, for tests and benchmarks.
#
# Source this file, then call `services_start`; it exports
#   ZKFLEET_TEST_DATABASE_URL   postgres://…  (a fresh cluster, from the installed server binaries)
#   ZKFLEET_TEST_S3_ENDPOINT    http://127.0.0.1:PORT  (moto's S3 server, from PyPI)
#   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION for that server
# unless they are already set (then the given services are used and nothing is started).
# `services_stop` stops what `services_start` started; it is also installed as an EXIT trap.

set -euo pipefail

SERVICES_DIR=""
SERVICES_PG_STARTED=0
SERVICES_S3_PID=""

_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

_pg_bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
    return
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  echo "error: no PostgreSQL server binaries (initdb, pg_ctl) found; install the 'postgresql' package" >&2
  return 1
}

# Run a command as the cluster owner: PostgreSQL refuses to run as root.
_as_pg_owner() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

services_start() {
  SERVICES_DIR=$(mktemp -d /tmp/zkfleet-services.XXXXXX)
  chmod 755 "$SERVICES_DIR"
  trap services_stop EXIT

  if [ -z "${ZKFLEET_TEST_DATABASE_URL:-}" ]; then
    local bindir port
    bindir=$(_pg_bindir)
    port=$(_free_port)
    mkdir -p "$SERVICES_DIR/pg"
    [ "$(id -u)" = "0" ] && chown postgres "$SERVICES_DIR/pg"
    _as_pg_owner "$bindir/initdb" -D "$SERVICES_DIR/pg/data" -U zkfleet --auth=trust \
      --encoding=UTF8 --no-instructions >"$SERVICES_DIR/initdb.log" 2>&1 \
      || { cat "$SERVICES_DIR/initdb.log" >&2; return 1; }
    # fsync off: a throwaway test cluster needs no durability, and it makes tests faster.
    _as_pg_owner "$bindir/pg_ctl" -D "$SERVICES_DIR/pg/data" -w -t 60 \
      -o "-p $port -k $SERVICES_DIR/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      -l "$SERVICES_DIR/pg/server.log" start >/dev/null
    SERVICES_PG_STARTED=1
    SERVICES_PG_BINDIR=$bindir
    "$bindir/createdb" -h 127.0.0.1 -p "$port" -U zkfleet zkfleet_test
    export ZKFLEET_TEST_DATABASE_URL="postgres://zkfleet@127.0.0.1:$port/zkfleet_test"
    echo "services: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
  fi

  if [ -z "${ZKFLEET_TEST_S3_ENDPOINT:-}" ]; then
    if ! command -v moto_server >/dev/null 2>&1; then
      echo "error: moto_server not found; install it with: python3 -m pip install 'moto[server]'" >&2
      return 1
    fi
    local s3port
    s3port=$(_free_port)
    moto_server -H 127.0.0.1 -p "$s3port" >"$SERVICES_DIR/s3.log" 2>&1 &
    SERVICES_S3_PID=$!
    for _ in $(seq 1 100); do
      if curl -fsS "http://127.0.0.1:$s3port/" >/dev/null 2>&1; then break; fi
      sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$s3port/" >/dev/null \
      || { echo "error: S3 server did not start:" >&2; cat "$SERVICES_DIR/s3.log" >&2; return 1; }
    export ZKFLEET_TEST_S3_ENDPOINT="http://127.0.0.1:$s3port"
    export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-zkfleet-test}"
    export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-zkfleet-test-secret}"
    export AWS_REGION="${AWS_REGION:-us-east-1}"
    echo "services: S3-compatible server (moto) on 127.0.0.1:$s3port" >&2
  fi
}

services_stop() {
  if [ "$SERVICES_PG_STARTED" = "1" ]; then
    _as_pg_owner "$SERVICES_PG_BINDIR/pg_ctl" -D "$SERVICES_DIR/pg/data" -m immediate stop >/dev/null 2>&1 || true
    SERVICES_PG_STARTED=0
  fi
  if [ -n "$SERVICES_S3_PID" ]; then
    kill "$SERVICES_S3_PID" 2>/dev/null || true
    wait "$SERVICES_S3_PID" 2>/dev/null || true
    SERVICES_S3_PID=""
  fi
  if [ -n "$SERVICES_DIR" ] && [ -d "$SERVICES_DIR" ]; then
    rm -rf "$SERVICES_DIR"
  fi
  SERVICES_DIR=""
}
