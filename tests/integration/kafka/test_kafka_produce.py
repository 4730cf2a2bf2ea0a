"""kafka_produce against a real Apache Kafka broker, through Ansible."""

import json
import subprocess
import time

import pytest

from tests.support.ansible_run import BIN, COLLECTION, REPO, ansible_env, run_module
from tests.support.kafka import free_port, kafka_broker


def test_produce_50_then_consume_from_beginning(kafka, topic_name):
    assert kafka("kafka_topic", name=topic_name, partitions=3).result["changed"]
    produced = kafka("kafka_produce", topic=topic_name, count=50)
    assert not produced.failed, produced.result
    result = produced.result
    assert result["changed"] is True
    assert result["sent"] == 50
    assert result["topic_partitions"] == 3
    assert sum(p["count"] for p in result["partitions"]) == 50
    for partition in result["partitions"]:
        assert partition["last_offset"] - partition["first_offset"] + 1 == partition["count"]
    assert result["duration"] > 0
    assert result["rate"] > 0

    consumed = kafka(
        "kafka_consume",
        topic=topic_name,
        start="beginning",
        expect_count=50,
        expect_contains=["devsecops dojo message#50", "devsecops dojo message#1"],
    )
    assert not consumed.failed, consumed.result
    values = sorted(m["value"] for m in consumed.result["messages"])
    assert values == sorted("devsecops dojo message#{0}".format(i) for i in range(1, 51))
    assert consumed.result["reached_end"] is True


def test_check_mode_sends_nothing(kafka, topic_name):
    assert kafka("kafka_topic", name=topic_name, partitions=3).result["changed"]
    assert kafka("kafka_produce", topic=topic_name, count=5).result["sent"] == 5
    check = kafka("kafka_produce", topic=topic_name, count=40, check=True)
    assert not check.failed, check.result
    assert check.result["sent"] == 0
    assert check.result["would_send"] == 40
    assert check.result["changed"] is True
    after = kafka("kafka_consume", topic=topic_name)
    assert after.result["count"] == 5


def test_key_headers_and_template(kafka, topic_name):
    assert kafka("kafka_topic", name=topic_name, partitions=1).result["changed"]
    run = kafka(
        "kafka_produce",
        topic=topic_name,
        count=3,
        message_template='{"topic": "{topic}", "n": {index}}',
        key="k{index}",
        headers={"source": "ansible", "seq": "{index}"},
    )
    assert run.result["sent"] == 3, run.result
    messages = kafka("kafka_consume", topic=topic_name).result["messages"]
    assert [m["value"] for m in messages] == ['{{"topic": "{0}", "n": {1}}}'.format(topic_name, i) for i in (1, 2, 3)]
    assert [m["key"] for m in messages] == ["k1", "k2", "k3"]
    assert messages[2]["headers"] == {"source": "ansible", "seq": "3"}
    assert [m["offset"] for m in messages] == [0, 1, 2]


def test_interval_paces_and_acknowledges_each(kafka, topic_name):
    assert kafka("kafka_topic", name=topic_name, partitions=1).result["changed"]
    run = kafka("kafka_produce", topic=topic_name, count=3, interval=0.3)
    assert run.result["sent"] == 3, run.result
    # two pauses of 0.3 s between three messages
    assert run.result["duration"] >= 0.6


def test_bad_template(kafka, topic_name, clean_failure):
    run = kafka("kafka_produce", topic=topic_name, count=2, message_template="message {idx}")
    clean_failure(run, "message_template 'message {idx}' uses the unknown field {idx}", "{index}")


def test_unreachable_broker_fails_clearly_within_timeout(kafka, clean_failure):
    closed = "127.0.0.1:{0}".format(free_port())
    started = time.monotonic()
    run = kafka("kafka_produce", topic="notifications", count=3, bootstrap_servers=[closed], request_timeout=3)
    elapsed = time.monotonic() - started
    clean_failure(run, "cannot connect to Kafka broker(s) {0} within 3 s".format(closed), "connection refused")
    assert run.result.get("sent", 0) == 0
    # 3 s of retries plus the Ansible run itself (about 1 s here)
    assert elapsed < 3 + 5, elapsed


