#!/usr/bin/env bash
# Debian packages the browser and Prometheus tests use: chromium + chromium-driver (headless, through
# selenium) and prometheus (a real server that scrapes a live run). Installed if missing; exits 1 if not.
set -uo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v prometheus >/dev/null || need+=(prometheus)
[ ${#need[@]} -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] || { echo "packages.sh: need root to install ${need[*]}" >&2; exit 1; }
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } >&2
