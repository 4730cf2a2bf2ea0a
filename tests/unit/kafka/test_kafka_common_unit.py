"""Unit tests of plugins/module_utils/kafka_common.py: argument handling and result shaping."""

import threading
import time
from types import SimpleNamespace

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.dojo.kafka_observability.plugins.module_utils import kafka_common as kc


def validate(params, **extra_spec):
    validator = ArgumentSpecValidator(
        kc.kafka_argument_spec(**extra_spec),
        required_if=kc.KAFKA_COMMON_REQUIRED_IF,
        required_together=kc.KAFKA_COMMON_REQUIRED_TOGETHER,
    )
    return validator.validate(params)


# ------------------------------------------------------------------ argument spec
def test_defaults():
    result = validate({})
    assert result.error_messages == []
    params = result.validated_parameters
    assert params["bootstrap_servers"] == ["localhost:9092"]
    assert params["security_protocol"] == "PLAINTEXT"
    assert params["request_timeout"] == 30.0


def test_password_is_no_log():
    assert kc.KAFKA_COMMON_ARGUMENT_SPEC["sasl_password"]["no_log"] is True
    result = validate(
        {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": "pw"}
    )
    assert "pw" in result._no_log_values


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_protocols_need_credentials(protocol):
    result = validate({"security_protocol": protocol})
    assert any("sasl_mechanism, sasl_username, sasl_password" in m for m in result.error_messages), (
        result.error_messages
    )


def test_bad_choice_is_rejected():
    result = validate({"sasl_mechanism": "GSSAPI"})
    assert any("sasl_mechanism" in m and "GSSAPI" in m for m in result.error_messages)


def test_cert_needs_key():
    result = validate({"security_protocol": "SSL", "ssl_certfile": "/c.pem"})
    assert "parameters are required together: ssl_certfile, ssl_keyfile" in result.error_messages


def test_module_options_are_added_not_shared():
    spec = kc.kafka_argument_spec(topic=dict(type="str", required=True))
    assert "topic" in spec
    assert "topic" not in kc.KAFKA_COMMON_ARGUMENT_SPEC
    spec["bootstrap_servers"]["default"] = ["changed:1"]
    assert kc.KAFKA_COMMON_ARGUMENT_SPEC["bootstrap_servers"]["default"] == ["localhost:9092"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sasl_username": "u"}, "sasl_username is set but security_protocol is PLAINTEXT"),
        ({"sasl_mechanism": "PLAIN", "sasl_password": "p"}, "sasl_mechanism and sasl_password are set"),
        ({"ssl_cafile": "/ca.pem"}, "ssl_cafile set but security_protocol is PLAINTEXT"),
        ({"bootstrap_servers": []}, "bootstrap_servers is empty"),
        ({"bootstrap_servers": ["host"]}, "bootstrap server 'host' is not host:port"),
        ({"bootstrap_servers": ["host:99999"]}, "bootstrap server 'host:99999' is not host:port"),
        ({"request_timeout": 0}, "request_timeout must be a positive number"),
    ],
)
def test_connection_problems(params, expected):
    full = dict({"bootstrap_servers": ["h:9092"], "security_protocol": "PLAINTEXT", "request_timeout": 5}, **params)
    problems = kc.connection_problems(full)
    assert any(expected in p for p in problems), problems


