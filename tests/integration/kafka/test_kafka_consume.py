"""kafka_consume against a real Tansu broker, through Ansible."""

import time

import pytest


@pytest.fixture
def fifty(kafka, topic_name):
    """A 3-partition topic holding devsecops dojo message#1..#50."""
    assert kafka("kafka_topic", name=topic_name, partitions=3).result["changed"]
    assert kafka("kafka_produce", topic=topic_name, count=50).result["sent"] == 50
    return topic_name


def test_expectations_met(kafka, fifty):
    run = kafka(
        "kafka_consume",
        topic=fifty,
        expect_count=50,
        expect_contains=["devsecops dojo message#50"],
        expect_regex=r"^devsecops dojo message#\d+$",
    )
    assert not run.failed, run.result
    assert run.result["count"] == 50
    assert run.result["partitions"] == [0, 1, 2]
    assert run.result["changed"] is False
    first = run.result["messages"][0]
    assert set(first) == {"value", "key", "partition", "offset", "timestamp", "headers"}
    assert first["timestamp"] > 1_600_000_000_000


def test_expectations_not_met_say_what_was_found(kafka, fifty, clean_failure):
    run = kafka(
        "kafka_consume",
        topic=fifty,
        expect_count=51,
        expect_contains=["devsecops dojo message#51"],
        expect_regex="^nope",
    )
    msg = clean_failure(
        run,
        "expected 51 messages, found 50",
        "no message contains 'devsecops dojo message#51'",
        "no message matches the regular expression '^nope'",
        "found 50 messages (per partition 0: ",
        "first values: 'devsecops dojo message#",
    )
    assert run.result["count"] == 50
    assert len(run.result["problems"]) == 3
    assert msg.startswith("expectations not met on topic '{0}' (start: beginning)".format(fifty))


def test_max_messages(kafka, fifty):
    run = kafka("kafka_consume", topic=fifty, max_messages=7)
    assert run.result["count"] == 7
    assert run.result["reached_end"] is False


def test_from_offset(kafka, fifty):
    per_partition = {}
    for message in kafka("kafka_consume", topic=fifty).result["messages"]:
        per_partition[message["partition"]] = per_partition.get(message["partition"], 0) + 1
    run = kafka("kafka_consume", topic=fifty, start="offset", offset=10)
    assert not run.failed, run.result
    assert run.result["count"] == sum(max(0, n - 10) for n in per_partition.values())
    assert min(m["offset"] for m in run.result["messages"]) == 10


def test_from_end_reads_only_new_messages(kafka, fifty):
    # Tansu quirk: its end offset is the base offset of the last batch + 1; the module reads past
    # what is already there, so "end" means the same as on Kafka
    run = kafka("kafka_consume", topic=fifty, start="end")
    assert not run.failed, run.result
    assert run.result["count"] == 0


def test_from_timestamp(kafka, fifty):
    now_ms = int(time.time() * 1000)
    older = kafka("kafka_consume", topic=fifty, start="timestamp", timestamp=now_ms - 600_000)
    assert older.result["count"] == 50, older.result
    later = kafka("kafka_consume", topic=fifty, start="timestamp", timestamp=now_ms + 600_000)
    assert not later.failed, later.result
    assert later.result["count"] == 0


def test_direct_partition_assignment(kafka, fifty):
    run = kafka("kafka_consume", topic=fifty, partitions=[1])
    assert run.result["partitions"] == [1]
    assert run.result["count"] > 0
    assert {m["partition"] for m in run.result["messages"]} == {1}


def test_group_reads_then_resumes_from_committed(kafka, fifty, kafka_python_version, clean_failure):
    group = fifty + "-g"
    run = kafka("kafka_consume", topic=fifty, group_id=group, session_timeout=4, timeout=20)
    if kafka_python_version.startswith("2.0"):
        # Tansu answers JoinGroup v2 with MEMBER_ID_REQUIRED (79), which kafka-python 2.0.2 cannot handle
        clean_failure(run, "joining consumer group '{0}' failed".format(group), "MEMBER_ID_REQUIRED")
        return
    assert not run.failed, run.result
    assert run.result["count"] == 50
    assert run.result["committed"] is True
    assert run.result["changed"] is True
    assert kafka("kafka_produce", topic=fifty, count=2, message_template="late {index}").result["sent"] == 2
    resumed = kafka("kafka_consume", topic=fifty, group_id=group, start="committed", session_timeout=4, timeout=30)
    assert not resumed.failed, resumed.result
    assert sorted(m["value"] for m in resumed.result["messages"]) == ["late 1", "late 2"]


def test_group_in_check_mode_commits_nothing(kafka, fifty, kafka_python_version):
    if kafka_python_version.startswith("2.0"):
        pytest.skip("Tansu's JoinGroup answer (MEMBER_ID_REQUIRED) defeats kafka-python 2.0.2 groups")
    run = kafka("kafka_consume", topic=fifty, group_id=fifty + "-c", session_timeout=4, timeout=20, check=True)
    assert run.result["count"] == 50, run.result
    assert run.result["committed"] is False
    assert run.result["changed"] is False


def test_missing_topic(kafka, topic_name, clean_failure):
    clean_failure(kafka("kafka_consume", topic=topic_name), "topic '{0}' does not exist".format(topic_name))


def test_unknown_partition(kafka, fifty, clean_failure):
    clean_failure(kafka("kafka_consume", topic=fifty, partitions=[7]), "has partitions 0, 1, 2; it has no partition 7")


def test_argument_errors(kafka, fifty, clean_failure):
    clean_failure(
        kafka("kafka_consume", topic=fifty, start="offset"),
        "start is offset but all of the following are missing: offset",
    )
    clean_failure(
        kafka("kafka_consume", topic=fifty, expect_regex="(unclosed"),
        "expect_regex '(unclosed' is not a valid regular expression",
    )
    clean_failure(
        kafka("kafka_consume", topic=fifty, partitions=[0], group_id="g"),
        "parameters are mutually exclusive: partitions|group_id",
    )
