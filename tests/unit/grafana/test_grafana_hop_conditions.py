"""The conditions that name the broken hop - target_up, datasource_health, rule_selectors - and the alert
condition without a rules API, on canned Grafana/Prometheus answers (the client's own code, its transport
replaced)."""

import json

import pytest
from ansible_collections.dojo.kafka_observability.plugins.module_utils import grafana as g
from ansible_collections.dojo.kafka_observability.plugins.module_utils import grafana_checks as c
from ansible_collections.dojo.kafka_observability.plugins.modules import grafana_assert as module

NOW = 1_800_000_000.0
THANOS = {"uid": "thanos", "name": "Thanos", "type": "prometheus", "url": "http://prom:9090", "access": "proxy"}
GOOD_ID = "/user.slice/user-1000.slice/user@1000.service/app.slice/kafka.service"
WRONG_ID = GOOD_ID.replace("1000", "1001")


class Canned(g.GrafanaClient):
    """The real client, its HTTP transport replaced by answers: path (without the query) -> (status, body) or
    a function of the query parameters returning that."""

    def __init__(self, answers):
        super().__init__({"grafana_url": "http://grafana.invalid:3000", "grafana_token": "s3cret-token"})
        self.answers = answers
        self.asked = []

    def request(self, method, path, params=None, data=None, context=None):
        self.asked.append((path, dict(params or {})))
        answer = self.answers.get(path, (404, '{"message": "Not found"}'))
        status, body = answer(params or {}) if callable(answer) else answer
        body = (json.dumps(body) if not isinstance(body, str) else body).encode()
        if status >= 300:
            error = self._http_error(status, "Status %d" % status, body, method, path, context=context)
            error.detail = g._message_of(body)
            error.body = body.decode()
            raise error
        return status, body


def proxy(path):
    return "/api/datasources/proxy/uid/thanos/" + path


def success(data):
    return 200, {"status": "success", "data": data}


def vector(*values):
    return success({"resultType": "vector", "result": [{"metric": {}, "value": [NOW, str(v)]} for v in values]})


# ---------------------------------------------------------------- target_up
def target(job, instance, health="up", error="", *, scraped="2027-01-15T08:00:00.5Z", pool=None):
    return {
        "labels": {"job": job, "instance": instance},
        "scrapePool": pool or job,
        "scrapeUrl": "http://%s/metrics" % instance,
        "health": health,
        "lastError": error,
        "lastScrape": scraped,
    }


SCRAPED = g.parse_time("2027-01-15T08:00:00.5Z", 0)
REFUSED = 'Get "http://10.0.0.9:9882/metrics": dial tcp 10.0.0.9:9882: connect: connection refused'
TARGETS = [
    target("prometheus", "localhost:9090"),
    target("brokercontainer", "10.0.0.8:9882"),
    target("brokercontainer", "10.0.0.9:9882", "down", REFUSED),
    target("relabelled", "10.0.0.7:8888", pool="otel-collector"),  # job label rewritten: the scrape pool counts
    target("new", "10.0.0.6:1", "unknown", scraped="0001-01-01T00:00:00Z"),
]


def test_every_target_up():
    obs = c.check_target_up(TARGETS, "prometheus", None, SCRAPED + 3)
    assert (obs.met, obs.observed) == (True, "1 of 1 up")
    assert obs.description == "every target of scrape job prometheus is up (http://localhost:9090/metrics)"
    assert obs.facts["targets"] == [
        {
            "job": "prometheus",
            "instance": "localhost:9090",
            "scrape_url": "http://localhost:9090/metrics",
            "health": "up",
            "last_error": "",
            "last_scrape": "2027-01-15T08:00:00.5Z",
            "last_scrape_seconds_ago": 3.0,
            "labels": {"job": "prometheus", "instance": "localhost:9090"},
        }
    ]


def test_a_down_target_names_its_url_error_and_age():
    obs = c.check_target_up(TARGETS, "brokercontainer", None, SCRAPED + 4.24)
    assert (obs.met, obs.observed) == (False, "1 of 2 up")
    assert obs.description == (
        "target http://10.0.0.9:9882/metrics of job brokercontainer is down: %s (last scrape 4.2 s ago)" % REFUSED
    )
    assert [t["health"] for t in obs.facts["targets"]] == ["up", "down"]


