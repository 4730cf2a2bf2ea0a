#!/usr/bin/env bash
# Fetch Debian trixie's Prometheus 2.53 toolchain (prometheus, promtool, alertmanager, amtool)
# and extract it under $1 without touching the host's apt configuration: a private
# sources list and state directory are used, the host keeps its own (bookworm) sources.
# Result: $1/bin/{prometheus,promtool,alertmanager,amtool}.
set -euo pipefail
dest=${1:?usage: fetch-trixie-tools.sh DEST}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=(prometheus promtool prometheus-alertmanager)
state="$dest/apt"
mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/etc/preferences.d" "$dest/debs" "$dest/root" "$dest/bin"
cat >"$state/etc/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main
SRC
apt_opts=(
  -o "Dir::Etc::SourceList=$state/etc/sources.list"
  -o "Dir::Etc::SourceParts=-"
  -o "Dir::Etc::PreferencesParts=$state/etc/preferences.d"
  -o "Dir::State::Lists=$state/lists"
  -o "Dir::Cache::Archives=$state/archives"
  -o "Dir::State::status=/dev/null"
  -o "APT::Get::List-Cleanup=0"
  -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=root"
)
echo "==> trixie tools: refreshing the private package index ($mirror trixie)"
apt-get -qq "${apt_opts[@]}" update
cd "$dest/debs"
echo "==> trixie tools: downloading ${packages[*]}"
apt-get -qq "${apt_opts[@]}" download "${packages[@]}"
for deb in "$dest"/debs/*.deb; do
  dpkg-deb -x "$deb" "$dest/root"
done
for tool in prometheus promtool prometheus-alertmanager:alertmanager amtool; do
  src=${tool%%:*}
  name=${tool##*:}
  ln -sfn "$dest/root/usr/bin/$src" "$dest/bin/$name"
done
"$dest/bin/prometheus" --version 2>&1 | head -1
"$dest/bin/alertmanager" --version 2>&1 | head -1
