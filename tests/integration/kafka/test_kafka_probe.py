"""kafka_probe against real Apache Kafka brokers, through Ansible.

Real parts: the session's broker (KRaft, one node); for the broken partition, a cluster of its own with
two brokers (node 1 broker and controller, node 2 broker only, tests/support/kafka.py `join`): a topic
whose partition 2 has its only replica on node 2, then node 2 is stopped (controlled shutdown), so the
controller leaves partition 2 without a leader (leader -1, offline replica 2) - what a dead broker does
to the partitions it alone holds. The real OpenTelemetry Collector (fixtures `collector`, `sink`) for
the trace.
"""

import threading
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from tests.support.ansible_run import run_module
from tests.support.kafka import free_port, kafka_broker, start_kafka
from tests.support.prometheus import wait_for

SECRET = "Bearer probe-secret-never-shown"


def assert_latency_consistent(figures):
    """p50 <= p99 <= max, all above 0 (milliseconds)."""
    assert figures["p50"] > 0, figures
    assert figures["p50"] <= figures["p99"] <= figures["max"], figures


def assert_all_back(result, sent):
    assert result["sent"] == sent, result
    assert result["acknowledged"] == result["read_back"] == sent, result
    assert result["lost"] == 0
    assert result["availability"] == 1.0
    assert result["failed_partitions"] == []
    assert result["problems"] == []
    assert_latency_consistent(result["latency_ms"])
    assert_latency_consistent(result["ack_latency_ms"])


@pytest.fixture
def three_partitions(kafka, topic_name):
    assert kafka("kafka_topic", name=topic_name, partitions=3).result["changed"]
    return topic_name


def test_every_partition_probed_and_read_back_from_its_end(kafka, broker, three_partitions):
    topic = three_partitions
    # messages already there: the probe starts at the end offsets and never reads them
    before = kafka("kafka_produce", topic=topic, count=20).result
    ends = {p["partition"]: p["last_offset"] + 1 for p in before["partitions"]}

    run = kafka("kafka_probe", topic=topic, key="run-42-{index}")
    assert not run.failed, run.result
    result = run.result
    assert result["changed"] is True
    assert result["topic_partitions"] == 3
    assert_all_back(result, 50)
    assert result["duration"] > 0
    assert result["rate"] > 0
    assert len(result["trace_id"]) == 32
    assert result["traceparent"] == "00-{0}-{1}-01".format(result["trace_id"], result["span_id"])
    assert "trace_exported" not in result  # no otlp_endpoint
    assert [p["partition"] for p in result["partitions"]] == [0, 1, 2]
    assert [p["sent"] for p in result["partitions"]] == [17, 17, 16]  # round-robin, explicitly
    for entry in result["partitions"]:
        assert entry["leader"] == 1
        assert entry["replicas"] == entry["isr"] == [1]
        assert entry["error"] is None
        assert entry["availability"] == 1.0
        assert entry["acknowledged"] == entry["read_back"] == entry["sent"]
        assert entry["start_offset"] == ends.get(entry["partition"], 0)
        assert entry["first_offset"] == entry["start_offset"]
        assert entry["last_offset"] == entry["first_offset"] + entry["sent"] - 1
        assert_latency_consistent(entry["latency_ms"])
        assert_latency_consistent(entry["ack_latency_ms"])
        assert entry["latency_ms"]["max"] <= result["latency_ms"]["max"]

    # what the probe wrote: message i on partition (i - 1) % 3, the key template, the probe's headers
    everything = kafka("kafka_consume", topic=topic, max_messages=200, expect_count=70).result["messages"]
    probed = sorted(
        (m for m in everything if "dojo-probe" in m["headers"]), key=lambda m: int(m["value"].rsplit("#", 1)[1])
    )
    assert [m["value"] for m in probed] == ["devsecops dojo message#{0}".format(i) for i in range(1, 51)]
    assert [m["key"] for m in probed] == ["run-42-{0}".format(i) for i in range(1, 51)]
    assert [m["partition"] for m in probed] == [(i - 1) % 3 for i in range(1, 51)]
    assert {m["headers"]["traceparent"] for m in probed} == {result["traceparent"]}
    assert [m["headers"]["dojo-probe"] for m in probed] == [
        "{0}:{1}".format(result["trace_id"], i) for i in range(1, 51)
    ]

    # a second probe starts where the first ended and counts only its own messages
    again = kafka("kafka_probe", topic=topic, count=6).result
    assert_all_back(again, 6)
    assert again["trace_id"] != result["trace_id"]
    for first, second in zip(result["partitions"], again["partitions"]):
        assert second["start_offset"] == first["last_offset"] + 1


