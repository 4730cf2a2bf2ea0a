"""Run the collection's roles for real against localhost (the current user plays `vagrant`).

The roles do their user-scope work with `become_user: <user>`; here the user is the one
running the tests, so become is a no-op switch: `su` when root (no password needed),
`sudo` otherwise (passwordless sudo needed).
"""

import json
import os
import pwd
import re
from pathlib import Path

import pytest

from tests.support.ansible_run import run_playbook

HERE = Path(__file__).resolve().parent
USER = pwd.getpwuid(os.getuid()).pw_name


def become_env():
    return {"ANSIBLE_BECOME_METHOD": "su" if os.getuid() == 0 else "sudo"}


def write_inventory(tmp_path, brokers=None):
    """An inventory: localhost in monitoring, fake brokers (never contacted) in broker."""
    lines = ["[monitoring]", "localhost ansible_connection=local", "", "[broker]"]
    for name, hostvars in (brokers or {}).items():
        lines.append(name + "".join(" {0}={1}".format(k, v) for k, v in hostvars.items()))
    path = tmp_path / "inventory.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_role(tmp_path, role, extra_vars, *, check=False, brokers=None, args=(), env=None):
    """ansible-playbook applying dojo.kafka_observability.<role> to localhost.

    `env` adds to (or overrides) the environment of ansible-playbook, e.g. a PATH without the
    Prometheus tools, as sudo's secure_path on EL9. Returns the CompletedProcess, with `.recap`
    (ok/changed/unreachable/failed of localhost).
    """
    playbook = tmp_path / "apply-{0}.yml".format(role)
    playbook.write_text(
        json.dumps(
            [
                {
                    "name": "apply " + role,
                    "hosts": "monitoring",
                    "gather_facts": False,
                    "roles": [{"role": "dojo.kafka_observability." + role}],
                }
            ]
        )
    )
    inventory = write_inventory(tmp_path, brokers)
    proc = run_playbook(
        playbook,
        inventory=inventory,
        extra_vars=extra_vars,
        check=check,
        env=dict(become_env(), **(env or {})),
        args=args,
    )
    proc.recap = recap(proc.stdout)
    return proc


def recap(stdout):
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", stdout)
    if not match:
        return None
    ok, changed, unreachable, failed = (int(x) for x in match.groups())
    return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}


@pytest.fixture
def snapshot():
    """snapshot(dir) -> {relative path: bytes} of the configuration files under dir (to prove
    nothing changed); the running server's own files (TSDB data/, logs) are left out."""

    def take(directory):
        directory = Path(directory)
        return {
            str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*"))
            if p.is_file() and p.relative_to(directory).parts[0] != "data" and p.suffix != ".log"
        }

    return take
