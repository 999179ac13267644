#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the store tests and print its SQLAlchemy URL on stdout.
# Installs Debian's server package if it is missing. Prints nothing (and exits 1) if it cannot.
# `postgres.sh stop URL` stops the server that URL points at. It listens on a Unix socket in its own
# temporary folder only, so the port number never clashes with another server.
set -uo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
run_as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
if [ "${1:-}" = stop ]; then
  sock=${2#*host=}; sock=${sock%%&*}
  [ -n "$bindir" ] && run_as_pg "$bindir/pg_ctl -D $(dirname "$sock")/db stop -m fast >/dev/null" >&2
  exit 0
fi
if [ -z "$bindir" ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2 || exit 1
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bindir" ] || exit 1
fi
port=${MLFOOTPRINT_PG_PORT:-54329}
data=$(mktemp -d /tmp/mlfp-pg.XXXXXX)
sock=$data/sock
mkdir -p "$sock"
[ "$(id -u)" = 0 ] && chown -R postgres "$data"
run_as_pg "$bindir/initdb -D $data/db -A trust -U postgres >/dev/null" >&2 || exit 1
run_as_pg "$bindir/pg_ctl -D $data/db -o \"-p $port -k $sock -c listen_addresses=''\" -l $data/log -w start >/dev/null" >&2 || exit 1
run_as_pg "$bindir/createdb -h $sock -p $port -U postgres mlfootprint_test" >&2 || exit 1
echo "postgresql+psycopg://postgres@/mlfootprint_test?host=$sock&port=$port"
