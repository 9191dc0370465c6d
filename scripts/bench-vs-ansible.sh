#!/usr/bin/env bash
# Baton and Ansible side by side: the same rolling job over N real test hosts (one OpenSSH
# server each, on loopback, scripts/test-hosts.sh), P hosts at a time, the same commands per
# host. Prints each tool's controller wall time and CPU time (the tool and every ssh it
# starts) and their ratio, measured in the same run.
#
#   scripts/bench-vs-ansible.sh [N hosts, default 50] [P at a time, default 10]
#   BATON_ONLY=1 scripts/bench-vs-ansible.sh 200 50     # Baton alone (no Ansible install)
#
# The job per host is what Baton plans for a stand-alone Exchange 2003 server and a service
# pack: backup, quiesce, check-installers, install, verify-version, restore-services, backup
# (7 commands; the restart is skipped as nobody asks for one). Each command appends a line to
# a file in the host's folder. Ansible runs them as `shell` tasks with pipelining and
# `serial: P`; Baton with `--parallel P`. Needs root, openssh-server, python3; installs
# ansible-core from PyPI when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

hosts=${1:-50}
parallel=${2:-10}
work=$(mktemp -d /tmp/baton-bench-XXXXXX)
trap 'scripts/test-hosts.sh stop "$work/hosts" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

baton=${BATON:-.build/release/baton}
if [ ! -x "$baton" ]; then swift build -c release --product baton --static-swift-stdlib >/dev/null; fi
if [ -z "${BATON_ONLY:-}" ] && ! command -v ansible-playbook >/dev/null; then
  python3 -m pip install -q ansible-core
  if command -v pyenv >/dev/null; then pyenv rehash; fi
fi

names=$(for i in $(seq 1 "$hosts"); do printf 'H%d ' "$i"; done)
# shellcheck disable=SC2086
scripts/test-hosts.sh start "$work/hosts" $names > "$work/ports"

# Baton: the inventory, a shell profile, a hosts: entry each.
{
  echo "organization: bench"
  echo "servers:"
  for name in $names; do
    echo "  - {name: $name, product: exchange-2003, level: sp1, os: windows-2003}"
  done
  cat <<YAML
ssh:
  config: $work/hosts/ssh_config
profiles:
  files:
    kind: shell
    commands:
      probe: "true"
      restart: "true"
      backup: 'echo "backup {{what}}" >> "\$HOST_ROOT/actions.log"'
      quiesce: 'echo quiesce >> "\$HOST_ROOT/actions.log"'
      check-installers: 'echo check-installers >> "\$HOST_ROOT/actions.log"'
      install: 'echo "install {{package}}" >> "\$HOST_ROOT/actions.log"; echo "{{build}}" > "\$HOST_ROOT/version"'
      verify-version: 'echo verify-version >> "\$HOST_ROOT/actions.log"; [ "\$(cat "\$HOST_ROOT/version")" = "{{build}}" ]'
      restore-services: 'echo restore-services >> "\$HOST_ROOT/actions.log"'
hosts:
YAML
  while read -r name port; do
    echo "  $name: {address: 127.0.0.1, port: $port, via: ssh, profile: files}"
  done < "$work/ports"
} > "$work/inventory.yaml"

# Ansible: the same hosts and commands.
{
  echo "[exchange]"
  while read -r name port; do echo "$name ansible_host=127.0.0.1 ansible_port=$port"; done < "$work/ports"
} > "$work/ansible-hosts"
cat > "$work/ansible.cfg" <<CFG
[defaults]
inventory = $work/ansible-hosts
forks = $parallel
host_key_checking = True
gathering = explicit
interpreter_python = /usr/bin/python3
stdout_callback = default
[ssh_connection]
pipelining = True
ssh_args = -F $work/hosts/ssh_config -o ControlMaster=auto -o ControlPersist=120s
control_path_dir = $work/cp
CFG
cat > "$work/playbook.yml" <<'YAML'
- hosts: exchange
  remote_user: root
  serial: "{{ batch }}"
  tasks:
    - shell: echo "backup databases,system-state" >> "$HOST_ROOT/actions.log"
    - shell: echo quiesce >> "$HOST_ROOT/actions.log"
    - shell: echo check-installers >> "$HOST_ROOT/actions.log"
    - shell: echo "install exchange-2003-sp2" >> "$HOST_ROOT/actions.log"; echo 6.5.7638.2 > "$HOST_ROOT/version"
    - shell: echo verify-version >> "$HOST_ROOT/actions.log"; [ "$(cat "$HOST_ROOT/version")" = 6.5.7638.2 ]
    - shell: echo restore-services >> "$HOST_ROOT/actions.log"
    - shell: echo "backup databases" >> "$HOST_ROOT/actions.log"
YAML

measure() { # label, command…: prints "label wall user sys"
  local label=$1
  shift
  /usr/bin/time -f "$label %e %U %S" -o "$work/time-$label" "$@" > "$work/out-$label" 2>&1 || {
    echo "$label failed:" >&2
    tail -20 "$work/out-$label" >&2
    exit 1
  }
  cat "$work/time-$label"
}

baton_line=$(measure baton "$baton" run "$work/inventory.yaml" --package exchange-2003-sp2 --state "$work/state" \
  --yes --parallel "$parallel")
steps=$(grep -c ' succeeded ' "$work/out-baton" || true)
for host in "$work"/hosts/H*/root; do
  [ "$(grep -c . "$host/actions.log")" = 7 ] || { echo "baton: $host did not get 7 commands" >&2; exit 1; }
  rm "$host/actions.log"
done

read -r _ bw bu bs <<<"$baton_line"
bcpu=$(python3 -c "print(round($bu + $bs, 2))")
echo "hosts $hosts, $parallel at a time, 7 commands each ($((hosts * 7)) commands)"
printf '%-8s wall %7.2f s   CPU %7.2f s   (%d steps: %.1f ms CPU and %.1f ms wall a step)\n' baton "$bw" "$bcpu" \
  "$steps" "$(python3 -c "print($bcpu * 1000 / max($steps, 1))")" "$(python3 -c "print($bw * 1000 / max($steps, 1))")"

if [ -n "${BATON_ONLY:-}" ]; then exit 0; fi
ansible_line=$(cd "$work" && ANSIBLE_CONFIG="$work/ansible.cfg" measure ansible ansible-playbook "$work/playbook.yml" \
  -e "batch=$parallel")
for host in "$work"/hosts/H*/root; do
  [ "$(grep -c . "$host/actions.log")" = 7 ] || { echo "ansible: $host did not get 7 commands" >&2; exit 1; }
done
read -r _ aw au as <<<"$ansible_line"
acpu=$(python3 -c "print(round($au + $as, 2))")
printf '%-8s wall %7.2f s   CPU %7.2f s\n' ansible "$aw" "$acpu"
python3 -c "print(f'ratio    wall {$aw / $bw:.1f}x   CPU {$acpu / max($bcpu, 0.01):.1f}x  (Ansible over Baton)')"
