#!/usr/bin/env bash
# Test hosts for Baton's real-host tests: one OpenSSH server per host on a loopback port,
# each with its own host key and working folder ($HOST_ROOT), all trusting one test client
# key. Each also takes password logons, and tells a session how it logged on
# (ExposeAuthInfo: $SSH_USER_AUTH names the method), as Windows sessions differ by their
# logon. Needs Debian's openssh-server and openssh-client; run as root (tests do).
#
#   scripts/test-hosts.sh start DIR NAME...   start a host per NAME; prints "NAME PORT" lines;
#                                             writes DIR/ssh_config and DIR/known_hosts
#   scripts/test-hosts.sh restart DIR NAME    stop and start NAME's sshd, as a restart would
#   scripts/test-hosts.sh stop DIR [NAME]     stop every host (or one) and leave it stopped
#   scripts/test-hosts.sh user DIR USER       make USER (a local account) with the password on
#                                             standard input, owning every host's folder
set -euo pipefail

command=${1:?usage: test-hosts.sh start|restart|stop|user DIR [NAME...]}
dir=${2:?usage: test-hosts.sh start|restart|stop|user DIR [NAME...]}
shift 2
sshd=$(command -v sshd || echo /usr/sbin/sshd)

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_one() {
  local name=$1 host="$dir/$1"
  "$sshd" -f "$host/sshd_config" -E "$host/sshd.log"
  for _ in $(seq 1 100); do
    [ -s "$host/sshd.pid" ] && kill -0 "$(cat "$host/sshd.pid")" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "test-hosts: sshd for $name did not start: $(cat "$host/sshd.log" 2>/dev/null)" >&2
  return 1
}

stop_one() {
  local host="$dir/$1"
  [ -s "$host/sshd.pid" ] || return 0
  local pid
  pid=$(cat "$host/sshd.pid")
  # The listener and every session it serves, as a machine going down would end them.
  pkill -P "$pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -f "$host/sshd.pid"
}

case "$command" in
start)
  mkdir -p "$dir" /run/sshd
  chmod 755 /run/sshd
  [ -f "$dir/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key"
  cp "$dir/client_key.pub" "$dir/authorized_keys"
  cat > "$dir/ssh_config" <<CONFIG
Host *
  User root
  IdentityFile $dir/client_key
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
  LogLevel ERROR
CONFIG
  touch "$dir/known_hosts"
  for name in "$@"; do
    host="$dir/$name"
    mkdir -p "$host/root"
    [ -f "$host/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$host/host_key"
    port=$(free_port)
    cat > "$host/sshd_config" <<CONFIG
Port $port
ListenAddress 127.0.0.1
HostKey $host/host_key
PidFile $host/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
ExposeAuthInfo yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
SetEnv HOST_ROOT=$host/root HOST_NAME=$name
MaxStartups 200:30:400
MaxSessions 200
LogLevel ERROR
CONFIG
    echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$host/host_key.pub")" >> "$dir/known_hosts"
    start_one "$name"
    echo "$name $port"
  done
  ;;
restart)
  stop_one "$1"
  sleep 1
  start_one "$1"
  ;;
stop)
  if [ $# -gt 0 ]; then
    stop_one "$1"
  else
    for host in "$dir"/*/; do [ -f "$host/sshd_config" ] && stop_one "$(basename "$host")"; done
  fi
  ;;
user)
  user=${1:?usage: test-hosts.sh user DIR USER < password}
  id -u "$user" >/dev/null 2>&1 || useradd -m -s /bin/sh "$user"
  { printf '%s:' "$user"; head -n 1; } | chpasswd
  for host in "$dir"/*/; do [ -d "$host/root" ] && chown -R "$user" "$host/root"; done
  touch "$dir/all.log"
  chown "$user" "$dir/all.log"
  ;;
*)
  echo "usage: test-hosts.sh start|restart|stop|user DIR [NAME...]" >&2
  exit 2
  ;;
esac
