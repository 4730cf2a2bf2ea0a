"""The lab's log and trace chain, with the REAL OpenTelemetry Collector in it.

    OTLP/JSON as the Kafka broker's Java agent sends it (service.name kafka: its log4j records, some
    inside a span) and the verification's own trace (service.name kafka-verification: the producer's
    span and the consumer's child span)
      -> the collector (otlp receiver, batch processor)
      -> otlphttp/loki (encoding json) -> Loki stand-in POST /otlp/v1/logs
      -> otlphttp/tempo (encoding json) -> Tempo stand-in POST /v1/traces
      -> Grafana stand-in's datasource proxy <- grafana_assert / grafana_query through Ansible

What the collector is configured with is the lab's configuration (tests/support/lab/baseline/templates/
otelcol.yaml.j2) on free ports. The assertions poll until their timeout: the batch processor and the
exporters deliver asynchronously.
"""

import secrets
import time

import pytest

from tests.integration.grafana.grafana_helpers import run
from tests.support.prometheus import free_port, wait_for

JAVA_AGENT_RESOURCE = [
    # what the OpenTelemetry Java agent 2.x puts on the broker's telemetry (service.name from OTEL_SERVICE_NAME)
    ("service.name", {"stringValue": "kafka"}),
    ("service.instance.id", {"stringValue": "8d6c4c5e-3f1b-4a7e-9c61-0d2f5b7a1e90"}),
    ("host.name", {"stringValue": "broker"}),
    ("os.type", {"stringValue": "linux"}),
    ("process.pid", {"intValue": "1"}),
    ("process.runtime.name", {"stringValue": "OpenJDK Runtime Environment"}),
    ("telemetry.sdk.language", {"stringValue": "java"}),
    ("telemetry.sdk.name", {"stringValue": "opentelemetry"}),
    ("telemetry.distro.name", {"stringValue": "opentelemetry-java-instrumentation"}),
]


def kv(pairs):
    return [{"key": key, "value": value} for key, value in pairs]


def kafka_logs(trace_id, span_id, now_ns):
    """An ExportLogsServiceRequest as the Java agent's log4j appender bridge sends it."""
    records = [
        {
            "timeUnixNano": str(now_ns),
            "observedTimeUnixNano": str(now_ns + 1000),
            "severityNumber": 9,
            "severityText": "INFO",
            "body": {"stringValue": "[KafkaServer id=1] started (kafka.server.KafkaServer)"},
            "attributes": kv([("thread.name", {"stringValue": "main"}), ("thread.id", {"intValue": "1"})]),
        },
        {
            # logged while handling the verification's produce request: the record carries its trace context
            "timeUnixNano": str(now_ns + 2000),
            "observedTimeUnixNano": str(now_ns + 3000),
            "severityNumber": 9,
            "severityText": "INFO",
            "body": {"stringValue": "[Partition notifications-0 broker=1] appended 50 messages"},
            "attributes": kv([("thread.name", {"stringValue": "data-plane-kafka-request-handler-0"})]),
            "traceId": trace_id,
            "spanId": span_id,
            "flags": 1,
        },
        {
            "timeUnixNano": str(now_ns + 4000),
            "severityNumber": 17,
            "severityText": "ERROR",
            "body": {"stringValue": "[ReplicaManager broker=1] Error processing append operation on partition x"},
            "attributes": kv(
                [
                    ("exception.type", {"stringValue": "org.apache.kafka.common.errors.NotLeaderOrFollowerException"}),
                    ("exception.message", {"stringValue": "not the leader"}),
                ]
            ),
        },
        {
            # a structured body (an SDK's map): Loki's line is the body as JSON
            "timeUnixNano": str(now_ns + 5000),
            "severityNumber": 5,
            "body": {
                "kvlistValue": {
                    "values": kv(
                        [
                            ("msg", {"stringValue": "fetch"}),
                            ("bytes", {"intValue": "512"}),
                            ("ratio", {"doubleValue": 0.5}),
                        ]
                    )
                }
            },
        },
    ]
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": kv(JAVA_AGENT_RESOURCE)},
                "scopeLogs": [{"scope": {"name": "kafka.server.KafkaServer"}, "logRecords": records}],
            }
        ]
    }


