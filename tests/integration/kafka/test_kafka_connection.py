"""Connection settings that cannot work, against the real broker: clear messages, no traceback, no secret."""

import subprocess
import sys
import time

import pytest

from tests.support.ansible_run import run_module
from tests.support.kafka import free_port

WRONG_PASSWORD = "not-the-password-4711"


def test_sasl_against_a_listener_without_sasl(kafka, broker, clean_failure):
    started = time.monotonic()
    run = kafka(
        "kafka_info",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="dojo",
        sasl_password="s3cr3t-never-shown",
        request_timeout=3,
    )
    # Kafka answers a SaslHandshake on a PLAINTEXT listener with ILLEGAL_SASL_STATE
    clean_failure(
        run,
        "cannot connect to Kafka broker(s) {0} within 3 s".format(broker.bootstrap),
        "(security_protocol=SASL_PLAINTEXT, sasl_mechanism=PLAIN)",
        "the broker's listener does not use SASL (IllegalSaslStateError): check security_protocol.",
    )
    assert "s3cr3t-never-shown" not in run.output
    assert time.monotonic() - started < 3 + 5


def test_wrong_sasl_password_is_named(kafka, broker, kafka_python_version, clean_failure):
    started = time.monotonic()
    run = kafka("kafka_info", request_timeout=3, **broker.sasl_args(password=WRONG_PASSWORD))
    if kafka_python_version.startswith("2.0"):
        # 2.0.2 sends the PLAIN token without SaslAuthenticate: Kafka closes the connection
        cause = "the broker closed the connection during SASL authentication"
    else:
        cause = "the broker rejected the SASL user name or password (SaslAuthenticationFailedError)."
    msg = clean_failure(
        run,
        "cannot connect to Kafka broker(s) {0} within 3 s (security_protocol=SASL_PLAINTEXT, "
        "sasl_mechanism=PLAIN): ".format(broker.sasl_bootstrap),
        cause,
    )
    assert msg.count(". ") == 0, msg  # one sentence
    assert WRONG_PASSWORD not in run.output
    assert time.monotonic() - started < 3 + 5


def test_sasl_mechanism_the_listener_does_not_offer(kafka, broker, clean_failure):
    args = dict(broker.sasl_args(), sasl_mechanism="SCRAM-SHA-256")
    run = kafka("kafka_produce", topic="notifications", request_timeout=3, **args)
    clean_failure(run, "the broker's listener does not offer this SASL mechanism (UnsupportedSaslMechanismError)")
    assert broker.sasl_password not in run.output


def test_produce_and_consume_through_sasl_plain(kafka, broker, topic_name):
    """The right user and password work: topic, produce, consume as a group, all on the SASL listener."""
    sasl = broker.sasl_args()
    created = kafka("kafka_topic", name=topic_name, partitions=2, **sasl)
    assert created.result["changed"] is True, created.result
    produced = kafka("kafka_produce", topic=topic_name, count=20, **sasl)
    assert produced.result["sent"] == 20, produced.result
    consumed = kafka(
        "kafka_consume",
        topic=topic_name,
        group_id=topic_name + "-sasl",
        expect_count=20,
        expect_contains=["devsecops dojo message#20"],
        **sasl,
    )
    assert not consumed.failed, consumed.result
    assert consumed.result["committed"] is True
    info = kafka("kafka_info", topics=[topic_name], **sasl)
    assert info.result["brokers"][0]["port"] == broker.sasl_port  # advertised on the listener asked
    for run in (created, produced, consumed, info):
        assert broker.sasl_password not in run.output


@pytest.mark.parametrize("module", ["kafka_info", "kafka_topic", "kafka_produce", "kafka_consume"])
def test_refused_connection_is_one_sentence(kafka, module, clean_failure):
    closed = "127.0.0.1:{0}".format(free_port())
    args = {"kafka_info": {}, "kafka_topic": {"name": "t"}}.get(module, {"topic": "notifications"})
    started = time.monotonic()
    run = kafka(module, bootstrap_servers=[closed], request_timeout=3, **args)
    msg = clean_failure(
        run,
        "cannot connect to Kafka broker(s) {0} within 3 s (security_protocol=PLAINTEXT): connection refused "
        "(nothing listens there: is the broker running, is the port right?).".format(closed),
    )
    assert msg.count(". ") == 0, msg
    assert time.monotonic() - started < 3 + 5


def test_sasl_credentials_without_sasl_protocol(kafka, clean_failure):
    run = kafka("kafka_info", sasl_username="dojo", sasl_password="s3cr3t-never-shown")
    clean_failure(
        run,
        "invalid connection settings: sasl_username and sasl_password are set but security_protocol is PLAINTEXT",
    )
    assert "s3cr3t-never-shown" not in run.output


def test_sasl_protocol_without_credentials(kafka, clean_failure):
    run = kafka("kafka_topic", name="x", security_protocol="SASL_SSL")
    clean_failure(run, "security_protocol is SASL_SSL but all of the following are missing: sasl_mechanism")


def test_tls_against_a_plaintext_listener_ends_within_the_timeout(kafka, clean_failure):
    # kafka-python 3.0 waits forever for the TLS handshake here; the module's deadline ends it
    started = time.monotonic()
    run = kafka("kafka_info", security_protocol="SSL", request_timeout=2)
    clean_failure(run, "cannot connect to Kafka broker(s)", "within 2 s (security_protocol=SSL)")
    assert time.monotonic() - started < 2 + 5


def test_unresolvable_host(kafka, clean_failure):
    run = kafka("kafka_info", bootstrap_servers=["no-such-host.invalid:9092"], request_timeout=2)
    clean_failure(run, "cannot connect to Kafka broker(s) no-such-host.invalid:9092 within 2 s")


def test_bootstrap_server_without_port(kafka, clean_failure):
    clean_failure(kafka("kafka_info", bootstrap_servers=["localhost"]), "bootstrap server 'localhost' is not host:port")


def test_missing_kafka_python_is_reported(tmp_path, broker, clean_failure):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    run = run_module(
        "kafka_info",
        {"bootstrap_servers": [broker.bootstrap]},
        env={"ANSIBLE_PYTHON_INTERPRETER": str(bare / "bin" / "python")},
    )
    clean_failure(run, "Failed to import the required Python library (kafka-python >= 2.0.2)")