def test_instance_selects_one_target():
    assert c.check_target_up(TARGETS, "brokercontainer", "10.0.0.8:9882", SCRAPED).met
    down = c.check_target_up(TARGETS, "brokercontainer", "10.0.0.9:9882", SCRAPED)
    assert (down.met, down.observed, len(down.facts["targets"])) == (False, "0 of 1 up", 1)
    gone = c.check_target_up(TARGETS, "brokercontainer", "10.0.0.10:9882", SCRAPED)
    assert gone.description.startswith(
        "no active target for scrape job brokercontainer (instance 10.0.0.10:9882) (missing from Prometheus's "
        "configuration, or it has no target)"
    )


def test_a_job_by_its_scrape_pool_and_one_not_scraped_yet():
    assert c.check_target_up(TARGETS, "otel-collector", None, SCRAPED).met
    new = c.check_target_up(TARGETS, "new", None, SCRAPED)
    assert new.description == "target http://10.0.0.6:1/metrics of job new has not been scraped yet (health unknown)"
    assert new.facts["targets"][0]["last_scrape_seconds_ago"] is None


def test_a_missing_job_lists_the_jobs_there_are():
    obs = c.check_target_up(TARGETS, "cadvisor", None, SCRAPED)
    assert (obs.met, obs.observed, obs.facts["targets"]) == (False, "no active target", [])
    assert obs.description == (
        "no active target for scrape job cadvisor (missing from Prometheus's configuration, or it has no target); "
        "the jobs with active targets are brokercontainer, new, otel-collector, prometheus"
    )
    assert c.check_target_up([], "cadvisor", None, SCRAPED).description.endswith("; Prometheus has no target")


def test_several_down_targets_are_counted():
    many = [target("j", "h%d:1" % i, "down", "EOF") for i in range(3)]
    obs = c.check_target_up(many, "j", None, SCRAPED + 1)
    assert obs.description == (
        "target http://h0:1/metrics of job j is down: EOF (last scrape 1 s ago) "
        "(and 2 more of its 3 targets are not up)"
    )


def test_the_client_reads_active_targets():
    client = Canned({proxy("api/v1/targets"): success({"activeTargets": TARGETS, "droppedTargets": []})})
    assert client.prometheus_targets(THANOS) == TARGETS
    assert client.asked == [(proxy("api/v1/targets"), {"state": "active"})]
    thanos_query = Canned({proxy("api/v1/targets"): success({})})
    with pytest.raises(g.GrafanaError, match="without active targets; is it a Prometheus"):
        thanos_query.prometheus_targets(THANOS)


# ---------------------------------------------------------------- datasource_health
HEALTH = "/api/datasources/uid/thanos/health"
PROM_DOWN = (
    'Post "http://prom:9090/api/v1/query": dial tcp 10.0.0.5:9090: connect: connection refused - There was an error '
    "returned querying the Prometheus API."
)


def health_of(answers, ds=None):
    client = Canned(answers)
    assertion = module.Assertion(client, dict(PARAMS, condition="datasource_health"), NOW)
    assertion.ds = ds or THANOS
    return assertion(), client


def health_of_only(answers, ds=None):
    return health_of(answers, ds)[0]


PARAMS = {
    "datasource": "Thanos",
    "datasource_uid": None,
    "baseline": None,
    "start": None,
    "end": None,
    "query": None,
    "kafka_metric": None,
    "alert_name": "KafkaContainerDown",
    "alert_labels": None,
    "alert_state": "inactive",
    "job": None,
    "instance": None,
    "rule_group": None,
    "rule_names": None,
}


def test_health_ok_and_error_in_grafanas_words():
    ok = health_of_only({HEALTH: (200, {"status": "OK", "message": "Successfully queried the Prometheus API."})})
    assert (ok.met, ok.observed) == (True, "OK")
    assert ok.description == (
        "Grafana's health check of datasource 'Thanos' (type prometheus, URL http://prom:9090) says OK: "
        "Successfully queried the Prometheus API"
    )
    assert ok.facts["health"] == {
        "status": "OK",
        "message": "Successfully queried the Prometheus API.",
        "details": None,
        "checked_with": "health_api",
    }
    bad = health_of_only({HEALTH: (400, {"status": "ERROR", "message": PROM_DOWN})})
    assert (bad.met, bad.observed) == (False, "ERROR")
    assert bad.description == (
        "Grafana's health check of datasource 'Thanos' (type prometheus, URL http://prom:9090) failed: "
        + PROM_DOWN.rstrip(".")
    )


def test_health_details_and_userinfo_in_the_url():
    ds = dict(THANOS, url="http://user:pw@prom:9090")
    details = {"application": "Prometheus", "features": {"rulerApi": True}}
    ok = health_of_only({HEALTH: (200, {"status": "OK", "message": "fine", "details": details})}, ds)
    assert ok.facts["health"]["details"] == details
    assert "URL http://prom:9090)" in ok.description
    assert "pw" not in ok.description