def test_no_connection_problems_for_good_settings():
    params = {
        "bootstrap_servers": ["h:9092", "[::1]:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "u",
        "sasl_password": "p",
        "ssl_cafile": "/ca.pem",
        "request_timeout": 5,
    }
    assert kc.connection_problems(params) == []


# ------------------------------------------------------------------ client configuration
class OldClient:
    DEFAULT_CONFIG = {
        k: None
        for k in (
            "bootstrap_servers",
            "security_protocol",
            "request_timeout_ms",
            "api_version_auto_timeout_ms",
            "client_id",
            "sasl_mechanism",
            "sasl_plain_username",
            "sasl_plain_password",
            "acks",
        )
    }


class NewClient:
    DEFAULT_CONFIG = {
        k: None
        for k in (
            "bootstrap_servers",
            "security_protocol",
            "request_timeout_ms",
            "bootstrap_timeout_ms",
            "client_id",
            "ssl_cafile",
        )
    }


def test_client_config_maps_and_filters_by_library_version():
    params = {
        "bootstrap_servers": ["b:9092"],
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_username": "u",
        "sasl_password": "p",
        "ssl_cafile": None,
        "request_timeout": 2.5,
    }
    old = kc.client_config(params, OldClient, acks="all")
    assert old["api_version_auto_timeout_ms"] == 2500
    assert old["request_timeout_ms"] == 2500
    assert "bootstrap_timeout_ms" not in old
    assert (old["sasl_plain_username"], old["sasl_plain_password"]) == ("u", "p")
    assert old["acks"] == "all"
    new = kc.client_config(params, NewClient, acks="all")
    assert new["bootstrap_timeout_ms"] == 2500
    assert "api_version_auto_timeout_ms" not in new
    assert "acks" not in new  # unknown to that client: dropped rather than a configuration error
    assert "sasl_plain_password" not in new


# ------------------------------------------------------------------ names, templates, errors
@pytest.mark.parametrize("name", ["notifications", "a.b_c-D9", "x" * 249])
def test_valid_topic_names(name):
    assert kc.validate_topic_name(name) is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bad name!", "it contains ' ', '!'"),
        ("", "empty"),
        (".", "'.' or '..'"),
        ("..", "'.' or '..'"),
        ("x" * 250, "250 characters long, Kafka allows at most 249"),
        ("café", "'é'"),
    ],
)
def test_invalid_topic_names(name, reason):
    assert reason in kc.validate_topic_name(name)


def test_render_template():
    assert (
        kc.render_template("devsecops dojo message#{index}", "message_template", 7, "t") == "devsecops dojo message#7"
    )
    assert kc.render_template('{"topic": "{topic}", "n": {index}}', "m", 2, "t") == '{"topic": "t", "n": 2}'
    assert kc.render_template("no fields {}", "m", 1, "t") == "no fields {}"


def test_render_template_unknown_field():
    with pytest.raises(ValueError, match=r"message_template 'x \{idx\}' uses the unknown field \{idx\}"):
        kc.render_template("x {idx}", "message_template", 1, "t")


def test_error_text_is_short_and_named():
    class FakeBrokerError(Exception):
        errno = 36
        description = "Topic with this name already exists."

    assert kc.error_text(FakeBrokerError("Request 'huge dump' failed")) == (
        "FakeBrokerError (Kafka error 36): Topic with this name already exists"
    )
    assert kc.error_text(ValueError("x" * 500)).endswith("...")
    assert kc.error_text(RuntimeError()) == "RuntimeError"


def test_log_capture_finds_causes_and_keeps_warnings():
    capture = kc._LogCapture()
    for level, text in [
        (20, "Loading system default SSL CAs from DefaultVerifyPaths(...)"),
        (20, "<BrokerConnection ...>: Closing connection. [Error 33] UnsupportedSaslMechanismError: <...>"),
        (40, "Connection failed: KafkaConnectionError: 111 ECONNREFUSED"),
        (40, "Connection failed: KafkaConnectionError: 111 ECONNREFUSED"),
    ]:
        capture.emit(SimpleNamespace(levelno=level, getMessage=lambda text=text: text))
    assert capture.causes() == [
        "the broker's listener does not offer this SASL mechanism (UnsupportedSaslMechanismError)",
        "connection refused (nothing listens there: is the broker running, is the port right?)",
    ]
    assert capture.recent() == ["Connection failed: KafkaConnectionError: 111 ECONNREFUSED"]


@pytest.mark.parametrize(
    ("line", "cause"),
    [
        # what kafka-python 3.0.12 logs against Apache Kafka 4.3 (wrong password, SASL on a PLAINTEXT listener)
        (
            "Bootstrap connection to bootstrap-0 failed: [Error 58] SaslAuthenticationFailedError: "
            "SaslAuthenticationFailedError: Authentication failed: Invalid username or password (backoff 0.91 secs)",
            "the broker rejected the SASL user name or password (SaslAuthenticationFailedError)",
        ),
        (
            "<KafkaConnection node_id=bootstrap-0>: Connection lost: [Error 34] IllegalSaslStateError: ...",
            "the broker's listener does not use SASL (IllegalSaslStateError): check security_protocol",
        ),
        # kafka-python 2.0.2 sends the PLAIN token raw: Kafka closes the connection on a wrong password
        (
            "<BrokerConnection node_id=bootstrap-0 host=127.0.0.1:9093 <authenticating> "
            "[IPv4 ('127.0.0.1', 9093)]>: Error receiving reply from server",
            "the broker closed the connection during SASL authentication (Kafka's answer to a wrong user name "
            "or password from kafka-python 2.0)",
        ),
        ("DNS lookup failed for no-such-host.invalid:9092", "the host name does not resolve"),
    ],
)
def test_log_capture_names_the_cause(line, cause):
    capture = kc._LogCapture()
    capture.emit(SimpleNamespace(levelno=30, getMessage=lambda: line))
    assert capture.causes() == [cause]


