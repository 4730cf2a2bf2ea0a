"""The prometheus_alerts role run for real against a real Prometheus 2.53 on 127.0.0.1.

The Prometheus (tests/support/prometheus.py) is reloaded by the role through POST /-/reload
(--web.enable-lifecycle), as the role's `http` method does on the monitoring host.
"""

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support.prometheus import (
    MetricsTarget,
    Prometheus,
    free_port,
    prometheus_binary,
    start_prometheus,
    wait_for,
)

from .conftest import USER, Alertmanager, run_role

pytestmark = pytest.mark.slow

USER_CONFIG = """# the user's own Prometheus configuration
global:
  scrape_interval: 1s
  evaluation_interval: 1s   # fast, for the test
rule_files:
  - rules/*.yml
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:9']
  - job_name: node
    scrape_interval: 30s
    static_configs:
      - targets: ['127.0.0.1:9100']
"""
OTHER_RULES = """groups:
  - name: other
    rules:
      - alert: SomethingElse
        expr: vector(1) > 2
"""
# the runbook's rule file as typed: its description quote is never closed (invalid YAML)
SEED_BROKEN_RULES = """groups:
- name: kafka-alerts
  rules:
  - alert: KafkaContainerDown
    expr: (time() - container_last_seen{id="/user.slice/user-1000.slice/user@1000.service/app.slice/kafka.service"})
      > 30
    for: 1m
    labels:
      severity: critical
      service: kafka
    annotations:
      summary: "Le conteneur kafka ne répond plus"
      description: "Le conteneur kafka n\u2019est plus accessible depuis plus de 30 secondes.
"""
# sudo's secure_path on EL9: no /usr/local/bin (nor build/trixie/bin)
SECURE_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
ALERTS = {"KafkaContainerDown", "KafkaCadvisorDown", "KafkaContainerHighCpu", "KafkaContainerHighMemory"}
KAFKA_ID = "/user.slice/user-1000.slice/user@1000.service/app.slice/kafka.service"


def kafka_container_series(target, labels):
    """The cAdvisor series of the Kafka container every rule of the role reads (the role checks
    that each selector of its rules matches series)."""
    target.set("container_last_seen", time.time(), labels, kind="gauge")
    target.set("container_cpu_usage_seconds_total", 12.5, labels, kind="counter")
    target.set("container_memory_working_set_bytes", 512 * 1024 * 1024, labels, kind="gauge")


@pytest.fixture(scope="module")
def cadvisors():
    """Two brokers' cAdvisor endpoints on loopback addresses of their own (the role waits until
    Prometheus scrapes them: up == 1); broker-a on the role's port, broker-b on a cadvisor_port of its own."""
    targets = [MetricsTarget(host="127.0.0.2"), MetricsTarget(host="127.0.0.3")]
    kafka = {"id": KAFKA_ID}
    for target in targets:
        kafka_container_series(target, kafka)
    try:
        yield targets
    finally:
        for target in targets:
            target.stop()


@pytest.fixture
def prom(tmp_path, cadvisors):
    """A real Prometheus whose config dir plays ~/prometheus, started on the user's config.

    prom.brokers is the inventory's broker group (the cadvisors fixture), prom.cadvisor_port the
    role's default port for them and prom.broker_targets the targets the role must write.
    """
    prometheus_binary("promtool")  # fail, never skip, without the tools
    workdir = tmp_path / "prometheus"
    server = start_prometheus(workdir)
    a, b = (target.address.split(":") for target in cadvisors)
    server.cadvisor_port = int(a[1])
    server.brokers = {"broker-a": {"ansible_host": a[0]}, "broker-b": {"ansible_host": b[0], "cadvisor_port": b[1]}}
    server.broker_targets = [target.address for target in cadvisors]
    (workdir / "rules" / "other.yml").write_text(OTHER_RULES)
    server.config_path.write_text(USER_CONFIG)
    server.reload()
    wait_for(lambda: [g["name"] for g in server.rules()] == ["other"], timeout=20, what="the user's config")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def alertmanager(tmp_path):
    """A real Alertmanager (its readiness is what the role checks before adding it to prometheus.yml)."""
    workdir = tmp_path / "alertmanager"
    workdir.mkdir()
    (workdir / "alertmanager.yml").write_text("route:\n  receiver: default\nreceivers:\n  - name: default\n")
    server = Alertmanager(workdir)
    try:
        yield server
    finally:
        server.stop()


