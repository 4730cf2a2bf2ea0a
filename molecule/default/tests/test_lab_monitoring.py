"""monitoring after site.yml: the scrape job and the alert rules loaded in Prometheus, Alertmanager's route."""

import json
import re

import yaml


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


# what the alertmanager_slack role writes in the lab (inventory/lab: user vagrant, the lab's
# Slack webhook sink on monitoring)
SLACK_RECEIVER = "slack-kafka"
SLACK_URL_FILE = "/home/vagrant/alertmanager/slack_webhook_url"
SLACK_SINK_URL = "http://{0}:8099/services/T000LAB/B000LAB/lab"


def _matcher(text):
    """'service="kafka"', 'service=kafka' or 'service = "kafka"' -> ('service', '=', 'kafka')."""
    match = re.match(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"?(.*?)"?\s*$', text)
    return match.groups() if match else (text,)


def slack_route_problems(config, receiver=SLACK_RECEIVER, url_file=SLACK_URL_FILE):
    """What is wrong with the Slack route in a parsed alertmanager.yml ([] when nothing)."""
    problems = []
    routes = (config.get("route") or {}).get("routes") or []
    if not routes or routes[0].get("receiver") != receiver:
        problems.append("the first child route does not go to {0}: {1}".format(receiver, routes[:1]))
    else:
        route = routes[0]
        if ("service", "=", "kafka") not in [_matcher(m) for m in route.get("matchers") or []]:
            problems.append('the route has no matcher service="kafka": {0}'.format(route.get("matchers")))
        if route.get("continue"):
            problems.append("the route continues to the next routes")
    receivers = [r for r in config.get("receivers") or [] if r.get("name") == receiver]
    if len(receivers) != 1:
        problems.append("{0} receivers named {1}".format(len(receivers), receiver))
    else:
        slack = receivers[0].get("slack_configs") or []
        if len(slack) != 1:
            problems.append("{0} slack_configs in {1}".format(len(slack), receiver))
        else:
            if slack[0].get("api_url_file") != url_file:
                problems.append("api_url_file is {0!r}, not {1}".format(slack[0].get("api_url_file"), url_file))
            if "api_url" in slack[0]:
                problems.append("the webhook URL is written in the configuration (api_url)")
            if slack[0].get("send_resolved") is not True:
                problems.append("send_resolved is not true")
    return problems


def test_alertmanager_runs_the_slack_route(monitoring):
    """The running configuration (parsed): the route first, its matcher, the receiver reading the webhook file."""
    doc = _get(monitoring, "http://127.0.0.1:9093/api/v2/status")
    assert doc, "Alertmanager does not answer"
    config = yaml.safe_load(doc["config"]["original"])
    assert slack_route_problems(config) == []


def test_the_webhook_file_holds_the_slack_url_for_vagrant_only(monitoring, address):
    url_file = monitoring.file(SLACK_URL_FILE)
    assert url_file.is_file
    assert url_file.user == "vagrant" and url_file.mode == 0o600
    assert url_file.content_string.strip() == SLACK_SINK_URL.format(address["monitoring"])


def test_alertmanager_routes_kafka_alerts_to_slack_and_others_not(monitoring):
    """Alertmanager's own routing (amtool against the running Alertmanager), not a reading of the file."""

    def receivers(labels):
        res = monitoring.run("amtool config routes test --alertmanager.url=http://127.0.0.1:9093 {0}".format(labels))
        assert res.rc == 0, res.stderr
        return res.stdout.split()

    assert receivers("alertname=KafkaContainerDown service=kafka severity=critical instance=b:9882") == [SLACK_RECEIVER]
    assert SLACK_RECEIVER not in receivers("alertname=SomethingElse service=web")
