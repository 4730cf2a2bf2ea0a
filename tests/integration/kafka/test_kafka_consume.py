"""kafka_consume against a real Apache Kafka broker, through Ansible."""

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
    # past the end of every partition: nothing (not Kafka's out-of-range reset to the beginning)
    beyond = kafka("kafka_consume", topic=fifty, start="offset", offset=1000)
    assert not beyond.failed, beyond.result
    assert beyond.result["count"] == 0
    assert beyond.result["reached_end"] is True


def test_from_end_reads_only_new_messages(kafka, fifty):
    run = kafka("kafka_consume", topic=fifty, start="end")
    assert not run.failed, run.result
    assert run.result["count"] == 0
    assert run.result["reached_end"] is True
    # the end offsets Kafka reports are exact: stopping there takes no extra fetch round
    assert run.result["elapsed"] < 2, run.result


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


def test_group_reads_then_resumes_from_committed(kafka, fifty):
    group = fifty + "-g"
    run = kafka("kafka_consume", topic=fifty, group_id=group, timeout=20)
    assert not run.failed, run.result
    assert run.result["count"] == 50
    assert run.result["partitions"] == [0, 1, 2]  # the only member gets every partition
    assert run.result["committed"] is True
    assert run.result["changed"] is True
    assert run.result["reached_end"] is True
    assert kafka("kafka_produce", topic=fifty, count=2, message_template="late {index}").result["sent"] == 2
    resumed = kafka("kafka_consume", topic=fifty, group_id=group, start="committed", timeout=30)
    assert not resumed.failed, resumed.result
    assert sorted(m["value"] for m in resumed.result["messages"]) == ["late 1", "late 2"]
    again = kafka("kafka_consume", topic=fifty, group_id=group, start="committed", timeout=30)
    assert again.result["count"] == 0, again.result
    assert again.result["committed"] is False  # nothing read, nothing to commit


def test_group_in_check_mode_commits_nothing(kafka, fifty):
    group = fifty + "-c"
    run = kafka("kafka_consume", topic=fifty, group_id=group, timeout=20, check=True)
    assert run.result["count"] == 50, run.result
    assert run.result["committed"] is False
    assert run.result["changed"] is False
    # nothing was committed: the group starts from the beginning again
    resumed = kafka("kafka_consume", topic=fifty, group_id=group, start="committed", timeout=20)
    assert resumed.result["count"] == 50, resumed.result


def test_session_timeout_outside_the_brokers_range(kafka, fifty, clean_failure):
    # Kafka's group.min.session.timeout.ms is 6 s by default
    run = kafka("kafka_consume", topic=fifty, group_id=fifty + "-s", session_timeout=2)
    clean_failure(
        run,
        "joining consumer group '{0}-s' failed: InvalidSessionTimeoutError".format(fifty),
        "session_timeout 2 s is outside the range the broker allows",
    )


def test_missing_topic_is_not_created(kafka, topic_name, clean_failure):
    clean_failure(
        kafka("kafka_consume", topic=topic_name),
        "topic '{0}' does not exist on Kafka broker(s) ".format(topic_name),
        "(no partitions in the metadata)",
    )
    # reading does not create it, although the broker creates topics on demand for producers
    assert kafka("kafka_info", topics=[topic_name]).result["missing_topics"] == [topic_name]


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
