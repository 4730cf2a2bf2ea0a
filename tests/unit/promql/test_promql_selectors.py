"""plugins/module_utils/promql.py: the vector selectors of PromQL expressions, on the collection's own rules
(rendered through Ansible), the runbook's rule and a corpus of tricky expressions."""

import pytest
from ansible_collections.dojo.kafka_observability.plugins.module_utils import promql

from tests.unit.promql.promql_corpus import KAFKA_ID_RE, MALFORMED, SEED_ID, TRICKY, render_role_rules, seed_rules


def summary(expr):
    return [(s["selector"], s["metric"], s["matchers"]) for s in promql.selectors(expr)]


@pytest.fixture(scope="module")
def role_rules(tmp_path_factory):
    _text, rules = render_role_rules(tmp_path_factory.mktemp("promql-role"))
    return {rule["alert"]: rule["expr"] for rule in rules}


def test_the_role_rules_with_its_defaults(role_rules):
    kafka = [
        {"name": "job", "op": "=", "value": "brokercontainer"},
        {"name": "id", "op": "=~", "value": KAFKA_ID_RE},
    ]
    up = [{"name": "job", "op": "=", "value": "brokercontainer"}]
    last_seen = 'container_last_seen{job="brokercontainer", id=~"%s"}' % KAFKA_ID_RE.replace("\\", "\\\\")
    assert summary(role_rules["KafkaContainerDown"]) == [
        (last_seen, "container_last_seen", kafka),
        ('up{job="brokercontainer"}', "up", up),  # twice in the expression, once here
    ]
    assert summary(role_rules["KafkaCadvisorDown"]) == [('up{job="brokercontainer"}', "up", up)]
    assert summary(role_rules["KafkaContainerHighCpu"]) == [
        (
            last_seen.replace("container_last_seen", "container_cpu_usage_seconds_total"),
            "container_cpu_usage_seconds_total",
            kafka,
        )
    ]
    assert summary(role_rules["KafkaContainerHighMemory"]) == [
        (
            last_seen.replace("container_last_seen", "container_memory_working_set_bytes"),
            "container_memory_working_set_bytes",
            kafka,
        )
    ]


def test_the_runbook_rule():
    _text, rules = seed_rules()
    (rule,) = rules
    assert summary(rule["expr"]) == [
        (
            'container_last_seen{id="%s"}' % SEED_ID,
            "container_last_seen",
            [{"name": "id", "op": "=", "value": SEED_ID}],
        )
    ]


@pytest.mark.parametrize(("expr", "expected"), TRICKY, ids=[case[0].strip()[:40] for case in TRICKY])
def test_tricky_expressions(expr, expected):
    assert summary(expr) == [tuple(e) for e in expected]


@pytest.mark.parametrize(("expr", "reason"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_what_cannot_be_read_is_one_sentence(expr, reason):
    with pytest.raises(promql.PromQLError) as info:
        promql.selectors(expr)
    message = str(info.value)
    assert message.startswith(reason), message
    assert "\n" not in message


def test_a_selector_text_is_a_selector_again():
    """What `selector` says, read again, is the same selector (so it can be sent to Prometheus as it is)."""
    exprs = [case[0] for case in TRICKY]
    for found in (s for expr in exprs for s in promql.selectors(expr)):
        (again,) = promql.selectors(found["selector"])
        assert (again["metric"], again["matchers"]) == (found["metric"], found["matchers"])


def test_not_a_string():
    with pytest.raises(promql.PromQLError, match="must be a string, not int"):
        promql.selectors(5)


def test_constraints_leave_the_name_out():
    (sel,) = promql.selectors('{__name__="x", id=~"a.*", id!="ab"}')
    assert promql.selector_constraints(sel) == {"id": [("=~", "a.*"), ("!=", "ab")]}
