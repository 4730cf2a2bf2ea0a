"""Helpers for the role tests: render a role's template through real Ansible.

`render_role_template()` runs one ansible-playbook on localhost whose play loads the role's
defaults/main.yml and vars/main.yml (as the role would, with extra variables on top) and
renders the role's template once per variable set with ansible.builtin.template: the same
engine, filters and trim_blocks settings as a real run.
"""

import json
import shutil
from pathlib import Path

import pytest

from tests.support.ansible_run import REPO, run_playbook

ROLES = REPO / "roles"
PROMTOOL = REPO / "build" / "trixie" / "bin" / "promtool"
AMTOOL = REPO / "build" / "trixie" / "bin" / "amtool"


def render_role_template(tmp_path, role, template, var_sets):
    """Render roles/<role>/templates/<template> once per dict in var_sets; return the texts."""
    role_dir = ROLES / role
    vars_files = [str(role_dir / "defaults" / "main.yml")]
    if (role_dir / "vars" / "main.yml").exists():
        vars_files.append(str(role_dir / "vars" / "main.yml"))
    outputs = [tmp_path / "rendered-{0}-{1}".format(role, i) for i in range(len(var_sets))]
    tasks = [
        {
            "name": "render {0}".format(i),
            "ansible.builtin.template": {
                "src": str(role_dir / "templates" / template),
                "dest": str(out),
                "mode": "0644",
            },
            "vars": dict(var_sets[i], role_path=str(role_dir)),
        }
        for i, out in enumerate(outputs)
    ]
    play = [{"name": "render", "hosts": "localhost", "gather_facts": False, "vars_files": vars_files, "tasks": tasks}]
    playbook = tmp_path / "render-{0}.yml".format(role)
    playbook.write_text(json.dumps(play))
    proc = run_playbook(playbook, inventory="localhost,", args=["-c", "local"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [out.read_text() for out in outputs]


def tool(path):
    """A Prometheus tool from build/trixie/bin: the tests need it, so fail (never skip) without it."""
    if not path.exists():
        pytest.fail("{0} is missing: run `make deps` (it extracts Debian trixie's Prometheus tools)".format(path))
    return str(path)


@pytest.fixture
def promtool():
    return tool(PROMTOOL)


@pytest.fixture
def amtool():
    return tool(AMTOOL)


@pytest.fixture
def rules_dir():
    return REPO / "tests" / "unit" / "rules"


def copy_into(src, dest_dir, name=None):
    dest = Path(dest_dir) / (name or Path(src).name)
    shutil.copyfile(src, dest)
    return dest
