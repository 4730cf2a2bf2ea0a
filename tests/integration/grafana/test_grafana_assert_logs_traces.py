"""grafana_assert conditions logs and traces, data shipped through Loki's push and Tempo's OTLP/HTTP APIs."""

import threading
import time

import pytest

from tests.integration.grafana.grafana_helpers import proxied_queries, push_logs, push_trace, run
from tests.support.prometheus import wait_for


def test_logs_at_least_n_lines_match(conn, grafana):
    push_logs(grafana.loki_url, {"container": "kafka", "job": "logs-pass"}, ["msg %d sent" % i for i in range(3)])
    push_logs(grafana.loki_url, {"container": "kafka", "job": "logs-pass"}, ["unrelated"])
    query = '{container="kafka", job="logs-pass"} |= "sent"'
    r = run("grafana_assert", dict(conn, datasource="Loki", condition="logs", query=query, min_count=3, timeout=0))
    assert not r.failed, r.result
    assert r.result["observed"] == 3
    assert sorted(line["line"] for line in r.result["lines"]) == ["msg 0 sent", "msg 1 sent", "msg 2 sent"]
    assert r.result["msg"] == (
        "Condition logs met after 1 attempt in %.1f s: needed at least 3 lines, observed 3." % r.result["elapsed"]
    )


def test_logs_fail_with_the_count_seen_and_the_query(conn, grafana):
    push_logs(grafana.loki_url, {"job": "logs-fail"}, ["only", "two"])
    r = run(
        "grafana_assert",
        dict(
            conn, datasource="Loki", condition="logs", query='{job="logs-fail"}', min_count=10, timeout=1, interval=0.5
        ),
    )
    assert r.failed
    assert r.result["observed"] == 2
    assert r.result["msg"] == (
        "Condition logs not met within 1 s (%d attempts): needed at least 10 lines, observed 2; "
        "query '{job=\"logs-fail\"}' on datasource 'Loki'." % r.result["attempts"]
    )


def test_logs_outside_the_window_do_not_count(conn, grafana):
    two_hours_ago = time.time_ns() - 2 * 3600 * 10**9
    push_logs(grafana.loki_url, {"job": "logs-old"}, ["old line"], at_ns=two_hours_ago)
    base = dict(conn, datasource="Loki", condition="logs", query='{job="logs-old"}', timeout=0)
    recent = run("grafana_assert", dict(base, since="5m"))
    assert recent.failed
    assert recent.result["observed"] == 0
    fixed = run("grafana_assert", dict(base, start="now-3h", end="now-1h"))
    assert not fixed.failed, fixed.result


def test_logs_that_arrive_while_waiting(conn, grafana):
    seen = proxied_queries(grafana, "logs-late")

    def ship_after_first_poll():
        wait_for(lambda: proxied_queries(grafana, "logs-late") > seen, timeout=60, what="the first poll")
        push_logs(grafana.loki_url, {"job": "logs-late"}, ["late line"])

    thread = threading.Thread(target=ship_after_first_poll, daemon=True)
    thread.start()
    r = run(
        "grafana_assert",
        dict(conn, datasource="Loki", condition="logs", query='{job="logs-late"}', timeout=30, interval=0.3),
    )
    thread.join(timeout=60)
    assert not r.failed, r.result
    assert r.result["attempts"] >= 2
    assert r.result["lines"][0]["line"] == "late line"


def test_traces_by_traceql_and_by_tags(conn, grafana):
    ids = {push_trace(grafana.tempo_otlp_url, "kafka-traces-pass", "notifications publish") for _attempt in range(2)}
    push_trace(grafana.tempo_otlp_url, "someone-else", "notifications publish")
    r = run(
        "grafana_assert",
        dict(
            conn,
            datasource="Tempo",
            condition="traces",
            query='{ resource.service.name = "kafka-traces-pass" && name = "notifications publish" }',
            min_count=2,
            timeout=0,
        ),
    )
    assert not r.failed, r.result
    assert r.result["observed"] == 2
    assert {t["trace_id"] for t in r.result["traces"]} == ids
    assert all(t["root_service"] == "kafka-traces-pass" for t in r.result["traces"])
    tags = run(
        "grafana_assert",
        dict(conn, datasource="Tempo", condition="traces", tags={"service.name": "kafka-traces-pass"}, timeout=0),
    )
    assert not tags.failed, tags.result
    assert tags.result["observed"] == 2


def test_traces_fail_when_too_few(conn, grafana):
    push_trace(grafana.tempo_otlp_url, "kafka-traces-few", "p")
    r = run(
        "grafana_assert",
        dict(
            conn,
            datasource="Tempo",
            condition="traces",
            query='{ resource.service.name = "kafka-traces-few" }',
            min_count=5,
            timeout=1,
            interval=0.5,
        ),
    )
    assert r.failed
    assert r.result["observed"] == 1
    assert "needed at least 5 traces, observed 1" in r.result["msg"]
    assert "query '{ resource.service.name = \"kafka-traces-few\" }' on datasource 'Tempo'" in r.result["msg"]


@pytest.mark.parametrize(
    ("datasource", "condition", "query", "kind", "msg"),
    [
        (
            "Loki",
            "logs",
            '{job=~".*"} |= "x"',
            "bad_query",
            "Datasource 'Loki' (loki) rejected the LogQL query (400 Bad Request): parse error : queries require at "
            "least one regexp or equality matcher that does not have an empty-compatible value. For instance, "
            'app=~".*" does not meet this requirement, but app=~".+" will.',
        ),
        (
            "Tempo",
            "traces",
            '{ .service.name = "kafka" } | count() > 1',
            "bad_query",
            "Datasource 'Tempo' (tempo) rejected the TraceQL query (400 Bad Request): invalid TraceQL query: ...",
        ),
        (
            "Loki",
            "logs",
            'count_over_time({job="x"}[5m])',
            "invalid_argument",
            'condition=logs needs a LogQL log query - a stream selector such as {container="kafka"} with optional '
            "line filters - not a metric query such as count_over_time(...).",
        ),
        (
            "Thanos",
            "logs",
            '{job="x"}',
            "type_mismatch",
            "Datasource 'Thanos' (uid thanos) is of type 'prometheus', but a LogQL query needs a Loki datasource "
            "(type 'loki').",
        ),
    ],
)
def test_what_waiting_cannot_fix_fails_at_once_in_one_sentence(conn, *, datasource, condition, query, kind, msg):
    """A query the datasource rejects, a metric query for logs, a datasource of the wrong type: no waiting."""
    r = run("grafana_assert", dict(conn, datasource=datasource, condition=condition, query=query, timeout=30))
    assert r.failed
    assert r.result["attempts"] <= 1
    assert r.result["error_kind"] == kind
    if msg.endswith("..."):  # the rest is Tempo's own parser text
        assert r.result["msg"].startswith(msg[:-3])
    else:
        assert r.result["msg"] == msg
