#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback for the store tests and
# prints the URL to use as CONNSPEC_TEST_POSTGRES_URL. Installs the server
# from Debian's packages when it is missing. Usage: eval "$(.ci/postgres.sh)"
set -euo pipefail
# Say which step failed: the caller sees only this script's standard error.
trap 'echo ".ci/postgres.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "installing PostgreSQL" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
# The server refuses to run as root: use an unprivileged user of our own.
id connspecpg >/dev/null 2>&1 || useradd --system --no-create-home connspecpg
dir=$(mktemp -d /tmp/connspec-pg.XXXXXX)
# On failure show the server's log, then remove the cluster's folder; on
# success the stop command below removes it.
trap 'status=$?; if [ "$status" -ne 0 ]; then [ -f "$dir/log" ] && tail -20 "$dir/log" >&2; rm -rf "$dir"; fi' EXIT
chown connspecpg "$dir"
su connspecpg -s /bin/sh -c "'$bindir/initdb' -D '$dir/data' -A trust -U postgres >/dev/null"
# From 55432 on, the first port the server can bind: another cluster (a
# second checkout's CI, say) may hold one.
start() {
  su connspecpg -s /bin/sh -c "'$bindir/pg_ctl' -D '$dir/data' -l '$dir/log' -w -o \"-p $1 -k $dir -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null"
}
port=${PGPORT_CONNSPEC:-55432}
tries=20
until start "$port" 2>/dev/null; do
  tries=$((tries - 1))
  if [ "$tries" -eq 0 ] || ! grep -q "Address already in use" "$dir/log"; then
    start "$port" # once more, with its messages, to fail here
  fi
  port=$((port + 1))
done
echo "export CONNSPEC_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
echo "export CONNSPEC_TEST_POSTGRES_STOP=\"su connspecpg -s /bin/sh -c '$bindir/pg_ctl -D $dir/data -m fast stop'; rm -rf '$dir'\""