def role_vars(prom, **extra):
    values = {
        "prometheus_alerts_user": USER,
        "prometheus_alerts_config_file": str(prom.config_path),
        "prometheus_alerts_promtool": prometheus_binary("promtool"),
        "prometheus_alerts_url": prom.url,
        "prometheus_alerts_reload_method": "http",
        "prometheus_alerts_wait_retries": 30,
        "prometheus_alerts_cadvisor_port": prom.cadvisor_port,
        "prometheus_alerts_targets_timeout": 30,
    }
    values.update(extra)
    return values


def running_config(prom):
    return yaml.safe_load(prom.api("/api/v1/status/config")["data"]["yaml"])


def groups(prom):
    return {g["name"]: sorted(r["name"] for r in g["rules"]) for g in prom.rules()}


def test_merge_keeps_the_users_config_and_prometheus_loads_the_rules(tmp_path, prom):
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom), brokers=prom.brokers)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.recap["changed"] >= 3  # rule file, prometheus.yml, reload

    written = yaml.safe_load(prom.config_path.read_text())
    assert written["global"] == {"scrape_interval": "1s", "evaluation_interval": "1s"}
    # rules/*.yml already loads rules/kafka-alerts.yml: no second entry
    assert written["rule_files"] == ["rules/*.yml"]
    jobs = written["scrape_configs"]
    assert [j["job_name"] for j in jobs] == ["prometheus", "node", "brokercontainer"]
    assert jobs[1] == {
        "job_name": "node",
        "scrape_interval": "30s",
        "static_configs": [{"targets": ["127.0.0.1:9100"]}],
    }
    assert jobs[2] == {
        "job_name": "brokercontainer",
        "static_configs": [{"targets": prom.broker_targets}],
    }
    assert "alerting" not in written
    # the previous file is kept
    backups = list(prom.config_path.parent.glob("prometheus.yml.*~"))
    assert len(backups) == 1 and backups[0].read_text() == USER_CONFIG
    assert not list(prom.workdir.rglob("*ansible-staging*"))

    # the running Prometheus has it all
    assert groups(prom) == {"kafka-alerts": sorted(ALERTS), "other": ["SomethingElse"]}
    assert [j["job_name"] for j in running_config(prom)["scrape_configs"]] == ["prometheus", "node", "brokercontainer"]

    # idempotent, and check mode reports nothing to do
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom), brokers=prom.brokers)
    assert proc.returncode == 0 and proc.recap["changed"] == 0, proc.stdout
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom), brokers=prom.brokers, check=True)
    assert proc.returncode == 0 and proc.recap["changed"] == 0, proc.stdout


def test_adds_rule_files_entry_and_merges_alertmanagers_when_asked(tmp_path, prom, alertmanager, cadvisors):
    """The user's alertmanagers entries stay; the role's target is added only where none lists it."""
    users_entry = {"timeout": "5s", "static_configs": [{"targets": ["127.0.0.1:9"]}]}
    config = yaml.safe_load(USER_CONFIG)
    config["rule_files"] = ["rules/other.yml"]
    config["alerting"] = {
        "alert_relabel_configs": [{"action": "labeldrop", "regex": "replica"}],
        "alertmanagers": [users_entry],
    }
    prom.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    prom.reload()
    target = alertmanager.url.split("//", 1)[1]
    extra = {
        "prometheus_alerts_alertmanager_targets": [target],
        "prometheus_alerts_scrape_targets": [cadvisors[1].address],
    }
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom, **extra), brokers=prom.brokers)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = yaml.safe_load(prom.config_path.read_text())
    assert written["rule_files"] == ["rules/other.yml", "rules/*.yml"]
    assert written["alerting"] == {
        "alert_relabel_configs": [{"action": "labeldrop", "regex": "replica"}],
        "alertmanagers": [users_entry, {"static_configs": [{"targets": [target]}]}],
    }
    assert written["scrape_configs"][-1]["static_configs"] == [{"targets": [cadvisors[1].address]}]
    assert "kafka-alerts" in groups(prom)
    running = running_config(prom)["alerting"]["alertmanagers"]
    assert [am["static_configs"][0]["targets"] for am in running] == [["127.0.0.1:9"], [target]]
    # merged once: the next run changes nothing
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom, **extra), brokers=prom.brokers)
    assert proc.returncode == 0 and proc.recap["changed"] == 0, proc.stdout

    # a target the user's own entry already lists is not added again
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": ["127.0.0.1:9", target]}]}]
    prom.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom, **extra), brokers=prom.brokers)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    alerting = yaml.safe_load(prom.config_path.read_text())["alerting"]
    assert alerting["alertmanagers"] == [{"static_configs": [{"targets": ["127.0.0.1:9", target]}]}]