def test_fewer_messages_than_partitions_still_probe_each(kafka, three_partitions):
    run = kafka("kafka_probe", topic=three_partitions, count=1)
    assert not run.failed, run.result
    assert_all_back(run.result, 3)
    assert [p["sent"] for p in run.result["partitions"]] == [1, 1, 1]
    for entry in run.result["partitions"]:
        # one message: its latency is every percentile
        assert entry["latency_ms"]["p50"] == entry["latency_ms"]["p99"] == entry["latency_ms"]["max"] > 0


def test_latency_threshold_fails_naming_every_partition(kafka, broker, three_partitions, clean_failure):
    run = kafka("kafka_probe", topic=three_partitions, count=9, max_latency_p99_ms=0.001)
    msg = clean_failure(
        run,
        "probe of topic '{0}' on Kafka broker(s) {1} failed on partitions 0, 1, 2: end-to-end latency p99 above "
        "max_latency_p99_ms 0.001 on partitions 0 (".format(three_partitions, broker.bootstrap),
    )
    assert msg.count(". ") == 0, msg
    for entry in run.result["partitions"]:
        assert "{0} ({1:g} ms)".format(entry["partition"], entry["latency_ms"]["p99"]) in msg
    # every figure is returned with the failure
    assert run.result["failed_partitions"] == [0, 1, 2]
    assert run.result["availability"] == 1.0
    assert run.result["read_back"] == 9
    assert len(run.result["problems"]) == 1
    # a threshold the broker meets passes
    assert not kafka("kafka_probe", topic=three_partitions, count=9, max_latency_p99_ms=60000).failed


def test_check_mode_checks_the_topic_and_sends_nothing(kafka, three_partitions):
    check = kafka("kafka_probe", topic=three_partitions, check=True)
    assert not check.failed, check.result
    assert check.result["sent"] == 0
    assert check.result["would_send"] == 50
    assert check.result["topic_partitions"] == 3
    assert [(p["partition"], p["leader"]) for p in check.result["partitions"]] == [(0, 1), (1, 1), (2, 1)]
    assert "trace_id" not in check.result
    assert kafka("kafka_consume", topic=three_partitions).result["count"] == 0


def test_unknown_topic_is_not_created(kafka, broker, topic_name, clean_failure):
    for check in (False, True):
        run = kafka("kafka_probe", topic=topic_name, check=check)
        msg = clean_failure(
            run,
            "topic '{0}' does not exist on Kafka broker(s) {1}: the probe sends only to an existing topic "
            "(create it with kafka_topic)".format(topic_name, broker.bootstrap),
        )
        assert msg.count(". ") == 0, msg
        assert run.result["sent"] == 0
    # (a default broker creates topics on demand: the probe never asked it to)
    assert kafka("kafka_info", topics=[topic_name]).result["missing_topics"] == [topic_name]


def test_unreachable_broker_fails_clearly_within_timeout(kafka, clean_failure):
    closed = "127.0.0.1:{0}".format(free_port())
    started = time.monotonic()
    run = kafka("kafka_probe", topic="notifications", bootstrap_servers=[closed], request_timeout=3)
    elapsed = time.monotonic() - started
    msg = clean_failure(
        run,
        "cannot connect to Kafka broker(s) {0} within 3 s (security_protocol=PLAINTEXT): connection refused".format(
            closed
        ),
    )
    assert msg.count(". ") == 0, msg
    assert elapsed < 3 + 5, elapsed


def test_probe_through_sasl_plain(kafka, broker, topic_name, clean_failure):
    sasl = broker.sasl_args()
    assert kafka("kafka_topic", name=topic_name, partitions=2, **sasl).result["changed"]
    run = kafka("kafka_probe", topic=topic_name, count=10, **sasl)
    assert not run.failed, run.result
    assert_all_back(run.result, 10)
    assert [p["sent"] for p in run.result["partitions"]] == [5, 5]
    wrong = kafka("kafka_probe", topic=topic_name, request_timeout=3, **broker.sasl_args(password="not-it-4711"))
    clean_failure(wrong, "cannot connect to Kafka broker(s) {0} within 3 s".format(broker.sasl_bootstrap))
    for result in (run, wrong):
        assert broker.sasl_password not in result.output
        assert "not-it-4711" not in result.output


