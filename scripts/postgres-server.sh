# Sourced by the benchmark scripts: starts a PostgreSQL server of their own (initdb in a
# temporary folder, a free loopback port; as nobody when run as root), stopped and removed
# when the script exits. Sets $postgres_address (postgres://baton@127.0.0.1:PORT/postgres).
bin=$(dirname "$(readlink -f "$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -1)")")
[ -x "$bin/pg_ctl" ] || { echo "PostgreSQL is not installed: sudo apt-get install -y postgresql" >&2; exit 1; }
postgres_folder=$(mktemp -d /tmp/baton-bench-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_server=()
# As nobody, from a folder nobody can enter (a clone in a private home folder is not one).
if [ "$(id -u)" = 0 ]; then chown nobody "$postgres_folder"; as_server=(runuser -u nobody -- env --chdir=/); fi
"${as_server[@]}" "$bin/initdb" -D "$postgres_folder/data" -U baton --auth=trust -E UTF8 --no-locale >/dev/null
"${as_server[@]}" "$bin/pg_ctl" -D "$postgres_folder/data" -l "$postgres_folder/server.log" -w \
  -o "-p $port -k $postgres_folder -c listen_addresses=127.0.0.1 ${POSTGRES_OPTIONS:-}" start >/dev/null
trap '"${as_server[@]}" "$bin/pg_ctl" -D "$postgres_folder/data" -m immediate -w stop >/dev/null; rm -rf "$postgres_folder"' EXIT
postgres_address="postgres://baton@127.0.0.1:$port/postgres?sslmode=disable"
