"""Fixtures of the telemetry chain tests: the REAL OpenTelemetry Collector in front of the Loki/Tempo stand-ins.

Real parts: the OpenTelemetry Collector built here with the Collector Builder
(tests/support/artifacts.py, `otelcol`: otlp receiver, batch processor, otlphttp exporters, health_check
extension), started as a process with its own configuration; the modules run through real Ansible.
Stand-ins: Grafana, Loki and Tempo (tests/support/standins/grafana_standin.py), fed by the collector's
otlphttp exporters exactly as real Loki (POST /otlp/v1/logs) and Tempo (POST /v1/traces) would be.
"""

import json
import signal
import subprocess
import urllib.request

import pytest

from tests.integration.grafana.grafana_helpers import TOKEN
from tests.support import artifacts
from tests.support.prometheus import free_port, wait_for
from tests.support.standins.grafana_standin import start_stack


class Collector:
    """One otelcol-dojo process; `otlp_url` is its OTLP/HTTP receiver, `log()` what it printed."""

    def __init__(self, binary, workdir, loki_endpoint, tempo_endpoint, *, encoding="json"):
        self.workdir = workdir
        self.otlp_url = "http://127.0.0.1:%d" % free_port()
        self.health_url = "http://127.0.0.1:%d" % free_port()
        exporter = {"encoding": encoding} if encoding else {}
        # retry quickly, so that a wrong port shows in the collector's log within the test's seconds
        retry = {"enabled": True, "initial_interval": "200ms", "max_interval": "1s", "max_elapsed_time": "60s"}
        self.config = {
            "receivers": {"otlp": {"protocols": {"http": {"endpoint": self.otlp_url.split("//", 1)[1]}}}},
            "processors": {"batch": {"timeout": "200ms"}},
            "exporters": {
                "otlphttp/loki": dict(exporter, endpoint=loki_endpoint, retry_on_failure=retry),
                "otlphttp/tempo": dict(exporter, endpoint=tempo_endpoint, retry_on_failure=retry),
            },
            "extensions": {"health_check": {"endpoint": self.health_url.split("//", 1)[1]}},
            "service": {
                "extensions": ["health_check"],
                "pipelines": {
                    "logs": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["otlphttp/loki"]},
                    "traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["otlphttp/tempo"]},
                },
                # no internal metrics server: it would take :8888, which the lab's collector may hold
                "telemetry": {"metrics": {"level": "none"}},
            },
        }
        config_path = workdir / "otelcol.yaml"
        config_path.write_text(json.dumps(self.config, indent=2))  # JSON is YAML
        self.log_path = workdir / "otelcol.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(binary), "--config", str(config_path)], stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_for(self.healthy, timeout=30, interval=0.1, what="the collector's health_check to answer 200")
        except TimeoutError:
            self.stop()
            raise

    def healthy(self):
        if self.process.poll() is not None:
            raise RuntimeError("the collector exited (rc %s): %s" % (self.process.returncode, self.log()[-2000:]))
        with urllib.request.urlopen(self.health_url + "/", timeout=2) as response:
            return response.status == 200

    def log(self):
        return self.log_path.read_text(errors="replace")

    def send(self, signal_path, body):
        """POST an OTLP/JSON export request to the receiver, as an SDK does; return the receiver's answer."""
        request = urllib.request.Request(
            self.otlp_url + signal_path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            return json.loads(response.read() or b"{}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture(scope="session")
def otelcol_binary():
    binary = artifacts.ensure("otelcol") / "otelcol-dojo"
    assert binary.is_file(), "%s is missing: run tests/support/artifacts.py build otelcol" % binary
    return binary


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
        workdir = tmp_path / ("collector%d" % len(started))
        workdir.mkdir()
        collector = Collector(otelcol_binary, workdir, loki_endpoint, tempo_endpoint, **kwargs)
        started.append(collector)
        return collector

    yield start
    for collector in started:
        collector.stop()
