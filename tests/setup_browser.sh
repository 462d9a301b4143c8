#!/bin/sh
# Install Debian chromium (headless browser for the report page test). Idempotent; needs root and apt.
set -eu
if command -v chromium >/dev/null 2>&1; then
    echo "chromium already installed: $(chromium --version 2>/dev/null || true)"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "setup_browser.sh: need root to apt-get install chromium" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
echo "installed: $(chromium --version)"
