"""kafka_info against a real Tansu broker: what `kcat -L` prints, as data."""


def test_info_shows_brokers_topics_partitions(kafka, tansu, topic_name):
    assert kafka("kafka_topic", name=topic_name, partitions=3).result["changed"]
    run = kafka("kafka_info", topics=[topic_name, "no-such-topic"])
    assert not run.failed, run.result
    result = run.result
    assert result["changed"] is False
    assert len(result["brokers"]) == 1
    broker = result["brokers"][0]
    assert (broker["host"], broker["port"]) == (tansu.host, tansu.port)
    assert broker["controller"] is True
    assert result["controller_id"] == broker["id"]
    assert result["topic_names"] == [topic_name]
    assert result["missing_topics"] == ["no-such-topic"]
    topic = result["topics"][0]
    assert topic["partition_count"] == 3
    assert [p["partition"] for p in topic["partitions"]] == [0, 1, 2]
    for partition in topic["partitions"]:
        assert partition["leader"] == broker["id"]
        assert partition["replicas"] == [broker["id"]]
        assert partition["isrs"] == [broker["id"]]
    summary = result["summary"]
    assert "  broker {0} at {1} (controller)".format(broker["id"], tansu.bootstrap) in summary
    assert '  topic "{0}" with 3 partitions:'.format(topic_name) in summary
    assert "    partition 2, leader {0}, replicas: {0}, isrs: {0}".format(broker["id"]) in summary


def test_info_without_filter_lists_every_topic(kafka, topic_name):
    other = topic_name + "-b"
    for name in (topic_name, other):
        assert kafka("kafka_topic", name=name, partitions=1).result["changed"]
    names = kafka("kafka_info").result["topic_names"]
    assert {topic_name, other} <= set(names)
    assert names == sorted(names)


def test_info_rejects_a_bad_topic_filter(kafka, clean_failure):
    clean_failure(kafka("kafka_info", topics=["bad/name"]), "invalid topic name 'bad/name'")
