"""The local three-host lab: Debian trixie guests booted with systemd-nspawn.

    lab.py up        tear down leftovers, build/reuse the base tree, clone, boot, wait, baseline
    lab.py down      stop the guests, remove their cgroups, trees, veths and the bridge
    lab.py status    what is running
    lab.py build     only build (or reuse) the cached base tree and the artifacts
    lab.py ssh NAME [COMMAND...]   log in to a guest as vagrant
    lab.py selftest  prove rootless podman + Quadlet for vagrant on broker

Host names and addresses come from inventory/lab (hosts.yml, group_vars/all.yml).
The base tree is cached in $DOJO_LAB_CACHE (default /var/cache/dojo-kafka-lab), keyed on
packages.txt, offline.txt and customize-base.sh, so that fresh clones of the repository
on the same machine reuse it and a change of the package list rebuilds it. The running
lab lives in /var/lib/dojo-kafka-lab (one lab per machine: the bridge and the addresses
are fixed). Needs root. The pitfalls this works around are listed in README ("The lab").
"""

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))
from tests.support import artifacts  # noqa: E402 (the repository root is on the path only now)

INVENTORY = REPO / "inventory" / "lab"
CACHE = Path(os.environ.get("DOJO_LAB_CACHE", "/var/cache/dojo-kafka-lab"))
STATE = Path("/var/lib/dojo-kafka-lab")
MACHINES = STATE / "machines"
LOGS = STATE / "logs"
SSH_DIR = STATE / "ssh"
SSH_KEY = SSH_DIR / "id_ed25519"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "trixie"
CGROUP = "dojolab"
NSPAWN_SYSCALLS = "add_key keyctl request_key"  # pitfall 3: crun creates a session keyring
BOOT_DEADLINE = float(os.environ.get("DOJO_LAB_BOOT_TIMEOUT", "180"))
STOP_DEADLINE = 30.0
BASELINE = HERE / "baseline.yml"
BIN = Path(sys.executable).parent


def say(msg):
    """Progress for the user; also appended to LOGS/lab.log, which `make lab` tails while
    molecule (whose create step captures this output) runs lab.py."""
    line = "==> lab: " + msg
    print(line, flush=True)
    with contextlib.suppress(OSError):
        LOGS.mkdir(parents=True, exist_ok=True)
        with open(LOGS / "lab.log", "a") as f:
            f.write(line + "\n")


def run(cmd, **kwargs):
    check = kwargs.pop("check", True)
    return subprocess.run([str(c) for c in cmd], check=check, **kwargs)


def out(cmd):
    return run(cmd, capture_output=True, text=True).stdout


# ---------------------------------------------------------------- configuration
def load_lab():
    """Guests, addresses and bridge from inventory/lab (the single source of truth)."""
    with open(INVENTORY / "group_vars" / "all.yml") as f:
        allvars = yaml.safe_load(f)
    with open(INVENTORY / "hosts.yml") as f:
        hosts = yaml.safe_load(f)
    guests = []
    for group in hosts["all"]["children"].values():
        for inv_name, hostvars in group["hosts"].items():
            guests.append({"name": inv_name.split(".")[0], "fqdn": inv_name, "address": hostvars["ansible_host"]})
    prefix = allvars["lab_network"].split("/")[1]
    return {
        "guests": guests,
        "bridge": allvars["lab_bridge"],
        "controller": allvars["lab_controller_address"],
        "prefix": prefix,
        "user": allvars["lab_user"],
        "uid": int(allvars["lab_user_uid"]),
    }


def cgroup_roots():
    """Hierarchies an nspawn launcher must be moved into (pitfall 1: hybrid cgroups, no systemd PID 1)."""
    base = Path("/sys/fs/cgroup")
    if (base / "cgroup.controllers").exists():  # pure cgroup v2
        return [base]
    return [p for p in (base / "unified", base / "systemd") if p.is_dir()]


# ---------------------------------------------------------------- base tree
def base_key():
    h = hashlib.sha256()
    h.update(SUITE.encode())
    for name in ("packages.txt", "offline.txt", "customize-base.sh"):
        h.update(name.encode() + b"\0" + (HERE / name).read_bytes())
    return h.hexdigest()[:12]


def base_tree():
    return CACHE / "{0}-{1}".format(SUITE, base_key())