# ---------------------------------------------------------------- a partition without a leader
def leader_of(admin, topic, partition):
    described = admin.describe_topics([topic])[0]
    return next(p["leader_id"] for p in described["partitions"] if p["partition_index"] == partition)


@pytest.fixture(scope="module")
def broken_cluster(tmp_path_factory):
    """Two brokers; topic 'broken' with partitions 0 and 1 on node 1 and partition 2 only on node 2, then
    node 2 stopped (its log dirs kept): partition 2 has no leader. Yields (node 1, node 2, admin client)."""
    with kafka_broker(work_dir=tmp_path_factory.mktemp("kafka-node1")) as node1:
        node2 = start_kafka(join=node1, work_dir=tmp_path_factory.mktemp("kafka-node2"))
        admin = KafkaAdminClient(bootstrap_servers=[node1.bootstrap])
        try:
            admin.create_topics(
                [
                    NewTopic(
                        "broken", num_partitions=-1, replication_factor=-1, replica_assignments={0: [1], 1: [1], 2: [2]}
                    )
                ]
            )
            wait_for(lambda: leader_of(admin, "broken", 2) == 2, timeout=30, what="node 2 leading partition 2")
            node2.stop(keep_data=True)
            wait_for(lambda: leader_of(admin, "broken", 2) == -1, timeout=30, what="partition 2 without a leader")
            yield node1, node2, admin
        finally:
            admin.close()
            node2.stop()


@pytest.mark.slow
def test_partition_without_leader_is_named(broken_cluster, module_env, clean_failure):
    node1, _node2, _admin = broken_cluster
    args = {"bootstrap_servers": [node1.bootstrap], "topic": "broken", "count": 30, "timeout": 3, "request_timeout": 2}
    started = time.monotonic()
    run = run_module("kafka_probe", args, env=module_env)
    elapsed = time.monotonic() - started
    msg = clean_failure(
        run,
        "probe of topic 'broken' on Kafka broker(s) {0} failed on partition 2: availability below min_availability "
        "1 on partition 2 (0 of 10 read back: no leader before sending (replicas 2, offline 2); 10 not "
        "acknowledged".format(node1.bootstrap),
    )
    assert msg.count(". ") == 0, msg
    assert elapsed < 3 + 2 + 10, elapsed  # the probe's timeout, the connection, the Ansible run
    result = run.result
    assert result["failed_partitions"] == [2]
    assert result["sent"] == 30
    assert result["read_back"] == result["acknowledged"] == 20
    assert result["availability"] == round(20 / 30, 4)
    healthy, broken = result["partitions"][:2], result["partitions"][2]
    for entry in healthy:
        assert entry["availability"] == 1.0
        assert entry["leader"] == 1
        assert_latency_consistent(entry["latency_ms"])
    assert broken["leader"] == -1
    assert broken["offline_replicas"] == [2]
    assert broken["acknowledged"] == broken["read_back"] == 0
    assert broken["availability"] == 0.0
    assert broken["start_offset"] is None
    assert broken["latency_ms"] == {"p50": None, "p99": None, "max": None}

    # min_availability 0 only reports; check mode shows the leaderless partition without sending
    report = run_module("kafka_probe", dict(args, min_availability=0), env=module_env)
    assert not report.failed, report.result
    assert report.result["failed_partitions"] == []
    assert report.result["partitions"][2]["availability"] == 0.0
    check = run_module("kafka_probe", args, check=True, env=module_env)
    assert not check.failed, check.result
    assert [p["leader"] for p in check.result["partitions"]] == [1, 1, -1]


