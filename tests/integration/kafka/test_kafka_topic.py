"""kafka_topic against a real Apache Kafka broker, through Ansible."""


def test_create_three_partitions_then_no_change(kafka, topic_name):
    first = kafka("kafka_topic", name=topic_name, partitions=3, diff=True)
    assert not first.failed, first.result
    assert first.result["changed"] is True
    assert first.result["topic"]["partitions"] == 3
    assert first.result["diff"]["before"] == {}
    assert first.result["diff"]["after"]["partitions"] == 3

    again = kafka("kafka_topic", name=topic_name, partitions=3)
    assert not again.failed, again.result
    assert again.result["changed"] is False
    assert again.result["actions"] == []

    info = kafka("kafka_info", topics=[topic_name])
    assert info.result["topics"][0]["partition_count"] == 3


def test_check_mode_creates_nothing(kafka, topic_name):
    check = kafka("kafka_topic", name=topic_name, partitions=2, check=True, diff=True)
    assert not check.failed, check.result
    assert check.result["changed"] is True
    assert check.result["diff"]["after"]["partitions"] == 2
    info = kafka("kafka_info", topics=[topic_name])
    assert info.result["missing_topics"] == [topic_name]


def test_decrease_partitions_fails_clearly(kafka, topic_name, clean_failure):
    assert kafka("kafka_topic", name=topic_name, partitions=3).result["changed"]
    run = kafka("kafka_topic", name=topic_name, partitions=2)
    clean_failure(run, "cannot decrease the partitions of topic '{0}' from 3 to 2".format(topic_name))
    assert kafka("kafka_info", topics=[topic_name]).result["topics"][0]["partition_count"] == 3


def test_increase_partitions(kafka, topic_name):
    assert kafka("kafka_topic", name=topic_name, partitions=3).result["changed"]
    # check mode: the broker validates the CreatePartitions request and adds nothing
    check = kafka("kafka_topic", name=topic_name, partitions=5, check=True, diff=True)
    assert not check.failed, check.result
    assert check.result["changed"] is True
    assert check.result["actions"] == ["add partitions to topic '{0}': 3 -> 5".format(topic_name)]
    assert kafka("kafka_info", topics=[topic_name]).result["topics"][0]["partition_count"] == 3
    grown = kafka("kafka_topic", name=topic_name, partitions=5, diff=True)
    assert not grown.failed, grown.result
    assert grown.result["diff"]["before"]["partitions"] == 3
    assert grown.result["diff"]["after"]["partitions"] == 5
    topic = kafka("kafka_info", topics=[topic_name]).result["topics"][0]
    assert topic["partition_count"] == 5
    assert all(p["leader"] == 1 for p in topic["partitions"])
    assert kafka("kafka_topic", name=topic_name, partitions=5).result["changed"] is False
    # the new partitions take messages: keyed, so that the partitions are murmur2's, not chance's (kafka-python
    # 3.0 re-picks a keyless message's partition when it would open a batch, which can leave one empty)
    produced = kafka("kafka_produce", topic=topic_name, count=50, key="k{index}")
    assert {p["partition"] for p in produced.result["partitions"]} == {0, 1, 2, 3, 4}, produced.result
    probed = kafka("kafka_probe", topic=topic_name, count=5)
    assert [(p["partition"], p["read_back"]) for p in probed.result["partitions"]] == [(n, 1) for n in range(5)]


def test_increase_partitions_beyond_the_brokers_limit_fails_clearly(kafka, topic_name, clean_failure):
    assert kafka("kafka_topic", name=topic_name, partitions=1).result["changed"]
    # Kafka refuses a CreatePartitions that would put more partitions on the cluster than it allows
    run = kafka("kafka_topic", name=topic_name, partitions=2_000_000, check=True)
    clean_failure(run, "cannot increase the partitions of topic '{0}' from 1 to 2000000: ".format(topic_name))


def test_config_set_then_unchanged(kafka, topic_name):
    created = kafka("kafka_topic", name=topic_name, config={"retention.ms": "60000"})
    assert created.result["changed"], created.result
    same = kafka("kafka_topic", name=topic_name, config={"retention.ms": "60000"})
    assert not same.failed, same.result
    assert same.result["changed"] is False
    change = kafka("kafka_topic", name=topic_name, config={"retention.ms": "120000"}, diff=True)
    assert not change.failed, change.result
    assert change.result["changed"] is True
    assert change.result["diff"]["before"]["config"] == {"retention.ms": "60000"}
    assert change.result["diff"]["after"]["config"] == {"retention.ms": "120000"}
    assert kafka("kafka_topic", name=topic_name, config={"retention.ms": "120000"}).result["changed"] is False
    # a second key leaves the first as it is (kafka-python 2.0.2's AlterConfigs replaces the whole set)
    more = kafka("kafka_topic", name=topic_name, config={"cleanup.policy": "compact"})
    assert more.result["changed"] is True, more.result
    both = {"retention.ms": "120000", "cleanup.policy": "compact"}
    assert kafka("kafka_topic", name=topic_name, config=both).result["changed"] is False


def test_config_value_at_its_default_is_no_change(kafka, topic_name):
    assert kafka("kafka_topic", name=topic_name).result["changed"]
    # retention.ms is not set on the topic: it has Kafka's default, 7 days
    run = kafka("kafka_topic", name=topic_name, config={"retention.ms": "604800000"})
    assert run.result["changed"] is False, run.result


def test_bad_config_fails_with_the_brokers_reason(kafka, topic_name, clean_failure):
    create = kafka("kafka_topic", name=topic_name, config={"retention.ms": "soon"})
    clean_failure(create, "creating topic '{0}' failed: InvalidConfigurationError".format(topic_name))
    assert kafka("kafka_info", topics=[topic_name]).result["missing_topics"] == [topic_name]
    assert kafka("kafka_topic", name=topic_name).result["changed"]
    change = kafka("kafka_topic", name=topic_name, config={"no.such.setting": "1"})
    clean_failure(change, "cannot change the configuration of topic '{0}' (no.such.setting): ".format(topic_name))


def test_bad_topic_name(kafka, clean_failure):
    # the module checks Kafka's rule before asking the broker (which would refuse it too)
    run = kafka("kafka_topic", name="bad name!")
    clean_failure(run, "invalid topic name 'bad name!'", "ASCII letters, digits")
    assert "bad name!" not in kafka("kafka_info").result["topic_names"]


def test_replication_factor_change_is_refused(kafka, topic_name, clean_failure):
    assert kafka("kafka_topic", name=topic_name, replication_factor=1).result["changed"]
    run = kafka("kafka_topic", name=topic_name, replication_factor=3)
    clean_failure(run, "has replication factor 1, not 3")


def test_delete_then_absent_is_no_change(kafka, topic_name):
    assert kafka("kafka_topic", name=topic_name).result["changed"]
    check = kafka("kafka_topic", name=topic_name, state="absent", check=True)
    assert check.result["changed"] is True
    assert topic_name in kafka("kafka_info").result["topic_names"]
    gone = kafka("kafka_topic", name=topic_name, state="absent", diff=True)
    assert gone.result["changed"] is True
    assert gone.result["diff"]["after"] == {}
    assert topic_name not in kafka("kafka_info").result["topic_names"]
    assert kafka("kafka_topic", name=topic_name, state="absent").result["changed"] is False
