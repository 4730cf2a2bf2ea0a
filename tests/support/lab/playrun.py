"""Run ansible-playbook against the lab with its output streamed, and keep the PLAY RECAP figures.

Shared by demo.py (make demo) and bench_lab.py (make bench-lab).
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
BIN = Path(sys.executable).parent
LAB = [str(BIN / "python"), str(HERE / "lab.py")]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
RECAP = re.compile(
    r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)\s+rescued=(\d+)"
)


def ansible_env():
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / "build" / "collections")
    env["PATH"] = "{0}:{1}:{2}".format(BIN, REPO / "build" / "trixie" / "bin", env.get("PATH", ""))
    return env


class Run:
    """A finished command: return code, wall seconds, and per-host recap (playbooks)."""

    def __init__(self, rc, seconds, hosts):
        self.rc = rc
        self.seconds = seconds
        self.hosts = hosts

    @property
    def tasks(self):
        return sum(h["ok"] for h in self.hosts.values())

    @property
    def changed(self):
        return sum(h["changed"] for h in self.hosts.values())

    @property
    def failed(self):
        return sum(h["failed"] + h["unreachable"] for h in self.hosts.values())


def stream(cmd, prefix="", env=None):
    """Run cmd with its output streamed (optionally prefixed); parse any PLAY RECAP lines."""
    start = time.monotonic()
    hosts = {}
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        cwd=REPO,
        env=env or ansible_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        bufsize=1,
    )
    for line in proc.stdout:
        sys.stdout.write(prefix + line)
        sys.stdout.flush()
        m = RECAP.match(ANSI.sub("", line).strip())
        if m:
            name, ok, changed, unreachable, failed, skipped, rescued = m.groups()
            hosts[name] = {
                "ok": int(ok),
                "changed": int(changed),
                "unreachable": int(unreachable),
                "failed": int(failed),
                "skipped": int(skipped),
                "rescued": int(rescued),
            }
    rc = proc.wait()
    return Run(rc, time.monotonic() - start, hosts)


def playbook(path, inventory="inventory/lab", args=()):
    return stream([BIN / "ansible-playbook", "-i", inventory, path, *args])


def lab(*args, env=None):
    return stream([*LAB, *args], env=env)
