"""The promql_selectors filter: an expression, a list of rules, a rule group, a rule file; its errors;
the filter through real Ansible and its documentation through ansible-doc."""

import json

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.dojo.kafka_observability.plugins.filter.promql import FilterModule, promql_selectors

from tests.support.ansible_run import REPO, plugin_doc, run_playbook

SEED = yaml.safe_load((REPO / "tests" / "unit" / "rules" / "seed-kafka-alerts.yml").read_text())
SEED_ID = "/user.slice/user-1000.slice/user@1000.service/app.slice/kafka.service"


def test_an_expression():
    assert promql_selectors('sum by (job) (rate(http_total{code=~"5.."}[5m])) / on() up') == [
        {
            "selector": 'http_total{code=~"5.."}',
            "metric": "http_total",
            "matchers": [{"name": "code", "op": "=~", "value": "5.."}],
        },
        {"selector": "up", "metric": "up", "matchers": []},
    ]


def test_a_rule_file_a_group_and_a_list_of_rules():
    expected = {
        "name": "KafkaContainerDown",
        "group": "kafka-alerts",
        "expr": SEED["groups"][0]["rules"][0]["expr"],
        "selectors": [
            {
                "selector": 'container_last_seen{id="%s"}' % SEED_ID,
                "metric": "container_last_seen",
                "matchers": [{"name": "id", "op": "=", "value": SEED_ID}],
            }
        ],
    }
    assert promql_selectors(SEED) == [expected]
    assert promql_selectors(SEED["groups"][0]) == [expected]
    assert promql_selectors(SEED["groups"][0]["rules"]) == [dict(expected, group=None)]
    recording = [{"record": "job:up:sum", "expr": "sum by (job) (up)"}]
    assert promql_selectors(recording)[0]["name"] == "job:up:sum"
    assert promql_selectors([]) == []


@pytest.mark.parametrize(
    ("value", "msg"),
    [
        ('up{job="x', "promql_selectors: cannot read the selectors of the expression: unterminated quoted string"),
        (
            [{"alert": "Broken", "expr": "sum(up"}],
            "promql_selectors: cannot read the selectors of rule Broken: unclosed parenthesis opened at character 4",
        ),
        ([{"alert": "NoExpr"}], "promql_selectors: rule #1 has no 'expr' string"),
        ({"name": "g", "rules": [{"expr": 5}]}, "promql_selectors: rule #1 of group g has no 'expr' string"),
        ({"groups": "x"}, "promql_selectors: 'groups' must be a list of rule groups"),
        ({"groups": [{"name": "g"}]}, "promql_selectors: each rule group must be a dict with a list of 'rules'"),
        (5, "promql_selectors: expected a PromQL expression (a string), a list of rules, a rule group or a rule"),
    ],
)
def test_errors_say_what_and_where(value, msg):
    with pytest.raises(AnsibleFilterError) as info:
        promql_selectors(value)
    assert str(info.value).startswith(msg), str(info.value)


def test_the_filter_is_registered():
    assert FilterModule().filters() == {"promql_selectors": promql_selectors}


def test_through_ansible_by_its_fully_qualified_name(tmp_path):
    playbook = tmp_path / "play.yml"
    tasks = [
        {
            "ansible.builtin.set_fact": {
                "found": "{{ rules | dojo.kafka_observability.promql_selectors | map(attribute='selectors') | flatten"
                " | map(attribute='matchers') | flatten | selectattr('name', 'equalto', 'id')"
                " | map(attribute='value') | list }}"
            }
        },
        {"ansible.builtin.assert": {"that": ["found == [%s]" % json.dumps(SEED_ID)]}},
        {
            "ansible.builtin.debug": {"msg": "{{ 'up{job=\"x' | dojo.kafka_observability.promql_selectors }}"},
            "ignore_errors": True,
        },
    ]
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    proc = run_playbook(playbook, inventory="localhost,", extra_vars={"rules": SEED}, args=("-c", "local"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok=3" in proc.stdout and "ignored=1" in proc.stdout
    assert "cannot read the selectors of the expression: unterminated quoted string" in proc.stdout


def test_ansible_doc_shows_it():
    doc = plugin_doc("filter", "promql_selectors")
    assert doc["doc"]["short_description"].startswith("The vector selectors of a PromQL expression")
    assert "promql_selectors" in doc["examples"]
    assert doc["return"]["_value"]["type"] == "list"
