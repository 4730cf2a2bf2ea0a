"""grafana_assert's hop conditions - datasource_health, target_up, rule_selectors - and the alert condition on a
datasource without the rules API, through the Grafana stand-in to a REAL Prometheus 2.53 of their own.

That Prometheus scrapes a cAdvisor-like exporter the test serves (job brokercontainer: container_last_seen and
friends for the cgroups of a rootless Quadlet host, user 1000), itself (job prometheus) and a port where nothing
listens (job dead); it loads the prometheus_alerts role's rules rendered with its defaults (group kafka-alerts),
the runbook's rule (group runbook), the same rule naming user 1001 (group runbook-wrong-uid), a rule Prometheus
fails to evaluate (group broken) and an alert that always fires (group always). Grafana's datasources point at it,
at it behind a filter without api/v1/rules, at the Loki/Tempo stand-ins and at a closed port.
"""

import json

import pytest
import yaml

from tests.integration.grafana.grafana_helpers import (
    KAFKA_CGROUP,
    TOKEN,
    CadvisorLikeExporter,
    RulesHidingProxy,
    run,
)
from tests.support.prometheus import free_port, running_prometheus, wait_for
from tests.support.standins.grafana_standin import start_stack
from tests.unit.promql.promql_corpus import SEED_RULES, render_role_rules

WRONG_CGROUP = KAFKA_CGROUP.replace("1000", "1001")
EXTRA_RULES = {
    "groups": [
        {
            "name": "broken",
            "rules": [
                {
                    # one-to-one needed on the right, every cgroup matches the empty group: an evaluation error
                    "alert": "BrokenJoin",
                    "expr": "container_last_seen * on() group_left container_memory_working_set_bytes",
                }
            ],
        },
        {"name": "always", "rules": [{"alert": "DojoAlwaysFiring", "expr": "vector(1)", "labels": {"case": "hops"}}]},
    ]
}


def runbook_rules(group, cgroup):
    doc = yaml.safe_load(SEED_RULES.read_text())
    doc["groups"][0]["name"] = group
    rule = doc["groups"][0]["rules"][0]
    rule["expr"] = rule["expr"].replace(KAFKA_CGROUP, cgroup)
    return json.dumps(doc)


@pytest.fixture(scope="module")
def exporter():
    server = CadvisorLikeExporter()
    yield server
    server.close()


@pytest.fixture(scope="module")
def hops_prometheus(tmp_path_factory, exporter, closed_port):
    workdir = tmp_path_factory.mktemp("prometheus-hops")
    role_text, _rules = render_role_rules(workdir)
    port = free_port()
    with running_prometheus(
        workdir,
        port=port,
        scrape_configs=[
            {"job_name": "brokercontainer", "static_configs": [{"targets": [exporter.address]}]},
            {"job_name": "prometheus", "static_configs": [{"targets": ["127.0.0.1:%d" % port]}]},
            {"job_name": "dead", "static_configs": [{"targets": ["127.0.0.1:%d" % closed_port]}]},
        ],
        rule_files={
            "kafka-alerts.yml": role_text,
            "runbook.yml": runbook_rules("runbook", KAFKA_CGROUP),
            "runbook-wrong-uid.yml": runbook_rules("runbook-wrong-uid", WRONG_CGROUP),
            "extra.yml": json.dumps(EXTRA_RULES),
        },
    ) as prom:

        def scraped_once():  # Prometheus's discovery hands the targets over a few seconds after it is ready
            active = prom.api("/api/v1/targets")["data"]["activeTargets"]
            return len(active) == 3 and all(t["health"] != "unknown" for t in active)

        wait_for(scraped_once, timeout=30, what="the three targets scraped once")
        wait_for(
            lambda: all(r["health"] != "unknown" for g in prom.rules() for r in g["rules"]) and len(prom.rules()) == 5,
            timeout=30,
            what="every rule evaluated once",
        )
        yield prom


