#!/usr/bin/env bash
# Download Debian trixie packages and extract them under DEST/root, without touching the
# host's apt configuration: a private sources list and state directory are used, the host
# keeps its own (bookworm) sources. The .debs stay in DEST/debs.
#   fetch-trixie-debs.sh DEST PACKAGE...
set -euo pipefail
dest=${1:?usage: fetch-trixie-debs.sh DEST PACKAGE...}
shift
(($# > 0)) || { echo "usage: fetch-trixie-debs.sh DEST PACKAGE..." >&2; exit 2; }
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
state="$dest/apt"
rm -rf "$dest/root" "$dest/debs"
mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/etc/preferences.d" "$dest/debs" "$dest/root"
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
echo "==> trixie packages: refreshing the private package index ($mirror trixie)"
apt-get -qq "${apt_opts[@]}" update
echo "==> trixie packages: downloading $*"
(cd "$dest/debs" && apt-get -qq "${apt_opts[@]}" download "$@")
for deb in "$dest"/debs/*.deb; do
  dpkg-deb -x "$deb" "$dest/root"
done