def test_an_alertmanager_that_does_not_answer_fails_before_any_change(tmp_path, prom, snapshot):
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom), brokers=prom.brokers)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before_files = snapshot(prom.config_path.parent)
    before_running = prom.api("/api/v1/status/config")["data"]["yaml"]
    target = "127.0.0.1:%d" % free_port()  # nothing listens there
    extra = {"prometheus_alerts_alertmanager_targets": [target], "prometheus_alerts_wait_retries": 3}
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom, **extra), brokers=prom.brokers)
    assert proc.returncode != 0
    assert "No Alertmanager answers GET /-/ready at {0} (".format(target) in proc.stdout
    assert "Connection refused" in proc.stdout and "Nothing was changed." in proc.stdout
    assert snapshot(prom.config_path.parent) == before_files
    assert prom.api("/api/v1/status/config")["data"]["yaml"] == before_running


def test_replaces_the_runbooks_broken_rule_file(tmp_path, prom):
    """The runbook's kafka-alerts.yml (unterminated quote) is in the rules dir: validation uses the new one."""
    config = yaml.safe_load(USER_CONFIG)
    config["rule_files"] = ["rules/other.yml"]  # the broken file is not loaded (it cannot be)
    prom.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    prom.reload()
    (prom.workdir / "rules" / "kafka-alerts.yml").write_text(SEED_BROKEN_RULES)
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom), brokers=prom.brokers)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert groups(prom)["kafka-alerts"] == sorted(ALERTS)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"prometheus_alerts_extra_rules": [{"alert": "Broken", "expr": "rate(foo[5m]"}]}, "unclosed left parenthesis"),
        ({"prometheus_alerts_kafka_selector": 'id=~"("'}, "error parsing regexp"),
        ({"prometheus_alerts_down_for": "one minute"}, "not a valid duration string"),
        ({"prometheus_alerts_scrape_extra": {"scrape_interval": "soon"}}, "not a valid duration string"),
        # the valid new rule file is written first, then put back when prometheus.yml is rejected
        (
            {"prometheus_alerts_scrape_extra": {"scrape_interval": "soon"}, "prometheus_alerts_down_for": "2m"},
            "not a valid duration string",
        ),
    ],
    ids=["invalid-promql", "invalid-regex", "invalid-for", "invalid-scrape-key", "invalid-scrape-key-new-rules"],
)
def test_bad_input_fails_clearly_and_changes_nothing(tmp_path, prom, snapshot, extra, message):
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom), brokers=prom.brokers)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before_files = snapshot(prom.config_path.parent)
    before_running = prom.api("/api/v1/status/config")["data"]["yaml"]
    before_groups = groups(prom)

    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom, **extra), brokers=prom.brokers)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and proc.recap["failed"] == 1
    assert message in output
    assert "nothing was changed" in output
    assert snapshot(prom.config_path.parent) == before_files, "files changed after a rejected change"
    assert prom.ready()
    assert prom.api("/api/v1/status/config")["data"]["yaml"] == before_running
    assert groups(prom) == before_groups


def test_a_broken_rule_file_of_the_user_blocks_the_change(tmp_path, prom, snapshot):
    """promtool check config sees every rule file the new config loads: a broken one stops the role."""
    (prom.workdir / "rules" / "broken.yml").write_text(
        'groups:\n  - name: b\n    rules:\n      - alert: B\n        expr: "sum("\n'
    )
    before = snapshot(prom.config_path.parent)
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom), brokers=prom.brokers)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "promtool check config says" in output and "broken.yml" in output
    assert str(prom.workdir / "rules" / "broken.yml") in output  # the real path, not the staging copy
    assert snapshot(prom.config_path.parent) == before
    assert groups(prom) == {"other": ["SomethingElse"]}