def test_unknown_topic_is_created_by_a_default_broker(kafka, topic_name):
    # Kafka's default auto.create.topics.enable=true: the first metadata request creates the topic
    # (num.partitions=1), as it does for kcat and the runbook's producer.sh
    run = kafka("kafka_produce", topic=topic_name, count=3)
    assert not run.failed, run.result
    assert run.result["sent"] == 3
    assert run.result["topic_partitions"] == 1
    assert kafka("kafka_info", topics=[topic_name]).result["topic_names"] == [topic_name]


@pytest.fixture(scope="module")
def strict_broker(tmp_path_factory):
    """A second broker that does not create topics on demand."""
    with kafka_broker(
        work_dir=tmp_path_factory.mktemp("kafka-strict"), extra_properties={"auto.create.topics.enable": "false"}
    ) as running:
        yield running


@pytest.mark.slow
def test_unknown_topic_on_a_broker_that_does_not_create_topics(strict_broker, module_env, topic_name, clean_failure):
    args = {"bootstrap_servers": [strict_broker.bootstrap], "topic": topic_name, "count": 3, "request_timeout": 3}
    started = time.monotonic()
    run = run_module("kafka_produce", args, env=module_env)
    msg = clean_failure(
        run,
        "topic '{0}' does not exist on Kafka broker(s) {1} and the broker did not create it on demand "
        "(auto.create.topics.enable=false): create it first with kafka_topic".format(
            topic_name, strict_broker.bootstrap
        ),
    )
    assert msg.count(". ") == 0, msg
    assert run.result["sent"] == 0
    assert time.monotonic() - started < 3 + 10
    info = run_module("kafka_info", {"bootstrap_servers": [strict_broker.bootstrap], "topics": [topic_name]})
    assert info.result["missing_topics"] == [topic_name]


@pytest.mark.slow
def test_broker_dies_mid_run_fails_with_message_index(tmp_path, module_env):
    """The runbook's exit 3: a send that fails names the message. A broker of its own is stopped
    once the paced producer has had some messages acknowledged."""
    with kafka_broker(work_dir=tmp_path) as broker:
        args = {"bootstrap_servers": [broker.bootstrap]}
        assert not run_module("kafka_topic", dict(args, name="dies", partitions=1), env=module_env).failed
        # traced, towards an OTLP endpoint that refuses: the failure also says that the span was not exported
        otlp = "http://127.0.0.1:{0}".format(free_port())
        produce_args = dict(
            args, topic="dies", count=200, interval=0.05, delivery_timeout=3, request_timeout=2, otlp_endpoint=otlp
        )
        cmd = [str(BIN / "ansible"), "localhost", "-c", "local", "-i", "localhost,"]
        cmd += ["-m", COLLECTION + ".kafka_produce", "-a", json.dumps(produce_args)]
        env = ansible_env(dict({"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json"}, **module_env))
        producer = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        limit = time.monotonic() + 60
        seen = 0
        while seen < 3 and time.monotonic() < limit and producer.poll() is None:
            seen = run_module("kafka_consume", dict(args, topic="dies", timeout=2), env=module_env).result.get(
                "count", 0
            )
        assert seen >= 3, "the producer never got going"
        broker.stop()
        stdout, stderr = producer.communicate(timeout=120)
    result = json.loads(stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result.get("failed"), result
    index = result["failed_index"]
    assert result["msg"].startswith("message #{0} to topic 'dies' could not be sent".format(index)), result["msg"]
    assert index > seen
    # paced sends are acknowledged one by one: all before the failed one were
    assert result["sent"] == index - 1
    assert len(result["trace_id"]) == 32
    assert result["msg"].endswith(
        "; the span of trace {0} could not be exported either: the OTLP endpoint {1}/v1/traces could not be "
        "reached: connection refused (nothing listens there: is the collector running, is the port right?)".format(
            result["trace_id"], otlp
        )
    ), result["msg"]
    assert "Traceback (most recent call last)" not in stdout + stderr
