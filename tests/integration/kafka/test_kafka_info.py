"""kafka_info against a real Apache Kafka broker: what `kcat -L` prints, as data."""


def test_info_shows_brokers_topics_partitions(kafka, broker, topic_name):
    assert kafka("kafka_topic", name=topic_name, partitions=3).result["changed"]
    run = kafka("kafka_info", topics=[topic_name, "no-such-topic"])
    assert not run.failed, run.result
    result = run.result
    assert result["changed"] is False
    assert len(result["brokers"]) == 1
    node = result["brokers"][0]
    assert (node["host"], node["port"]) == (broker.host, broker.port)
    assert node["id"] == 1  # node.id of the KRaft node, which is also the controller
    assert node["controller"] is True
    assert result["controller_id"] == node["id"]
    assert result["cluster_id"] == broker.cluster_id
    assert result["topic_names"] == [topic_name]
    assert result["missing_topics"] == ["no-such-topic"]
    topic = result["topics"][0]
    assert topic["partition_count"] == 3
    assert [p["partition"] for p in topic["partitions"]] == [0, 1, 2]
    for partition in topic["partitions"]:
        assert partition["leader"] == node["id"]
        assert partition["replicas"] == [node["id"]]
        assert partition["isrs"] == [node["id"]]
    summary = result["summary"]
    assert "  broker {0} at {1} (controller)".format(node["id"], broker.bootstrap) in summary
    assert '  topic "{0}" with 3 partitions:'.format(topic_name) in summary
    assert "    partition 2, leader {0}, replicas: {0}, isrs: {0}".format(node["id"]) in summary


def test_info_without_filter_lists_every_topic(kafka, topic_name):
    other = topic_name + "-b"
    for name in (topic_name, other):
        assert kafka("kafka_topic", name=name, partitions=1).result["changed"]
    names = kafka("kafka_info").result["topic_names"]
    assert {topic_name, other} <= set(names)
    assert names == sorted(names)


def test_info_rejects_a_bad_topic_filter(kafka, clean_failure):
    clean_failure(kafka("kafka_info", topics=["bad/name"]), "invalid topic name 'bad/name'")


def test_info_shows_internal_topics_only_when_asked(kafka, topic_name):
    # a consumer group's commit makes Kafka create its internal __consumer_offsets topic
    assert kafka("kafka_topic", name=topic_name, partitions=1).result["changed"]
    assert kafka("kafka_produce", topic=topic_name, count=1).result["sent"] == 1
    assert kafka("kafka_consume", topic=topic_name, group_id=topic_name + "-g").result["committed"] is True
    assert "__consumer_offsets" not in kafka("kafka_info").result["topic_names"]
    everything = kafka("kafka_info", include_internal=True).result
    internal = [t for t in everything["topics"] if t["name"] == "__consumer_offsets"]
    assert internal, everything["topic_names"]
    assert internal[0]["internal"] is True
    assert internal[0]["partition_count"] == 50  # offsets.topic.num.partitions
