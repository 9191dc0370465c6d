#!/usr/bin/env bash
# A team's journal under load: one PostgreSQL server (started here, on loopback), and
# CONTROLLERS controllers (default 10), each a `baton run` process driving a lab run of a
# generated organization of about 1,000 machines on a twin of its own, all at once; first
# one controller alone, for comparison. Prints each controller's time and peak memory and
# the journal's durable transitions per second. Figures: docs/benchmarks.md.
#
#   scripts/bench-team.sh                     # 10 controllers, 812 servers + 70 clusters each
#   CONTROLLERS=4 SERVERS=200 scripts/bench-team.sh
set -euo pipefail
cd "$(dirname "$0")/.."
controllers=${CONTROLLERS:-10}
servers=${SERVERS:-812}
clusters=${CLUSTERS:-70}
[ -x /usr/bin/time ] || { echo "GNU time is not installed: sudo apt-get install -y time" >&2; exit 1; }

swift build -c release --product baton --static-swift-stdlib >/dev/null
baton=$(swift build -c release --show-bin-path)/baton
source scripts/postgres-server.sh
psql=$(command -v psql || echo "$bin/psql")
work="$postgres_folder/work"
mkdir -p "$work"
"$baton" generate-inventory --servers "$servers" --clusters "$clusters" > "$work/organization.yaml"

# Runs controllers 1..$1 at once; prints one line per controller and the totals.
drive() {
  local count=$1 name=$2 started ended
  started=$(date +%s.%N)
  for i in $(seq 1 "$count"); do
    /usr/bin/time -f "%e %M" -o "$work/$name-$i.time" "$baton" run "$work/organization.yaml" \
      --package exchange-2003-sp2 --journal "$postgres_address" --state "$work/state-$name-$i" \
      --twin "$name-$i" --run "$name-$i" --yes --json > "$work/$name-$i.out" 2>&1 &
  done
  local failed=0
  for job in $(jobs -p); do wait "$job" || failed=$((failed + 1)); done
  ended=$(date +%s.%N)
  local steps machines transitions
  steps=$("$psql" "$postgres_address" -Atc "SELECT count(*) FROM baton.step WHERE run LIKE '$name-%' AND state = 'succeeded'")
  transitions=$("$psql" "$postgres_address" -Atc "SELECT count(*) FROM baton.transition WHERE run LIKE '$name-%'")
  machines=$(grep -c '^  - name:' "$work/organization.yaml" || true)
  for i in $(seq 1 "$count"); do
    read -r seconds kilobytes < "$work/$name-$i.time"
    printf '  controller %2d: %6.1f s, peak %4d MB\n' "$i" "$seconds" $((kilobytes / 1024))
  done
  python3 - "$count" "$started" "$ended" "$steps" "$transitions" "$failed" <<'PY'
import sys
count, started, ended, steps, transitions, failed = sys.argv[1:]
wall = float(ended) - float(started)
print(f"  {count} controllers: {wall:.1f} s wall, {steps} steps succeeded, {transitions} transitions journaled, "
      f"{int(transitions) / wall:,.0f} transitions/s, {failed} runs not completed")
PY
}

echo "One PostgreSQL 15 server on loopback; each controller: $(grep -c 'name:' "$work/organization.yaml") named machines and groups, its own twin."
echo "1 controller alone:"
drive 1 alone
echo "$controllers controllers at once:"
drive "$controllers" team
"$baton" status --journal "$postgres_address" --state "$work/state" | awk '{print $2}' | sort | uniq -c
