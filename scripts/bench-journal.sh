#!/usr/bin/env bash
# The journal's benchmarks on SQLite and PostgreSQL side by side, in one run: starts a
# PostgreSQL server of its own (initdb in a temporary folder, a free loopback port; as nobody
# when run as root), points BATON_BENCH_POSTGRES at it, runs the journal and resume
# benchmarks, then stops the server. Figures: docs/benchmarks.md.
#
#   scripts/bench-journal.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(dirname "$(readlink -f "$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -1)")")
[ -x "$bin/pg_ctl" ] || { echo "PostgreSQL is not installed: sudo apt-get install -y postgresql" >&2; exit 1; }
folder=$(mktemp -d /tmp/baton-bench-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_server=()
if [ "$(id -u)" = 0 ]; then chown nobody "$folder"; as_server=(runuser -u nobody --); fi
"${as_server[@]}" "$bin/initdb" -D "$folder/data" -U baton --auth=trust -E UTF8 --no-locale >/dev/null
"${as_server[@]}" "$bin/pg_ctl" -D "$folder/data" -l "$folder/server.log" -w \
  -o "-p $port -k $folder -c listen_addresses=127.0.0.1" start >/dev/null
trap '"${as_server[@]}" "$bin/pg_ctl" -D "$folder/data" -m immediate -w stop >/dev/null; rm -rf "$folder"' EXIT

export BATON_BENCH_POSTGRES="postgres://baton@127.0.0.1:$port/postgres?sslmode=disable"
cd Benchmarks
swift package --allow-writing-to-package-directory benchmark --filter "${FILTER:-.*journal.*|.*resume.*|.*engine.*}" "$@"