@pytest.fixture(scope="module")
def hops(hops_prometheus, closed_port):
    no_rules = RulesHidingProxy(hops_prometheus.url)
    down = "http://127.0.0.1:%d" % closed_port
    config = {
        "grafana": {
            "tokens": [{"token": TOKEN, "role": "Admin", "org_id": 1}],
            "proxy_timeout": 5,
            "datasources": [
                {"uid": "hops", "name": "Hops", "type": "prometheus", "url": hops_prometheus.url},
                {"uid": "no-rules", "name": "Hops without rules API", "type": "prometheus", "url": no_rules.url},
                {"uid": "loki", "name": "Loki", "type": "loki", "url": "{loki_url}"},
                {"uid": "tempo", "name": "Tempo", "type": "tempo", "url": "{tempo_url}"},
                {"uid": "prom-down", "name": "Prometheus down", "type": "prometheus", "url": down},
                {"uid": "loki-down", "name": "Loki down", "type": "loki", "url": down},
                {"uid": "tempo-down", "name": "Tempo down", "type": "tempo", "url": down},
                {
                    "uid": "old",
                    "name": "Prometheus on an old Grafana",
                    "type": "prometheus",
                    "url": hops_prometheus.url,
                    "healthCheck": False,
                },
                {"uid": "es", "name": "Elastic", "type": "elasticsearch", "url": down},
            ],
        },
        "loki": {},
        "tempo": {},
    }
    try:
        with start_stack(config) as stack:
            yield stack
    finally:
        no_rules.close()


@pytest.fixture
def hop_conn(hops):
    return {"grafana_url": hops.grafana_url, "grafana_token": TOKEN}


def check(conn, condition, datasource="Hops", check_mode=False, **options):
    return run(
        "grafana_assert",
        dict(conn, datasource=datasource, condition=condition, timeout=0, **options),
        check=check_mode,
    )


def outcome(r):
    """passed, observed, and the msg without the prefix that says how many attempts"""
    prefix = "Condition %s %s" % (
        r.result["condition"],
        "met after 1 attempt in " if r.result["passed"] else "not met within 0 s (1 attempt): ",
    )
    assert r.result["msg"].startswith(prefix), r.result["msg"]
    return r.result["passed"], r.result["observed"], r.result["msg"].split(": ", 1)[1]


# ---------------------------------------------------------------- datasource_health
PROM_OK = "Successfully queried the Prometheus API"
REFUSED = "dial tcp 127.0.0.1:%(port)d: connect: connection refused"
DOWN_URL = "URL http://127.0.0.1:%(port)d"


@pytest.mark.parametrize(
    ("datasource", "passed", "observed", "description"),
    [
        (
            "Hops",
            True,
            "OK",
            "Grafana's health check of datasource 'Hops' (type prometheus, URL %(prom)s) says OK: " + PROM_OK,
        ),
        (
            "Loki",
            True,
            "OK",
            "Grafana's health check of datasource 'Loki' (type loki, URL %(loki)s) says OK: Successfully queried the "
            "Loki API",
        ),
        (
            "Tempo",
            True,
            "OK",
            "Grafana's health check of datasource 'Tempo' (type tempo, URL %(tempo)s) says OK: Health check succeeded",
        ),
        (
            "Prometheus down",
            False,
            "ERROR",
            "Grafana's health check of datasource 'Prometheus down' (type prometheus, " + DOWN_URL + ") failed: Post "
            '"http://127.0.0.1:%(port)d/api/v1/query": ' + REFUSED + " - There was an error returned querying the "
            "Prometheus API; health of datasource 'Prometheus down'.",
        ),
        (
            "Loki down",
            False,
            "ERROR",
            "Grafana's health check of datasource 'Loki down' (type loki, " + DOWN_URL + ") failed: There was an "
            'error returned querying the Loki API.: Get "http://127.0.0.1:%(port)d/loki/api/v1/query?direction='
            'backward&query=vector%%281%%29%%2Bvector%%281%%29&time=4000000000": ' + REFUSED + "; health of "
            "datasource 'Loki down'.",
        ),
        (
            "Tempo down",
            False,
            "ERROR",
            "Grafana's health check of datasource 'Tempo down' (type tempo, " + DOWN_URL + ") failed: Unable to "
            'connect with Tempo: Get "http://127.0.0.1:%(port)d/api/echo": ' + REFUSED + "; health of datasource "
            "'Tempo down'.",
        ),
        (
            "Prometheus on an old Grafana",
            True,
            "OK",
            "Grafana's health API is not there (501); the datasource's own test through Grafana's proxy of datasource "
            "'Prometheus on an old Grafana' (type prometheus, URL %(prom)s) says OK: 1+1 through the datasource proxy "
            "answered 2",
        ),
        (
            "Elastic",
            False,
            "unknown",
            "Grafana cannot check the health of datasource 'Elastic' (type elasticsearch, " + DOWN_URL + "): its "
            "health API answered 501 (no health check for this datasource type) and this module knows no other test "
            "for it; health of datasource 'Elastic'.",
        ),
    ],
)
def test_datasource_health(hop_conn, hops, hops_prometheus, closed_port, *, datasource, passed, observed, description):
    r = check(hop_conn, "datasource_health", datasource)
    urls = {"prom": hops_prometheus.url, "loki": hops.loki_url, "tempo": hops.tempo_url, "port": closed_port}
    expected = description % urls
    assert outcome(r) == (passed, observed, expected if not passed else expected + ".")
    assert r.failed is not passed
    if observed in ("OK", "ERROR"):
        assert r.result["health"]["status"] == observed
        assert r.result["health"]["checked_with"] == ("datasource_proxy" if "old" in datasource else "health_api")
    assert r.result["datasource"]["name"] == datasource


