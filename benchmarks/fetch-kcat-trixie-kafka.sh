#!/usr/bin/env bash
# The benchmark's baseline client: Debian trixie's kcat 1.7.1 on librdkafka 2.8.0 (what the lab's
# serverapp guest installs). Bookworm's kcat (librdkafka 2.0.2) cannot talk to Tansu, and trixie's
# librdkafka needs glibc 2.38, so trixie's libc6 comes along and kcat runs through trixie's
# dynamic loader; the other libraries (libssl3, libcurl4, libsasl2, lz4, zstd, zlib) are the
# host's, same sonames. The host's apt configuration is not touched (private sources and state).
# Result: $1/kcat, a wrapper that runs it; $1/root (extracted packages).
set -euo pipefail
dest=${1:?usage: fetch-kcat-trixie-kafka.sh DEST}
"$(dirname "$0")/../scripts/fetch-trixie-debs.sh" "$dest" kcat librdkafka1 libyajl2 libc6
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
