#!/usr/bin/env bash
# A release of Baton that installs without a Swift toolchain (docs/install.md):
#
#   dist/baton_VERSION_ARCH.deb               Debian and Ubuntu: apt install ./baton_…deb
#   dist/baton-VERSION-linux-ARCH.tar.gz      other distributions: the binary, man pages,
#                                             completions, the systemd unit and a README
#
# The binary is a release build with the Swift standard library and Foundation linked in
# (--static-swift-stdlib): it needs only glibc, libstdc++, zlib and SQLite from the system
# (Depends: computed by dpkg-shlibdeps). SQLite stays the system's, so that Debian's security
# updates to it reach Baton. No network is used: the packages come from the build's checkouts.
#
#   scripts/release.sh                 # build, package, check (ldd, lintian)
#   scripts/release.sh --no-lintian    # without Debian's lintian
set -euo pipefail
cd "$(dirname "$0")/.."

lintian=yes
[ "${1:-}" = --no-lintian ] && lintian=no

version=$(sed -n 's/^    static let release = "\(.*\)"$/\1/p' Sources/baton/Baton.swift)
[ -n "$version" ] || { echo "release.sh: no 'static let release' in Sources/baton/Baton.swift" >&2; exit 1; }
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && ! git diff --quiet HEAD -- Sources Package.swift 2>/dev/null; then
  commit="$commit+changes"
fi
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
# Whoever publishes the package names themselves (BATON_MAINTAINER="Name <address>").
maintainer=${BATON_MAINTAINER:-Baton maintainers <baton@example.org>}
# The same folder and flags as the benchmarks' release build (scripts/bench-short.sh), so that
# CI builds release objects once: --static-swift-stdlib changes how every module compiles.
scratch=.build
dist=dist
stage=$dist/stage
started=$(date +%s)

# The commit goes into the binary through a header only this build sees.
trap 'rm -f Sources/CBuildInfo/commit.h' EXIT
printf '#define BATON_COMMIT "%s"\n' "$commit" > Sources/CBuildInfo/commit.h
# A build_info.o compiled before commit.h existed does not depend on it: compiled again.
touch Sources/CBuildInfo/build_info.c

echo "release.sh: baton $version (commit $commit), release build with the Swift runtime linked in…"
swift build -c release --product baton --static-swift-stdlib --scratch-path "$scratch"
built="$scratch/release/baton"

# Man pages: ArgumentParser's generate-manual (the tool behind its generate-manual plugin),
# built from the checkout this build resolved, reads every command's help from the binary.
echo "release.sh: man pages (generate-manual)…"
swift build -c release --package-path "$scratch/checkouts/swift-argument-parser" --scratch-path "$scratch/manual" \
  --product generate-manual
manuals=$scratch/man
rm -rf "$manuals" && mkdir -p "$manuals"
"$scratch/manual/release/generate-manual" "$built" --multi-page --authors "Baton's authors" -o "$manuals"
[ -f "$manuals/baton.1" ] || { echo "release.sh: generate-manual wrote no baton.1" >&2; exit 1; }
# A page per subcommand named as git's are (baton-run.1, `man baton-run`): its NAME a single
# word that man's index (lexgrog) reads; its synopsis still says `baton run`.
for page in "$manuals"/baton.*.1; do
  words=$(basename "$page" .1 | tr . ' ')
  dashed=$(basename "$page" .1 | tr . -)
  awk -v words="$words" -v dashed="$dashed" '
    /^\.Dt / { $2 = toupper(dashed) }
    /^\.Sh NAME/ { name = 1 }
    /^\.Sh SYNOPSIS/ { name = 0 }
    /^\.Nm / && name { print ".Nm " dashed; next }
    /^\.Nm$/ { print ".Nm \"" words "\""; next }
    { print }' "$page" > "$manuals/$dashed.1"
  rm "$page"