def test_deadline_interrupts_a_blocked_call():
    never = threading.Event()
    started = time.monotonic()
    with (
        pytest.raises(kc.KafkaDeadlineExceeded, match=r"connecting: no answer within 0\.2 s"),
        kc.deadline(0.2, "connecting"),
    ):
        never.wait(10)
    assert time.monotonic() - started < 5


def test_deadline_does_nothing_when_not_reached():
    with kc.deadline(5, "quick"):
        value = 1 + 1
    assert value == 2


# ------------------------------------------------------------------ result shaping
TOPIC_V3 = {  # kafka-python 3.0 describe_topics()
    "error_code": 0,
    "name": "notifications",
    "is_internal": False,
    "partitions": [
        {
            "error_code": 0,
            "partition_index": 1,
            "leader_id": 1,
            "replica_nodes": [1, 2],
            "isr_nodes": [1],
            "offline_replicas": [],
        },
        {
            "error_code": 0,
            "partition_index": 0,
            "leader_id": 2,
            "replica_nodes": [2, 1],
            "isr_nodes": [2, 1],
            "offline_replicas": [],
        },
    ],
}
TOPIC_V2 = {  # kafka-python 2.0.2 describe_topics()
    "error_code": 0,
    "topic": "notifications",
    "is_internal": False,
    "partitions": [
        {"error_code": 0, "partition": 1, "leader": 1, "replicas": [1, 2], "isr": [1], "offline_replicas": []},
        {"error_code": 0, "partition": 0, "leader": 2, "replicas": [2, 1], "isr": [2, 1], "offline_replicas": []},
    ],
}


@pytest.mark.parametrize("raw", [TOPIC_V3, TOPIC_V2], ids=["kafka-python-3", "kafka-python-2"])
def test_normalize_topic_both_shapes(raw):
    topic = kc.normalize_topic(raw)
    assert topic["name"] == "notifications"
    assert topic["partition_count"] == 2
    assert topic["replication_factor"] == 2
    assert topic["error"] is None
    assert topic["partitions"][0] == {
        "partition": 0,
        "leader": 2,
        "replicas": [2, 1],
        "isrs": [2, 1],
        "offline_replicas": [],
        "error": None,
    }
    assert topic["partitions"][1]["isrs"] == [1]


def test_normalize_topic_error():
    topic = kc.normalize_topic({"error_code": 3, "name": "gone", "partitions": []})
    assert topic["error"] == "UnknownTopicOrPartitionError"
    assert topic["partition_count"] == 0


@pytest.mark.parametrize(
    "raw",
    [
        {
            "cluster_id": "c",
            "controller_id": 2,
            "brokers": [
                {"broker_id": 2, "host": "h2", "port": 9092, "rack": None},
                {"broker_id": 1, "host": "h1", "port": 9092, "rack": "r"},
            ],
        },
        {
            "cluster_id": "c",
            "controller_id": 2,
            "throttle_time_ms": 0,
            "brokers": [
                {"node_id": 2, "host": "h2", "port": 9092, "rack": None},
                {"node_id": 1, "host": "h1", "port": 9092, "rack": "r"},
            ],
        },
    ],
    ids=["kafka-python-3", "kafka-python-2"],
)
def test_normalize_cluster_both_shapes(raw):
    cluster = kc.normalize_cluster(raw)
    assert cluster["controller_id"] == 2
    assert [b["id"] for b in cluster["brokers"]] == [1, 2]
    assert [b["controller"] for b in cluster["brokers"]] == [False, True]
    assert cluster["brokers"][0]["rack"] == "r"


