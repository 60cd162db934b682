#!/usr/bin/env bash
# Install Debian's Chromium for the portal's browser tests, only if it is missing (idempotent).
# The tests drive /usr/bin/chromium through Playwright; no browser is ever downloaded by
# Playwright itself (`playwright install` is never run).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Chromium is missing: run 'sudo apt-get install -y chromium' (the portal tests need it)" >&2
    exit 1
fi
echo "installing Debian's chromium for the portal's browser tests"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run (unattended upgrades, another setup script) instead of failing.
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-liberation \
    >/dev/null
test -x /usr/bin/chromium
