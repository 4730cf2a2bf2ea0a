"""A REAL Alertmanager (trixie 0.28) notifies the Slack-webhook stand-in through slack_configs:
the sink answers like Slack (Alertmanager counts the notification as sent, not failed) and
records the message Alertmanager built, firing then resolved."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.prometheus import free_port, prometheus_binary, wait_for

REPO = Path(__file__).resolve().parents[3]
SINK = REPO / "tests" / "support" / "standins" / "slack_sink_standin.py"
TRIXIE_SHARE = REPO / "build" / "trixie" / "root" / "usr" / "share"
WEBHOOK_PATH = "/services/T000LAB/B000LAB/lab"


@pytest.fixture
def sink(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, str(SINK), "--listen", "127.0.0.1:0", "--record", str(tmp_path / "slack.jsonl")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline()  # printed once listening
    assert line.startswith("slack sink stand-in ready:"), line
    yield line.split()[-1]
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    proc.stdout.close()


@pytest.fixture
def alertmanager(tmp_path, sink):
    config = {
        "route": {
            "receiver": "slack",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "slack",
                "slack_configs": [
                    {"api_url": sink + WEBHOOK_PATH, "channel": "#alerts", "send_resolved": True},
                ],
            }
        ],
    }
    path = tmp_path / "alertmanager.yml"
    path.write_text(json.dumps(config))
    port = free_port()
    if os.geteuid() != 0:
        pytest.fail("Debian's Alertmanager reads /usr/share/prometheus/alertmanager/default.tmpl: run as root")
    # Debian's build reads its default templates from /usr/share/prometheus/alertmanager: a
    # private mount namespace overlays that directory from build/trixie/root (make deps)
    script = (
        'mount -t overlay overlay -o "lowerdir={share}:/usr/share" /usr/share && exec "{binary}" '
        '--config.file="{config}" --storage.path="{data}" --web.listen-address=127.0.0.1:{port} '
        "--cluster.listen-address="
    ).format(
        share=TRIXIE_SHARE, binary=prometheus_binary("alertmanager"), config=path, data=tmp_path / "data", port=port
    )
    with open(tmp_path / "alertmanager.log", "wb") as log:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = "http://127.0.0.1:{0}".format(port)
    try:
        wait_for(lambda: urllib.request.urlopen(url + "/-/ready", timeout=2).status == 200, 30, what="alertmanager")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def _post_alert(url, ends_at=None):
    alert = {
        "labels": {"alertname": "KafkaContainerDown", "severity": "critical", "service": "kafka"},
        "annotations": {"summary": "Le conteneur kafka ne répond plus"},
    }
    if ends_at:
        alert["endsAt"] = ends_at
    req = urllib.request.Request(
        url + "/api/v2/alerts",
        data=json.dumps([alert]).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def _messages(sink):
    with urllib.request.urlopen(sink + "/messages", timeout=10) as resp:
        return json.loads(resp.read())


def _counter(url, name, integration="slack"):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    for line in text.splitlines():
        if line.startswith(name + "{") and 'integration="{0}"'.format(integration) in line:
            return float(line.split()[-1])
    return 0.0


def test_alertmanager_posts_firing_and_resolved_to_the_sink(alertmanager, sink):
    _post_alert(alertmanager)
    messages = wait_for(lambda: _messages(sink), timeout=60, what="the firing notification")
    first = messages[0]
    assert first["path"] == WEBHOOK_PATH
    assert first["user_agent"].startswith("Alertmanager/")
    assert first["payload"]["channel"] == "#alerts"
    (attachment,) = first["payload"]["attachments"]
    assert "[FIRING:1] KafkaContainerDown" in attachment["title"]
    assert attachment["color"] == "danger"

    _post_alert(alertmanager, ends_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1)))
    resolved = wait_for(
        lambda: [m for m in _messages(sink) if "[RESOLVED]" in m["payload"]["attachments"][0]["title"]],
        timeout=60,
        what="the resolved notification",
    )
    assert resolved[0]["payload"]["attachments"][0]["color"] == "good"
    # Alertmanager counted the posts as delivered: the sink answered like Slack
    assert _counter(alertmanager, "alertmanager_notifications_total") >= 2
    assert _counter(alertmanager, "alertmanager_notifications_failed_total") == 0
