#!/usr/bin/env bash
# The benchmarks' short mode, for CI: every figure's command at a small size, to show each
# still runs (the figures in docs/benchmarks.md come from the long runs by hand).
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --product baton --static-swift-stdlib >/dev/null
baton=.build/release/baton
"$baton" generate-inventory --servers 200 --clusters 20 > /tmp/baton-bench-short.yaml
"$baton" quality /tmp/baton-bench-short.yaml --package exchange-2003-sp2 --parallel 16 --batches 1,16
if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/sshd ]; then
  BATON="$baton" scripts/bench-vs-ansible.sh 10 5
fi
