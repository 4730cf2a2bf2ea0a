"""grafana_assert condition=alert against alert rules a REAL Prometheus evaluates (every second)."""

import pytest

from tests.integration.grafana.grafana_helpers import run
from tests.support.prometheus import wait_for


def alert_args(conn, name, state, labels=None, *, timeout=30, interval=0.5):
    args = dict(conn, datasource="Thanos", condition="alert", alert_name=name, alert_state=state)
    args.update(timeout=timeout, interval=interval)
    if labels is not None:
        args["alert_labels"] = labels
    return args


@pytest.mark.parametrize(
    ("name", "labels", "timeout", "passed", "words"),
    [
        (
            "DojoTestAlert",
            {"case": "quiet"},
            0,
            True,
            'needed alert DojoTestAlert{case="quiet"} inactive, observed inactive',
        ),
        # a typo in the name: the rule is not loaded, which an "inactive" check must not take for a quiet alert
        ("KafkaContainerDwon", None, 1, False, "no alerting rule named KafkaContainerDwon is loaded"),
    ],
)
def test_inactive_needs_the_rule_loaded(conn, prometheus, *, name, labels, timeout, passed, words):
    r = run("grafana_assert", alert_args(conn, name, "inactive", labels, timeout=timeout))
    assert r.failed is not passed, r.result
    assert r.result["rule_found"] is passed
    assert words in r.result["msg"]
    if passed:
        assert (r.result["state"], r.result["alerts"]) == ("inactive", [])


def test_alert_goes_pending_then_firing_and_labels_select_it(conn, kafka_target, prometheus):
    """DojoSlowAlert (for: 8s): the module sees it pending, then firing, as Prometheus evaluates it."""
    kafka_target.set("dojo_slow_trigger", 1, {"case": "transition"}, kind="gauge")
    try:
        pending = run(
            "grafana_assert", alert_args(conn, "DojoSlowAlert", "pending", {"case": "transition"}, interval=0.2)
        )
        assert not pending.failed, pending.result
        assert pending.result["observed"] == "pending"
        assert pending.result["alerts"][0]["labels"]["case"] == "transition"
        assert pending.result["alerts"][0]["labels"]["severity"] == "warning"
        firing = run("grafana_assert", alert_args(conn, "DojoSlowAlert", "firing", {"case": "transition"}))
        assert not firing.failed, firing.result
        assert firing.result["state"] == "firing"
        assert firing.result["alerts"][0]["active_at"]
        # the real Prometheus agrees
        assert prometheus.alert_state("DojoSlowAlert", {"case": "transition"}) == "firing"
        other = run("grafana_assert", alert_args(conn, "DojoSlowAlert", "inactive", {"case": "other"}, timeout=0))
        assert not other.failed, other.result
    finally:
        kafka_target.set("dojo_slow_trigger", 0, {"case": "transition"}, kind="gauge")


def test_firing_alert_resolves_back_to_inactive(conn, kafka_target, prometheus):
    kafka_target.set("dojo_test_trigger", 1, {"case": "resolve"}, kind="gauge")
    firing = run("grafana_assert", alert_args(conn, "DojoTestAlert", "firing", {"case": "resolve", "service": "kafka"}))
    assert not firing.failed, firing.result
    assert firing.result["alerts"][0]["annotations"]["summary"] == "trigger resolve is up"
    kafka_target.set("dojo_test_trigger", 0, {"case": "resolve"}, kind="gauge")
    resolved = run("grafana_assert", alert_args(conn, "DojoTestAlert", "inactive", {"case": "resolve"}))
    assert not resolved.failed, resolved.result
    assert resolved.result["attempts"] >= 1


def test_waiting_for_firing_fails_when_it_stays_pending(conn, kafka_target, prometheus):
    kafka_target.set("dojo_pending_trigger", 1, {"case": "stuck"}, kind="gauge")
    try:
        wait_for(
            lambda: prometheus.alert_state("DojoPendingForever", {"case": "stuck"}) == "pending",
            timeout=20,
            what="DojoPendingForever pending",
        )
        r = run("grafana_assert", alert_args(conn, "DojoPendingForever", "firing", {"case": "stuck"}, timeout=2))
        assert r.failed
        assert r.result["observed"] == "pending"
        assert r.result["msg"] == (
            'Condition alert not met within 2 s (%d attempts): needed alert DojoPendingForever{case="stuck"} firing, '
            "observed pending; alert rules on datasource 'Thanos'." % r.result["attempts"]
        )
    finally:
        kafka_target.set("dojo_pending_trigger", 0, {"case": "stuck"}, kind="gauge")