@pytest.mark.parametrize("status", [404, 501])
def test_without_a_health_api_the_datasource_test_runs_through_the_proxy(status):
    answers = {HEALTH: (status, {"message": "Not found"}), proxy("api/v1/query"): vector(2)}
    ok, client = health_of(answers)
    assert (ok.met, ok.facts["health"]["checked_with"]) == (True, "datasource_proxy")
    assert ok.description.startswith(
        "Grafana's health API is not there (%d); the datasource's own test through Grafana's proxy of datasource "
        "'Thanos' (type prometheus, URL http://prom:9090) says OK: 1+1 through the datasource proxy answered 2" % status
    )
    assert client.asked[-1] == (proxy("api/v1/query"), {"query": "1+1", "time": "4"})


def test_the_loki_and_tempo_tests_through_the_proxy():
    loki = {"uid": "loki", "name": "Loki", "type": "loki", "url": "http://loki:3100"}
    answers = {
        "/api/datasources/uid/loki/health": (501, {"message": "Not implemented"}),
        "/api/datasources/proxy/uid/loki/loki/api/v1/query": vector(2),
    }
    ok, client = health_of(answers, loki)
    assert ok.met
    assert client.asked[-1][1]["query"] == "vector(1)+vector(1)"
    tempo = {"uid": "tempo", "name": "Tempo", "type": "tempo", "url": "http://tempo:3200"}
    answers = {
        "/api/datasources/uid/tempo/health": (404, "{}"),
        "/api/datasources/proxy/uid/tempo/api/echo": (200, "echo"),
    }
    assert health_of(answers, tempo)[0].met
    down = {"/api/datasources/uid/tempo/health": (404, "{}"), "/api/datasources/proxy/uid/tempo/api/echo": (502, "")}
    with pytest.raises(g.GrafanaError) as info:
        health_of(down, tempo)
    assert info.value.kind == "bad_gateway"
    assert "Grafana could not reach datasource 'Tempo'" in info.value.msg


def test_a_type_grafana_cannot_check_fails_saying_so():
    es = {"uid": "es", "name": "Elastic", "type": "elasticsearch", "url": "http://es:9200"}
    obs = health_of_only({"/api/datasources/uid/es/health": (501, {"message": "Not implemented"})}, es)
    assert (obs.met, obs.observed, obs.facts) == (False, "unknown", {"health": None})
    assert obs.description == (
        "Grafana cannot check the health of datasource 'Elastic' (type elasticsearch, URL http://es:9200): its "
        "health API answered 501 (no health check for this datasource type) and this module knows no other test "
        "for it"
    )


def test_a_health_answer_that_is_not_one_is_an_error():
    with pytest.raises(g.GrafanaError) as info:
        health_of({HEALTH: (400, "<html>bad gateway</html>")})
    assert info.value.kind == "invalid_response"
    with pytest.raises(g.GrafanaError) as info:
        health_of({HEALTH: (403, {"message": "Access denied to datasource"})})
    assert info.value.kind == "permission"


# ---------------------------------------------------------------- rule_selectors
def rule(name, query, health="ok", error="", kind="alerting"):
    return {"name": name, "query": query, "health": health, "lastError": error, "type": kind}


SEED = '(time() - container_last_seen{id="%s"}) > 30' % GOOD_ID
GROUPS = [
    {
        "name": "kafka-alerts",
        "file": "/etc/prometheus/rules/kafka-alerts.yml",
        "rules": [
            rule("KafkaContainerDown", SEED),
            rule("KafkaCadvisorDown", 'up{job="brokercontainer"} == 0 or absent(up{job="brokercontainer"})'),
        ],
    },
    {"name": "other", "file": "x.yml", "rules": [rule("job:up:sum", "sum by (job) (up)", kind="recording")]},
]
IDS = ["/", "/system.slice"] + [GOOD_ID] + ["/user.slice/x%02d" % i for i in range(9)]


def prometheus(groups=None, counts=None, ids=None, rules_api=True):
    """A Prometheus behind the proxy: rules, count(<selector>) answers, label values."""
    groups = GROUPS if groups is None else groups
    counts = counts if counts is not None else {}
    ids = IDS if ids is None else ids

    def query(params):
        selector = params["query"][len("count(") : -1]
        n = counts.get(selector, 1)
        return vector(n) if n else success({"resultType": "vector", "result": []})

    def label_values(params):
        return success(ids if params.get("match[]") == "container_last_seen" else [])

    return Canned(
        {
            proxy("api/v1/rules"): success({"groups": groups}) if rules_api else (404, "404 page not found"),
            proxy("api/v1/query"): query,
            proxy("api/v1/label/id/values"): label_values,
        }
    )


