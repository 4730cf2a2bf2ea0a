"""Conditions of grafana_assert and its polling loop (module_utils/grafana_checks.py), without a network."""

import pytest
from ansible_collections.dojo.kafka_observability.plugins.module_utils import grafana_checks as c
from ansible_collections.dojo.kafka_observability.plugins.module_utils.grafana import GrafanaError, normalize_prometheus


def vector(*values, labels=None):
    result = [{"metric": dict(labels or {}, i=str(i)), "value": [1.0, str(v)]} for i, v in enumerate(values)]
    return normalize_prometheus({"resultType": "vector", "result": result})


@pytest.mark.parametrize(
    ("op", "threshold", "met"),
    [
        (">", 4, True),
        (">", 5, False),
        (">=", 5, True),
        ("==", 5, True),
        ("!=", 5, False),
        ("<", 6, True),
        ("<=", 4, False),
    ],
)
def test_threshold_operators_on_one_series(op, threshold, met):
    obs = c.check_threshold(vector(5), op, threshold)
    assert obs.met is met
    assert obs.observed == 5.0
    assert ("every series %s" % op) in obs.description


def test_threshold_all_any_sum():
    two = vector(1, 10)
    assert c.check_threshold(two, ">=", 5, "all").met is False
    assert c.check_threshold(two, ">=", 5, "any").met is True
    assert c.check_threshold(two, ">=", 11, "sum").met is True
    assert c.check_threshold(two, ">=", 12, "sum").met is False
    assert c.check_threshold(two, ">=", 5, "all").observed == [1.0, 10.0]


def test_threshold_without_series_never_passes():
    for op in c.OPERATORS:
        obs = c.check_threshold(vector(), op, 0)
        assert obs.met is False
        assert obs.observed is None
        assert "got no series" in obs.description


def test_increase_passes_fails_and_reports():
    obs = c.check_increase(vector(150), 100, 50)
    assert obs.met is True
    assert obs.observed == 50
    assert obs.facts["current"] == 150
    assert obs.facts["counter_reset"] is False
    obs = c.check_increase(vector(149), 100, 50)
    assert obs.met is False
    assert "observed 49 (now 149)" in obs.description


def test_increase_sums_series_and_treats_a_drop_as_a_reset():
    assert c.check_increase(vector(30, 30), 10, 50).met is True
    obs = c.check_increase(vector(60), 1000, 50)  # broker restarted: counter started again from 0
    assert obs.met is True
    assert obs.observed == 60
    assert obs.facts["counter_reset"] is True
    assert "counter reset" in obs.description


def test_increase_without_series_is_not_met():
    obs = c.check_increase(vector(), 0, 1)
    assert obs.met is False
    assert obs.observed is None


def test_present_and_absent():
    assert c.check_present(vector(1), 1).met is True
    assert c.check_present(vector(1), 2).met is False
    assert c.check_present(vector(), 1).met is False
    assert c.check_absent(vector()).met is True
    obs = c.check_absent(vector(1, labels={"job": "kafka"}))
    assert obs.met is False
    assert "job" in obs.description


def test_count_for_lines_and_traces():
    assert c.check_count({"count": 3, "lines": [1, 2, 3]}, 3, "lines").met is True
    obs = c.check_count({"count": 2, "traces": [1, 2]}, 3, "traces")
    assert obs.met is False
    assert obs.description == "needed at least 3 traces, observed 2"
    assert c.check_count({"count": 0, "lines": []}, 1, "lines").description == "needed at least 1 line, observed 0"


RULE_GROUPS = [
    {
        "name": "kafka",
        "rules": [
            {"type": "recording", "name": "KafkaContainerDown"},
            {
                "type": "alerting",
                "name": "KafkaContainerDown",
                "state": "firing",
                "alerts": [
                    {"labels": {"alertname": "KafkaContainerDown", "service": "kafka", "id": "a"}, "state": "firing"},
                    {"labels": {"alertname": "KafkaContainerDown", "service": "kafka", "id": "b"}, "state": "pending"},
                ],
            },
            {"type": "alerting", "name": "Quiet", "state": "inactive", "alerts": []},
        ],
    }
]


def test_alert_state_from_rules():
    assert c.alert_state(RULE_GROUPS, True, "KafkaContainerDown")[0] == "firing"
    assert c.alert_state(RULE_GROUPS, True, "KafkaContainerDown", {"id": "b"})[0] == "pending"
    assert c.alert_state(RULE_GROUPS, True, "KafkaContainerDown", {"id": "c"})[0] == "inactive"
    state, alerts, found = c.alert_state(RULE_GROUPS, True, "Quiet")
    assert (state, alerts, found) == ("inactive", [], True)
    assert c.alert_state(RULE_GROUPS, True, "Missing")[2] is False


