#!/usr/bin/env bash
# Make sure Debian's Chromium (browser tests of the web pages) and jq (the README's examples,
# run as a test) are installed. Idempotent: does nothing when both are already on the PATH.
# Never uses Playwright's own browser download. Needs root and apt-get; otherwise fails with a clear message.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v jq >/dev/null 2>&1; then
  exit 0
fi

fail() {
  echo "install_browser.sh: $*" >&2
  echo "install_browser.sh: install Debian's chromium package (apt-get install -y chromium)" \
    "as root, then run the browser tests again." >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "chromium is missing and apt-get is not available"
[ "$(id -u)" -eq 0 ] || fail "chromium is missing and this script is not running as root"

export DEBIAN_FRONTEND=noninteractive
# Another apt/dpkg run (e.g. a parallel test session) may hold the lock: wait for it.
apt_opts=(-o DPkg::Lock::Timeout=300)
apt-get "${apt_opts[@]}" update -q || fail "apt-get update failed"
apt-get "${apt_opts[@]}" install -y -q --no-install-recommends chromium jq \
  || fail "apt-get install chromium jq failed"
command -v chromium >/dev/null 2>&1 || fail "chromium is still not on the PATH after installing"
command -v jq >/dev/null 2>&1 || fail "jq is still not on the PATH after installing"
echo "install_browser.sh: installed $(chromium --version 2>/dev/null || echo chromium)"
