"""README.md's Vagrant steps, run as written from a clean copy of the repository.

The commands are read from README.md between the markers <!-- vagrant-steps:begin --> and
<!-- vagrant-steps:end --> (one ```console block; `# ...` comments dropped), so the README and
this test cannot drift. A copy of the tracked files (no build/, no .venv: what a fresh
checkout has) runs them in order, with the venv's tools on the PATH (an operator's activated
virtual environment with the `ansible` package), a HOME of its own and no ANSIBLE_* variable,
up to the first `vagrant` command: from there the steps need the VMs. Among the steps run
must be `ansible-playbook --syntax-check -i inventory/vagrant playbooks/site.yml` and a dry run
(`--list-tasks`); none of them contacts a host.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ansible_run import REPO

pytestmark = pytest.mark.slow

BEGIN = "<!-- vagrant-steps:begin -->"
END = "<!-- vagrant-steps:end -->"
SYNTAX_CHECK = "ansible-playbook --syntax-check -i inventory/vagrant playbooks/site.yml"
# commands that read the playbooks and the inventory without connecting to any host
OFFLINE_FLAGS = ("--syntax-check", "--list-tasks", "--list-hosts", "--list-tags")


def vagrant_steps(readme_text):
    """The command lines of the README's Vagrant steps, comments dropped."""
    if BEGIN not in readme_text or END not in readme_text:
        pytest.fail("README.md has no {0} ... {1} markers around the Vagrant section's commands".format(BEGIN, END))
    section = readme_text.split(BEGIN, 1)[1].split(END, 1)[0]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert block, "no ```console block between the Vagrant markers"
    steps = []
    for line in block.group(1).splitlines():
        command = re.sub(r"(^|\s+)#.*$", "", line).strip()
        if command:
            steps.append(command)
    return steps


def steps_before_the_vms(steps):
    """The steps up to (not including) the first one that needs the VMs."""
    first_vagrant = next((i for i, step in enumerate(steps) if step.split()[0] == "vagrant"), None)
    assert first_vagrant is not None, "the Vagrant steps have no `vagrant up`: {0}".format(steps)
    return steps[:first_vagrant]


def clean_copy(destination):
    """The tracked files of the repository as they are in the work tree: what a fresh checkout has."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        source = REPO / name
        if not name or not (source.exists() or source.is_symlink()):
            continue  # deleted in the work tree, not committed yet
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return destination


def operator_env(home):
    """An operator's shell: the venv's tools first on the PATH, a HOME of its own, no ANSIBLE_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_", "PY_COLORS"))}
    env.update(
        {"PATH": "{0}:/usr/bin:/bin".format(Path(sys.executable).parent), "HOME": str(home), "ANSIBLE_NOCOLOR": "1"}
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def run(command, cwd, env):
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def run_vagrant_steps(readme_text, tmp_path):
    steps = vagrant_steps(readme_text)
    offline = steps_before_the_vms(steps)
    assert SYNTAX_CHECK in offline, "the Vagrant steps must run `{0}` before `vagrant up`: {1}".format(
        SYNTAX_CHECK, offline
    )
    assert any("--list-tasks" in step for step in offline), "no dry run (--list-tasks) before `vagrant up`: {0}".format(
        offline
    )
    for step in offline:
        if step.startswith("ansible-playbook"):
            assert any(flag in step.split() for flag in OFFLINE_FLAGS), "this step would contact the VMs: " + step
    assert any(re.match(r"ansible-playbook .*playbooks/site\.yml$", step) for step in steps[len(offline) :]), steps

    repo = clean_copy(tmp_path / "checkout")
    home = tmp_path / "home"
    home.mkdir()
    env = operator_env(home)
    # the premise: a plain checkout cannot find its own roles
    before = run(SYNTAX_CHECK, repo, env)
    assert before.returncode != 0, "a plain checkout already passes the syntax check: the README step is not needed?"
    assert "dojo.kafka_observability" in before.stdout + before.stderr
    results = []
    for step in offline:
        proc = run(step, repo, env)
        assert proc.returncode == 0, "README step `{0}` failed in a clean checkout:\n{1}{2}".format(
            step, proc.stdout, proc.stderr
        )
        results.append((step, proc))
    return results


def test_the_readme_vagrant_steps_work_in_a_clean_checkout(tmp_path):
    results = run_vagrant_steps((REPO / "README.md").read_text(), tmp_path)
    listed = next(proc.stdout for step, proc in results if "--list-tasks" in step)
    # the dry run resolved every play and the collection's roles
    for play in ("serverapp", "broker", "monitoring"):
        assert "({0})".format(play) in listed
    for role in ("kcat", "podman_socket", "cadvisor", "firewall", "prometheus_alerts", "alertmanager_slack"):
        assert "dojo.kafka_observability.{0} :".format(role) in listed
