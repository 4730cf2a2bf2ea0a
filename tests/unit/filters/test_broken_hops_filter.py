"""The broken_hops filter: the first failed hop of each chain with a failed check, in hop order."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.dojo.kafka_observability.plugins.filter.diagnosis import broken_hops

HOPS = [
    {"name": "loki", "hop": "Loki", "chains": ["broker_logs"]},
    {"name": "grafana_metrics", "hop": "Prometheus -> Grafana", "chains": ["broker_metrics", "container_metrics"]},
    {"name": "collector", "hop": "OpenTelemetry Collector", "chains": ["broker_metrics", "broker_logs"]},
    {"name": "collector_to_loki", "hop": "OpenTelemetry Collector -> Loki", "chains": ["broker_logs"]},
    {"name": "cadvisor", "hop": "cAdvisor -> Prometheus", "chains": ["container_metrics"]},
]


def result(name, chain, status="failed"):
    return {"name": name, "chain": chain, "status": status}


def checked(**outcomes):
    """Registered loop results, as Ansible hands them over: the hop entry is the item."""
    hops = {hop["name"]: hop for hop in HOPS}
    return [dict(outcome, item=hops[name]) for name, outcome in outcomes.items()]


def ok(msg="fine"):
    return {"failed": False, "changed": False, "msg": msg}


def bad(msg):
    return {"failed": True, "changed": False, "msg": msg}


def test_names_the_first_failed_hop_in_chain_order():
    outcomes = checked(loki=ok(), collector=ok(), collector_to_loki=bad("otlphttp/loki failed to send 12 records"))
    diagnosis = broken_hops([result("kafka_logs", "broker_logs")], HOPS, outcomes)
    assert diagnosis == [
        {
            "chain": "broker_logs",
            "checks": ["kafka_logs"],
            "hop": "OpenTelemetry Collector -> Loki",
            "name": "collector_to_loki",
            "evidence": "otlphttp/loki failed to send 12 records",
            "checked": ["loki", "collector", "collector_to_loki"],
        }
    ]


def test_a_broken_node_explains_the_edges_after_it():
    """Loki down also makes the collector's export fail: the earlier hop (Loki itself) is named."""
    outcomes = checked(loki=bad("connection refused"), collector=ok(), collector_to_loki=bad("send failed"))
    (entry,) = broken_hops([result("kafka_logs", "broker_logs")], HOPS, outcomes)
    assert (entry["hop"], entry["evidence"]) == ("Loki", "connection refused")
    assert entry["checked"] == ["loki"]


def test_one_entry_per_failed_chain_with_all_its_checks():
    results = [
        result("kafka_message_count", "broker_metrics"),
        result("kafka_container_cpu", "container_metrics"),
        result("kafka_container_memory", "container_metrics"),
        result("kafka_logs", "broker_logs", status="passed"),
        result("kafka_consume", "kafka", status="skipped"),
    ]
    outcomes = checked(grafana_metrics=bad("Post .../api/v1/query: connection refused"), cadvisor=ok())
    diagnosis = broken_hops(results, HOPS, outcomes)
    assert [(d["chain"], d["checks"], d["name"]) for d in diagnosis] == [
        ("broker_metrics", ["kafka_message_count"], "grafana_metrics"),
        ("container_metrics", ["kafka_container_cpu", "kafka_container_memory"], "grafana_metrics"),
    ]


def test_every_hop_fine_says_so_instead_of_blaming_one():
    (entry,) = broken_hops([result("kafka_logs", "broker_logs")], HOPS, checked(loki=ok(), collector=ok()))
    assert entry["hop"] is None and entry["name"] is None
    assert "every hop of this chain checked fine (loki, collector)" in entry["evidence"]


def test_checks_without_a_chain_and_passed_checks_are_not_diagnosed():
    results = [{"name": "kafka_produce", "status": "failed"}, result("kafka_logs", "broker_logs", status="passed")]
    assert broken_hops(results, HOPS, checked(loki=bad("down"))) == []


def test_skipped_hop_checks_are_passed_over_and_http_failures_say_the_status():
    outcomes = checked(
        loki={"skipped": True}, collector={"failed": True, "status": 503, "url": "http://127.0.0.1:13133/"}
    )
    (entry,) = broken_hops([result("kafka_logs", "broker_logs")], HOPS, outcomes)
    assert entry["checked"] == ["collector"]
    assert entry["evidence"] == "GET http://127.0.0.1:13133/: HTTP 503"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("not a list", HOPS, []), "the results must be a list"),
        (([], "hops", []), "the hops must be a list"),
        (([], HOPS, {}), "the hop checks must be a list"),
        (([], HOPS, [{"failed": True}]), "each hop check must be a loop result with the hop as its item"),
    ],
)
def test_bad_input_is_one_clear_error(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        broken_hops(*args)


def test_a_refused_get_says_connection_refused():
    """ansible.builtin.uri's own words for a closed port, as seen in the lab with Loki stopped."""
    refused = {
        "failed": True,
        "status": -1,
        "url": "http://127.0.0.1:3100/ready",
        "msg": "Status code was -1 and not [200]: Request failed: <urlopen error [Errno 111] Connection refused>",
    }
    (entry,) = broken_hops([result("kafka_logs", "broker_logs")], HOPS, checked(loki=refused))
    assert (entry["hop"], entry["evidence"]) == ("Loki", "GET http://127.0.0.1:3100/ready: Connection refused")
