"""The alertmanager_slack role run for real against a real Alertmanager 0.28 and the Slack sink stand-in.

The Alertmanager is started by conftest.Alertmanager (a private mount namespace for Debian's
fixed template path).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.ansible_run import REPO
from tests.support.prometheus import free_port, prometheus_binary, wait_for

from .conftest import USER, Alertmanager, http, run_role

pytestmark = pytest.mark.slow

SLACK_SINK = REPO / "tests" / "support" / "standins" / "slack_sink_standin.py"
USER_CONFIG = """# the user's own Alertmanager configuration
route:
  receiver: default
  group_by: [alertname]
  routes:
    - receiver: ops
      matchers: ['team="ops"']
receivers:
  - name: default
  - name: ops
    webhook_configs:
      - url: http://127.0.0.1:9/hook
"""


class SlackSink:
    def __init__(self):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.process = subprocess.Popen(
            [sys.executable, str(SLACK_SINK), "--listen", "127.0.0.1:%d" % self.port],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert "ready" in self.process.stdout.readline()

    def messages(self):
        return http(self.url + "/messages")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=15)


@pytest.fixture
def alertmanager(tmp_path):
    workdir = tmp_path / "alertmanager"
    workdir.mkdir()
    (workdir / "alertmanager.yml").write_text(USER_CONFIG)
    server = Alertmanager(workdir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def slack():
    sink = SlackSink()
    try:
        yield sink
    finally:
        sink.stop()


def role_vars(config_path, webhook, **extra):
    values = {
        "alertmanager_slack_user": USER,
        "alertmanager_slack_config_file": str(config_path),
        "alertmanager_slack_amtool": prometheus_binary("amtool"),
        "alertmanager_slack_webhook_url": webhook,
        "alertmanager_slack_wait_retries": 30,
    }
    values.update(extra)
    return values


def test_slack_route_merged_reloaded_and_delivering(tmp_path, alertmanager, slack):
    webhook = slack.url + "/services/T000TEST/B000TEST/secret-token-123"
    extra = {"alertmanager_slack_url": alertmanager.url, "alertmanager_slack_group_wait": "1s"}
    proc = run_role(tmp_path, "alertmanager_slack", role_vars(alertmanager.config_path, webhook, **extra))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "secret-token-123" not in proc.stdout + proc.stderr

    written = yaml.safe_load(alertmanager.config_path.read_text())
    assert "secret-token-123" not in alertmanager.config_path.read_text()
    url_file = alertmanager.workdir / "slack_webhook_url"
    assert url_file.read_text() == webhook
    assert url_file.stat().st_mode & 0o777 == 0o600
    assert [r["name"] for r in written["receivers"]] == ["default", "ops", "slack-kafka"]
    assert written["receivers"][2]["slack_configs"] == [{"api_url_file": str(url_file), "send_resolved": True}]
    assert written["route"]["receiver"] == "default"
    assert [r["receiver"] for r in written["route"]["routes"]] == ["slack-kafka", "ops"]
    assert written["route"]["routes"][0]["matchers"] == ['service="kafka"']
    assert not list(alertmanager.workdir.glob("*ansible-staging*"))
    # Alertmanager runs it
    assert [r["name"] for r in alertmanager.running_config()["receivers"]] == ["default", "ops", "slack-kafka"]

    # an alert with service=kafka reaches Slack, then its resolution; another service does not
    alertmanager.post_alert({"alertname": "SomethingElse", "service": "web"})
    labels = {"alertname": "KafkaContainerDown", "service": "kafka", "severity": "critical", "instance": "b:9882"}
    alertmanager.post_alert(labels)
    first = wait_for(slack.messages, timeout=60, what="the Slack notification")
    assert first[0]["path"] == "/services/T000TEST/B000TEST/secret-token-123"
    text = json.dumps(first[0]["payload"])
    assert "KafkaContainerDown" in text and "FIRING" in text
    alertmanager.post_alert(labels, resolved=True)
    wait_for(
        lambda: any("RESOLVED" in json.dumps(m["payload"]) for m in slack.messages()),
        timeout=90,
        what="the resolved notification",
    )
    assert all("SomethingElse" not in json.dumps(m["payload"]) for m in slack.messages())

    # idempotent; check mode sees nothing to do
    proc = run_role(tmp_path, "alertmanager_slack", role_vars(alertmanager.config_path, webhook, **extra))
    assert proc.returncode == 0 and proc.recap["changed"] == 0, proc.stdout
    proc = run_role(tmp_path, "alertmanager_slack", role_vars(alertmanager.config_path, webhook, **extra), check=True)
    assert proc.returncode == 0 and proc.recap["changed"] == 0, proc.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"alertmanager_slack_matchers": ['service=~"("']}, "amtool check-config says"),
        ({"alertmanager_slack_group_wait": "soon"}, "not a valid duration string"),
        ({"alertmanager_slack_repeat_interval": "0s"}, "repeat_interval cannot be zero"),
    ],
    ids=["bad-matcher", "bad-duration", "zero-repeat"],
)
def test_bad_input_fails_clearly_and_changes_nothing(tmp_path, alertmanager, snapshot, extra, message):
    extra = dict(extra, alertmanager_slack_url=alertmanager.url)
    webhook = "https://hooks.example.invalid/services/T/B/x"
    proc = run_role(
        tmp_path,
        "alertmanager_slack",
        role_vars(alertmanager.config_path, webhook, alertmanager_slack_url=alertmanager.url),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before = snapshot(alertmanager.workdir)
    running = alertmanager.running_config()

    proc = run_role(tmp_path, "alertmanager_slack", role_vars(alertmanager.config_path, webhook, **extra))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in output and "nothing was changed" in output
    assert snapshot(alertmanager.workdir) == before
    assert alertmanager.ready() and alertmanager.running_config() == running


def test_missing_webhook_url_fails_without_printing_anything(tmp_path, snapshot):
    config = tmp_path / "am" / "alertmanager.yml"
    config.parent.mkdir()
    config.write_text(USER_CONFIG)
    before = snapshot(config.parent)
    for bad in ("", "not a url"):
        proc = run_role(tmp_path, "alertmanager_slack", role_vars(config, bad, alertmanager_slack_reload_method="none"))
        assert proc.returncode != 0
        assert "censored" in proc.stdout  # no_log: the value is never shown
        assert snapshot(config.parent) == before


def test_missing_config_is_created_with_slack_as_default_route(tmp_path):
    config = tmp_path / "fresh" / "alertmanager.yml"
    webhook = "https://hooks.example.invalid/services/T/B/x"
    proc = run_role(tmp_path, "alertmanager_slack", role_vars(config, webhook, alertmanager_slack_reload_method="none"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = yaml.safe_load(config.read_text())
    assert written["route"]["receiver"] == "slack-kafka"
    assert [r["name"] for r in written["receivers"]] == ["slack-kafka"]
    checked = subprocess.run(
        [prometheus_binary("amtool"), "check-config", str(config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


# sudo's secure_path on EL9: no /usr/local/bin (nor build/trixie/bin)
SECURE_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"


def test_amtool_by_name_is_resolved_as_the_user_outside_the_become_path(tmp_path, snapshot):
    """EL9: through sudo the PATH is secure_path; a bare `amtool` is looked up once, as the user."""
    config = tmp_path / "am" / "alertmanager.yml"
    config.parent.mkdir()
    config.write_text(USER_CONFIG)
    tools = str(Path(prometheus_binary("amtool")).parent)
    assert shutil.which("amtool", path=SECURE_PATH) is None, "the test needs an amtool outside secure_path"
    webhook = "https://hooks.example.invalid/services/T/B/x"
    extra = {
        "alertmanager_slack_amtool": "amtool",
        "alertmanager_slack_amtool_dirs": ["/nonexistent", tools],
        "alertmanager_slack_reload_method": "none",
    }
    proc = run_role(tmp_path, "alertmanager_slack", role_vars(config, webhook, **extra), env={"PATH": SECURE_PATH})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "{0}/amtool --version".format(tools) in proc.stdout
    assert [r["name"] for r in yaml.safe_load(config.read_text())["receivers"]] == ["default", "ops", "slack-kafka"]

    before = snapshot(config.parent)
    not_found = dict(extra)
    not_found["alertmanager_slack_amtool_dirs"] = ["/nonexistent"]
    proc = run_role(
        tmp_path,
        "alertmanager_slack",
        role_vars(config, webhook, **not_found),
        env={"PATH": SECURE_PATH},
    )
    assert proc.returncode != 0
    assert "amtool ('amtool') is not found as {0} on localhost".format(USER) in proc.stdout
    assert "Nothing was changed" in proc.stdout
    assert snapshot(config.parent) == before


def test_an_amtool_failing_without_output_is_never_reported_with_an_empty_reason(tmp_path, snapshot):
    config = tmp_path / "am" / "alertmanager.yml"
    config.parent.mkdir()
    config.write_text(USER_CONFIG)
    before = snapshot(config.parent)
    silent = tmp_path / "bin" / "amtool"
    silent.parent.mkdir()
    silent.write_text(
        '#!/bin/sh\nif [ "$1" = --version ]; then exec "{0}" --version; fi\nexit 3\n'.format(
            prometheus_binary("amtool")
        )
    )
    silent.chmod(0o755)
    mute = tmp_path / "bin" / "mute"  # --version fails without output
    mute.write_text("#!/bin/sh\nexit 1\n")
    mute.chmod(0o755)
    webhook = "https://hooks.example.invalid/services/T/B/x"
    for tool, message in (
        (str(silent), "amtool check-config exited with code 3 and printed nothing"),
        (
            str(mute),
            "'{0} --version' fails as {{0}} on localhost: it exited with code 1 and printed nothing".format(mute),
        ),
    ):
        extra = {"alertmanager_slack_amtool": tool, "alertmanager_slack_reload_method": "none"}
        proc = run_role(tmp_path, "alertmanager_slack", role_vars(config, webhook, **extra))
        assert proc.returncode != 0
        assert message.format(USER) in proc.stdout, proc.stdout
        assert not re.search(r"says:\s*(\"|$)", proc.stdout, re.MULTILINE), proc.stdout
        assert snapshot(config.parent) == before


def test_an_alertmanager_that_does_not_answer_fails_before_any_change(tmp_path, snapshot):
    """Alertmanager not installed or not running: the role stops before writing the webhook or the config."""
    config = tmp_path / "am" / "alertmanager.yml"
    config.parent.mkdir()
    config.write_text(USER_CONFIG)
    before = snapshot(config.parent)
    url = "http://127.0.0.1:%d" % free_port()  # nothing listens there
    webhook = "https://hooks.example.invalid/services/T/B/x"
    extra = {"alertmanager_slack_url": url, "alertmanager_slack_wait_retries": 3}
    proc = run_role(tmp_path, "alertmanager_slack", role_vars(config, webhook, **extra))
    assert proc.returncode != 0
    assert "Alertmanager does not answer GET {0}/-/ready on localhost".format(url) in proc.stdout
    assert "Connection refused" in proc.stdout and "Nothing was changed." in proc.stdout
    assert snapshot(config.parent) == before