def test_check_alert_needs_the_rule_to_exist():
    obs = c.check_alert(RULE_GROUPS, True, "Missing", None, "inactive")
    assert obs.met is False
    assert "no alerting rule named Missing is loaded" in obs.description
    obs = c.check_alert(RULE_GROUPS, True, "KafkaContainerDown", {"service": "kafka"}, "firing")
    assert obs.met is True
    assert obs.observed == "firing"
    assert 'KafkaContainerDown{service="kafka"} firing' in obs.description
    assert len(obs.facts["alerts"]) == 2


def test_alert_state_from_the_alerts_endpoint():
    alerts = [{"labels": {"alertname": "KafkaContainerDown", "service": "kafka"}, "state": "pending"}]
    state, found_alerts, found = c.alert_state(alerts, False, "KafkaContainerDown", {"service": "kafka"})
    assert (state, found) == ("pending", None)
    assert found_alerts[0]["state"] == "pending"
    # a pending alert proves its rule; an alert absent from api/v1/alerts proves nothing (it used to pass as
    # "inactive": see test_grafana_hop_conditions.py for the whole condition)
    pending = c.check_alert(alerts, False, "KafkaContainerDown", None, "pending")
    assert (pending.met, pending.facts["rule_found"]) == (True, True)
    with pytest.raises(GrafanaError, match="Cannot prove that the alerting rule Other is loaded and inactive"):
        c.check_alert(alerts, False, "Other", None, "inactive")


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_poll_returns_at_the_first_met_attempt():
    clock = FakeClock()
    answers = iter([c.Observation(False, 1, "no"), c.Observation(False, 2, "no"), c.Observation(True, 3, "yes")])
    outcome = c.poll(lambda: next(answers), 60, 5, clock.monotonic, clock.sleep)
    assert outcome.met
    assert outcome.attempts == 3
    assert outcome.observation.observed == 3
    assert clock.sleeps == [5, 5]
    assert outcome.elapsed == 10


def test_poll_stops_at_the_deadline_with_a_last_attempt_there():
    clock = FakeClock()
    outcome = c.poll(lambda: c.Observation(False, 0, "no"), 12, 5, clock.monotonic, clock.sleep)
    assert not outcome.met
    assert clock.sleeps == [5, 5, 2]
    assert outcome.attempts == 4
    assert outcome.elapsed == 12


def test_poll_with_zero_timeout_tries_once():
    clock = FakeClock()
    outcome = c.poll(lambda: c.Observation(False, 0, "no"), 0, 5, clock.monotonic, clock.sleep)
    assert outcome.attempts == 1
    assert clock.sleeps == []


def test_poll_retries_transient_errors_and_remembers_the_last():
    clock = FakeClock()
    calls = []

    def attempt():
        calls.append(1)
        raise GrafanaError("Cannot connect to Grafana", "connection")

    outcome = c.poll(attempt, 10, 5, clock.monotonic, clock.sleep)
    assert len(calls) == 3
    assert outcome.observation is None
    assert outcome.last_error.kind == "connection"


def test_poll_recovers_after_a_transient_error():
    clock = FakeClock()
    answers = [GrafanaError("502", "bad_gateway"), c.Observation(True, 1, "ok")]

    def attempt():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    outcome = c.poll(attempt, 10, 1, clock.monotonic, clock.sleep)
    assert outcome.met
    assert outcome.last_error is None
    assert outcome.attempts == 2


@pytest.mark.parametrize("kind", ["credentials", "permission", "not_found", "bad_query", "type_mismatch"])
def test_poll_raises_errors_waiting_cannot_fix_at_once(kind):
    clock = FakeClock()

    def attempt():
        raise GrafanaError("no", kind)

    with pytest.raises(GrafanaError) as info:
        c.poll(attempt, 60, 5, clock.monotonic, clock.sleep)
    assert info.value.outcome.attempts == 1
    assert clock.sleeps == []


def test_window_and_auto_step():
    start, end = c.window({"since": "5m"}, 1000.0, "1h")
    assert (start, end) == (700.0, 1000.0)
    start, end = c.window({"start": 100, "end": 200}, 1000.0, "1h")
    assert (start, end) == (100.0, 200.0)
    with pytest.raises(GrafanaError, match="window is empty"):
        c.window({"start": 300, "end": 200}, 1000.0, "1h")
    assert c.auto_step(0, 3600) == 15
    assert c.auto_step(0, 10) == 1
