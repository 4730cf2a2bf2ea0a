"""monitoring after site.yml: the scrape job and the alert rules loaded in Prometheus, Alertmanager's route."""

import json


def _get(host, url):
    res = host.run("curl -fsS -m 5 '{0}'".format(url))
    return json.loads(res.stdout) if res.rc == 0 else None


def test_prometheus_user_service_active(monitoring, user_systemctl):
    assert user_systemctl(monitoring, "is-active", "prometheus.service").stdout.strip() == "active"


def test_rules_loaded_in_prometheus(monitoring):
    doc = _get(monitoring, "http://127.0.0.1:9090/api/v1/rules")
    assert doc and doc["status"] == "success"
    rules = {r["name"]: r for g in doc["data"]["groups"] for r in g["rules"]}
    assert "KafkaContainerDown" in rules
    assert rules["KafkaContainerDown"]["health"] != "err"


def test_cadvisor_scraped(monitoring, address, poll):
    target = "{0}:9882".format(address["broker"])

    def up():
        doc = _get(monitoring, "http://127.0.0.1:9090/api/v1/targets?state=active")
        if not doc:
            return None
        return next(
            (
                t
                for t in doc["data"]["activeTargets"]
                if t["labels"].get("job") == "brokercontainer"
                and t["labels"].get("instance") == target
                and t["health"] == "up"
            ),
            None,
        )

    assert poll(up, "the brokercontainer target up in Prometheus", deadline_s=90)


def test_alertmanager_has_the_slack_route(monitoring):
    doc = _get(monitoring, "http://127.0.0.1:9093/api/v2/status")
    assert doc, "Alertmanager does not answer"
    assert "slack_configs" in doc["config"]["original"]
