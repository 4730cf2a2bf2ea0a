"""grafana_assert condition traces with trace_id, and grafana_query's trace lookup, through Grafana's datasource
proxy to Tempo's trace-by-id API (spans shipped through Tempo's OTLP/HTTP JSON API)."""

import secrets
import threading

import pytest

from tests.integration.grafana.grafana_helpers import TOKEN, proxied_queries, push_span, run
from tests.support.prometheus import wait_for
from tests.support.standins.grafana_standin import start_stack


def new_trace_id():
    return secrets.token_hex(16)


def produce_and_consume(otlp_url, trace_id):
    """The verification's own trace: the producer's span, and the consumer's continued from the traceparent."""
    producer = push_span(otlp_url, trace_id, "kafka-verification", "send notifications", kind=4)
    consumer = push_span(otlp_url, trace_id, "kafka-verification", "process notifications", kind=5, parent=producer)
    return producer, consumer


def assert_(conn, trace_id, **extra):
    args = dict(conn, datasource="Tempo", condition="traces", trace_id=trace_id, min_count=2, timeout=0)
    args.update(extra)
    return run("grafana_assert", args)


def test_a_trace_with_its_producer_and_consumer_spans_passes(conn, grafana):
    trace_id = new_trace_id()
    producer, consumer = produce_and_consume(grafana.tempo_otlp_url, trace_id)
    r = assert_(conn, trace_id.upper())  # any case: kept lower case
    assert not r.failed, r.result
    assert (r.result["observed"], r.result["found"], r.result["trace_id"]) == (2, True, trace_id)
    assert [(s["service"], s["name"], s["kind"], s["parent"]) for s in r.result["spans"]] == [
        ("kafka-verification", "send notifications", "producer", None),
        ("kafka-verification", "process notifications", "consumer", "send notifications"),
    ]
    assert [(s["span_id"], s["parent_span_id"]) for s in r.result["spans"]] == [(producer, None), (consumer, producer)]
    assert r.result["msg"] == (
        "Condition traces met after 1 attempt in %.1f s: needed at least 2 spans in trace %s, observed 2 "
        "(kafka-verification: send notifications (producer); kafka-verification: process notifications (consumer, "
        "child of send notifications))." % (r.result["elapsed"], trace_id)
    )
    assert "traces" not in r.result
    assert proxied_queries(grafana, "/api/v2/traces/" + trace_id) >= 1


def test_too_few_spans_fail_with_the_spans_seen(conn, grafana):
    trace_id = new_trace_id()
    push_span(grafana.tempo_otlp_url, trace_id, "kafka-verification", "send notifications")
    r = assert_(conn, trace_id, timeout=1, interval=0.5)
    assert r.failed
    assert r.result["observed"] == 1
    assert [s["name"] for s in r.result["spans"]] == ["send notifications"]
    assert r.result["msg"] == (
        "Condition traces not met within 1 s (%d attempts): needed at least 2 spans in trace %s, observed 1 "
        "(kafka-verification: send notifications (producer)); trace %s looked up by id on datasource 'Tempo'."
        % (r.result["attempts"], trace_id, trace_id)
    )


def test_a_trace_that_never_arrives_is_polled_until_the_timeout(conn, grafana):
    trace_id = new_trace_id()
    r = assert_(conn, trace_id, timeout=1.5, interval=0.5)
    assert r.failed
    assert r.result["attempts"] >= 3
    assert (r.result["observed"], r.result["found"], r.result["spans"]) == (0, False, [])
    assert r.result["msg"] == (
        "Condition traces not met within 1.5 s (%d attempts): needed at least 2 spans of trace %s, but Tempo has "
        "none of its spans (api/v2/traces/%s: trace not found); trace %s looked up by id on datasource 'Tempo'."
        % (r.result["attempts"], trace_id, trace_id, trace_id)
    )


def test_spans_that_arrive_while_waiting(conn, grafana):
    trace_id = new_trace_id()
    seen = proxied_queries(grafana, trace_id)

    def ship_after_polls():
        # not found at the first poll; only the producer's span at the second; both at the third
        wait_for(lambda: proxied_queries(grafana, trace_id) > seen, timeout=60, what="the first poll")
        producer = push_span(grafana.tempo_otlp_url, trace_id, "kafka-verification", "send notifications")
        wait_for(lambda: proxied_queries(grafana, trace_id) > seen + 1, timeout=60, what="the second poll")
        push_span(
            grafana.tempo_otlp_url, trace_id, "kafka-verification", "process notifications", kind=5, parent=producer
        )

    thread = threading.Thread(target=ship_after_polls, daemon=True)
    thread.start()
    r = assert_(conn, trace_id, timeout=30, interval=0.3)
    thread.join(timeout=60)
    assert not r.failed, r.result
    assert r.result["attempts"] >= 3
    assert r.result["observed"] == 2


def test_check_mode_polls_as_a_normal_run(conn, grafana):
    trace_id = new_trace_id()
    produce_and_consume(grafana.tempo_otlp_url, trace_id)
    r = run(
        "grafana_assert",
        dict(conn, datasource="Tempo", condition="traces", trace_id=trace_id, min_count=2, timeout=0),
        check=True,
    )
    assert not r.failed, r.result
    assert r.result["changed"] is False
    assert r.result["observed"] == 2