# ---------------------------------------------------------------- target_up
@pytest.mark.parametrize(
    ("options", "passed", "observed", "description"),
    [
        (
            {"job": "brokercontainer"},
            True,
            "1 of 1 up",
            "every target of scrape job brokercontainer is up (http://%(exporter)s/metrics).",
        ),
        (
            {"job": "brokercontainer", "instance": "%(exporter)s"},
            True,
            "1 of 1 up",
            "every target of scrape job brokercontainer (instance %(exporter)s) is up (http://%(exporter)s/metrics).",
        ),
        (
            {"job": "dead"},
            False,
            "0 of 1 up",
            'target http://127.0.0.1:%(port)d/metrics of job dead is down: Get "http://127.0.0.1:%(port)d/metrics": '
            "dial tcp 127.0.0.1:%(port)d: connect: connection refused (last scrape ",
        ),
        (
            {"job": "cadvisor"},
            False,
            "no active target",
            "no active target for scrape job cadvisor (missing from Prometheus's configuration, or it has no target); "
            "the jobs with active targets are brokercontainer, dead, prometheus; scrape targets on datasource 'Hops'.",
        ),
        (
            {"job": "brokercontainer", "instance": "10.0.0.1:9882"},
            False,
            "no active target",
            "no active target for scrape job brokercontainer (instance 10.0.0.1:9882) (missing from",
        ),
    ],
)
def test_target_up(hop_conn, exporter, closed_port, *, options, passed, observed, description):
    values = {"exporter": exporter.address, "port": closed_port}
    options = {k: v % values for k, v in options.items()}
    r = check(hop_conn, "target_up", **options)
    got_passed, got_observed, msg = outcome(r)
    assert (got_passed, got_observed) == (passed, observed)
    assert msg.startswith(description % values), msg
    assert r.result["job"] == options["job"]
    if options["job"] == "dead":
        (target,) = r.result["targets"]
        assert target["health"] == "down"
        assert "connection refused" in target["last_error"]
        assert 0 <= target["last_scrape_seconds_ago"] < 30
        assert msg.endswith(" s ago); scrape targets on datasource 'Hops'.")
    if passed:
        assert [t["scrape_url"] for t in r.result["targets"]] == ["http://%s/metrics" % exporter.address]


def test_target_up_in_check_mode_polls_until_the_timeout(hop_conn):
    r = run(
        "grafana_assert",
        dict(hop_conn, datasource="Hops", condition="target_up", job="dead", timeout=1.5, interval=0.5),
        check=True,
    )
    assert r.failed
    assert r.result["changed"] is False
    assert r.result["attempts"] >= 3
    assert r.result["msg"].startswith(
        "Condition target_up not met within 1.5 s (%d attempts): target " % r.result["attempts"]
    )


