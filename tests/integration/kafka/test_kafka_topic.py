"""kafka_topic against a real Tansu broker, through Ansible."""


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


def test_increase_partitions_says_the_broker_cannot(kafka, topic_name, clean_failure):
    # Tansu quirk: no CreatePartitions (API 37). On a broker that has it the topic would grow;
    # here the module must say clearly that this broker cannot, in check mode too.
    assert kafka("kafka_topic", name=topic_name, partitions=3).result["changed"]
    for check in (True, False):
        run = kafka("kafka_topic", name=topic_name, partitions=5, check=check)
        clean_failure(run, "from 3 to 5", "does not support the CreatePartitions request")
    assert kafka("kafka_info", topics=[topic_name]).result["topics"][0]["partition_count"] == 3


def test_config_set_then_unchanged(kafka, topic_name, kafka_python_version, clean_failure):
    created = kafka("kafka_topic", name=topic_name, config={"retention.ms": "60000"})
    assert created.result["changed"], created.result
    same = kafka("kafka_topic", name=topic_name, config={"retention.ms": "60000"})
    assert not same.failed, same.result
    assert same.result["changed"] is False
    change = kafka("kafka_topic", name=topic_name, config={"retention.ms": "120000"}, diff=True)
    if kafka_python_version.startswith("2.0"):
        # kafka-python 2.0.2 only sends AlterConfigs, which Tansu lacks (it has IncrementalAlterConfigs)
        clean_failure(change, "cannot change the configuration", "AlterConfigs")
        return
    assert not change.failed, change.result
    assert change.result["changed"] is True
    assert change.result["diff"]["before"]["config"] == {"retention.ms": "60000"}
    assert change.result["diff"]["after"]["config"] == {"retention.ms": "120000"}
    assert kafka("kafka_topic", name=topic_name, config={"retention.ms": "120000"}).result["changed"] is False


def test_bad_topic_name(kafka, clean_failure):
    # Tansu itself accepts any name: the module checks Kafka's rule before asking the broker
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
