"""Fixtures of the telemetry chain tests: the REAL OpenTelemetry Collector in front of the Loki/Tempo stand-ins.

Real parts: the OpenTelemetry Collector built here with the Collector Builder
(tests/support/otelcol.py: otlp receiver, batch processor, otlphttp exporters, health_check
extension), started as a process with its own configuration; the modules run through real Ansible.
Stand-ins: Grafana, Loki and Tempo (tests/support/standins/grafana_standin.py), fed by the collector's
otlphttp exporters exactly as real Loki (POST /otlp/v1/logs) and Tempo (POST /v1/traces) would be.
"""

import pytest

from tests.integration.grafana.grafana_helpers import TOKEN
from tests.support.otelcol import collector_binary
from tests.support.otelcol import start_collector as start_otelcol
from tests.support.standins.grafana_standin import start_stack

# retry quickly, so that a wrong port shows in the collector's log within the test's seconds
RETRY = {"enabled": True, "initial_interval": "200ms", "max_interval": "1s", "max_elapsed_time": "60s"}


def chain_exporters(loki_endpoint, tempo_endpoint, encoding="json"):
    """The collector's exporters and pipelines of the lab's chain: logs to Loki, traces to Tempo."""
    exporter = {"encoding": encoding} if encoding else {}
    exporters = {
        "otlphttp/loki": dict(exporter, endpoint=loki_endpoint, retry_on_failure=RETRY),
        "otlphttp/tempo": dict(exporter, endpoint=tempo_endpoint, retry_on_failure=RETRY),
    }
    return exporters, {"logs": ["otlphttp/loki"], "traces": ["otlphttp/tempo"]}


@pytest.fixture(scope="session")
def otelcol_binary():
    return collector_binary()


@pytest.fixture
def backends():
    """Grafana with datasources Loki and Tempo, and the Loki and Tempo stand-ins behind them (this test's own)."""
    config = {
        "grafana": {
            "tokens": [{"token": TOKEN, "role": "Admin", "org_id": 1}],
            "datasources": [
                {"uid": "loki", "name": "Loki", "type": "loki", "url": "{loki_url}"},
                {"uid": "tempo", "name": "Tempo", "type": "tempo", "url": "{tempo_url}"},
            ],
        },
        "loki": {},
        "tempo": {"otlp_listen": "127.0.0.1:0"},
    }
    with start_stack(config) as stack:
        yield stack


@pytest.fixture
def conn(backends):
    return {"grafana_url": backends.grafana_url, "grafana_token": TOKEN}


@pytest.fixture
def start_collector(tmp_path, otelcol_binary):
    """start_collector(loki_endpoint, tempo_endpoint, encoding="json") -> a running Collector, stopped afterwards."""
    started = []

    def start(loki_endpoint, tempo_endpoint, **kwargs):
        exporters, pipelines = chain_exporters(loki_endpoint, tempo_endpoint, **kwargs)
        workdir = tmp_path / ("collector%d" % len(started))
        collector = start_otelcol(workdir, exporters, pipelines, binary=otelcol_binary)
        started.append(collector)
        return collector

    yield start
    for collector in started:
        collector.stop()