# ---------------------------------------------------------------- rule_selectors
LAST_SEEN_WRONG = 'container_last_seen{id="%s"}' % WRONG_CGROUP


@pytest.mark.parametrize(
    ("options", "passed", "observed", "description"),
    [
        (
            {"rule_group": "kafka-alerts"},
            True,
            "5 of 5 selectors match series",  # up{job="brokercontainer"} in two rules
            "the 4 rules of group kafka-alerts (KafkaContainerDown, KafkaCadvisorDown, KafkaContainerHighCpu, "
            "KafkaContainerHighMemory) are loaded and healthy, and their 5 selectors match series.",
        ),
        (
            {"rule_group": "runbook", "rule_names": ["KafkaContainerDown"]},
            True,
            "1 of 1 selectors match series",
            "rule KafkaContainerDown of group runbook is loaded and healthy, and its 1 selector matches series.",
        ),
        (
            {"rule_group": "runbook-wrong-uid"},
            False,
            "0 of 1 selectors match series",
            "selector %s of rule KafkaContainerDown matches no series; container_last_seen has id values: %s; rules "
            "group runbook-wrong-uid on datasource 'Hops'."
            % (
                LAST_SEEN_WRONG,
                ", ".join(
                    sorted(
                        [
                            "/",
                            "/system.slice",
                            "/system.slice/sshd.service",
                            "/user.slice",
                            "/user.slice/user-1000.slice",
                            "/user.slice/user-1000.slice/user@1000.service",
                            "/user.slice/user-1000.slice/user@1000.service/app.slice",
                            "/user.slice/user-1000.slice/user@1000.service/app.slice/cadvisor.service",
                            KAFKA_CGROUP,
                        ]
                    )
                ),
            ),
        ),
        (
            {"rule_group": "broken"},
            False,
            "2 of 2 selectors match series",
            "rule BrokenJoin is unhealthy (health err): found duplicate series for the match group {} on the right "
            "hand-side of the operation",
        ),
        (
            {"rule_group": "kafka-alerts", "rule_names": ["KafkaContainerDown", "KafkaContainerDwon"]},
            False,
            "2 of 2 selectors match series",
            "no rule named KafkaContainerDwon loaded in group kafka-alerts; rules group kafka-alerts / "
            "KafkaContainerDown, KafkaContainerDwon on datasource 'Hops'.",
        ),
        (
            {"alert_names": ["KafkaNope"]},
            False,
            "not loaded",
            "no rule named KafkaNope loaded in any rule group; rules KafkaNope on datasource 'Hops'.",
        ),
        (
            {"rule_group": "kafka"},
            False,
            "not loaded",
            "no rule group named kafka is loaded (groups loaded: always, broken, kafka-alerts, runbook, "
            "runbook-wrong-uid); rules group kafka on datasource 'Hops'.",
        ),
    ],
)
def test_rule_selectors(hop_conn, options, passed, observed, description):
    r = check(hop_conn, "rule_selectors", **options)
    got_passed, got_observed, msg = outcome(r)
    assert (got_passed, got_observed) == (passed, observed)
    assert msg.startswith(description), msg


def test_rule_selectors_return_what_was_found(hop_conn, hops_prometheus):
    r = check(hop_conn, "rule_selectors", rule_group="runbook-wrong-uid")
    (rule,) = r.result["rules"]
    loaded = next(x for g in hops_prometheus.rules() if g["name"] == "runbook-wrong-uid" for x in g["rules"])
    assert {k: rule[k] for k in ("name", "group", "type", "health", "last_error", "query")} == {
        "name": "KafkaContainerDown",
        "group": "runbook-wrong-uid",
        "type": "alerting",
        "health": "ok",
        "last_error": "",
        "query": loaded["query"],
    }
    (selector,) = rule["selectors"]
    assert selector["selector"] == LAST_SEEN_WRONG
    assert selector["series"] == 0
    assert KAFKA_CGROUP in selector["label_values"]["id"]
    assert r.result["unmatched_selectors"] == [
        {"rule": "KafkaContainerDown", "selector": LAST_SEEN_WRONG, "label_values": selector["label_values"]}
    ]
    ok = check(hop_conn, "rule_selectors", rule_group="kafka-alerts")
    counts = {s["metric"]: s["series"] for rule in ok.result["rules"] for s in rule["selectors"]}
    assert counts == {
        "container_last_seen": 1,
        "up": 1,
        "container_cpu_usage_seconds_total": 1,
        "container_memory_working_set_bytes": 1,
    }
    assert ok.result["unmatched_selectors"] == []