@pytest.mark.slow
def test_partition_whose_leader_returns_during_the_probe_is_read_from_its_first_message(broken_cluster, module_env):
    """Node 2 is started again while the probe waits: partition 2 gets its leader back, the messages waiting
    for it are acknowledged, and the probe reads them from the offset of the first (it had no end offset)."""
    node1, node2, admin = broken_cluster
    assert leader_of(admin, "broken", 2) == -1
    watcher = KafkaConsumer(bootstrap_servers=[node1.bootstrap], enable_auto_commit=False)
    first = TopicPartition("broken", 0)
    watcher.assign([first])
    watcher.seek_to_end(first)
    watcher.position(first)
    args = {"bootstrap_servers": [node1.bootstrap], "topic": "broken", "count": 9, "timeout": 60}
    outcome = {}
    probe = threading.Thread(target=lambda: outcome.update(run=run_module("kafka_probe", args, env=module_env)))
    probe.start()
    try:
        # the probe has sent (a message of it is on partition 0) before node 2 comes back
        wait_for(
            lambda: any(
                any(name == "dojo-probe" for name, _value in record.headers)
                for records in watcher.poll(timeout_ms=200).values()
                for record in records
            ),
            timeout=60,
            what="the probe's first message on partition 0",
        )
        node2.restart()
    finally:
        probe.join(120)
        watcher.close()
    run = outcome["run"]
    assert not run.failed, run.result
    assert_all_back(run.result, 9)
    late = run.result["partitions"][2]
    assert late["leader"] == -1  # before sending
    assert late["start_offset"] == late["first_offset"]
    assert late["read_back"] == 3
    # the messages waited for the broker to start: seconds, not milliseconds
    assert late["latency_ms"]["p50"] > 500
    node2.stop(keep_data=True)
    wait_for(lambda: leader_of(admin, "broken", 2) == -1, timeout=30, what="partition 2 without a leader again")


# ---------------------------------------------------------------- the trace
def test_trace_through_the_real_collector(kafka, broker, collector, sink, three_partitions):
    run = kafka(
        "kafka_probe",
        topic=three_partitions,
        count=7,
        otlp_endpoint=collector.otlp_url,
        otlp_service_name="nightly-probe",
        otlp_headers={"X-A": SECRET},
    )
    assert not run.failed, run.result
    result = run.result
    assert result["trace_exported"] is True
    assert result["exported_spans"] == 4  # the producer span, a consumer span per partition
    assert "trace_error" not in result
    trace_id, span_id = result["trace_id"], result["span_id"]
    spans = wait_for(
        lambda: len(sink.spans(trace_id)) >= 4 and sink.spans(trace_id),
        timeout=30,
        what="the probe's 4 spans from the collector",
    )
    assert {service for service, _span in spans} == {"nightly-probe"}
    (producer,) = [span for _service, span in spans if span["kind"] == 4]
    consumers = sorted(
        (span for _service, span in spans if span["kind"] == 5),
        key=lambda span: attributes_of(span)["messaging.destination.partition.id"],
    )
    assert producer["spanId"] == span_id
    assert not producer.get("parentSpanId")
    assert producer["name"] == "send " + three_partitions
    assert attributes_of(producer)["messaging.batch.message_count"] == "7"
    assert attributes_of(producer)["server.port"] == str(broker.port)
    assert [attributes_of(span)["messaging.destination.partition.id"] for span in consumers] == ["0", "1", "2"]
    assert [attributes_of(span)["messaging.batch.message_count"] for span in consumers] == ["3", "2", "2"]
    for span in consumers:
        assert span["name"] == "process " + three_partitions
        assert span["parentSpanId"] == span_id
        assert int(span["startTimeUnixNano"]) >= int(producer["startTimeUnixNano"])
    assert SECRET not in run.output


def test_export_refused_does_not_fail_the_probe(kafka, three_partitions):
    closed = "http://127.0.0.1:{0}".format(free_port())
    run = kafka("kafka_probe", topic=three_partitions, count=6, otlp_endpoint=closed, otlp_headers={"X-A": SECRET})
    assert not run.failed, run.result
    assert_all_back(run.result, 6)
    assert run.result["trace_exported"] is False
    assert run.result["exported_spans"] == 0
    error = run.result["trace_error"]
    assert error == (
        "the spans of trace {0} were not exported: the OTLP endpoint {1}/v1/traces could not be reached: connection "
        "refused (nothing listens there: is the collector running, is the port right?)".format(
            run.result["trace_id"], closed
        )
    )
    assert error in " ".join(run.result.get("warnings", []))
    assert SECRET not in run.output


def attributes_of(span):
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}
