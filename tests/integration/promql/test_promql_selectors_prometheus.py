"""The selectors promql.py extracts, sent to a REAL Prometheus 2.53 (Debian trixie's build).

- every expression of the corpus is PromQL Prometheus accepts (GET /api/v1/query answers 200), so the
  corpus tests the extraction on real PromQL;
- every selector extracted from it is a valid selector for Prometheus on its own
  (GET /api/v1/series?match[]=<selector> answers 200);
- the collection's rules and the runbook's rule, loaded into that Prometheus, are printed back by its
  rules API (`query`, Prometheus's own formatting: other quoting, other spacing); the selectors read
  from that text are the ones read from the rule files.
Prometheus 3's quoted names ({"metric.name"}) are left out of the first two checks: 2.53 refuses them.
"""

import urllib.error

import pytest
from ansible_collections.dojo.kafka_observability.plugins.module_utils import promql

from tests.support.prometheus import running_prometheus, wait_for
from tests.unit.promql.promql_corpus import TRICKY, render_role_rules, seed_rules

PROMETHEUS_2 = [case[0] for case in TRICKY if '{"' not in case[0]]


@pytest.fixture(scope="module")
def corpus_rules(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("promql-corpus")
    role_text, role_rules = render_role_rules(workdir)
    seed_text, seed = seed_rules()
    return {"kafka-alerts.yml": role_text, "seed-kafka-alerts.yml": seed_text}, role_rules + seed


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, corpus_rules):
    files, rules = corpus_rules
    with running_prometheus(tmp_path_factory.mktemp("prometheus-promql"), rule_files=files) as prom:
        wait_for(lambda: sum(len(g["rules"]) for g in prom.rules()) == len(rules), timeout=30, what="the rules to load")
        yield prom


def status_of(prometheus, path, params):
    try:
        prometheus.api(path, params)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    return 200, ""


@pytest.mark.parametrize("expr", PROMETHEUS_2, ids=[e.strip()[:40] for e in PROMETHEUS_2])
def test_the_corpus_is_promql_and_each_selector_is_one(prometheus, expr):
    assert status_of(prometheus, "/api/v1/query", {"query": expr}) == (200, "")
    for found in promql.selectors(expr):
        status = status_of(prometheus, "/api/v1/series", {"match[]": found["selector"]})
        assert status == (200, ""), (expr, found["selector"], status)


def same(found):
    return [(s["metric"], sorted((m["name"], m["op"], m["value"]) for m in s["matchers"])) for s in found]


def test_the_rules_selectors_are_valid_and_read_the_same_from_prometheus(prometheus, corpus_rules):
    _files, rules = corpus_rules
    loaded = {(g["file"].rsplit("/", 1)[-1], r["name"]): r["query"] for g in prometheus.rules() for r in g["rules"]}
    assert len(loaded) == len(rules) == 5
    from_files = [promql.selectors(rule["expr"]) for rule in rules]
    from_prometheus = [promql.selectors(query) for query in loaded.values()]
    # Prometheus prints the matchers sorted: compare each selector's metric and matcher set
    assert sorted(map(same, from_files)) == sorted(map(same, from_prometheus))
    selectors = {s["selector"] for sel in from_files for s in sel}
    assert len(selectors) == 5  # container_last_seen (role and runbook), cpu, memory, up
    for selector in selectors:
        assert status_of(prometheus, "/api/v1/series", {"match[]": selector}) == (200, ""), selector