def test_check_mode_validates_but_writes_nothing(tmp_path, prom, snapshot):
    before = snapshot(prom.config_path.parent)
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom), brokers=prom.brokers, check=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.recap["changed"] == 2  # the rule file and prometheus.yml would change
    assert snapshot(prom.config_path.parent) == before
    # and a bad change is caught in check mode too
    proc = run_role(
        tmp_path,
        "prometheus_alerts",
        role_vars(prom, prometheus_alerts_kafka_selector='id=~"("'),
        brokers=prom.brokers,
        check=True,
    )
    assert proc.returncode != 0 and "error parsing regexp" in proc.stdout


def test_missing_config_or_promtool_fails_clearly(tmp_path, prom):
    proc = run_role(
        tmp_path,
        "prometheus_alerts",
        role_vars(prom, prometheus_alerts_config_file=str(tmp_path / "nope.yml")),
        brokers=prom.brokers,
    )
    assert proc.returncode != 0 and "nope.yml does not exist" in proc.stdout
    proc = run_role(
        tmp_path,
        "prometheus_alerts",
        role_vars(prom, prometheus_alerts_promtool="/nonexistent/promtool"),
        brokers=prom.brokers,
    )
    assert proc.returncode != 0 and "install promtool" in proc.stdout
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom))
    assert proc.returncode != 0 and "would have no target" in proc.stdout


def test_kafka_container_down_fires_when_the_series_disappears_and_resolves(tmp_path, prom):
    """End to end on the real Prometheus: a cAdvisor-like target loses the Kafka container's series.

    The target has no explicit timestamps, so the vanished series is marked stale at once
    (what track_timestamps_staleness does for cAdvisor): the runbook's rule would never fire.
    """
    kafka = {"id": KAFKA_ID, "name": "kafka"}
    with MetricsTarget() as cadvisor:
        kafka_container_series(cadvisor, kafka)
        extra = {
            "prometheus_alerts_scrape_targets": [cadvisor.address],
            "prometheus_alerts_down_after": 3600,  # the static value never looks stale here
            "prometheus_alerts_down_for": "2s",
        }
        proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom, **extra), brokers=prom.brokers)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        labels = {"job": "brokercontainer", "instance": cadvisor.address}
        wait_for(lambda: prom.value('up{job="brokercontainer"}') == 1, timeout=30, what="the cAdvisor scrape")
        wait_for(lambda: prom.value("container_last_seen") is not None, timeout=30, what="container_last_seen")
        assert prom.alert_state("KafkaContainerDown", labels) == "inactive"

        cadvisor.remove("container_last_seen")  # podman stop kafka
        wait_for(
            lambda: prom.alert_state("KafkaContainerDown", labels) == "firing",
            timeout=60,
            what="KafkaContainerDown firing",
        )
        firing = [a for a in prom.alerts() if a["labels"]["alertname"] == "KafkaContainerDown"]
        assert firing[0]["labels"] == dict(labels, alertname="KafkaContainerDown", severity="critical", service="kafka")

        cadvisor.set("container_last_seen", time.time(), kafka, kind="gauge")  # back
        wait_for(
            lambda: prom.alert_state("KafkaContainerDown", labels) == "inactive", timeout=60, what="the alert resolving"
        )


