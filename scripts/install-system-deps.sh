#!/usr/bin/env bash
# Debian packages the pipeline and its tests drive for real, installed only when missing
# (needs root or sudo):
#   chromium                draws the chart pictures (kaleido)   `make demo`, `make test`
#   postgresql              the Dagster storage test             `make test`
#   libreoffice-calc-nogui  opens the publication export         `make test`
# Usage: install-system-deps.sh [chromium|postgresql|libreoffice ...]   (default: all)
# Says in one line what it installs; prints nothing when everything is there.
set -euo pipefail
wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(chromium postgresql libreoffice)
need=()
for what in "${wanted[@]}"; do
  case "$what" in
    chromium)    command -v chromium >/dev/null 2>&1 || need+=(chromium) ;;
    postgresql)  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql) ;;
    libreoffice) command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc-nogui) ;;
    *) echo "install-system-deps.sh: unknown component '$what'" >&2; exit 2 ;;
  esac
done
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing Debian package(s) ${need[*]} (apt-get; chromium draws the charts) ..."
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
