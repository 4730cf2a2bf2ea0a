"""kafka_produce and kafka_consume as one trace, through the REAL OpenTelemetry Collector.

Real parts: Apache Kafka (the session's broker), the OpenTelemetry Collector built here
(tests/support/otelcol.py: otlp receiver on a free port, batch processor, otlphttp exporter with
`encoding: json`, health_check extension), the modules run through Ansible. The
collector exports to a small HTTP server that records what arrives (tests/support/trace_sink.py, as
Tempo's OTLP/HTTP receiver would get it), so the test sees the spans after the collector has handled
them (fixtures `collector` and `sink` in conftest.py).
"""

import contextlib
import socket
import time

import pytest

from tests.support.kafka import free_port
from tests.support.prometheus import wait_for

SECRET = "Bearer otlp-secret-never-shown"


@pytest.fixture
def traced_topic(kafka, topic_name):
    assert kafka("kafka_topic", name=topic_name, partitions=3).result["changed"]
    return topic_name


def attributes_of(span):
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_produce_and_consume_are_one_trace_in_the_collector(kafka, broker, collector, sink, traced_topic):
    produced = kafka("kafka_produce", topic=traced_topic, count=5, otlp_endpoint=collector.otlp_url)
    assert not produced.failed, produced.result
    trace_id, span_id = produced.result["trace_id"], produced.result["span_id"]
    assert len(trace_id) == 32
    assert len(span_id) == 16
    assert produced.result["traceparent"] == "00-{0}-{1}-01".format(trace_id, span_id)
    assert produced.result["exported_spans"] == 1
    assert produced.result["sent"] == 5

    group = traced_topic + "-traced"
    consumed = kafka(
        "kafka_consume", topic=traced_topic, group_id=group, expect_count=5, otlp_endpoint=collector.otlp_url
    )
    assert not consumed.failed, consumed.result
    # the broker delivered the W3C header with every message
    assert {m["headers"]["traceparent"] for m in consumed.result["messages"]} == {produced.result["traceparent"]}
    assert consumed.result["trace_ids"] == [trace_id]
    assert consumed.result["exported_spans"] == 1

    spans = wait_for(
        lambda: len(sink.spans(trace_id)) >= 2 and sink.spans(trace_id),
        timeout=30,
        what="producer and consumer span of trace {0} from the collector".format(trace_id),
    )
    assert len(spans) == 2, spans
    by_kind = {span["kind"]: (service, span) for service, span in spans}
    (producer_service, producer), (consumer_service, consumer) = by_kind[4], by_kind[5]  # PRODUCER, CONSUMER
    assert producer_service == consumer_service == "kafka-verification"
    assert producer["spanId"] == span_id
    assert "parentSpanId" not in producer or not producer["parentSpanId"]  # the root of the trace
    assert producer["name"] == "send " + traced_topic
    assert attributes_of(producer) == {
        "messaging.system": "kafka",
        "messaging.destination.name": traced_topic,
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.batch.message_count": "5",
        "messaging.client.id": "dojo.kafka_observability",
        "server.address": "127.0.0.1",
        "server.port": str(broker.port),
    }
    assert consumer["parentSpanId"] == span_id  # child of the producer span named in the header
    assert consumer["spanId"] != span_id
    assert consumer["name"] == "process " + traced_topic
    consumer_attributes = attributes_of(consumer)
    assert consumer_attributes["messaging.operation.type"] == "process"
    assert consumer_attributes["messaging.batch.message_count"] == "5"
    assert consumer_attributes["messaging.consumer.group.name"] == group
    assert int(producer["startTimeUnixNano"]) <= int(producer["endTimeUnixNano"])
    assert int(producer["endTimeUnixNano"]) <= int(consumer["endTimeUnixNano"])


