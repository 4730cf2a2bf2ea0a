#!/usr/bin/env bash
# The benchmark's baseline client: Debian trixie's kcat 1.7.1 on librdkafka 2.8.0 (what the lab's
# serverapp guest installs). Bookworm's kcat (librdkafka 2.0.2) cannot talk to Tansu, and trixie's
# librdkafka needs glibc 2.38, so trixie's libc6 comes along and kcat runs through trixie's
# dynamic loader; the other libraries (libssl3, libcurl4, libsasl2, lz4, zstd, zlib) are the
# host's, same sonames. The host's apt configuration is not touched (private sources and state).
# Result: $1/kcat, a wrapper that runs it; $1/root (extracted packages).
set -euo pipefail
dest=${1:?usage: fetch-kcat-trixie-kafka.sh DEST}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=(kcat librdkafka1 libyajl2 libc6)
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
echo "==> kcat (trixie): refreshing the private package index ($mirror trixie)"
apt-get -qq "${apt_opts[@]}" update
cd "$dest/debs"
echo "==> kcat (trixie): downloading ${packages[*]}"
apt-get -qq "${apt_opts[@]}" download "${packages[@]}"
for deb in "$dest"/debs/*.deb; do
  dpkg-deb -x "$deb" "$dest/root"
done
lib="$dest/root/usr/lib/x86_64-linux-gnu"
cat >"$dest/kcat" <<WRAP
#!/bin/sh
# Debian trixie's kcat with trixie's glibc (extracted by benchmarks/fetch-kcat-trixie-kafka.sh)
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu" "$dest/root/usr/bin/kcat" "\$@"
WRAP
chmod +x "$dest/kcat"
if missing=$("$lib/ld-linux-x86-64.so.2" --library-path "$lib:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu" --list "$dest/root/usr/bin/kcat" | grep "not found"); then
  echo "kcat (trixie) is missing host libraries:" >&2
  echo "$missing" >&2
  exit 1
fi
"$dest/kcat" -V | sed -n 4p