def rules_check(client, group="kafka-alerts", names=None):
    return c.evaluate_rule_selectors(client, THANOS, group, names, NOW)


def test_every_selector_of_the_group_matches():
    client = prometheus()
    obs = rules_check(client)
    assert (obs.met, obs.observed, obs.facts["unmatched_selectors"]) == (True, "2 of 2 selectors match series", [])
    assert obs.description == (
        "the 2 rules of group kafka-alerts (KafkaContainerDown, KafkaCadvisorDown) are loaded and healthy, and "
        "their 2 selectors match series"
    )
    down = obs.facts["rules"][0]
    assert {k: down[k] for k in ("name", "group", "type", "health", "last_error", "query")} == {
        "name": "KafkaContainerDown",
        "group": "kafka-alerts",
        "type": "alerting",
        "health": "ok",
        "last_error": "",
        "query": SEED,
    }
    assert down["selectors"] == [
        {
            "selector": 'container_last_seen{id="%s"}' % GOOD_ID,
            "metric": "container_last_seen",
            "matchers": [{"name": "id", "op": "=", "value": GOOD_ID}],
            "series": 1,
            "label_values": None,
        }
    ]
    assert (
        proxy("api/v1/query"),
        {"query": 'count(container_last_seen{id="%s"})' % GOOD_ID, "time": "1800000000"},
    ) in (client.asked)
    assert client.asked[0] == (proxy("api/v1/rules"), {})  # every rule type: recording rules too


def test_the_wrong_uid_names_the_ids_there_are():
    wrong = 'container_last_seen{id="%s"}' % WRONG_ID
    groups = [{"name": "kafka-alerts", "rules": [rule("KafkaContainerDown", SEED.replace(GOOD_ID, WRONG_ID))]}]
    client = prometheus(groups, counts={wrong: 0})
    obs = rules_check(client, names=["KafkaContainerDown"])
    assert (obs.met, obs.observed) == (False, "0 of 1 selectors match series")
    assert obs.description == (
        "selector %s of rule KafkaContainerDown matches no series; container_last_seen has id values: %s (and 2 more)"
        % (wrong, ", ".join(IDS[:10]))
    )
    assert obs.facts["unmatched_selectors"] == [
        {"rule": "KafkaContainerDown", "selector": wrong, "label_values": {"id": IDS}}
    ]
    (path, params) = client.asked[-1]
    assert path == proxy("api/v1/label/id/values")
    assert params == {"match[]": "container_last_seen", "start": "1799999400", "end": "1800000000"}


def test_a_metric_with_no_series_at_all_and_a_selector_without_a_name():
    groups = [
        {
            "name": "g",
            "rules": [rule("A", 'nope_total{job="x"} > 0'), rule("B", '{job="nothing"}'), rule("C", "vector(1)")],
        }
    ]
    client = prometheus(groups, counts={'nope_total{job="x"}': 0, '{job="nothing"}': 0})
    client.answers[proxy("api/v1/label/job/values")] = lambda params: success(
        [] if params.get("match[]") else ["prometheus", "kafka"]
    )
    obs = rules_check(client, group="g")
    assert obs.description == (
        'selector nope_total{job="x"} of rule A matches no series; Prometheus has no series of nope_total in the '
        'last 10 minutes (and 1 more selector match nothing: {job="nothing"} of B)'
    )
    assert obs.facts["unmatched_selectors"][1]["label_values"] == {"job": ["prometheus", "kafka"]}
    assert obs.observed == "0 of 2 selectors match series"


@pytest.mark.parametrize(
    ("group", "names", "description", "observed"),
    [
        (
            "kafka-alertz",
            None,
            "no rule group named kafka-alertz is loaded (groups loaded: kafka-alerts, other)",
            "not loaded",
        ),
        (
            "kafka-alerts",
            ["KafkaContainerDown", "KafkaContainerDwon"],
            "no rule named KafkaContainerDwon loaded in group kafka-alerts",
            "1 of 1 selectors match series",
        ),
        (None, ["Nope", "Nada"], "no rules named Nope, Nada loaded in any rule group", "not loaded"),
    ],
)
def test_rules_that_are_not_loaded(group, names, description, observed):
    obs = rules_check(prometheus(), group, names)
    assert (obs.met, obs.description, obs.observed) == (False, description, observed)


