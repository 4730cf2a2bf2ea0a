"""Run the collection's roles for real against localhost (the current user plays `vagrant`).

The roles do their user-scope work with `become_user: <user>`; here the user is the one
running the tests, so become is a no-op switch: `su` when root (no password needed),
`sudo` otherwise (passwordless sudo needed).
"""

import json
import os
import pwd
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.support.ansible_run import REPO, run_playbook
from tests.support.prometheus import free_port, prometheus_binary, wait_for

HERE = Path(__file__).resolve().parent
USER = pwd.getpwuid(os.getuid()).pw_name
TRIXIE_SHARE = REPO / "build" / "trixie" / "root" / "usr" / "share"


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


# ---------------------------------------------------------------- a real Alertmanager
def http(url, data=None, method=None, timeout=10):
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read().decode()
    return json.loads(text) if text.strip()[:1] in ("[", "{") else text


class Alertmanager:
    """A real Alertmanager 0.28 on 127.0.0.1, configured by <workdir>/alertmanager.yml (written first).

    Debian's Alertmanager build reads its default notification templates from the fixed path
    /usr/share/prometheus/alertmanager/: it is started in a private mount namespace (unshare,
    root) where an overlay adds that directory from build/trixie/root, leaving the host untouched.
    """

    def __init__(self, workdir):
        if os.geteuid() != 0:
            pytest.fail("this test starts Alertmanager in a private mount namespace: run it as root")
        self.workdir = Path(workdir)
        self.config_path = self.workdir / "alertmanager.yml"
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = self.workdir / "alertmanager.log"
        binary = prometheus_binary("alertmanager")
        script = (
            'mount -t overlay overlay -o "lowerdir={share}:/usr/share" /usr/share && exec "{binary}" '
            '--config.file="{config}" --web.listen-address=127.0.0.1:{port} --cluster.listen-address= '
            '--storage.path="{data}"'
        ).format(share=TRIXIE_SHARE, binary=binary, config=self.config_path, port=self.port, data=self.workdir / "data")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.ready, timeout=30, what="Alertmanager /-/ready")

    def ready(self):
        if self.process.poll() is not None:
            raise RuntimeError("alertmanager exited: " + self.log_path.read_text()[-2000:])
        try:
            return http(self.url + "/-/ready") is not None
        except OSError:
            return False

    def running_config(self):
        return yaml.safe_load(http(self.url + "/api/v2/status")["config"]["original"])

    def post_alert(self, labels, resolved=False):
        alert = {"labels": labels, "annotations": {"summary": "test"}}
        if resolved:
            alert["endsAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
        http(self.url + "/api/v2/alerts", [alert], method="POST")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=15)
