"""Unit tests of the kafka_* modules' own argument handling and result shaping (no broker:
argument errors end the module before it connects)."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.dojo.kafka_observability.plugins.modules import (
    kafka_consume,
    kafka_info,
    kafka_produce,
    kafka_topic,
)


def run_main(module, args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("module", "args", "expected"),
    [
        (kafka_topic, {"name": "bad name!"}, "invalid topic name 'bad name!'"),
        (kafka_topic, {"name": "t", "partitions": 0}, "partitions must be at least 1, got 0"),
        (kafka_topic, {"name": "t", "replication_factor": 0}, "replication_factor must be at least 1"),
        (kafka_topic, {"name": "t", "state": "gone"}, "value of state must be one of: present, absent"),
        (kafka_topic, {}, "missing required arguments: name"),
        (kafka_produce, {"topic": "t", "count": -1}, "count must be 0 or more, got -1"),
        (kafka_produce, {"topic": "t", "interval": -2}, "interval must be 0 or more seconds"),
        (kafka_produce, {"topic": "t", "delivery_timeout": 0}, "delivery_timeout must be more than 0 seconds"),
        (kafka_produce, {"topic": "t", "message_template": "m{n}"}, "uses the unknown field {n}"),
        (kafka_produce, {"topic": "t", "key": "{x}"}, "key '{x}' uses the unknown field {x}"),
        (kafka_produce, {"topic": "t", "acks": "2"}, "value of acks must be one of: all, 1, 0"),
        (kafka_produce, {"topic": "a/b"}, "invalid topic name 'a/b'"),
        (
            kafka_consume,
            {"topic": "t", "start": "timestamp"},
            "start is timestamp but all of the following are missing: timestamp",
        ),
        (
            kafka_consume,
            {"topic": "t", "start": "committed"},
            "start is committed but all of the following are missing: group_id",
        ),
        (kafka_consume, {"topic": "t", "max_messages": 0}, "max_messages must be at least 1"),
        (kafka_consume, {"topic": "t", "timeout": 0}, "timeout must be more than 0 seconds"),
        (kafka_consume, {"topic": "t", "start": "offset", "offset": -1}, "offset must be 0 or more"),
        (kafka_consume, {"topic": "t", "expect_regex": "("}, "expect_regex '(' is not a valid regular expression"),
        (kafka_consume, {"topic": "t", "group_id": "g", "session_timeout": 0}, "session_timeout must be more than 0"),
        (kafka_produce, {"topic": "t", "otlp_endpoint": "collector:4318"}, "is not an http:// or https:// URL"),
        (kafka_produce, {"topic": "t", "otlp_timeout": 0}, "otlp_timeout must be more than 0 seconds"),
        (
            kafka_produce,
            {"topic": "t", "otlp_endpoint": "http://c:4318", "headers": {"TraceParent": "00-x"}},
            "headers has a traceparent but otlp_endpoint is set",
        ),
        (kafka_consume, {"topic": "t", "otlp_endpoint": "ftp://c"}, "is not an http:// or https:// URL"),
        (kafka_consume, {"topic": "t", "otlp_timeout": -1}, "otlp_timeout must be more than 0 seconds"),
        (
            kafka_produce,
            {"topic": "t", "otlp_endpoint": "http://u:pw@c:99999"},
            "otlp_endpoint 'http://c:99999' is not a URL",  # the credentials of a URL are never shown
        ),
        (kafka_info, {"topics": ["ok", "not ok"]}, "invalid topic name 'not ok'"),
        (kafka_info, {"security_protocol": "SASL_PLAINTEXT"}, "missing: sasl_mechanism, sasl_username, sasl_password"),
        (kafka_info, {"sasl_password": "hidden-pw"}, "sasl_password is set but security_protocol is PLAINTEXT"),
    ],
)
def test_argument_errors(module, args, expected, capsys):
    result = run_main(module, args, capsys)
    assert result["failed"] is True
    assert expected in result["msg"], result["msg"]
    assert "hidden-pw" not in json.dumps(result)


def test_build_messages():
    params = {
        "topic": "notifications",
        "message_template": "devsecops dojo message#{index}",
        "key": "k-{index}",
        "headers": {"b": "{topic}", "a": "1"},
    }
    assert kafka_produce.build_messages(params, 50) == (
        b"devsecops dojo message#50",
        b"k-50",
        [("a", b"1"), ("b", b"notifications")],
    )
    assert kafka_produce.build_messages(dict(params, key=None, headers={}), 1) == (
        b"devsecops dojo message#1",
        None,
        [],
    )


def test_producer_settings():
    settings = kafka_produce.producer_settings(
        {"acks": "1", "linger_ms": 5, "request_timeout": 30.0, "delivery_timeout": 10.0}
    )
    assert settings["acks"] == 1
    assert settings["max_block_ms"] == 30000
    # kafka-python 3.0 requires delivery_timeout_ms > linger_ms + request_timeout_ms
    assert settings["delivery_timeout_ms"] > 5 + 30000
    assert (
        kafka_produce.producer_settings(
            {"acks": "all", "linger_ms": 0, "request_timeout": 1.0, "delivery_timeout": 60.0}
        )["delivery_timeout_ms"]
        == 60000
    )


def test_select_topics():
    topics = {
        "b": {"name": "b", "internal": False},
        "__consumer_offsets": {"name": "__consumer_offsets", "internal": True},
        "a": {"name": "a", "internal": False},
    }
    selected, missing = kafka_info.select_topics(topics)
    assert [t["name"] for t in selected] == ["a", "b"]
    assert missing == []
    selected, missing = kafka_info.select_topics(topics, include_internal=True)
    assert [t["name"] for t in selected] == ["__consumer_offsets", "a", "b"]
    selected, missing = kafka_info.select_topics(topics, ["b", "zz", "__consumer_offsets"])
    assert [t["name"] for t in selected] == ["__consumer_offsets", "b"]
    assert missing == ["zz"]


def test_topic_view():
    assert kafka_topic.topic_view("t", 3, 1, {"a": "1"}) == {
        "name": "t",
        "partitions": 3,
        "replication_factor": 1,
        "config": {"a": "1"},
    }


def test_build_messages_adds_the_traceparent_last():
    params = {"topic": "t", "message_template": "m{index}", "key": None, "headers": {"z": "1"}}
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert kafka_produce.build_messages(params, 2, traceparent) == (
        b"m2",
        None,
        [("z", b"1"), ("traceparent", traceparent.encode())],
    )


def test_trace_contexts_one_per_sampled_parent_in_reading_order():
    first = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    second = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    unsampled = "00-0af7651916cd43dd8448eb211c80319c-b9c7c989f97918e1-00"
    messages = [
        {"headers": {"traceparent": second}},
        {"headers": {}},
        {"headers": {"traceparent": first}},
        {"headers": {"Traceparent": second}},
        {"headers": {"traceparent": "not a trace context"}},
        {"headers": {"traceparent": unsampled}},
    ]
    assert kafka_consume.trace_contexts(messages) == {
        ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"): 2,
        ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"): 1,
    }
    assert next(iter(kafka_consume.trace_contexts(messages)))[0] == "0af7651916cd43dd8448eb211c80319c"


def test_consumer_spans_are_children_of_the_producer_spans():
    params = {"topic": "notifications", "group_id": "verify", "bootstrap_servers": ["b:9092"]}
    contexts = {("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"): 50}
    (span,) = kafka_consume.consumer_spans(params, contexts, 100, 200)
    assert span["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span["parentSpanId"] == "00f067aa0ba902b7"
    assert span["spanId"] != "00f067aa0ba902b7"
    assert len(span["spanId"]) == 16
    assert span["name"] == "process notifications"
    assert span["kind"] == 5
    attributes = {a["key"]: a["value"] for a in span["attributes"]}
    assert attributes["messaging.operation.type"] == {"stringValue": "process"}
    assert attributes["messaging.batch.message_count"] == {"intValue": "50"}
    assert attributes["messaging.consumer.group.name"] == {"stringValue": "verify"}
    assert attributes["messaging.system"] == {"stringValue": "kafka"}
