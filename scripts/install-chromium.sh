#!/usr/bin/env bash
# Headless Chromium and its ChromeDriver for the dashboard's browser tests (`make test-browser`):
# Debian's chromium and chromium-driver, unless both are already there. Selenium drives them
# through /usr/bin/chromedriver; no browser is downloaded from anywhere else.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
echo "installing chromium and chromium-driver (Debian) for the browser tests"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium chromium-driver
