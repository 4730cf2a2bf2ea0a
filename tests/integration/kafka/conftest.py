"""A real Apache Kafka broker per test session, and a helper that runs the kafka_* modules through Ansible.

The tracing tests get the real OpenTelemetry Collector (`collector`, one per test module) exporting to a
span recorder (`sink`).

DOJO_KAFKA_MODULE_PYTHON=/path/to/python runs the modules with another interpreter (for example
Python 3.13 with Debian trixie's python3-kafka 2.0.2) while Ansible itself runs from the venv.
"""

import os
import uuid

import pytest

from tests.support.ansible_run import run_module
from tests.support.kafka import kafka_broker
from tests.support.otelcol import running_collector
from tests.support.trace_sink import TraceSink

MODULE_PYTHON = os.environ.get("DOJO_KAFKA_MODULE_PYTHON")


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """Apache Kafka 4.3.1 (KRaft, one node): .bootstrap (PLAINTEXT), .sasl_bootstrap (SASL/PLAIN)."""
    with kafka_broker(work_dir=tmp_path_factory.mktemp("kafka")) as running:
        yield running


@pytest.fixture(scope="session")
def module_env():
    return {"ANSIBLE_PYTHON_INTERPRETER": MODULE_PYTHON} if MODULE_PYTHON else {}


@pytest.fixture(scope="session")
def kafka_python_version(broker, module_env):
    """The kafka-python the modules run with (the modules report it)."""
    run = run_module("kafka_info", {"bootstrap_servers": [broker.bootstrap]}, env=module_env)
    assert not run.failed, run.result
    return run.result["kafka_python_version"]


@pytest.fixture(scope="session")
def kafka(broker, module_env):
    """kafka("kafka_topic", name=..., check=True) -> ModuleRun, against the session's broker."""

    def run(module, check=False, diff=False, **args):
        args.setdefault("bootstrap_servers", [broker.bootstrap])
        return run_module(module, args, check=check, diff=diff, env=module_env)

    return run


@pytest.fixture
def topic_name():
    return "t-" + uuid.uuid4().hex[:10]


def _assert_clean_failure(run, *fragments):
    """Failed, with a message containing every fragment, and no Python traceback anywhere."""
    assert run.failed, run.result
    msg = run.result.get("msg", "")
    for fragment in fragments:
        assert fragment in msg, "{0!r} not in {1!r}".format(fragment, msg)
    assert "Traceback (most recent call last)" not in run.output
    assert "MODULE FAILURE" not in msg
    return msg


@pytest.fixture(scope="session")
def clean_failure():
    """clean_failure(run, "fragment", ...) -> msg; asserts a failure with those words and no traceback."""
    return _assert_clean_failure


@pytest.fixture(scope="module")
def sink():
    receiver = TraceSink()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def collector(tmp_path_factory, sink):
    """The real collector: OTLP/HTTP in, otlphttp (encoding json) out to the sink."""
    exporters = {
        "otlphttp": {
            "endpoint": sink.url,
            "encoding": "json",
            "retry_on_failure": {"initial_interval": "200ms", "max_interval": "1s"},
        }
    }
    with running_collector(tmp_path_factory.mktemp("otelcol"), exporters, {"traces": ["otlphttp"]}) as running:
        yield running
