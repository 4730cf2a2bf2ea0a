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


def plan(tmp_path, inventory, host, extra_vars=None):
    """What the role would open on `host` of `inventory`: its checks run (tasks_from: checks,
    public), then its computed lists are written to tmp_path/plan.json (connection local: nothing
    connects to the host)."""
    play = [
        {
            "name": "plan",
            "hosts": host,
            "gather_facts": False,
            "connection": "local",
            "tasks": [
                {
                    "name": "the role's checks",
                    "ansible.builtin.include_role": {
                        "name": "dojo.kafka_observability.firewall",
                        "tasks_from": "checks",
                        "public": True,
                    },
                },
                {
                    "name": "write the plan",
                    "ansible.builtin.copy": {
                        "content": "{{ {'all': __firewall_open_to_all, 'narrowed': __firewall_narrowed,"
                        " 'rich': __firewall_rich_rules | map(attribute='rule') | list,"
                        " 'manage': firewall_manage_service, 'install': firewall_install} | to_json }}",
                        "dest": str(tmp_path / "plan.json"),
                        "mode": "0644",
                    },
                },
            ],
        }
    ]
    playbook = tmp_path / "plan.yml"
    playbook.write_text(json.dumps(play))
    proc = run_playbook(playbook, inventory=inventory, extra_vars=extra_vars)
    return proc


def parse_plan(proc, tmp_path):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((tmp_path / "plan.json").read_text())


def rule(port, proto="tcp", source="192.168.56.0/24"):
    return 'rule family="ipv4" source address="{0}" port port="{1}" protocol="{2}" accept'.format(source, port, proto)


def test_vagrant_monitoring_opens_prometheus_and_alertmanager_to_the_host_only_network(tmp_path):
    """inventory/vagrant: 9090/9093 (and Grafana, OTLP) answer 192.168.56.0/24 only, not every source;
    firewalld's state is left as found."""
    got = parse_plan(plan(tmp_path, REPO / "inventory" / "vagrant", "monitoring.vagrant"), tmp_path)
    assert got["all"] == []
    assert set(got["narrowed"]) == {"3000/tcp", "4317/tcp", "4318/tcp", "9090/tcp", "9093/tcp"}
    assert rule(9090) in got["rich"] and rule(9093) in got["rich"]
    assert len(got["rich"]) == 5
    assert got["manage"] is False and got["install"] is False


def test_vagrant_broker_opens_cadvisor_to_the_host_only_network(tmp_path):
    got = parse_plan(plan(tmp_path, REPO / "inventory" / "vagrant", "broker.vagrant"), tmp_path)
    assert got["all"] == [] and got["rich"] == [rule(9882)]


def test_without_sources_ports_are_open_to_all_and_ranges_and_ipv6_make_rich_rules(tmp_path):
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[broker]\nh ansible_connection=local\n")
    got = parse_plan(plan(tmp_path, inventory, "h"), tmp_path)
    assert got["all"] == ["9882/tcp"] and got["rich"] == []
    extra = {"firewall_ports": ["9000-9010/udp"], "firewall_sources": ["10.9.0.0/16", "fd00::/64", "192.0.2.7"]}
    got = parse_plan(plan(tmp_path, inventory, "h", extra), tmp_path)
    assert got["all"] == [] and sorted(got["narrowed"]) == ["9000-9010/udp", "9882/tcp"]
    assert 'rule family="ipv6" source address="fd00::/64" port port="9882" protocol="tcp" accept' in got["rich"]
    assert rule("9000-9010", "udp", "192.0.2.7") in got["rich"]
    assert len(got["rich"]) == 6


def test_a_bad_source_fails_before_firewalld_is_looked_at(tmp_path):
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[broker]\nh ansible_connection=local\n")
    for bad in ("192.168.56.0/33", "300.1.1.1", "monitoring"):
        proc = plan(tmp_path, inventory, "h", {"firewall_sources": [bad]})
        assert proc.returncode != 0
        assert "'{0}' is not a source firewalld accepts".format(bad) in proc.stdout, proc.stdout
