#!/usr/bin/env bash
# Install the Debian packages listed in $1 that are not installed yet.
# Runs apt-get update only when something must be installed, so a warm run is instant.
set -euo pipefail
list=${1:?usage: install-apt-packages.sh LIST}
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$list")
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  echo "==> apt: all ${#wanted[@]} packages present"
  exit 0
fi
echo "==> apt: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