def test_promtool_by_name_is_resolved_as_the_user_outside_the_become_path(tmp_path, prom):
    """EL9: through sudo the PATH is secure_path, without /usr/local/bin where promtool usually is.

    The role looks a bare `promtool` up once, as the user, in that PATH and then in
    prometheus_alerts_promtool_dirs, and runs every check with the absolute path.
    """
    tools = str(Path(prometheus_binary("promtool")).parent)
    assert shutil.which("promtool", path=SECURE_PATH) is None, "the test needs a promtool outside secure_path"
    extra = {"prometheus_alerts_promtool": "promtool", "prometheus_alerts_promtool_dirs": ["/nonexistent", tools]}
    proc = run_role(
        tmp_path, "prometheus_alerts", role_vars(prom, **extra), brokers=prom.brokers, env={"PATH": SECURE_PATH}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "{0}/promtool --version".format(tools) in proc.stdout
    assert groups(prom)["kafka-alerts"] == sorted(ALERTS)

    # not found anywhere: one sentence naming where it looked, nothing changed
    proc = run_role(
        tmp_path,
        "prometheus_alerts",
        role_vars(prom, prometheus_alerts_promtool="promtool", prometheus_alerts_promtool_dirs=["/nonexistent"]),
        brokers=prom.brokers,
        env={"PATH": SECURE_PATH},
    )
    assert proc.returncode != 0
    assert "promtool ('promtool') is not found as {0} on localhost".format(USER) in proc.stdout
    assert "/nonexistent" in proc.stdout and "Nothing was changed" in proc.stdout


def test_a_promtool_failing_without_output_is_never_reported_with_an_empty_reason(tmp_path, prom, snapshot):
    before = snapshot(prom.config_path.parent)
    # runs --version, then fails every check silently
    silent = tmp_path / "bin" / "promtool"
    silent.parent.mkdir()
    silent.write_text(
        '#!/bin/sh\nif [ "$1" = --version ]; then exec "{0}" --version; fi\nexit 3\n'.format(
            prometheus_binary("promtool")
        )
    )
    silent.chmod(0o755)
    proc = run_role(
        tmp_path, "prometheus_alerts", role_vars(prom, prometheus_alerts_promtool=str(silent)), brokers=prom.brokers
    )
    assert proc.returncode != 0
    assert "promtool check rules exited with code 3 and printed nothing" in proc.stdout
    assert not re.search(r"says:\s*(\"|$)", proc.stdout, re.MULTILINE), proc.stdout
    # a promtool whose --version fails without output
    mute = tmp_path / "bin" / "mute"
    mute.write_text("#!/bin/sh\nexit 1\n")
    mute.chmod(0o755)
    proc = run_role(
        tmp_path, "prometheus_alerts", role_vars(prom, prometheus_alerts_promtool=str(mute)), brokers=prom.brokers
    )
    assert proc.returncode != 0
    expected = "'{0} --version' fails as {1} on localhost: it exited with code 1 and printed nothing".format(mute, USER)
    assert expected in proc.stdout, proc.stdout
    assert snapshot(prom.config_path.parent) == before


def test_a_scrape_target_that_is_down_fails_naming_it_and_prometheus_last_error(tmp_path, prom):
    """The job in the configuration is not enough: its target must be up (a closed port here)."""
    port = free_port("127.0.0.2")  # nothing listens there
    brokers = {"broker-x": {"ansible_host": "127.0.0.2", "cadvisor_port": port}}
    proc = run_role(
        tmp_path, "prometheus_alerts", role_vars(prom, prometheus_alerts_targets_timeout=10), brokers=brokers
    )
    assert proc.returncode != 0
    target = "127.0.0.2:{0}".format(port)
    sentence = (
        "The scrape job brokercontainer is in Prometheus' configuration but"
        ' up{{job="brokercontainer"}} is not 1 after 10 s: {0} is down ('.format(target)
    )
    assert sentence in proc.stdout, proc.stdout
    assert "dial tcp {0}: connect: connection refused".format(target) in proc.stdout
    # the rest was applied: the rules run
    assert groups(prom)["kafka-alerts"] == sorted(ALERTS)


def start_prometheus_without_lifecycle(workdir):
    """A real Prometheus as the runbook starts it: no --web.enable-lifecycle, so POST /-/reload is a 403."""
    workdir.mkdir(parents=True)
    (workdir / "rules").mkdir()
    (workdir / "rules" / "other.yml").write_text(OTHER_RULES)
    config = workdir / "prometheus.yml"
    config.write_text(USER_CONFIG)
    port = free_port()
    log_path = workdir / "prometheus.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                prometheus_binary(),
                "--config.file=%s" % config,
                "--storage.tsdb.path=%s" % (workdir / "data"),
                "--web.listen-address=127.0.0.1:%d" % port,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    server = Prometheus(process, port, workdir, config, log_path)
    try:
        wait_for(server.ready, timeout=60, what="Prometheus /-/ready")
    except BaseException:
        server.stop()
        raise
    return server


def test_no_lifecycle_api_falls_back_to_restarting_the_unit_and_says_why_it_failed(tmp_path, cadvisors):
    """The runbook's Prometheus has no --web.enable-lifecycle: POST /-/reload answers 403.

    `auto` then restarts the unit with systemctl. This controller runs no systemd, so the restart
    itself fails here: the role must say the whole story in one sentence (the lab proves the restart).
    `http` fails with the advice to enable the lifecycle API.
    """
    prom = start_prometheus_without_lifecycle(tmp_path / "prometheus")
    try:
        prom.cadvisor_port = int(cadvisors[0].address.split(":")[1])
        brokers = {"broker-a": {"ansible_host": "127.0.0.2"}}
        service = "prometheus-dojo-test-unit"
        extra = {"prometheus_alerts_reload_method": "auto", "prometheus_alerts_service": service}
        proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom, **extra), brokers=brokers)
        assert proc.returncode != 0
        expected = (
            "Prometheus at {0} refuses POST /-/reload (HTTP 403: Lifecycle API is not enabled.:"
            " no --web.enable-lifecycle), so the role restarts the user unit {1} of {2},"
            " and systemctl restart failed: ".format(prom.url, service, USER)
        )
        assert expected in proc.stdout, proc.stdout
        assert "Restart or reload the unit {0}".format(service) in proc.stdout  # systemctl was really tried
        # the files are written and valid; Prometheus still runs the previous configuration
        assert "brokercontainer" in prom.config_path.read_text()
        assert "brokercontainer" not in prom.api("/api/v1/status/config")["data"]["yaml"]

        proc = run_role(
            tmp_path,
            "prometheus_alerts",
            role_vars(prom, prometheus_alerts_reload_method="http", prometheus_alerts_rules_file_name="kafka-2.yml"),
            brokers=brokers,
        )
        assert proc.returncode != 0
        assert (
            "Prometheus at {0} did not reload the new configuration: it refuses POST /-/reload (HTTP 403:"
            " Lifecycle API is not enabled.): its lifecycle API is off. Start it with --web.enable-lifecycle".format(
                prom.url
            )
            in proc.stdout
        ), proc.stdout
    finally:
        prom.stop()


