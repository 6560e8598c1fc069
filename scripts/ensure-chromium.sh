#!/usr/bin/env bash
# Make sure Debian's Chromium and ChromeDriver are installed: the status page is tested in a real
# headless browser (Selenium drives /usr/bin/chromium through /usr/bin/chromedriver; no browser
# is ever downloaded).
set -euo pipefail
exec bash "$(dirname "$0")/apt-ensure.sh" ensure-chromium chromium:chromium chromedriver:chromium-driver
