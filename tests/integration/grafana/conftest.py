"""Fixtures of the Grafana module integration tests.

Real parts: a REAL Prometheus 2.53 (Debian trixie build) scraping a real HTTP exposition
target every second and evaluating real alert rules; the modules run through real Ansible
(run_module/run_playbook). Stand-ins: Grafana, Loki and Tempo only
(tests/support/standins/grafana_standin.py), Grafana's proxy forwarding to the real Prometheus.
"""

import pytest

from tests.integration.grafana.grafana_helpers import RULES, TOKEN, SilentServer, stack_config
from tests.support.prometheus import MetricsTarget, free_port, running_prometheus, wait_for
from tests.support.standins.grafana_standin import start_stack


@pytest.fixture(scope="session")
def kafka_target():
    """The exposition the real Prometheus scrapes: the OTel JMX Kafka names, and alert triggers."""
    with MetricsTarget() as target:
        target.set("kafka_message_count_total", 0)
        target.set("kafka_request_count_total", 0, {"type": "produce"})
        target.set("kafka_request_count_total", 0, {"type": "fetch"})
        target.set("kafka_partition_count", 3, kind="gauge")
        for name in ("dojo_test_trigger", "dojo_slow_trigger", "dojo_pending_trigger"):
            target.set(name, 0, {"case": "none"}, kind="gauge")
        yield target


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory, kafka_target):
    workdir = tmp_path_factory.mktemp("prometheus")
    with running_prometheus(
        workdir,
        scrape_configs=[{"job_name": "kafka", "static_configs": [{"targets": [kafka_target.address]}]}],
        rule_files={"dojo-test.yml": RULES},
    ) as prom:
        wait_for(lambda: prom.value("kafka_partition_count") == 3, timeout=30, what="the first scrape of the target")
        wait_for(prom.rules, timeout=30, what="the rule groups to load")
        yield prom


@pytest.fixture(scope="session")
def silent_server():
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def closed_port():
    return free_port()


@pytest.fixture(scope="session")
def grafana(prometheus, silent_server, closed_port):
    with start_stack(stack_config(prometheus.url, silent_server.url, closed_port)) as stack:
        yield stack


@pytest.fixture
def conn(grafana):
    return {"grafana_url": grafana.grafana_url, "grafana_token": TOKEN}