def test_each_run_is_its_own_trace_and_check_mode_exports_nothing(kafka, collector, sink, traced_topic):
    endpoint = {"otlp_endpoint": collector.otlp_url, "otlp_service_name": "nightly", "otlp_headers": {"X-A": SECRET}}
    check = kafka("kafka_produce", topic=traced_topic, count=2, check=True, **endpoint)
    assert not check.failed, check.result
    assert "trace_id" not in check.result
    runs = [kafka("kafka_produce", topic=traced_topic, count=2, **endpoint).result for dummy in range(2)]
    first, second = (run["trace_id"] for run in runs)
    assert first != second

    # (in reading order: across three partitions that need not be the order they were sent in)
    dry = kafka("kafka_consume", topic=traced_topic, check=True, **endpoint)
    assert sorted(dry.result["trace_ids"]) == sorted([first, second]), dry.result  # what it would continue
    assert dry.result["exported_spans"] == 0
    real = kafka("kafka_consume", topic=traced_topic, **endpoint)
    assert sorted(real.result["trace_ids"]) == sorted([first, second])
    assert real.result["exported_spans"] == 2
    for run in runs:
        spans = wait_for(
            lambda run=run: len(sink.spans(run["trace_id"])) >= 2 and sink.spans(run["trace_id"]),
            timeout=30,
            what="the two spans of trace {0}".format(run["trace_id"]),
        )
        # one consumer span per trace: the check-mode run exported none
        assert sorted(span["kind"] for _service, span in spans) == [4, 5], spans
        assert {service for service, _span in spans} == {"nightly"}
        consumer = next(span for _service, span in spans if span["kind"] == 5)
        assert consumer["parentSpanId"] == run["span_id"]
        assert attributes_of(consumer)["messaging.batch.message_count"] == "2"
    for result in [check, dry, real]:
        assert SECRET not in result.output


def test_export_refused_says_the_messages_were_sent_nevertheless(kafka, traced_topic, clean_failure):
    closed = "http://127.0.0.1:{0}".format(free_port())
    run = kafka("kafka_produce", topic=traced_topic, count=3, otlp_endpoint=closed, otlp_headers={"X-A": SECRET})
    msg = clean_failure(
        run,
        "the 3 messages were sent to topic '{0}' and acknowledged, but the span of their trace {1} was not "
        "exported: the OTLP endpoint {2}/v1/traces could not be reached: connection refused".format(
            traced_topic, run.result.get("trace_id"), closed
        ),
    )
    assert msg.count(". ") == 0, msg
    assert run.result["sent"] == 3
    assert run.result["changed"] is True
    assert run.result["exported_spans"] == 0
    assert SECRET not in run.output
    # they were sent: a plain read finds them with their trace context
    plain = kafka("kafka_consume", topic=traced_topic, expect_count=3)
    assert {m["headers"]["traceparent"] for m in plain.result["messages"]} == {run.result["traceparent"]}

    read = kafka("kafka_consume", topic=traced_topic, otlp_endpoint=closed)
    clean_failure(
        read,
        "the 3 messages were read from topic '{0}', but the consumer spans of their 1 trace(s) were not exported: "
        "the OTLP endpoint {1}/v1/traces could not be reached: connection refused".format(traced_topic, closed),
    )
    assert read.result["count"] == 3
    assert read.result["trace_ids"] == [run.result["trace_id"]]


def test_export_answered_with_an_http_error(kafka, collector, traced_topic, clean_failure):
    # the real collector answers 404 on a path it does not serve
    wrong = collector.otlp_url + "/not-otlp"
    run = kafka("kafka_produce", topic=traced_topic, count=1, otlp_endpoint=wrong)
    clean_failure(
        run,
        "the 1 messages were sent to topic '{0}' and acknowledged".format(traced_topic),
        "the OTLP endpoint {0}/v1/traces answered HTTP 404".format(wrong),
    )
    assert run.result["sent"] == 1


def test_export_without_an_answer_times_out(kafka, traced_topic, clean_failure):
    # a socket that accepts connections (the kernel's backlog) but never answers
    with contextlib.closing(socket.socket()) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = "http://127.0.0.1:{0}".format(silent.getsockname()[1])
        started = time.monotonic()
        run = kafka("kafka_produce", topic=traced_topic, count=2, otlp_endpoint=endpoint, otlp_timeout=1)
        elapsed = time.monotonic() - started
    clean_failure(
        run,
        "the 2 messages were sent to topic '{0}' and acknowledged".format(traced_topic),
        "could not be reached: no answer within 1 s (otlp_timeout)",
    )
    assert elapsed < 15, elapsed


def test_untraced_messages_continue_no_trace(kafka, collector, traced_topic):
    assert kafka("kafka_produce", topic=traced_topic, count=3).result["sent"] == 3  # no otlp_endpoint
    run = kafka("kafka_consume", topic=traced_topic, otlp_endpoint=collector.otlp_url)
    assert not run.failed, run.result
    assert run.result["count"] == 3
    assert all("traceparent" not in m["headers"] for m in run.result["messages"])
    assert run.result["trace_ids"] == []
    assert run.result["exported_spans"] == 0