def verification_trace(trace_id, producer_id, consumer_id, now_ns):
    """The test producer's span and the consumer's, continued from the traceparent the broker delivered."""
    messaging = [
        ("messaging.system", {"stringValue": "kafka"}),
        ("messaging.destination.name", {"stringValue": "notifications"}),
    ]
    spans = [
        {
            "traceId": trace_id,
            "spanId": producer_id,
            "name": "send notifications",
            "kind": 4,
            "startTimeUnixNano": str(now_ns),
            "endTimeUnixNano": str(now_ns + 12_000_000),
            "attributes": kv([*messaging, ("messaging.operation.type", {"stringValue": "send"})]),
            "status": {},
        },
        {
            "traceId": trace_id,
            "spanId": consumer_id,
            "parentSpanId": producer_id,
            "name": "process notifications",
            "kind": 5,
            "startTimeUnixNano": str(now_ns + 20_000_000),
            "endTimeUnixNano": str(now_ns + 25_000_000),
            "attributes": kv([*messaging, ("messaging.batch.message_count", {"intValue": "50"})]),
            "status": {"code": 2, "message": "1 message not processed"},
        },
    ]
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": kv([("service.name", {"stringValue": "kafka-verification"})])},
                "scopeSpans": [{"scope": {"name": "dojo.kafka_observability"}, "spans": spans}],
            }
        ]
    }


@pytest.fixture
def ids():
    return {"trace": secrets.token_hex(16), "producer": secrets.token_hex(8), "consumer": secrets.token_hex(8)}


def send_both(collector, ids):
    now_ns = time.time_ns()
    assert collector.send("/v1/logs", kafka_logs(ids["trace"], ids["producer"], now_ns)) == {"partialSuccess": {}}
    trace = verification_trace(ids["trace"], ids["producer"], ids["consumer"], now_ns)
    assert collector.send("/v1/traces", trace) == {"partialSuccess": {}}


def test_logs_and_the_trace_reach_grafana_through_the_real_collector(conn, backends, start_collector, ids):
    collector = start_collector(backends.loki_url + "/otlp", backends.tempo_otlp_url)
    send_both(collector, ids)

    logs = run(
        "grafana_assert",
        dict(conn, datasource="Loki", condition="logs", query='{service_name="kafka"}', min_count=4, timeout=60),
    )
    assert not logs.failed, logs.result
    assert logs.result["observed"] == 4
    by_line = {line["line"]: line["labels"] for line in logs.result["lines"]}
    assert set(by_line) == {
        "[KafkaServer id=1] started (kafka.server.KafkaServer)",
        "[Partition notifications-0 broker=1] appended 50 messages",
        "[ReplicaManager broker=1] Error processing append operation on partition x",
        '{"bytes":512,"msg":"fetch","ratio":0.5}',
    }
    started = by_line["[KafkaServer id=1] started (kafka.server.KafkaServer)"]
    # index labels as Loki makes them of the Java agent's resource; the rest is structured metadata,
    # which Loki's query answer shows among the labels
    assert started["service_name"] == "kafka"
    assert started["service_instance_id"] == "8d6c4c5e-3f1b-4a7e-9c61-0d2f5b7a1e90"
    assert (started["host_name"], started["process_pid"], started["telemetry_sdk_language"]) == ("broker", "1", "java")
    assert (started["scope_name"], started["thread_name"], started["thread_id"]) == (
        "kafka.server.KafkaServer",
        "main",
        "1",
    )
    assert (started["severity_text"], started["detected_level"]) == ("INFO", "info")
    assert "trace_id" not in started
    appended = by_line["[Partition notifications-0 broker=1] appended 50 messages"]
    assert (appended["trace_id"], appended["span_id"], appended["flags"]) == (ids["trace"], ids["producer"], "1")
    error = by_line["[ReplicaManager broker=1] Error processing append operation on partition x"]
    assert (error["detected_level"], error["exception_message"]) == ("error", "not the leader")
    assert backends.loki.label_names() == ["service_instance_id", "service_name"]

    # from a log line to its trace: the structured metadata is filterable
    correlated = run(
        "grafana_query", dict(conn, datasource="Loki", query='{service_name="kafka"} | trace_id="%s"' % ids["trace"])
    )
    assert [line["line"] for line in correlated.result["lines"]] == [
        "[Partition notifications-0 broker=1] appended 50 messages"
    ]
    errors = run(
        "grafana_query", dict(conn, datasource="Loki", query='{service_name="kafka"} | detected_level="error"')
    )
    assert errors.result["count"] == 1

    trace = run(
        "grafana_assert",
        dict(conn, datasource="Tempo", condition="traces", trace_id=ids["trace"], min_count=2, timeout=60),
    )
    assert not trace.failed, trace.result
    assert trace.result["observed"] == 2
    assert [(s["service"], s["name"], s["kind"], s["status"], s["parent"]) for s in trace.result["spans"]] == [
        ("kafka-verification", "send notifications", "producer", "unset", None),
        ("kafka-verification", "process notifications", "consumer", "error", "send notifications"),
    ]
    assert [(s["span_id"], s["parent_span_id"]) for s in trace.result["spans"]] == [
        (ids["producer"], None),
        (ids["consumer"], ids["producer"]),
    ]
    assert [s["duration_ms"] for s in trace.result["spans"]] == [12.0, 5.0]

    # what the collector delivered to Tempo keeps the attributes, kinds and statuses TraceQL searches on
    search = run(
        "grafana_assert",
        dict(
            conn,
            datasource="Tempo",
            condition="traces",
            query='{ span.messaging.destination.name = "notifications" && kind = consumer && status = error '
            "&& span.messaging.batch.message_count = 50 }",
            timeout=0,
        ),
    )
    assert not search.failed, search.result
    assert [t["trace_id"] for t in search.result["traces"]] == [ids["trace"]]
    assert search.result["traces"][0]["root_service"] == "kafka-verification"
    assert search.result["traces"][0]["root_name"] == "send notifications"


