#!/usr/bin/env bash
# Debian trixie's Prometheus 2.53 toolchain (prometheus, promtool, alertmanager, amtool),
# extracted under $1 (the host's apt configuration is not touched: fetch-trixie-debs.sh).
# Result: $1/bin/{prometheus,promtool,alertmanager,amtool}.
set -euo pipefail
dest=${1:?usage: fetch-trixie-tools.sh DEST}
"$(dirname "$0")/fetch-trixie-debs.sh" "$dest" prometheus promtool prometheus-alertmanager
mkdir -p "$dest/bin"
for tool in prometheus promtool prometheus-alertmanager:alertmanager amtool; do
  src=${tool%%:*}
  name=${tool##*:}
  ln -sfn "$dest/root/usr/bin/$src" "$dest/bin/$name"
done
"$dest/bin/prometheus" --version 2>&1 | head -1
"$dest/bin/alertmanager" --version 2>&1 | head -1
