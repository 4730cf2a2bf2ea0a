#!/usr/bin/env bash
# Turn a fresh `debootstrap --variant=minbase trixie` tree into the lab's base tree.
# Called by lab.py (build step) with the network available; the guests booted from
# clones of this tree have none. Everything here is shared by broker, serverapp and
# monitoring; per-host settings (host name, machine-id, address, host keys,
# authorized_keys) are written by lab.py into each clone.
# This file is part of the base tree's cache key: editing it rebuilds the tree.
#
# usage: customize-base.sh TREE OFFLINE_LIST
set -euo pipefail
tree=${1:?usage: customize-base.sh TREE OFFLINE_LIST}
offline_list=${2:?usage: customize-base.sh TREE OFFLINE_LIST}
uid=1000
user=vagrant

in_tree() { chroot "$tree" "$@"; }
# unit enablement is symlinks only: the host's systemctl does it without /proc in the tree
units() { systemctl --root="$tree" --quiet "$@"; }

echo "==> base tree: offline packages for the roles (downloaded, not installed)"
# The roles install these with apt. Keep their .debs (with dependencies and
# recommends, as a plain `apt install` would pick them) next to the apt lists that
# debootstrap left, so the install works without network. debootstrap's own
# downloads are dropped first.
mapfile -t offline < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$offline_list")
in_tree apt-get clean
in_tree apt-get install --download-only --yes --quiet=2 "${offline[@]}"
# shellcheck disable=SC2012
echo "    $(ls "$tree"/var/cache/apt/archives/*.deb | wc -l) .debs in /var/cache/apt/archives"
# keep apt from ever deleting them (e.g. after the roles' install)
cat >"$tree/etc/apt/apt.conf.d/90dojo-lab" <<'EOF'
// dojo lab: the guests have no network; the cached .debs are the only source.
APT::Keep-Downloaded-Packages "true";
Acquire::Retries "0";
Acquire::http::Timeout "2";
EOF

echo "==> base tree: user $user (uid $uid, passwordless sudo, subuid/subgid, linger)"
if ! in_tree id -u "$user" >/dev/null 2>&1; then
  in_tree useradd --create-home --uid "$uid" --user-group --shell /bin/bash "$user"
fi
in_tree usermod --append --groups sudo "$user"
printf '%s ALL=(ALL) NOPASSWD: ALL\n' "$user" >"$tree/etc/sudoers.d/$user"
chmod 0440 "$tree/etc/sudoers.d/$user"
printf '%s:100000:65536\n' "$user" >"$tree/etc/subuid"
printf '%s:100000:65536\n' "$user" >"$tree/etc/subgid"
mkdir -p "$tree/var/lib/systemd/linger"
touch "$tree/var/lib/systemd/linger/$user"
install -d -m 0700 -o "$uid" -g "$uid" "$tree/home/$user/.ssh"

echo "==> base tree: networking (systemd-networkd on host0, no DNS, no default route)"
units enable systemd-networkd.service
# pitfall 5: Quadlet units are ordered after network-online.target
units add-wants multi-user.target network-online.target
rm -f "$tree/etc/resolv.conf"
cat >"$tree/etc/resolv.conf" <<'EOF'
# dojo lab: the guests reach only the lab's own addresses (see /etc/hosts); no DNS.
EOF
cat >"$tree/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
10.231.56.1	controller controller.lab
10.231.56.209	broker broker.lab
10.231.56.210	serverapp serverapp.lab
10.231.56.211	monitoring monitoring.lab
EOF

echo "==> base tree: pitfall fixes (devices, containers.conf)"
# pitfall 2: /dev/net/tun (pasta) and /dev/fuse (fuse-overlayfs) for rootless podman
cat >"$tree/etc/systemd/system/dojo-lab-devices.service" <<'EOF'
[Unit]
Description=dojo lab: /dev/net/tun and /dev/fuse usable by rootless podman
DefaultDependencies=no
Before=sysinit.target
ConditionVirtualization=container

[Service]
Type=oneshot
RemainAfterExit=yes
# /dev/disk: what a VM has and the cadvisor role mounts (nspawn creates no /dev/disk)
ExecStart=/bin/sh -c 'mkdir -p /dev/net /dev/disk; [ -c /dev/net/tun ] || mknod /dev/net/tun c 10 200; [ -c /dev/fuse ] || mknod /dev/fuse c 10 229; chmod 0666 /dev/net/tun /dev/fuse'

[Install]
WantedBy=sysinit.target
EOF
units enable dojo-lab-devices.service
# pitfall 4: no cgroup controllers are delegated to the guests
mkdir -p "$tree/etc/containers"
cat >"$tree/etc/containers/containers.conf" <<'EOF'
# dojo lab: the nspawn guests get no delegated cgroup controllers, so the pids
# limit podman sets by default cannot be applied.
[containers]
pids_limit = 0

# pitfall 5: a guest's only interface is host0, without a default route, so rootless podman's
# pasta would copy the guest's own address (say 10.231.56.209) into the rootless network
# namespace, where no published port listens: a container could not reach its host's address,
# and the kafka container could not reach the listener it advertises (the runbook's
# `kafka-topics.sh --bootstrap-server localhost:9092` inside it times out). In the Vagrant VMs
# pasta copies the NAT interface's 10.0.2.15, not the host-only 192.168.56.x: give it that.
[network]
pasta_options = ["--address", "10.0.2.15", "--netmask", "24", "--gateway", "10.0.2.2"]
EOF

echo "==> base tree: services"
# The tutorial runs Prometheus and Alertmanager as vagrant's user services: the
# Debian system units stay disabled (the baseline playbook starts the user ones).
units disable prometheus.service prometheus-alertmanager.service
# nothing to do in a container without consoles or persistent storage
units mask getty@tty1.service systemd-pstore.service
cat >"$tree/etc/ssh/sshd_config.d/dojo-lab.conf" <<'EOF'
# dojo lab: key login only
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UseDNS no
EOF

echo "==> base tree: identity left to each clone"
rm -f "$tree"/etc/ssh/ssh_host_*
: >"$tree/etc/machine-id"
rm -f "$tree/var/lib/dbus/machine-id"