def test_a_collector_that_cannot_deliver_fails_the_assertions_clearly(conn, backends, start_collector, ids):
    closed_loki, closed_tempo = free_port(), free_port()  # nothing listens there
    collector = start_collector("http://127.0.0.1:%d/otlp" % closed_loki, "http://127.0.0.1:%d" % closed_tempo)
    send_both(collector, ids)  # the receiver accepts: the loss is downstream

    logs = run(
        "grafana_assert",
        dict(conn, datasource="Loki", condition="logs", query='{service_name="kafka"}', timeout=3, interval=0.5),
    )
    assert logs.failed
    assert logs.result["observed"] == 0
    assert logs.result["msg"] == (
        "Condition logs not met within 3 s (%d attempts): needed at least 1 line, observed 0; "
        "query '{service_name=\"kafka\"}' on datasource 'Loki'." % logs.result["attempts"]
    )
    trace = run(
        "grafana_assert",
        dict(conn, datasource="Tempo", condition="traces", trace_id=ids["trace"], min_count=2, timeout=3, interval=0.5),
    )
    assert trace.failed
    assert (trace.result["observed"], trace.result["found"]) == (0, False)
    assert trace.result["msg"] == (
        "Condition traces not met within 3 s (%d attempts): needed at least 2 spans of trace %s, but Tempo has none "
        "of its spans (api/v2/traces/%s: trace not found); trace %s looked up by id on datasource 'Tempo'."
        % (trace.result["attempts"], ids["trace"], ids["trace"], ids["trace"])
    )
    # the cause is where the assertion points: the collector could not reach its exporters' endpoints
    for port in (closed_loki, closed_tempo):
        wait_for(
            lambda port=port: "127.0.0.1:%d" % port in collector.log() and "connection refused" in collector.log(),
            timeout=30,
            what="the collector to log the refused export to port %d" % port,
        )
    assert backends.loki.streams() == []
    assert backends.tempo.all() == []
    # and the hops behind the collector are fine: Grafana's health checks of Loki and Tempo pass, so the broken
    # hop is the collector's delivery, not the backends or Grafana's datasources
    for datasource, words in (("Loki", "Successfully queried the Loki API"), ("Tempo", "Health check succeeded")):
        health = run("grafana_assert", dict(conn, datasource=datasource, condition="datasource_health", timeout=0))
        assert not health.failed, health.result
        assert (health.result["health"]["status"], health.result["health"]["checked_with"]) == ("OK", "health_api")
        assert health.result["msg"].endswith(": %s." % words)


def test_protobuf_exports_are_refused_by_the_standin_with_a_clear_status(conn, backends, start_collector, ids):
    """Without `encoding: json` the exporters send protobuf, which the stand-ins do not read: 415, logged."""
    collector = start_collector(backends.loki_url + "/otlp", backends.tempo_otlp_url, encoding=None)
    send_both(collector, ids)
    wait_for(
        lambda: collector.log().count("415") >= 2,
        timeout=30,
        what="the collector to log the stand-ins' 415 for both exporters",
    )
    assert "otlphttp/loki" in collector.log()
    assert "otlphttp/tempo" in collector.log()
    logs = run(
        "grafana_assert", dict(conn, datasource="Loki", condition="logs", query='{service_name="kafka"}', timeout=0)
    )
    assert logs.failed
    assert backends.loki.streams() == []
