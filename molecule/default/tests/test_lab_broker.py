"""broker after site.yml: linger, podman.socket, the cadvisor unit, and the firewall seen from serverapp."""

import re


def test_linger_on(broker):
    assert broker.file("/var/lib/systemd/linger/vagrant").exists
    assert broker.check_output("loginctl show-user vagrant --property=Linger") == "Linger=yes"


def test_podman_socket_active(broker, user_systemctl):
    assert user_systemctl(broker, "is-active", "podman.socket").stdout.strip() == "active"
    assert user_systemctl(broker, "is-enabled", "podman.socket").stdout.strip() == "enabled"
    ping = broker.run("curl -fsS --unix-socket /run/user/1000/podman/podman.sock http://d/_ping")
    assert ping.stdout == "OK"


def test_cadvisor_unit_active(broker, user_systemctl):
    assert user_systemctl(broker, "is-active", "cadvisor.service").stdout.strip() == "active"
    assert broker.file("/home/vagrant/.config/containers/systemd/cadvisor.container").exists


def test_kafka_unit_still_active(broker, user_systemctl):
    assert user_systemctl(broker, "is-active", "kafka.service").stdout.strip() == "active"


def test_firewall_opens_cadvisor_only(broker):
    ports = broker.check_output("sudo firewall-cmd --list-ports").split()
    assert "9882/tcp" in ports


def test_cadvisor_answers_from_serverapp(serverapp, address, poll):
    url = "http://{0}:9882/metrics".format(address["broker"])

    def scrape():
        res = serverapp.run("curl -fsS -m 5 {0}".format(url))
        return res.stdout if res.rc == 0 and "container_last_seen" in res.stdout else ""

    body = poll(scrape, "cAdvisor metrics from serverapp", deadline_s=60)
    kafka = re.search(
        r'container_last_seen\{[^}]*id="/user\.slice/user-1000\.slice/user@1000\.service/'
        r'app\.slice/kafka\.service"[^}]*\} \S+ \d+',
        body,
    )
    assert kafka, "no container_last_seen series (with a timestamp) for kafka.service"


def test_port_not_opened_is_refused(broker, serverapp, address, poll):
    """A port with a listener on broker but not opened in firewalld is refused from serverapp."""
    port = 18999
    listener = broker.run(
        "nohup timeout 60 python3 -m http.server {0} --bind 0.0.0.0 >/dev/null 2>&1 & echo $!".format(port)
    )
    pid = listener.stdout.strip()
    try:
        poll(
            lambda: broker.run("curl -fsS -o /dev/null http://127.0.0.1:{0}/".format(port)).rc == 0,
            "the test listener on broker",
            deadline_s=20,
        )
        res = serverapp.run("curl -sS -m 5 -o /dev/null http://{0}:{1}/".format(address["broker"], port))
        assert res.rc == 7, "expected the connection to be refused, got rc {0}: {1}".format(res.rc, res.stderr)
    finally:
        broker.run("kill {0}".format(pid))


def test_rootless_podman_runs_the_local_images(broker):
    """Rootless podman 5 for vagrant: no registry, the images were built on the controller and imported."""
    env = "XDG_RUNTIME_DIR=/run/user/1000"
    assert broker.check_output("{0} podman info --format '{{{{.Host.Security.Rootless}}}}'".format(env)) == "true"
    names = broker.check_output("{0} podman ps --format '{{{{.Names}}}} {{{{.Image}}}}'".format(env)).splitlines()
    assert "kafka localhost/kafka:4.3.1" in names
    assert "cadvisor localhost/cadvisor:v0.52.1" in names


def test_runbook_kafka_topics_in_the_container(broker):
    """The runbook's own step: kafka-topics.sh from /opt/kafka/bin inside the container `kafka`."""
    env = "XDG_RUNTIME_DIR=/run/user/1000"
    out = broker.check_output(
        "{0} podman container exec --workdir /opt/kafka/bin/ kafka ./kafka-topics.sh --describe "
        "--topic notifications --bootstrap-server localhost:9092".format(env)
    )
    assert "PartitionCount: 3" in out, out
    assert out.count("Leader: 1") == 3, out
