"""The lab's metrics chain on loopback: a REAL Tansu broker pushes OTLP/HTTP protobuf to the
OpenTelemetry-collector stand-in, a REAL Prometheus (trixie 2.53) scrapes the stand-in's
exposition, and the Kafka traffic this test makes shows up in PromQL with the names the
collector's prometheus exporter gives them."""

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from tests.support.prometheus import running_prometheus, wait_for
from tests.support.tansu import tansu_broker

REPO = Path(__file__).resolve().parents[3]
STANDIN = REPO / "tests" / "support" / "standins" / "otel_collector_standin.py"
MESSAGES = 12


@pytest.fixture
def collector(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            str(STANDIN),
            "--listen",
            "127.0.0.1:0",
            "--prometheus-listen",
            "127.0.0.1:0",
            # traces/logs pipelines enabled (so they would be counted if Tansu sent any)
            "--traces-url",
            "http://127.0.0.1:9/v1/traces",
            "--logs-url",
            "http://127.0.0.1:9/loki/api/v1/push",
        ],
        stdout=subprocess.PIPE,
        stderr=open(tmp_path / "collector.log", "wb"),  # noqa: SIM115 - handed to the child
        text=True,
    )
    line = proc.stdout.readline()  # printed once both listeners are bound
    assert line.startswith("otel-collector stand-in ready:"), line
    fields = dict(item.split("=", 1) for item in line.split()[3:])
    yield {"otlp": fields["otlp"], "metrics": fields["prometheus"]}
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)
    proc.stdout.close()


@pytest.fixture
def tansu(tmp_path, collector):
    # trailing slash: the exporter joins v1/metrics relative to it
    with tansu_broker(
        extra_args=["--otlp-endpoint-url", collector["otlp"] + "/"],
        env={"OTEL_METRIC_EXPORT_INTERVAL": "1000"},
        startup_timeout=30,
        log_dir=tmp_path,
    ) as broker:
        yield broker.bootstrap


def test_tansu_metrics_reach_prometheus_through_the_collector_standin(tmp_path, collector, tansu):
    admin = KafkaAdminClient(bootstrap_servers=tansu, request_timeout_ms=10000)
    admin.create_topics([NewTopic("notifications", num_partitions=3, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=tansu, acks="all", linger_ms=0)
    for n in range(MESSAGES):
        producer.send("notifications", "devsecops dojo message#{0}".format(n).encode())
        producer.flush()  # one Produce request per message, like the tutorial's kcat loop
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=tansu, consumer_timeout_ms=5000, enable_auto_commit=False)
    consumer.assign([TopicPartition("notifications", p) for p in range(3)])
    consumer.seek_to_beginning()
    assert len(list(consumer)) == MESSAGES
    consumer.close()

    target = collector["metrics"].split("//", 1)[1].split("/", 1)[0]
    with running_prometheus(
        tmp_path / "prometheus",
        scrape_configs=[{"job_name": "otel-collector", "static_configs": [{"targets": [target]}]}],
    ) as prom:
        # the OTLP push (every second) and the scrape (every second) are both asynchronous
        produce = wait_for(
            lambda: prom.value('tansu_api_requests_total{api_key="0"}') == MESSAGES,
            timeout=60,
            what="{0} Produce requests counted in Prometheus".format(MESSAGES),
        )
        assert produce
        (series,) = prom.query('tansu_api_requests_total{api_key="0"}')
        labels = series["metric"]
        # Prometheus' own job label wins (honor_labels: false): the exporter's job is kept as exported_job
        assert labels["job"] == "otel-collector"
        assert labels["exported_job"] == "tansu-broker"
        assert labels["otel_scope_name"] == "tansu-service"
        assert wait_for(lambda: prom.value('sum(tansu_api_requests_total{api_key="1"})'), timeout=30)  # Fetch
        assert prom.value("tansu_request_duration_milliseconds_count") >= MESSAGES
        assert prom.value('tansu_request_duration_milliseconds_bucket{le="+Inf"}') == prom.value(
            "tansu_request_duration_milliseconds_count"
        )
        assert prom.value("tansu_bytes_received_total") > 0
        assert prom.value("tansu_request_size_bytes_sum") == prom.value("tansu_bytes_received_total")
        assert prom.value('up{job="otel-collector"}') == 1
        metadata = prom.api("/api/v1/metadata", {"metric": "tansu_api_requests_total"})["data"]
        assert metadata["tansu_api_requests_total"][0]["type"] == "counter"

    with urllib.request.urlopen(collector["otlp"] + "/standin/status", timeout=10) as resp:
        received = json.loads(resp.read())["received"]
    assert received["metrics"] >= 2
    assert received["traces"] == received["logs"] == 0  # Tansu 0.6.0 exports metrics only
