"""serverapp after site.yml: kcat (and kafka-python) installed by the kcat role, talking to the broker."""


def test_kcat_installed(serverapp):
    assert serverapp.package("kcat").is_installed
    assert serverapp.package("python3-kafka").is_installed
    assert "kcat - Apache Kafka producer and consumer tool" in serverapp.check_output("kcat -V")


def test_kafka_python_importable(serverapp):
    assert serverapp.run("python3 -c 'import kafka'").rc == 0


def test_kcat_lists_the_notifications_topic(serverapp, address):
    out = serverapp.check_output("kcat -b {0}:9092 -L -t notifications -m 10".format(address["broker"]))
    assert 'topic "notifications" with 3 partitions' in out


def test_kcat_round_trip(serverapp, address):
    broker = "{0}:9092".format(address["broker"])
    marker = "lab-verify-{0}".format(serverapp.check_output("cat /proc/sys/kernel/random/uuid"))
    serverapp.check_output("echo {0} | kcat -b {1} -t notifications -P -p 0".format(marker, broker))
    out = serverapp.check_output("kcat -b {0} -t notifications -C -p 0 -o beginning -e -q -m 10".format(broker))
    assert marker in out.splitlines()