# ---------------------------------------------------------------- alert without api/v1/rules
def test_inactive_alert_cannot_pass_on_a_datasource_without_the_rules_api(hop_conn):
    """The defect an operator hit: 'KafkaContainerDown is loaded and inactive' passed with no rule loaded at all."""
    args = {"alert_name": "KafkaContainerDown", "alert_state": "inactive", "timeout": 30}
    r = run("grafana_assert", dict(hop_conn, datasource="Hops without rules API", condition="alert", **args))
    assert r.failed
    assert (r.result["attempts"], r.result["error_kind"]) == (1, "not_found")
    assert r.result["msg"] == (
        "Cannot prove that the alerting rule KafkaContainerDown is loaded and inactive: datasource 'Hops without "
        "rules API' has no rules API (api/v1/rules answered 404 Not Found), and its api/v1/alerts lists only pending "
        "and firing alerts (none named KafkaContainerDown); point the datasource at a Prometheus, or a Thanos Query "
        "with rules, that serves api/v1/rules."
    )
    with_rules = run("grafana_assert", dict(hop_conn, datasource="Hops", condition="alert", **args))
    assert not with_rules.failed, with_rules.result
    assert with_rules.result["rule_found"] is True


def test_a_firing_alert_proves_its_rule_without_the_rules_api(hop_conn):
    base = dict(hop_conn, datasource="Hops without rules API", condition="alert", timeout=0)
    firing = run("grafana_assert", dict(base, alert_name="DojoAlwaysFiring", alert_state="firing"))
    assert not firing.failed, firing.result
    assert (firing.result["rule_found"], firing.result["alerts"][0]["labels"]["case"]) == (True, "hops")
    never = run("grafana_assert", dict(base, alert_name="KafkaContainerDown", alert_state="firing"))
    assert never.failed
    assert (never.result["observed"], never.result["rule_found"]) == ("unknown", None)
    assert (
        "whether its rule is loaded cannot be told: datasource 'Hops without rules API' has no rules API"
        in (never.result["msg"])
    )


# ---------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ({"condition": "target_up"}, "condition is target_up but all of the following are missing: job"),
        (
            {"condition": "rule_selectors"},
            "condition is rule_selectors but any of the following are missing: rule_group, rule_names",
        ),
        (
            {"condition": "rule_selectors", "rule_names": []},
            "condition=rule_selectors needs rule_group, rule_names (a non-empty list) or both.",
        ),
        ({"condition": "present", "query": "up", "job": "x"}, "job and instance only apply to condition=target_up."),
        (
            {"condition": "alert", "alert_name": "A", "rule_group": "g"},
            "rule_group and rule_names only apply to condition=rule_selectors.",
        ),
        (
            {"condition": "target_up", "job": "x", "query": "up"},
            "condition=target_up reads Prometheus's scrape targets; it takes job (and instance), not query.",
        ),
        (
            {"condition": "datasource_health", "query": "up"},
            "condition=datasource_health asks Grafana for the datasource's health; it takes the datasource only, not "
            "query.",
        ),
        (
            {"condition": "rule_selectors", "rule_group": "g", "query": "up"},
            "condition=rule_selectors reads the loaded rules; it takes rule_group and/or rule_names, not query.",
        ),
    ],
)
def test_argument_errors(hop_conn, args, msg):
    r = run("grafana_assert", dict(hop_conn, datasource="Hops", **args))
    assert r.failed
    assert r.result["msg"] == msg
    assert r.result.get("attempts", 0) == 0