def test_names_alone_pick_rules_of_any_group():
    obs = rules_check(prometheus(), None, ["job:up:sum", "KafkaCadvisorDown"])
    assert obs.met
    assert [r["name"] for r in obs.facts["rules"]] == ["KafkaCadvisorDown", "job:up:sum"]
    assert obs.description.startswith("rules KafkaCadvisorDown, job:up:sum are loaded and healthy")


def test_unhealthy_and_unevaluated_rules():
    groups = [
        {
            "name": "g",
            "rules": [
                rule("Broken", "up", "err", "many-to-many matching not allowed: matching labels must be unique."),
                rule("Fresh", "up", "unknown"),
            ],
        }
    ]
    obs = rules_check(prometheus(groups), "g")
    assert not obs.met
    assert obs.description == (
        "rule Broken is unhealthy (health err): many-to-many matching not allowed: matching labels must be unique "
        "(and 1 more problem: rule Fresh has not been evaluated yet (health unknown))"
    )


def test_a_datasource_without_rules_api_fails_at_once():
    with pytest.raises(g.GrafanaError) as info:
        rules_check(prometheus(rules_api=False))
    assert (info.value.kind, info.value.transient) == ("not_found", False)
    assert info.value.msg.startswith("Datasource 'Thanos' has no rules API (api/v1/rules answered 404 Not Found)")


# ---------------------------------------------------------------- alert without a rules API
ALERTS = [{"labels": {"alertname": "KafkaContainerDown", "service": "kafka"}, "state": "firing", "activeAt": "x"}]


def no_rules_api(alerts):
    return Canned(
        {proxy("api/v1/rules"): (404, "404 page not found"), proxy("api/v1/alerts"): success({"alerts": alerts})}
    )


def alert_assertion(client, state):
    assertion = module.Assertion(client, dict(PARAMS, condition="alert", alert_state=state), NOW)
    assertion.ds = THANOS
    return assertion


def test_inactive_cannot_pass_without_the_rules_api():
    """The defect: 'KafkaContainerDown is loaded and inactive' passed with no rule loaded at all."""
    with pytest.raises(g.GrafanaError) as info:
        alert_assertion(no_rules_api([]), "inactive")()
    assert (info.value.kind, info.value.transient) == ("not_found", False)
    assert info.value.msg == (
        "Cannot prove that the alerting rule KafkaContainerDown is loaded and inactive: datasource 'Thanos' has no "
        "rules API (api/v1/rules answered 404 Not Found), and its api/v1/alerts lists only pending and firing alerts "
        "(none named KafkaContainerDown); point the datasource at a Prometheus, or a Thanos Query with rules, that "
        "serves api/v1/rules."
    )


def test_a_firing_alert_proves_its_rule_without_the_rules_api():
    firing = alert_assertion(no_rules_api(ALERTS), "firing")()
    assert (firing.met, firing.observed, firing.facts["rule_found"]) == (True, "firing", True)
    not_inactive = alert_assertion(no_rules_api(ALERTS), "inactive")()
    assert (not_inactive.met, not_inactive.observed) == (False, "firing")


def test_waiting_for_firing_without_the_rules_api_says_the_rule_is_unproven():
    obs = alert_assertion(no_rules_api([]), "firing")()
    assert (obs.met, obs.observed, obs.facts["rule_found"]) == (False, "unknown", None)
    assert obs.description == (
        "needed alert KafkaContainerDown firing, observed no pending or firing KafkaContainerDown alert; whether "
        "its rule is loaded cannot be told: datasource 'Thanos' has no rules API (api/v1/rules answered 404 Not "
        "Found)"
    )


def test_with_the_rules_api_an_inactive_loaded_rule_passes():
    groups = [{"name": "g", "rules": [dict(rule("KafkaContainerDown", "up"), type="alerting", alerts=[])]}]
    client = Canned({proxy("api/v1/rules"): success({"groups": groups})})
    obs = alert_assertion(client, "inactive")()
    assert (obs.met, obs.facts["rule_found"]) == (True, True)
    assert client.asked == [(proxy("api/v1/rules"), {"type": "alert"})]


def test_a_selector_of_several_rules_is_asked_for_once():
    same = 'up{job="brokercontainer"}'
    groups = [{"name": "g", "rules": [rule("A", same + " == 0"), rule("B", "absent(%s)" % same)]}]
    client = prometheus(groups)
    obs = rules_check(client, "g")
    assert (obs.met, obs.observed) == (True, "2 of 2 selectors match series")
    assert [params["query"] for path, params in client.asked if path == proxy("api/v1/query")] == ["count(%s)" % same]
    assert [len(r["selectors"]) for r in obs.facts["rules"]] == [1, 1]
