#!/usr/bin/env bash
# The journal's benchmarks on SQLite and PostgreSQL side by side, in one run: starts a
# PostgreSQL server of its own (initdb in a temporary folder, a free loopback port; as nobody
# when run as root), points BATON_BENCH_POSTGRES at it, runs the journal and resume
# benchmarks, then stops the server. Figures: docs/benchmarks.md.
#
#   scripts/bench-journal.sh
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/postgres-server.sh

export BATON_BENCH_POSTGRES="$postgres_address"
cd Benchmarks
swift package --allow-writing-to-package-directory benchmark --filter "${FILTER:-.*journal.*|.*resume.*|.*engine.*}" "$@"
