"""Connection settings that cannot work, against the real broker: clear messages, no traceback, no secret."""

import subprocess
import sys
import time

from tests.support.ansible_run import run_module


def test_sasl_against_a_broker_without_sasl(kafka, tansu, clean_failure):
    started = time.monotonic()
    run = kafka(
        "kafka_info",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="dojo",
        sasl_password="s3cr3t-never-shown",
        request_timeout=3,
    )
    clean_failure(
        run,
        "cannot connect to Kafka broker(s) {0} within 3 s".format(tansu.bootstrap),
        "(security_protocol=SASL_PLAINTEXT, sasl_mechanism=PLAIN)",
        "the broker refused the SASL handshake (UnsupportedSaslMechanismError)",
    )
    assert "s3cr3t-never-shown" not in run.output
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


def test_missing_kafka_python_is_reported(tmp_path, tansu, clean_failure):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    run = run_module(
        "kafka_info",
        {"bootstrap_servers": [tansu.bootstrap]},
        env={"ANSIBLE_PYTHON_INTERPRETER": str(bare / "bin" / "python")},
    )
    clean_failure(run, "Failed to import the required Python library (kafka-python >= 2.0.2)")
