#!/usr/bin/env bash
# Every test suite, on any machine: installs what the tests need where it can (as root, with
# apt-get and pip), or says exactly what to install and stops; then builds (a warning in
# Baton's own code fails the build) and runs every suite. No suite is skipped.
#
#   scripts/test.sh                 # install what is missing, build, run every suite
#   scripts/test.sh --setup         # only install (or list) what the tests need
#   scripts/test.sh --filter Lab    # arguments after the first go to `swift test`
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the suites drive: Graphviz (`baton plan --format dot` must draw), Chromium
# (the dashboard in a real browser), OpenSSL (a certificate for HTTPS), OpenSSH (real test
# hosts on loopback), util-linux's `script` (a pseudo-terminal for the progress display),
# passwd (a local account for the test hosts' password logons).
missing=()
command -v dot >/dev/null || missing+=(graphviz)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null \
  || missing+=(chromium)
command -v openssl >/dev/null || missing+=(openssl)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v script >/dev/null || missing+=(bsdutils)
# useradd and chpasswd: the test hosts' password logons use a local account.
command -v useradd >/dev/null && command -v chpasswd >/dev/null || missing+=(passwd)
command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing ${missing[*]} (apt-get)…"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "The tests need Debian's ${missing[*]}. Install them, then run this again:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
# schemathesis (PyPI) checks the live API against its OpenAPI document.
if ! command -v schemathesis >/dev/null; then
  echo "Installing schemathesis (pip)…"
  python3 -m pip install -q schemathesis || true
  if command -v pyenv >/dev/null; then pyenv rehash; fi
  if ! command -v schemathesis >/dev/null; then
    echo "The tests need schemathesis. Install it, then run this again:" >&2
    echo "  python3 -m pip install schemathesis" >&2
    exit 1
  fi
fi
# The tree-sitter PowerShell grammar (PyPI) parses every PowerShell command Baton renders.
if ! python3 -c 'import tree_sitter, tree_sitter_powershell' 2>/dev/null; then
  echo "Installing tree-sitter and tree-sitter-powershell (pip)…"
  python3 -m pip install -q tree-sitter tree-sitter-powershell || true
  if ! python3 -c 'import tree_sitter, tree_sitter_powershell' 2>/dev/null; then
    echo "The tests need the tree-sitter PowerShell grammar. Install it, then run this again:" >&2
    echo "  python3 -m pip install tree-sitter tree-sitter-powershell" >&2
    exit 1
  fi
fi
# aiosmtpd (PyPI): a real SMTP server with STARTTLS that the email notifications go through.
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  echo "Installing aiosmtpd (pip)…"
  python3 -m pip install -q aiosmtpd || true
  if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
    echo "The tests need aiosmtpd. Install it, then run this again:" >&2
    echo "  python3 -m pip install aiosmtpd" >&2
    exit 1
  fi
fi
[ "${1:-}" = --setup ] && exit 0

# A warning in Baton's own sources or tests fails the run; the packages it uses are theirs.
log=$(mktemp)
if ! swift build --build-tests 2>&1 | tee "$log"; then exit 1; fi
if grep -E "^$PWD/(Sources|Tests|Benchmarks)/.*: warning:" "$log"; then
  echo "Baton's own code has warnings (above); fix them." >&2
  exit 1
fi
exec swift test --skip-build "$@"