def test_kcat_style_summary_matches_the_runbook():
    cluster = kc.normalize_cluster(
        {"controller_id": 1, "brokers": [{"node_id": 1, "host": "192.168.56.209", "port": 9092}]}
    )
    topic = kc.normalize_topic(
        {
            "topic": "notifications",
            "partitions": [{"partition": i, "leader": 1, "replicas": [1], "isr": [1]} for i in range(3)],
        }
    )
    lines = kc.kcat_style_summary(cluster, [topic], "1: 192.168.56.209:9092/1")
    assert lines == [
        "Metadata for all topics (from broker 1: 192.168.56.209:9092/1):",
        " 1 brokers:",
        "  broker 1 at 192.168.56.209:9092 (controller)",
        " 1 topics:",
        '  topic "notifications" with 3 partitions:',
        "    partition 0, leader 1, replicas: 1, isrs: 1",
        "    partition 1, leader 1, replicas: 1, isrs: 1",
        "    partition 2, leader 1, replicas: 1, isrs: 1",
    ]


def test_parse_describe_configs_v3():
    raw = {
        "topic": {
            "t": {
                "retention.ms": {"value": "60000", "config_source": "DEFAULT_CONFIG"},
                "cleanup.policy": {"value": "delete", "config_source": "DYNAMIC_TOPIC_CONFIG"},
            }
        }
    }
    assert kc.parse_describe_configs(raw, "t") == {
        "retention.ms": {"value": "60000", "dynamic": False},
        "cleanup.policy": {"value": "delete", "dynamic": True},
    }


def test_parse_describe_configs_v2_response_objects():
    # DescribeConfigsResponse v1+: resources = (error_code, error_message, type, name, entries);
    # entry = (name, value, read_only, config_source, is_sensitive, synonyms)
    v1 = SimpleNamespace(
        resources=[
            (
                0,
                None,
                2,
                "t",
                [("retention.ms", "60000", False, 1, False, []), ("segment.ms", "1", False, 5, False, [])],
            )
        ]
    )
    assert kc.parse_describe_configs([v1], "t") == {
        "retention.ms": {"value": "60000", "dynamic": True},
        "segment.ms": {"value": "1", "dynamic": False},
    }
    # v0 entries carry is_default (a bool) in the same place
    v0 = SimpleNamespace(resources=[(0, None, 2, "t", [("retention.ms", "60000", False, False, False)])])
    assert kc.parse_describe_configs([v0], "t") == {"retention.ms": {"value": "60000", "dynamic": True}}
    failed = SimpleNamespace(resources=[(3, "no such topic", 2, "t", [])])
    with pytest.raises(ValueError, match="UnknownTopicOrPartitionError"):
        kc.parse_describe_configs([failed], "t")


def test_check_expectations():
    values = ["devsecops dojo message#{0}".format(i) for i in range(1, 51)]
    assert kc.check_expectations(values, 50, ["message#50"], r"#\d+$") == []
    problems = kc.check_expectations(values[:47], 50, ["message#50", "message#1"], "^nope")
    assert problems == [
        "expected 50 messages, found 47",
        "no message contains 'message#50'",
        "no message matches the regular expression '^nope'",
    ]
    assert kc.check_expectations([], 0) == []
    assert kc.check_expectations([None], expect_contains=["x"]) == ["no message contains 'x'"]


def test_describe_found():
    assert kc.describe_found([]) == "found no messages"
    messages = [{"partition": i % 2, "value": "m{0}".format(i)} for i in range(5)]
    assert kc.describe_found(messages) == (
        "found 5 messages (per partition 0: 3, 1: 2); first values: 'm0', 'm1', 'm2'; last values: 'm2', 'm3', 'm4'"
    )


def test_summarize_deliveries():
    records = [(0, 5), (1, 0), (0, 6), (0, 4), (1, 1)]
    assert kc.summarize_deliveries(records) == [
        {"partition": 0, "count": 3, "first_offset": 4, "last_offset": 6},
        {"partition": 1, "count": 2, "first_offset": 0, "last_offset": 1},
    ]
    # acks=0: offsets unknown (-1)
    assert kc.summarize_deliveries([(0, -1), (0, -1)]) == [
        {"partition": 0, "count": 2, "first_offset": -1, "last_offset": -1}
    ]


def test_decode_bytes():
    assert kc.decode_bytes(None) is None
    assert kc.decode_bytes(b"caf\xc3\xa9") == "café"
    assert kc.decode_bytes(b"\xff") == "\\xff"
