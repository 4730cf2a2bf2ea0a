"""The cadvisor role pulls a missing image as the user BEFORE the Quadlet unit exists.

On its first start Quadlet would pull the image inside systemd's start timeout (90 s), which a
slow registry exceeds. The pull itself needs podman and a registry (the Vagrant VMs; the lab
imports its image and sets cadvisor_pull: never, which takes the "image present" path): here
the order of the role's tasks and their conditions are checked through Ansible itself.
"""

import json
import re

import yaml

from tests.support.ansible_run import REPO, run_playbook

TASKS = REPO / "roles" / "cadvisor" / "tasks"


def listed_tasks(tmp_path):
    """ansible-playbook --list-tasks of a play running the role (include_tasks are listed by name)."""
    play = [
        {
            "name": "cadvisor",
            "hosts": "localhost",
            "gather_facts": False,
            "roles": ["dojo.kafka_observability.cadvisor"],
        }
    ]
    playbook = tmp_path / "cadvisor.yml"
    playbook.write_text(json.dumps(play))
    proc = run_playbook(playbook, inventory="localhost,", args=["--list-tasks"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [re.sub(r"\s+TAGS:.*$", "", line.split(" : ", 1)[1]) for line in proc.stdout.splitlines() if " : " in line]


def test_the_image_is_pulled_before_the_unit_is_written_and_started(tmp_path):
    names = listed_tasks(tmp_path)
    pull = names.index("Pull the image before the first start (systemd's start timeout would cut the pull short)")
    write = next(i for i, name in enumerate(names) if name.startswith("Write the Quadlet unit file"))
    start = next(i for i, name in enumerate(names) if name.startswith("Start the user service"))
    assert pull < write < start, names


def test_the_pull_is_skipped_when_the_image_is_present_or_pulling_is_off():
    tasks = yaml.safe_load((TASKS / "pull.yml").read_text())
    by_name = {task["name"]: task for task in tasks}
    exists = by_name["Look for the image in the storage of {{ cadvisor_user }}"]
    assert exists["ansible.builtin.command"]["argv"] == ["podman", "image", "exists", "{{ cadvisor_image }}"]
    assert exists["become_user"] == "{{ cadvisor_user }}" and exists["check_mode"] is False
    never = by_name["Fail when the image is missing and may not be pulled"]
    assert never["when"] == "__cadvisor_image_exists.rc == 1 and cadvisor_pull == 'never'"
    pull = by_name["Pull the image before the first start"]
    assert pull["when"] == "__cadvisor_image_exists.rc == 1 and not ansible_check_mode"
    start, wait = pull["block"][0], pull["block"][1]
    # as the user, in the background, polled with a deadline: progress instead of a silent hang
    assert start["become_user"] == "{{ cadvisor_user }}" and start["poll"] == 0
    assert start["async"] == "{{ cadvisor_pull_timeout }}"
    assert "podman pull" in start["ansible.builtin.command"]["argv"][2]
    assert wait["become_user"] == "{{ cadvisor_user }}" and wait["delay"] == 5
