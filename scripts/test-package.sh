#!/usr/bin/env bash
# The release's Debian package in a fresh Debian root that has no Swift: made with debootstrap
# (minbase), the package installed there with apt (so its Depends: are proved to be right and
# enough), then used as an administrator would: baton --version, ldd, a plan, the README's
# tour from /usr/bin/baton, a lab run at speed; the user, folders and environment file the
# package made; systemd-analyze verify of its unit; a reinstall, a removal and a purge that
# keep the state and its tokens. Run as root after scripts/release.sh.
#
#   scripts/test-package.sh                    # the .deb in dist/
#   BATON_DEBIAN_MIRROR=http://… scripts/test-package.sh
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "test-package: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (debootstrap and chroot)"
command -v debootstrap >/dev/null || fail "debootstrap is missing: apt-get install -y debootstrap"
deb=$(ls dist/baton_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no dist/baton_*.deb: run scripts/release.sh first"

. /etc/os-release
suite=${VERSION_CODENAME:-bookworm}
mirror=${BATON_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
mirror=${mirror:-http://deb.debian.org/debian}
work=${BATON_PACKAGE_ROOT:-/var/tmp/baton-package-test}
pristine=$work/pristine.tar
root=$work/root

# A pristine root, made once per machine and kept as a tarball; each test starts from a copy.
if [ ! -f "$pristine" ]; then
  echo "test-package: debootstrap $suite (minbase) from $mirror…"
  rm -rf "$work" && mkdir -p "$work/made"
  debootstrap --variant=minbase "$suite" "$work/made" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  tar -C "$work/made" -cf "$pristine" . && rm -rf "$work/made"
fi
rm -rf "$root" && mkdir -p "$root" && tar -C "$root" -xf "$pristine"
cleanup() { umount "$root/proc" 2>/dev/null || true; }
trap cleanup EXIT
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

[ ! -e "$root/opt/swift" ] && ! in_root sh -c 'command -v swift' >/dev/null || fail "the root has a Swift toolchain"
in_root sh -c 'ls /usr/lib/x86_64-linux-gnu/libsqlite3.so.0' >/dev/null 2>&1 \
  && fail "the pristine root has SQLite already: the Depends: would not be tested"

echo "test-package: apt-get install ./$(basename "$deb") in the fresh root…"
cp "$deb" "$root/tmp/baton.deb"
in_root apt-get update -qq >/dev/null
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /tmp/baton.deb >"$work/install.log" 2>&1 \
  || { tail -20 "$work/install.log"; fail "apt-get install"; }

version=$(in_root baton --version)
echo "test-package: baton --version: $version"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [0-9a-f]{12} ]] || fail "baton --version said '$version'"
if in_root ldd /usr/bin/baton | grep -E 'libswift|libFoundation|libdispatch|not found'; then
  fail "ldd /usr/bin/baton lists a Swift library or one not found (above)"
fi
in_root ldd /usr/bin/baton | sed 's/^/  ldd: /'

# What the package made.
entry=$(in_root getent passwd baton) || fail "no user baton"
[[ "$entry" == *":/var/lib/baton:/usr/sbin/nologin" ]] || fail "user baton is '$entry'"
in_root getent group baton >/dev/null || fail "no group baton"
[ "$(in_root stat -c '%U:%G %a' /var/lib/baton)" = "baton:baton 750" ] || fail "/var/lib/baton: $(in_root stat -c '%U:%G %a' /var/lib/baton)"
[ -f "$root/etc/default/baton" ] || fail "no /etc/default/baton"
[ -f "$root/usr/share/man/man1/baton.1.gz" ] || fail "no man page"
[ -f "$root/usr/share/bash-completion/completions/baton" ] || fail "no bash completion"
[ -f "$root/usr/share/zsh/vendor-completions/_baton" ] || fail "no zsh completion"
[ -f "$root/usr/share/fish/vendor_completions.d/baton.fish" ] || fail "no fish completion"
# The unit, checked by the root's own systemd (a server has one; added after the package, so
# that the package's Depends: were proved without it), with man-db for its Documentation=.
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd man-db >"$work/systemd.log" 2>&1 \
  || { tail -20 "$work/systemd.log"; fail "apt-get install systemd man-db"; }
verify=$(in_root systemd-analyze verify /lib/systemd/system/baton.service 2>&1) \
  || { echo "$verify"; fail "systemd-analyze verify baton.service"; }
[ -z "$verify" ] || { echo "$verify"; fail "systemd-analyze verify baton.service said something"; }
in_root man -w baton-serve >/dev/null || fail "man baton-serve"
echo "test-package: systemd-analyze verify baton.service: clean; man baton-serve found"

# The README's tour, from /usr/bin/baton, in a folder with the packaged examples. Exit 0, 1 (a
# check that finds drift, a run that halts on purpose) or 3 (a migration refused as unsafe, on
# purpose); 2 (bad input: a file the package lacks) or a crash is a failure.
in_root sh -c 'mkdir -p /tmp/tour && ln -sfn /usr/share/doc/baton/examples /tmp/tour/examples'
tour=$(awk '/^## A short tour/{on=1} /^## Documents/{on=0} on && /^```sh/{code=1; next} /^```/{code=0} on && code' README.md \
  | sed 's/[[:space:]]*#.*$//' | grep '^baton ' | grep -v '^baton serve')
count=0
while IFS= read -r line; do
  count=$((count + 1))
  line=${line%% | *}   # what baton prints, not the program it is piped to (Graphviz is not here)
  set +e
  in_root sh -c "cd /tmp/tour && $line" >"$work/tour.log" 2>&1
  status=$?
  set -e
  if [ "$status" = 2 ] || [ "$status" -gt 3 ]; then
    tail -5 "$work/tour.log"
    fail "tour line '$line' exited $status"
  fi
done <<<"$tour"
[ "$count" -ge 8 ] || fail "only $count tour lines found in README.md"
echo "test-package: the README's tour, $count commands from /usr/bin/baton: each exited 0, 1 or 3"

# A lab run at speed, as the service's user, in its state folder.
in_root runuser -u baton -- baton run /usr/share/doc/baton/examples/mx-two-member-dag.yaml \
  --package exchange-2016-cu23 --yes --speed 3000 --state /var/lib/baton --run tour >/dev/null \
  || fail "a lab run as user baton in /var/lib/baton"
in_root runuser -u baton -- baton token create --state /var/lib/baton --role viewer --name vera >/dev/null \
  || fail "baton token create as user baton"
echo "test-package: a lab run and a token as user baton in /var/lib/baton"

# Reinstalling, removing and purging keep the state and the tokens.
in_root dpkg -i /tmp/baton.deb >/dev/null || fail "reinstall"
in_root dpkg --remove baton >/dev/null || fail "remove"
[ -f "$root/var/lib/baton/journal.sqlite" ] || fail "removing lost /var/lib/baton/journal.sqlite"
in_root dpkg --purge baton >/dev/null || fail "purge"
[ -f "$root/var/lib/baton/journal.sqlite" ] || fail "purging lost the state"
in_root dpkg -i /tmp/baton.deb >/dev/null || fail "install again"
tokens=$(in_root runuser -u baton -- baton token list --state /var/lib/baton)
[[ "$tokens" == *vera* ]] || fail "the token is gone: $tokens"
status=$(in_root runuser -u baton -- baton status tour --state /var/lib/baton)
[[ "$status" == "Run tour: completed"* ]] || fail "the run is gone: ${status:0:200}"
echo "test-package: reinstall, remove, purge and install again: state and tokens kept"
echo "test-package: passed"