def test_readiness_wait_is_bounded_by_prometheus_alerts_ready_timeout(tmp_path, prom):
    """/-/ready is awaited prometheus_alerts_ready_timeout seconds (a TSDB replay after a restart
    can take minutes), then the role says what it saw."""
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom), brokers=prom.brokers)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    prom.stop()  # nothing answers any more
    started = time.monotonic()
    proc = run_role(
        tmp_path, "prometheus_alerts", role_vars(prom, prometheus_alerts_ready_timeout=4), brokers=prom.brokers
    )
    elapsed = time.monotonic() - started
    assert proc.returncode != 0
    assert "Prometheus at {0} is not ready after 4 s (".format(prom.url) in proc.stdout, proc.stdout
    assert "Connection refused" in proc.stdout
    assert "prometheus_alerts_ready_timeout" in proc.stdout
    assert elapsed < 60, "the wait was not bounded by prometheus_alerts_ready_timeout ({0:.0f} s)".format(elapsed)


def test_a_rule_selector_that_matches_no_series_fails_naming_it_and_the_labels_that_exist(tmp_path, prom):
    """A valid rule whose selector matches nothing never fires: here its id names another uid."""
    wrong_id = KAFKA_ID.replace("1000", "1001")
    selector = 'job="brokercontainer", id="{0}"'.format(wrong_id)
    proc = run_role(
        tmp_path, "prometheus_alerts", role_vars(prom, prometheus_alerts_kafka_selector=selector), brokers=prom.brokers
    )
    assert proc.returncode != 0
    sentence = (
        'Selector container_last_seen{{job="brokercontainer", id="{0}"}} of rule KafkaContainerDown'
        " matches no series in Prometheus at {1}; container_last_seen has job values: brokercontainer;"
        " id values: {2}".format(wrong_id, prom.url, KAFKA_ID)
    )
    assert sentence in proc.stdout, proc.stdout
    assert "(and 2 more selectors match nothing: container_cpu_usage_seconds_total{" in proc.stdout
    assert "nothing was rolled back" in proc.stdout and "prometheus_alerts_check_rule_selectors" in proc.stdout
    # the rules are loaded (the check comes after), only the operator can tell the rule is wrong
    assert groups(prom)["kafka-alerts"] == sorted(ALERTS)

    # the operator turns the check off for it: the same run passes, with nothing left to change
    extra = {"prometheus_alerts_kafka_selector": selector, "prometheus_alerts_check_rule_selectors": False}
    proc = run_role(tmp_path, "prometheus_alerts", role_vars(prom, **extra), brokers=prom.brokers)
    assert proc.returncode == 0 and proc.recap["changed"] == 0, proc.stdout + proc.stderr

    # the right uid passes, and absent(up{job=...}) of KafkaCadvisorDown is not in the way
    selector = 'job="brokercontainer", id="{0}"'.format(KAFKA_ID)
    proc = run_role(
        tmp_path, "prometheus_alerts", role_vars(prom, prometheus_alerts_kafka_selector=selector), brokers=prom.brokers
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Selector " not in proc.stdout
