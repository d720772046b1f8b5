#!/usr/bin/env bash
# Make sure the Debian packages the tests use are installed: chromium (the browser tests of the
# web pages; never Playwright's own browser download), jq (the README's examples, run as a
# test) and prometheus (promtool checks the alerting rules in docs/alerts/). Idempotent: does
# nothing when every command is on the PATH, else installs the missing packages in one apt run.
# Needs root and apt-get; otherwise fails with a clear message.
set -euo pipefail

declare -A package_of=([chromium]=chromium [jq]=jq [promtool]=prometheus)
missing=()
for command in chromium jq promtool; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${package_of[$command]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

fail() {
  echo "install_system_packages.sh: $*" >&2
  echo "install_system_packages.sh: install Debian's packages as root" \
    "(apt-get install -y --no-install-recommends ${missing[*]}), then run the tests again." >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "${missing[*]} missing and apt-get is not available"
[ "$(id -u)" -eq 0 ] || fail "${missing[*]} missing and this script is not running as root"

export DEBIAN_FRONTEND=noninteractive
# Another apt/dpkg run (e.g. a parallel test session) may hold the lock: wait for it.
apt_opts=(-o DPkg::Lock::Timeout=300)
apt-get "${apt_opts[@]}" update -q || fail "apt-get update failed"
apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing[@]}" \
  || fail "apt-get install ${missing[*]} failed"
for command in chromium jq promtool; do
  command -v "$command" >/dev/null 2>&1 || fail "$command is still not on the PATH after installing"
done
echo "install_system_packages.sh: installed ${missing[*]}"
