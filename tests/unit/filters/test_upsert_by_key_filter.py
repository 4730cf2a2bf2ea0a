"""The upsert_by_key filter: replace in place or append, put first, what never matches, its errors;
the merges the roles make with it, through real Ansible, and its documentation through ansible-doc."""

import json

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.dojo.kafka_observability.plugins.filter.upsert_by_key import FilterModule, upsert_by_key

from tests.support.ansible_run import plugin_doc, run_playbook

PROMETHEUS = {"job_name": "prometheus", "static_configs": [{"targets": ["127.0.0.1:9090"]}]}
NODE = {"job_name": "node", "scrape_interval": "30s"}
OURS = {"job_name": "brokercontainer", "static_configs": [{"targets": ["192.168.56.209:9882"]}]}


def test_an_entry_with_a_new_key_is_appended():
    assert upsert_by_key([PROMETHEUS, NODE], OURS, "job_name") == [PROMETHEUS, NODE, OURS]


def test_an_entry_with_the_same_key_is_replaced_where_it_is():
    old = {"job_name": "brokercontainer", "static_configs": [{"targets": ["10.0.0.1:9882"]}], "scrape_interval": "5s"}
    assert upsert_by_key([PROMETHEUS, old, NODE], OURS, "job_name") == [PROMETHEUS, OURS, NODE]


def test_every_entry_with_the_same_key_is_replaced():
    """A list that already repeats a key keeps its length (Prometheus or amtool then say what is wrong)."""
    old = {"job_name": "brokercontainer"}
    assert upsert_by_key([old, PROMETHEUS, old], OURS, "job_name") == [OURS, PROMETHEUS, OURS]


def test_first_removes_the_same_key_and_puts_the_entry_first():
    ops = {"receiver": "ops", "matchers": ['team="ops"']}
    old = {"receiver": "slack-kafka", "matchers": ['service="web"']}
    ours = {"receiver": "slack-kafka", "matchers": ['service="kafka"']}
    assert upsert_by_key([ops, old, old], ours, "receiver", first=True) == [ours, ops]
    assert upsert_by_key([ops], ours, "receiver", first=True) == [ours, ops]
    assert upsert_by_key([], ours, "receiver", first=True) == [ours]


def test_entries_without_the_key_or_not_dicts_never_match():
    anonymous = {"static_configs": []}
    assert upsert_by_key([anonymous, "text", None, 3], OURS, "job_name") == [anonymous, "text", None, 3, OURS]
    # a null value matches only a null value
    assert upsert_by_key([{"name": None}], {"name": "x"}, "name") == [{"name": None}, {"name": "x"}]


def test_null_is_an_empty_list_and_the_input_is_not_modified():
    assert upsert_by_key(None, OURS, "job_name") == [OURS]
    jobs = [PROMETHEUS, {"job_name": "brokercontainer"}]
    snapshot = json.dumps(jobs)
    upsert_by_key(jobs, OURS, "job_name")
    upsert_by_key(jobs, OURS, "job_name", first=True)
    assert json.dumps(jobs) == snapshot
    assert upsert_by_key((PROMETHEUS,), OURS, "job_name") == [PROMETHEUS, OURS]  # a tuple too


@pytest.mark.parametrize(
    ("items", "entry", "key", "message"),
    [
        ({"job_name": "x"}, OURS, "job_name", "the input must be a list, got dict"),
        ("prometheus", OURS, "job_name", "the input must be a list, got str"),
        ([PROMETHEUS], ["job_name", "x"], "job_name", "the entry to put must be a dict, got list"),
        ([PROMETHEUS], {"name": "x"}, "job_name", "the entry to put has no key 'job_name'"),
    ],
)
def test_errors_say_what_is_wrong(items, entry, key, message):
    with pytest.raises(AnsibleFilterError, match="^upsert_by_key: " + message):
        upsert_by_key(items, entry, key)


def test_the_filter_is_registered():
    assert FilterModule().filters() == {"upsert_by_key": upsert_by_key}


def test_the_roles_merges_through_ansible(tmp_path):
    """The role's three merges, as their tasks write them (the filter's full name, keyword first=)."""
    config = {
        "scrape_configs": [PROMETHEUS, {"job_name": "brokercontainer", "static_configs": []}, NODE],
        "receivers": [{"name": "default"}, {"name": "ops"}],
        "route": {"receiver": "default", "routes": [{"receiver": "ops"}, {"receiver": "slack-kafka"}]},
    }
    receiver = {"name": "slack-kafka", "slack_configs": [{"send_resolved": True}]}
    route = {"receiver": "slack-kafka", "matchers": ['service="kafka"']}
    merged = (
        "{{ {'jobs': config.scrape_configs | dojo.kafka_observability.upsert_by_key(job, 'job_name'),"
        " 'receivers': config.receivers | dojo.kafka_observability.upsert_by_key(receiver, 'name'),"
        " 'routes': config.route.routes | dojo.kafka_observability.upsert_by_key(route, 'receiver', first=true),"
        " 'none': config.missing | default(none) | dojo.kafka_observability.upsert_by_key(job, 'job_name')} }}"
    )
    out = tmp_path / "merged.json"
    play = [
        {
            "name": "upsert",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "merge",
                    "ansible.builtin.copy": {"content": "{{ merged | to_json }}", "dest": str(out), "mode": "0600"},
                    "vars": {"merged": merged},
                }
            ],
        }
    ]
    playbook = tmp_path / "upsert.yml"
    playbook.write_text(yaml.safe_dump(play))
    proc = run_playbook(
        playbook,
        inventory="localhost,",
        extra_vars={"config": config, "job": OURS, "receiver": receiver, "route": route},
        args=("-c", "local"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(out.read_text()) == {
        "jobs": [PROMETHEUS, OURS, NODE],
        "receivers": [{"name": "default"}, {"name": "ops"}, receiver],
        "routes": [route, {"receiver": "ops"}],
        "none": [OURS],
    }


def test_ansible_doc_shows_it():
    doc = plugin_doc("filter", "upsert_by_key")
    assert doc["doc"]["short_description"].startswith("Put an entry into a list of dicts")
    assert set(doc["doc"]["options"]) == {"_input", "entry", "key", "first"}
    assert "upsert_by_key(job, 'job_name')" in doc["examples"]
    assert doc["return"]["_value"]["type"] == "list"