done
for page in "$manuals"/*.1; do
  awk '/^\.Xr baton\./ { gsub(/\./, "-", $2) } { print }' "$page" > "$page.new" && mv "$page.new" "$page"
done
built_seconds=$(( $(date +%s) - started ))

rm -rf "$dist"
mkdir -p "$stage"

# No library of a Swift toolchain may be needed.
if ldd "$built" | grep -E 'libswift|libFoundation|libdispatch|libBlocksRuntime|/opt/swift|/usr/lib/swift'; then
  echo "release.sh: the binary still needs the Swift toolchain's libraries (above)" >&2
  exit 1
fi

# --- The Debian package's tree ---
root=$stage/deb
install -d "$root/usr/bin" "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" \
  "$root/usr/share/zsh/vendor-completions" "$root/usr/share/fish/vendor_completions.d" \
  "$root/usr/share/doc/baton/docs" "$root/usr/share/doc/baton/examples" "$root/lib/systemd/system" \
  "$root/etc/default" "$root/DEBIAN"
# Stripped as Debian's dh_strip does.
strip --remove-section=.comment --remove-section=.note --strip-unneeded -o "$root/usr/bin/baton" "$built"
chmod 0755 "$root/usr/bin/baton"
for page in "$manuals"/*.1; do
  gzip -9n < "$page" > "$root/usr/share/man/man1/$(basename "$page").gz"
done
# bash-completion sources the file: no interpreter line.
"$root/usr/bin/baton" --generate-completion-script bash | sed '1{/^#!/d}' \
  > "$root/usr/share/bash-completion/completions/baton"
"$root/usr/bin/baton" --generate-completion-script zsh > "$root/usr/share/zsh/vendor-completions/_baton"
"$root/usr/bin/baton" --generate-completion-script fish > "$root/usr/share/fish/vendor_completions.d/baton.fish"
install -m 0644 README.md "$root/usr/share/doc/baton/README.md"
install -m 0644 docs/*.md docs/*.png "$root/usr/share/doc/baton/docs/"
cp -r examples/. "$root/usr/share/doc/baton/examples/"
find "$root/usr/share/doc/baton/examples" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
install -m 0644 packaging/debian/copyright "$root/usr/share/doc/baton/copyright"
install -D -m 0644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/baton"
printf 'baton (%s) unstable; urgency=medium\n\n  * Release %s, built from commit %s.\n\n -- %s  %s\n' \
  "$version" "$version" "$commit" "$maintainer" "$(date -R)" \
  | gzip -9n > "$root/usr/share/doc/baton/changelog.gz"
install -m 0644 packaging/baton.service "$root/lib/systemd/system/baton.service"
install -m 0644 packaging/baton.default "$root/etc/default/baton"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
echo /etc/default/baton > "$root/DEBIAN/conffiles"
chmod 0644 "$root/DEBIAN/conffiles"

# Depends: what the binary needs, as dpkg-shlibdeps works it out from its ELF needs.
mkdir -p "$stage/shlibs/debian"
printf 'Source: baton\n\nPackage: baton\nArchitecture: any\n' > "$stage/shlibs/debian/control"
libraries=$(cd "$stage/shlibs" && dpkg-shlibdeps -O "$OLDPWD/$root/usr/bin/baton" | sed -n 's/^shlibs:Depends=//p')
[ -n "$libraries" ] || { echo "release.sh: dpkg-shlibdeps found no library the binary needs" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: baton
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $libraries, adduser
Recommends: openssh-client
Suggests: postgresql-client
Section: admin
Priority: optional
Description: plans, rehearses and runs Exchange update rollouts
 Baton applies Exchange service packs, cumulative updates and security updates
 across an organization's servers, front-end pools, clusters and database
 availability groups in the order Microsoft prescribes (KB 328839 and the
 Exchange Server documentation), every step with its reason: plans proven safe,
 rehearsals on a lab twin, a durable engine that resumes where it stopped, a
 dashboard and HTTP API (the baton service), and real hosts over OpenSSH.
CONTROL
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
deb="$dist/baton_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null

# --- The tarball ---
name="baton-$version-linux-$(uname -m)"
tree=$stage/$name
install -d "$tree/bin" "$tree/share/man/man1" "$tree/share/completions" "$tree/share/systemd" "$tree/examples"
install -m 0755 "$root/usr/bin/baton" "$tree/bin/baton"
install -m 0644 "$manuals"/*.1 "$tree/share/man/man1/"
install -m 0644 "$root/usr/share/bash-completion/completions/baton" "$tree/share/completions/baton.bash"
install -m 0644 "$root/usr/share/zsh/vendor-completions/_baton" "$tree/share/completions/_baton"
install -m 0644 "$root/usr/share/fish/vendor_completions.d/baton.fish" "$tree/share/completions/baton.fish"
install -m 0644 packaging/baton.service packaging/baton.default "$tree/share/systemd/"
cp -r examples/. "$tree/examples/"
sed "s/@VERSION@/$version/g; s/@COMMIT@/$commit/g; s/@LIBRARIES@/$libraries/g" packaging/README.tarball > "$tree/README"
tarball="$dist/$name.tar.gz"
tar --owner=0 --group=0 --numeric-owner --sort=name -C "$stage" -czf "$tarball" "$name"

if [ "$lintian" = yes ]; then
  if ! command -v lintian >/dev/null; then
    echo "release.sh: lintian is not installed: sudo apt-get install -y lintian (or --no-lintian)" >&2
    exit 1
  fi
  echo "release.sh: lintian…"
  # Errors fail the release; warnings and the two overrides are printed (docs/install.md).
  lintian --fail-on error "$deb"
  lintian --show-overrides "$deb" > "$dist/lintian.txt" 2>&1 || true
  cat "$dist/lintian.txt"
fi

binary=$(stat -c %s "$root/usr/bin/baton")
echo "release.sh: $deb ($(stat -c %s "$deb") bytes), $tarball ($(stat -c %s "$tarball") bytes);" \
  "binary $binary bytes; Depends: $libraries, adduser; built in ${built_seconds} s"
