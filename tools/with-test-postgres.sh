#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster for the shared-workspace tests (issue 16).
#
# Usage: tools/with-test-postgres.sh COMMAND [ARG...]
#
# As root (CI, `make test`): installs nothing (make deps does), creates the OS users the
# identity tests act as (blastview: the service role that owns the schema; bvlead, bvana,
# bvben: a lead and two raters) if missing, initialises a cluster in a fresh temporary
# directory owned by the postgres OS user, starts it on a Unix socket only (no TCP), creates
# the service role, runs COMMAND with
#   BLASTVIEW_TEST_PG=1  BLASTVIEW_TEST_PG_SOCKET=<socket dir>  BLASTVIEW_TEST_PG_BIN=<server bin dir>
# (the second-host test starts its own TLS cluster from BLASTVIEW_TEST_PG_BIN, since the
# addresses it listens on exist only once that test has made its network namespace)
# and stops and removes the cluster however COMMAND ends (its exit status is kept).
#
# Authentication is peer (the OS user is the role). pg_ident lets root, and only root, also
# connect as the test roles, so the test process can play each of them; every other OS user
# maps to its own name only (the identity tests run the binary as bvben and rely on that).
#
# Not root: the PostgreSQL tests cannot create OS users, so the command runs without the
# variable and those tests skip, except under CI=true, where they fail.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "with-test-postgres: not root; the PostgreSQL tests will skip (they fail under CI=true)" >&2
  exec "$@"
fi

bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
  [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && bindir="$d"
done
if [ -z "$bindir" ]; then
  echo "with-test-postgres: no PostgreSQL server found (apt-get install postgresql)" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  exec "$@"
fi

# bvjudge: an adjudicator, a user of its own because roles are cluster-wide and tests running
# at once must not flip each other's roles.
for u in postgres blastview bvlead bvana bvben bvjudge; do
  if ! id -u "$u" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /bin/sh "$u"
  fi
done

root_dir="$(mktemp -d /tmp/blastview-pg.XXXXXX)"
chmod 755 "$root_dir"
data="$root_dir/data"
socket="$root_dir/socket"
mkdir "$data" "$socket"
chown postgres "$data" "$socket"
chmod 700 "$data"
chmod 755 "$socket"
log="$root_dir/server.log"
touch "$log"
chown postgres "$log"

as_postgres() { runuser -u postgres -- "$@"; }

cleanup() {
  as_postgres "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$root_dir"
}
trap cleanup EXIT

as_postgres "$bindir/initdb" -D "$data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
  --encoding=UTF8 --locale=C.UTF-8 >"$root_dir/initdb.log" 2>&1 || {
  cat "$root_dir/initdb.log" >&2
  exit 1
}
cat >"$data/pg_hba.conf" <<HBA
# BlastView test cluster: Unix socket only, peer authentication.
local all postgres peer
local all all peer map=bvtest
HBA
cat >"$data/pg_ident.conf" <<IDENT
bvtest /^(.*)\$ \1
bvtest root blastview
bvtest root bvlead
bvtest root bvana
bvtest root bvben
bvtest root bvjudge
IDENT
as_postgres "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 \
  -o "-k $socket -c listen_addresses='' -c max_connections=100" start >/dev/null || {
  cat "$log" >&2
  exit 1
}
runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h "$socket" -d postgres \
  -c "CREATE ROLE blastview LOGIN CREATEROLE CREATEDB"

export BLASTVIEW_TEST_PG=1
export BLASTVIEW_TEST_PG_SOCKET="$socket"
export BLASTVIEW_TEST_PG_BIN="$bindir"
set +e
"$@"
status=$?
set -e
exit $status