@pytest.mark.parametrize(
    ("extra", "msg"),
    [
        ({"query": "{ }"}, "parameters are mutually exclusive: query|kafka_metric|tags|trace_id"),
        ({"tags": {"service.name": "kafka"}}, "parameters are mutually exclusive: query|kafka_metric|tags|trace_id"),
        (
            {"trace_id": "00-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-01"},
            "trace_id '00-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-01' is not a trace id: it needs 32 "
            "hexadecimal digits, not all zero (the second field of a W3C traceparent header).",
        ),
        ({"trace_id": "0" * 32}, None),
        ({"condition": "logs"}, "trace_id only applies to condition=traces."),
    ],
)
def test_trace_id_argument_errors(conn, extra, msg):
    args = dict(conn, datasource="Tempo", condition="traces", trace_id="5b8efff798038103d269b633813fc60c", timeout=0)
    args.update(extra)
    r = run("grafana_assert", args)
    assert r.failed
    assert r.result.get("attempts", 0) == 0  # refused before any poll
    assert r.result["msg"] == msg or (msg is None and "is not a trace id" in r.result["msg"])


def test_trace_id_on_a_loki_datasource_is_a_type_mismatch(conn):
    r = run("grafana_assert", dict(conn, datasource="Loki", condition="traces", trace_id=new_trace_id(), timeout=0))
    assert r.failed
    assert r.result["error_kind"] == "type_mismatch"


def test_grafana_query_returns_the_spans_and_a_missing_trace_is_no_error(conn, grafana):
    trace_id = new_trace_id()
    producer, _consumer = produce_and_consume(grafana.tempo_otlp_url, trace_id)
    r = run("grafana_query", dict(conn, datasource="Tempo", trace_id=trace_id))
    assert not r.failed, r.result
    assert (r.result["language"], r.result["query_type"], r.result["result_type"]) == ("traceql", "trace", "trace")
    assert (r.result["trace_api"], r.result["found"], r.result["count"]) == ("api/v2/traces", True, 2)
    assert r.result["spans"][0]["span_id"] == producer
    assert r.result["spans"][0]["start"].endswith("Z")
    missing = run("grafana_query", dict(conn, datasource="Tempo", trace_id=new_trace_id()))
    assert not missing.failed, missing.result
    assert (missing.result["found"], missing.result["count"], missing.result["spans"]) == (False, 0, [])
    wrong = run("grafana_query", dict(conn, datasource="Tempo", trace_id=trace_id, language="logql"))
    assert wrong.failed
    assert wrong.result["msg"] == "trace_id is a Tempo trace lookup: language must be traceql."


@pytest.fixture(scope="module")
def old_tempo():
    """A second stack: a Tempo without api/v2/traces (as before that API), and a 'tempo' datasource that is not one."""
    config = {
        "grafana": {
            "tokens": [{"token": TOKEN, "role": "Admin", "org_id": 1}],
            "datasources": [
                {"uid": "old-tempo", "name": "Old Tempo", "type": "tempo", "url": "{tempo_url}"},
                {"uid": "not-tempo", "name": "Not Tempo", "type": "tempo", "url": "{loki_url}"},
            ],
        },
        "loki": {},
        "tempo": {"otlp_listen": "127.0.0.1:0", "api_v2_traces": False},
    }
    with start_stack(config) as stack:
        yield stack


def test_a_tempo_without_the_v2_api_is_read_on_api_traces(old_tempo):
    conn = {"grafana_url": old_tempo.grafana_url, "grafana_token": TOKEN}
    trace_id = new_trace_id()
    produce_and_consume(old_tempo.tempo_otlp_url, trace_id)
    r = run("grafana_assert", dict(conn, datasource="Old Tempo", condition="traces", trace_id=trace_id, min_count=2))
    assert not r.failed, r.result
    assert r.result["observed"] == 2
    q = run("grafana_query", dict(conn, datasource="Old Tempo", trace_id=trace_id))
    assert q.result["trace_api"] == "api/traces"
    missing = run(
        "grafana_assert",
        dict(conn, datasource="Old Tempo", condition="traces", trace_id=new_trace_id(), timeout=1, interval=0.5),
    )
    assert missing.failed
    assert "(api/traces/" in missing.result["msg"]
    assert missing.result["attempts"] >= 2


def test_a_datasource_that_serves_no_trace_api_fails_at_once(old_tempo):
    conn = {"grafana_url": old_tempo.grafana_url, "grafana_token": TOKEN}
    r = run(
        "grafana_assert", dict(conn, datasource="Not Tempo", condition="traces", trace_id=new_trace_id(), timeout=30)
    )
    assert r.failed
    assert r.result["attempts"] == 1
    assert (r.result["error_kind"], r.result["http_status"]) == ("not_found", 404)
    assert r.result["msg"] == (
        "Datasource 'Not Tempo' (tempo) answers neither api/v2/traces/<id> nor api/traces/<id> (404 page not found); "
        "is its URL in Grafana the Tempo query API (port 3200)?"
    )
