"""The firewall role's per-host port list, and its check of the entries, through real Ansible."""

import json

from tests.support.ansible_run import REPO, run_playbook

ROLE = REPO / "roles" / "firewall"


def evaluate(tmp_path, groups, host_vars=None):
    """The role's __firewall_ports for a host in `groups` (defaults + vars/main.yml, as the role sees them)."""
    inventory = tmp_path / "inventory.ini"
    lines = []
    for group in groups:
        lines += ["[{0}]".format(group), "h ansible_connection=local", ""]
    inventory.write_text("\n".join(lines or ["h ansible_connection=local"]) + "\n")
    play = [
        {
            "name": "ports",
            "hosts": "h",
            "gather_facts": False,
            "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
            "tasks": [{"name": "show", "ansible.builtin.debug": {"msg": "PORTS={{ __firewall_ports | to_json }}"}}],
        }
    ]
    playbook = tmp_path / "ports.yml"
    playbook.write_text(json.dumps(play))
    proc = run_playbook(playbook, inventory=inventory, extra_vars=host_vars)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "PORTS=" in x)
    return json.loads(line.split("PORTS=", 1)[1].rstrip('"').replace('\\"', '"'))


def test_brokers_get_cadvisor_port_by_default(tmp_path):
    assert evaluate(tmp_path, ["broker"]) == ["9882/tcp"]


def test_other_hosts_get_nothing_by_default(tmp_path):
    assert evaluate(tmp_path, ["monitoring"]) == []


def test_host_ports_and_group_ports_add_up_without_duplicates(tmp_path):
    ports = evaluate(
        tmp_path,
        ["broker", "monitoring"],
        {
            "firewall_ports": ["9090/tcp", "9882/tcp"],
            "firewall_ports_by_group": {"broker": ["9882/tcp"], "monitoring": ["9093/tcp"]},
        },
    )
    assert ports == ["9090/tcp", "9882/tcp", "9093/tcp"]


def test_a_bad_port_entry_fails_before_firewalld_is_touched(tmp_path):
    play = [
        {
            "name": "bad port",
            "hosts": "localhost",
            "gather_facts": False,
            "roles": [
                {
                    "role": "dojo.kafka_observability.firewall",
                    "vars": {"firewall_ports": ["9882"], "firewall_install": False, "firewall_manage_service": False},
                }
            ],
        }
    ]
    playbook = tmp_path / "bad.yml"
    playbook.write_text(json.dumps(play))
    proc = run_playbook(playbook, inventory="localhost,", args=["-c", "local"])
    assert proc.returncode != 0
    assert "'9882' is not a firewalld port: write <port>/<proto>" in proc.stdout
    assert "Open the ports" not in proc.stdout


def test_every_role_passes_syntax_check(tmp_path):
    roles = ["kcat", "podman_socket", "cadvisor", "firewall", "prometheus_alerts", "alertmanager_slack"]
    play = [
        {
            "name": "all roles",
            "hosts": "localhost",
            "gather_facts": False,
            "roles": ["dojo.kafka_observability." + role for role in roles],
        }
    ]
    playbook = tmp_path / "all.yml"
    playbook.write_text(json.dumps(play))
    proc = run_playbook(playbook, inventory="localhost,", args=["--syntax-check"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
