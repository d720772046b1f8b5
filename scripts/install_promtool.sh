#!/usr/bin/env bash
# Make sure promtool (Debian's prometheus package) is installed, to check the alerting rules
# shipped in docs/alerts/ (tests/sla/test_alert_rules.py). Idempotent: does nothing when
# promtool is already on the PATH. Needs root and apt-get; otherwise fails with a clear message.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  exit 0
fi

fail() {
  echo "install_promtool.sh: $*" >&2
  echo "install_promtool.sh: install Debian's prometheus package" \
    "(apt-get install -y --no-install-recommends prometheus) as root, then run the tests again." >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "promtool is missing and apt-get is not available"
[ "$(id -u)" -eq 0 ] || fail "promtool is missing and this script is not running as root"

export DEBIAN_FRONTEND=noninteractive
# Another apt/dpkg run (e.g. install_browser.sh in a parallel session) may hold the lock.
apt_opts=(-o DPkg::Lock::Timeout=300)
apt-get "${apt_opts[@]}" update -q || fail "apt-get update failed"
apt-get "${apt_opts[@]}" install -y -q --no-install-recommends prometheus \
  || fail "apt-get install prometheus failed"
command -v promtool >/dev/null 2>&1 || fail "promtool is still not on the PATH after installing"
echo "install_promtool.sh: installed $(promtool --version 2>&1 | head -n 1)"