def ensure_base():
    tree = base_tree()
    if (tree / ".dojo-lab-complete").exists():
        say("base tree cached: {0}".format(tree))
        return tree
    CACHE.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    partial = tree.with_name(tree.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    packages = artifacts.list_file(HERE / "packages.txt")
    say(
        "building the base tree {0} (debootstrap {1}, {2} packages from {3}; ~1-2 min)".format(
            tree.name, SUITE, len(packages), MIRROR
        )
    )
    try:
        took = artifacts.run_logged(
            ["debootstrap", "--variant=minbase", "--include=" + ",".join(packages), SUITE, partial, MIRROR],
            LOGS / "debootstrap.log",
            "debootstrap",
            say=say,
        )
    except artifacts.ArtifactError as exc:
        raise SystemExit("lab: {0}".format(exc)) from exc
    say("debootstrap done in {0:.0f}s".format(took))
    res = run(
        ["bash", HERE / "customize-base.sh", partial, HERE / "offline.txt"], capture_output=True, text=True, check=False
    )
    for line in (res.stdout + res.stderr).splitlines():
        say("  " + line)
    if res.returncode != 0:
        raise SystemExit("lab: customize-base.sh failed (rc {0})".format(res.returncode))
    (partial / ".dojo-lab-complete").write_text(base_key() + "\n")
    partial.rename(tree)
    for old in CACHE.glob(SUITE + "-*"):
        if old != tree and not mounts_under(MACHINES):  # never under a running guest's overlay
            say("removing the outdated base tree {0}".format(old.name))
            shutil.rmtree(old, ignore_errors=True)
    return tree


def ensure_artifacts():
    """The real programs the baseline carries into the guests (tests/support/artifacts.py)."""
    try:
        for name in artifacts.ARTIFACT_TYPES:
            artifacts.ensure(name)
    except artifacts.ArtifactError as exc:
        raise SystemExit("lab: {0}".format(exc)) from exc


# ---------------------------------------------------------------- per-guest trees
def ensure_key():
    SSH_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not SSH_KEY.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dojo-lab", "-f", SSH_KEY])
    return SSH_KEY.with_suffix(".pub").read_text()


def clone(base, lab, pubkey):
    """Give each guest its own copy-on-write root on the base tree, and its identity.

    The root is an overlayfs (lower: the cached base tree, read-only; upper: the guest's
    changes), mounted here and unmounted by `down`: instant, and the base tree stays
    pristine. /home is a plain directory bound into the guest, so that vagrant's rootless
    podman storage is not overlay-on-overlay (the kernel refuses that as an upper dir).
    """
    MACHINES.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    say("cloning the base tree for {0} (overlayfs root, own /home)".format(", ".join(g["name"] for g in lab["guests"])))
    for g in lab["guests"]:
        d = MACHINES / g["name"]
        for sub in ("upper", "work", "root"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        run(["cp", "-a", base / "home", d / "home"])
        opts = "lowerdir={0},upperdir={1},workdir={2}".format(base, d / "upper", d / "work")
        run(["mount", "-t", "overlay", "dojolab-" + g["name"], "-o", opts, d / "root"])
        root = d / "root"
        (root / "etc" / "hostname").write_text(g["name"] + "\n")
        (root / "etc" / "machine-id").write_text(uuid.uuid4().hex + "\n")
        (root / "etc" / "systemd" / "network" / "10-dojo-lab.network").write_text(
            "[Match]\nName=host0\n\n[Network]\nAddress={0}/{1}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n".format(
                g["address"], lab["prefix"]
            )
        )
        # pitfall 6: cloned trees have no SSH host keys of their own
        run(["ssh-keygen", "-A", "-f", root], stdout=subprocess.DEVNULL)
        ak = d / "home" / lab["user"] / ".ssh" / "authorized_keys"
        ak.write_text(pubkey)
        os.chown(ak, lab["uid"], lab["uid"])
        ak.chmod(0o600)
    return time.monotonic() - start


# ---------------------------------------------------------------- bridge
def link_exists(name):
    return run(["ip", "link", "show", name], capture_output=True, check=False).returncode == 0


def bridge_up(lab):
    br = lab["bridge"]
    if not link_exists(br):
        run(["ip", "link", "add", br, "type", "bridge"])
    addr = "{0}/{1}".format(lab["controller"], lab["prefix"])
    if addr not in out(["ip", "-o", "-4", "addr", "show", "dev", br]):
        run(["ip", "addr", "add", addr, "dev", br])
    run(["ip", "link", "set", br, "up"])


# ---------------------------------------------------------------- boot / wait
def boot(name, lab):
    """Start systemd-nspawn for one guest, detached, in its own cgroups (pitfall 1)."""
    root = MACHINES / name / "root"
    LOGS.mkdir(parents=True, exist_ok=True)
    cgdirs = []
    for cg_root in cgroup_roots():
        d = cg_root / CGROUP / name
        d.mkdir(parents=True, exist_ok=True)
        cgdirs.append(str(d / "cgroup.procs"))
    # the launcher moves itself into the cgroups, then becomes systemd-nspawn
    script = 'for f in "$@"; do case $f in */cgroup.procs) echo $$ > "$f";; esac; done; shift {0}; exec "$@"'.format(
        len(cgdirs)
    )
    cmd = [
        "sh",
        "-c",
        script,
        "lab-launcher",
        *cgdirs,
        "systemd-nspawn",
        "--quiet",
        "-D",
        str(root),
        "-M",
        name,
        "--boot",
        "--network-bridge=" + lab["bridge"],
        "--register=no",
        "--keep-unit",
        "--console=passive",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--system-call-filter=" + NSPAWN_SYSCALLS,
        "--bind={0}:/home".format(MACHINES / name / "home"),
    ]
    env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
    with open(LOGS / (name + ".console.log"), "w") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            cwd="/",
        )
    (STATE / (name + ".pid")).write_text("{0}\n".format(proc.pid))
    return proc


def ssh_cmd(address, user, *command):
    return [
        "ssh",
        "-i",
        str(SSH_KEY),
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=3",
        "{0}@{1}".format(user, address),
        *command,
    ]


def port_open(address, port, timeout=1.0):
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_running(lab, procs, deadline_s):
    """Poll each guest until SSH answers and systemd reports `running`, with one deadline."""
    deadline = time.monotonic() + deadline_s
    pending = {g["name"]: g for g in lab["guests"]}
    state = {}
    last_report = 0.0
    while pending:
        for name, g in list(pending.items()):
            proc = procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise SystemExit(
                    "lab: systemd-nspawn for {0} exited (rc {1}); see {2}".format(
                        name, proc.returncode, LOGS / (name + ".console.log")
                    )
                )
            if not port_open(g["address"], 22):
                state[name] = "booting (no sshd yet)"
                continue
            res = run(
                ssh_cmd(g["address"], lab["user"], "systemctl", "is-system-running"),
                capture_output=True,
                text=True,
                check=False,
            )
            status = res.stdout.strip() or res.stderr.strip()
            state[name] = "systemd " + status
            if status == "running":
                del pending[name]
            elif status == "degraded":
                failed = run(
                    ssh_cmd(g["address"], lab["user"], "systemctl", "--failed", "--no-legend", "--plain"),
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout
                raise SystemExit("lab: {0} booted degraded; failed units:\n{1}".format(name, failed))
        now = time.monotonic()
        if not pending:
            break
        if now > deadline:
            raise SystemExit(
                "lab: guests not running after {0:.0f}s: {1}".format(
                    deadline_s, ", ".join("{0}: {1}".format(n, state.get(n, "?")) for n in pending)
                )
            )
        if now - last_report > 5:
            say("  waiting for {0}".format(", ".join("{0} ({1})".format(n, state.get(n, "starting")) for n in pending)))
            last_report = now
        time.sleep(0.5)


# ---------------------------------------------------------------- teardown
def cgroup_dirs():
    return [root / CGROUP for root in cgroup_roots() if (root / CGROUP).is_dir()]


def procs_in(cgdir):
    pids = []
    # os.walk, not rglob: cgroups vanish while the guests stop (walk errors are skipped)
    for dirpath, _dirs, files in os.walk(cgdir):
        if "cgroup.procs" in files:
            with contextlib.suppress(OSError):
                pids += [int(p) for p in Path(dirpath, "cgroup.procs").read_text().split()]
    return pids


def lab_pids():
    pids = set()
    for d in cgroup_dirs():
        pids.update(procs_in(d))
    return pids


def nspawn_pids():
    result = []
    for pid in lab_pids():
        try:
            comm = Path("/proc/{0}/comm".format(pid)).read_text().strip()
        except OSError:
            continue
        if comm == "systemd-nspawn":
            result.append(pid)
    return result


def signal_all(pids, sig):
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def wait_gone(deadline_s, what):
    deadline = time.monotonic() + deadline_s
    last_report = time.monotonic()
    while lab_pids():
        if time.monotonic() > deadline:
            return False
        if time.monotonic() - last_report > 5:
            say("  waiting for {0} ({1} processes left)".format(what, len(lab_pids())))
            last_report = time.monotonic()
        time.sleep(0.2)
    return True


def rmdir_tree(d):
    subdirs = [Path(dirpath) for dirpath, _dirs, _files in os.walk(d)]
    for sub in sorted(subdirs, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # checked by the caller
            sub.rmdir()
    with contextlib.suppress(OSError):
        d.rmdir()


def mounts_under(path):
    prefix = str(path) + "/"
    found = []
    with open("/proc/self/mounts") as f:
        for line in f:
            target = line.split()[1].replace("\\040", " ")
            if target.startswith(prefix) or target == str(path):
                found.append(target)
    return found


def guest_inits():
    """PID 1 of each guest still in the lab's cgroups (host PIDs), e.g. after nspawn was killed."""
    result = []
    for pid in lab_pids():
        try:
            status = Path("/proc/{0}/status".format(pid)).read_text()
        except OSError:
            continue
        nspid = next((ln.split()[1:] for ln in status.splitlines() if ln.startswith("NSpid:")), [])
        if len(nspid) > 1 and nspid[-1] == "1":
            result.append(pid)
    return result


def down(lab, quiet=False):
    start = time.monotonic()
    nspawns = nspawn_pids()
    orphans = [] if nspawns else guest_inits()
    if nspawns:
        say("powering off {0} guest(s) (SIGTERM to systemd-nspawn)".format(len(nspawns)))
        signal_all(nspawns, signal.SIGTERM)
    elif orphans:
        # systemd-nspawn died (crash, kill -9): the guests run on; ask their systemd to power off
        say("powering off {0} orphaned guest(s) (SIGRTMIN+4 to their systemd)".format(len(orphans)))
        signal_all(orphans, signal.SIGRTMIN + 4)
    if nspawns and not wait_gone(STOP_DEADLINE / 2, "the guests to power off"):
        # seen once: nspawn did not pass the request on; ask the guests' systemd directly
        say("  guests still there after {0:.0f}s: SIGRTMIN+4 to their systemd".format(STOP_DEADLINE / 2))
        orphans = guest_inits()
        signal_all(orphans, signal.SIGRTMIN + 4)
    if (nspawns or orphans) and not wait_gone(STOP_DEADLINE / 2, "the guests to power off"):
        say("  guests still there: SIGKILL")
    if lab_pids():
        signal_all(lab_pids(), signal.SIGKILL)
        if not wait_gone(10, "killed processes"):
            raise SystemExit("lab: processes survive SIGKILL: {0}".format(sorted(lab_pids())))
    for d in cgroup_dirs():
        rmdir_tree(d)
    for target in sorted(mounts_under(MACHINES), key=len, reverse=True):
        if run(["umount", target], check=False, capture_output=True).returncode != 0:
            run(["umount", "-l", target], check=False)
    for g in lab["guests"]:
        veth = "vb-" + g["name"]
        if link_exists(veth):
            run(["ip", "link", "del", veth], check=False)
        (STATE / (g["name"] + ".pid")).unlink(missing_ok=True)
    if link_exists(lab["bridge"]):
        run(["ip", "link", "del", lab["bridge"]])
    if mounts_under(MACHINES):
        raise SystemExit("lab: still mounted: {0}".format(mounts_under(MACHINES)))
    if MACHINES.exists():
        shutil.rmtree(MACHINES)
    leftovers = [str(d) for d in cgroup_dirs()] + mounts_under(MACHINES)
    if leftovers:
        raise SystemExit("lab: could not remove {0}".format(leftovers))
    if not quiet or nspawns or orphans:
        stopped = len(nspawns or orphans)
        what = "{0} guest(s) powered off".format(stopped) if stopped else "no guest was running"
        say(
            "down ({0:.1f}s): {1}; nothing running, nothing mounted, no bridge {2}".format(
                time.monotonic() - start, what, lab["bridge"]
            )
        )


# ---------------------------------------------------------------- commands
def preflight():
    if os.geteuid() != 0:
        raise SystemExit("lab: must run as root (systemd-nspawn, bridge, cgroups)")
    missing = [c for c in ("debootstrap", "systemd-nspawn", "ip", "ssh", "ssh-keygen") if shutil.which(c) is None]
    if missing:
        raise SystemExit("lab: missing commands {0}: run `make deps` (scripts/apt-packages.txt)".format(missing))
    if not cgroup_roots():
        raise SystemExit("lab: no cgroup hierarchy found under /sys/fs/cgroup")


def run_baseline(skip):
    if skip:
        say("baseline skipped (--no-baseline)")
        return 0.0
    if not BASELINE.exists():
        say(
            "baseline: {0} does not exist yet: the guests are up without the baseline services".format(
                BASELINE.relative_to(REPO)
            )
        )
        return 0.0
    say("baseline: ansible-playbook -i inventory/lab {0}".format(BASELINE.relative_to(REPO)))
    start = time.monotonic()
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / "build" / "collections"))
    res = run([BIN / "ansible-playbook", "-i", INVENTORY, BASELINE], cwd=REPO, env=env, check=False)
    if res.returncode != 0:
        raise SystemExit("lab: the baseline playbook failed (rc {0})".format(res.returncode))
    return time.monotonic() - start


def lab_lock():
    """One lab per machine: up, down and build wait for each other (flock on STATE/.lock)."""
    STATE.mkdir(parents=True, exist_ok=True)
    f = open(STATE / ".lock", "w")  # noqa: SIM115 (held until the process exits)
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say("another lab.py up/down/build is running on this machine: waiting for it")
        fcntl.flock(f, fcntl.LOCK_EX)
    return f


def cmd_up(args):
    lab = load_lab()
    preflight()
    t0 = time.monotonic()
    down(lab, quiet=True)  # a lab-up after a crash (or a second lab-up) starts clean
    t_base = time.monotonic()
    base = ensure_base()
    ensure_artifacts()
    t_base = time.monotonic() - t_base
    pubkey = ensure_key()
    t_clone = clone(base, lab, pubkey)
    bridge_up(lab)
    t_boot = time.monotonic()
    say("booting {0} (systemd-nspawn, systemd as PID 1)".format(", ".join(g["name"] for g in lab["guests"])))
    procs = {g["name"]: boot(g["name"], lab) for g in lab["guests"]}
    wait_running(lab, procs, BOOT_DEADLINE)
    t_boot = time.monotonic() - t_boot
    say("guests running: {0}".format(", ".join("{0} {1}".format(g["name"], g["address"]) for g in lab["guests"])))
    t_baseline = run_baseline(args.no_baseline)
    say(
        "up in {0:.0f}s (base tree and artifacts {1:.0f}s, clone {2:.0f}s, boot {3:.1f}s, baseline {4:.0f}s); "
        "ssh: {5} ssh NAME; down: make lab-down".format(
            time.monotonic() - t0, t_base, t_clone, t_boot, t_baseline, ".venv/bin/python tests/support/lab/lab.py"
        )
    )


def cmd_down(_args):
    lab = load_lab()
    preflight()
    down(lab)


def cmd_status(_args):
    lab = load_lab()
    running = nspawn_pids()
    print(
        "base tree: {0} ({1})".format(
            base_tree(), "cached" if (base_tree() / ".dojo-lab-complete").exists() else "not built"
        )
    )
    print("bridge {0}: {1}".format(lab["bridge"], "up" if link_exists(lab["bridge"]) else "absent"))
    print("systemd-nspawn processes: {0}".format(len(running)))
    bridge = link_exists(lab["bridge"])
    for g in lab["guests"]:
        # without the bridge the lab's addresses would be routed off this machine: do not try
        if not bridge or not port_open(g["address"], 22, timeout=0.5):
            print("  {0:<11} {1:<15} down".format(g["name"], g["address"]))
            continue
        res = run(
            ssh_cmd(g["address"], lab["user"], "systemctl", "is-system-running"),
            capture_output=True,
            text=True,
            check=False,
        )
        state = res.stdout.strip() or "no answer over ssh (rc {0})".format(res.returncode)
        print("  {0:<11} {1:<15} {2}".format(g["name"], g["address"], state))
    return 0


def cmd_build(_args):
    preflight()
    ensure_base()
    ensure_artifacts()


def cmd_ssh(args):
    lab = load_lab()
    guest = next((g for g in lab["guests"] if args.name in (g["name"], g["fqdn"])), None)
    if guest is None:
        raise SystemExit("lab: no guest {0}".format(args.name))
    cmd = ssh_cmd(guest["address"], lab["user"], *args.command)
    os.execvp(cmd[0], cmd)  # noqa: S606 (fixed argv: become ssh)


SELFTEST_START = r"""
set -eu
export XDG_RUNTIME_DIR=/run/user/$(id -u)
d=$(mktemp -d); chmod 0755 $d; mkdir -p $d/bin $d/www; cat > $d/bin/busybox; chmod 0755 $d/bin/busybox
for a in sh echo cat httpd; do ln -s busybox $d/bin/$a; done
echo selftest-page > $d/www/index.html
tar -C $d -c . | podman import --quiet - localhost/selftest:lab >/dev/null; rm -rf $d
echo "podman: $(podman --version)"
echo "podman run: $(podman run --rm localhost/selftest:lab echo rootless-podman-ok)"
mkdir -p ~/.config/containers/systemd
printf '%s\n' '[Container]' 'Image=localhost/selftest:lab' 'RunInit=true' 'Exec=/bin/httpd -f -p 8080 -h /www' \
  'PublishPort=18080:8080' > ~/.config/containers/systemd/selftest.container
systemctl --user daemon-reload
systemctl --user start selftest.service
ok=""; for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null http://127.0.0.1:18080/; then ok=1; break; fi; sleep 0.1
done
echo "quadlet: selftest.service $(systemctl --user is-active selftest.service)," \
  "cgroup $(systemctl --user show -P ControlGroup selftest.service)"
echo "published port on broker: $(curl -sS http://127.0.0.1:18080/)"
echo "firewalld on broker: $(sudo firewall-cmd --state)"
test -n "$ok"
"""

SELFTEST_STOP = r"""
export XDG_RUNTIME_DIR=/run/user/$(id -u)
systemctl --user stop selftest.service
rm -f ~/.config/containers/systemd/selftest.container
systemctl --user daemon-reload
podman rmi --force localhost/selftest:lab >/dev/null
"""


def remote_script(address, user, script, **kwargs):
    quoted = "'{0}'".format(script.replace("'", "'\\''"))
    return run(ssh_cmd(address, user, "bash", "-c", quoted), check=False, **kwargs).returncode


def cmd_selftest(_args):
    """Rootless podman 5 + Quadlet for vagrant on broker (image imported locally), firewalld enforcing."""
    lab = load_lab()
    guests = {g["name"]: g for g in lab["guests"]}
    broker, serverapp = guests["broker"], guests["serverapp"]
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise SystemExit("lab: selftest needs busybox-static on the controller (scripts/apt-packages.txt)")
    try:
        with open(busybox, "rb") as f:
            rc = remote_script(broker["address"], lab["user"], SELFTEST_START, stdin=f)
        if rc == 0:
            probe = "curl -sS -m 3 -o /dev/null http://{0}:18080/ 2>&1 && echo OPEN || true".format(broker["address"])
            res = run(ssh_cmd(serverapp["address"], lab["user"], probe), capture_output=True, text=True, check=False)
            seen = res.stdout.strip()
            print("port 18080 (not opened in firewalld) from serverapp: {0}".format(seen))
            if "OPEN" in seen:
                rc = 1
    finally:
        remote_script(broker["address"], lab["user"], SELFTEST_STOP)
    print("selftest: {0}".format("ok" if rc == 0 else "FAILED"))
    return rc


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="(re)create the lab")
    up.add_argument("--no-baseline", action="store_true", help="do not run tests/support/lab/baseline.yml")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="remove the lab").set_defaults(func=cmd_down)
    sub.add_parser("status", help="show the lab").set_defaults(func=cmd_status)
    sub.add_parser("build", help="build the cached base tree").set_defaults(func=cmd_build)
    sub.add_parser("selftest", help="rootless podman + Quadlet on broker").set_defaults(func=cmd_selftest)
    ssh = sub.add_parser("ssh", help="ssh to a guest as vagrant")
    ssh.add_argument("name")
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    ssh.set_defaults(func=cmd_ssh)
    args = parser.parse_args(argv)
    if args.command in ("up", "down", "build"):
        preflight()
        lock = lab_lock()  # noqa: F841 (released when the process exits)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
