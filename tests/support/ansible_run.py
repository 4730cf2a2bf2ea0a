"""Run collection modules and playbooks through real Ansible (not as Python functions).

`run_module()` runs an ad-hoc `ansible localhost -m dojo.kafka_observability.<name>` with the
JSON stdout callback and returns the module's result dict, plus the raw output so tests can
search it (for secrets, tracebacks).
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COLLECTION = "dojo.kafka_observability"


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / "build" / "collections"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        }
    )
    env.update(extra or {})
    return env


def plugin_doc(kind, name):
    """`ansible-doc -t <kind> --json` of one of the collection's plugins: its documentation dict
    (doc, examples, return), after checking that ansible-doc could read it."""
    full = "{0}.{1}".format(COLLECTION, name)
    proc = subprocess.run(
        [str(BIN / "ansible-doc"), "-t", kind, "--json", full],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=ansible_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)[full]


@dataclass
class ModuleRun:
    result: dict
    rc: int
    stdout: str
    stderr: str

    @property
    def failed(self):
        return bool(self.result.get("failed"))

    @property
    def output(self):
        return self.stdout + self.stderr


def run_module(name, args, *, check=False, diff=False, timeout=300, env=None):
    """Run one module ad hoc on localhost and return its result."""
    fqcn = name if "." in name else "{0}.{1}".format(COLLECTION, name)
    cmd = [str(BIN / "ansible"), "localhost", "-c", "local", "-i", "localhost,", "-m", fqcn, "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=ansible_env(dict({"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json"}, **(env or {}))),
        check=False,
    )
    try:
        doc = json.loads(proc.stdout)
        result = doc["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError(
            "no JSON result from {0} (rc={1}): {2}\nstdout:\n{3}\nstderr:\n{4}".format(
                fqcn, proc.returncode, exc, proc.stdout, proc.stderr
            )
        ) from exc
    return ModuleRun(result=result, rc=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)


def run_playbook(playbook, *, inventory=None, extra_vars=None, check=False, timeout=1800, env=None, args=()):
    """Run ansible-playbook and return the CompletedProcess (output captured as text)."""
    cmd = [str(BIN / "ansible-playbook"), str(playbook)]
    if inventory:
        cmd += ["-i", str(inventory)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    cmd += list(args)
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=ansible_env(env), check=False
    )
