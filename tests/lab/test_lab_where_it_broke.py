"""Fault injection in the lab: break one hop at a time, run the verification, and check that the
report names that hop (and no other) as where the chain broke.

Runs after the lab scenario (the `molecule_run` fixture of conftest.py keeps the lab up). For
each fault: inject it on the guest, wait until it shows (when the fault needs time to show,
e.g. cAdvisor's stamped samples stay fresh for 2 minutes), run playbooks/verify.yml (the drill's
fault: nightly.yml with the drill) with report name fault-<slug>, read the run's history record
(reports/history/fault-<slug>-<run id>.json: the diagnosis), restore, and wait until the lab is
whole again. The table fault -> named hop -> seconds to verdict is printed and written to
build/lab/where-it-broke.json (README "Where it broke").
"""

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "tests" / "support" / "lab"))
import playrun  # noqa: E402 (tests/support/lab is not a package)

INVENTORY = yaml.safe_load((REPO / "inventory" / "lab" / "group_vars" / "all.yml").read_text())
MONITORING = INVENTORY["lab_monitoring_address"]
PROMETHEUS = "http://{0}:{1}".format(MONITORING, INVENTORY["lab_prometheus_port"])
HISTORY = REPO / "reports" / "history"
TABLE = REPO / "build" / "lab" / "where-it-broke.json"
CHECK_TIMEOUT = 60  # each failing check waits this long (the lab's default is 120)
SAMPLE_AGE = 45  # cAdvisor's samples older than this fail its checks (the role's default is 120)
KAFKA_CGROUP = r"/user\.slice/user-1000\.slice/user@1000\.service/app\.slice/kafka\.service"


def ssh(host, script, check=True):
    """Run a shell script on a guest as vagrant (its user systemd reachable)."""
    cmd = [str(BIN / "python"), str(REPO / "tests" / "support" / "lab" / "lab.py"), "ssh", host]
    proc = subprocess.run(
        [*cmd, "export XDG_RUNTIME_DIR=/run/user/1000; " + script],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError("on {0}: {1!r} failed (rc {2}): {3}".format(host, script, proc.returncode, proc.stderr))
    return proc.stdout


def prometheus(query):
    url = "{0}/api/v1/query?{1}".format(PROMETHEUS, urllib.parse.urlencode({"query": query}))
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)["data"]["result"]


def poll(condition, what, deadline_s):
    """Wait until condition() is true, with a deadline; say what is awaited."""
    start = time.monotonic()
    print("    waiting for {0} (up to {1:.0f} s)".format(what, deadline_s), flush=True)
    while True:
        try:
            if condition():
                return time.monotonic() - start
        except (OSError, ValueError, KeyError):
            pass
        if time.monotonic() - start > deadline_s:
            raise AssertionError("not within {0:.0f} s: {1}".format(deadline_s, what))
        time.sleep(2)


def cadvisor_samples_stale():
    """cAdvisor stamps its samples: the checks see the last one for 2 minutes (their freshness)."""
    query = "time() - timestamp(container_cpu_usage_seconds_total{{id=~`{0}`}})".format(KAFKA_CGROUP)
    result = prometheus(query)
    return not result or float(result[0]["value"][1]) > SAMPLE_AGE


def lab_whole():
    """Every scrape target up, the collector, Loki, Tempo and Grafana answering on monitoring."""
    with urllib.request.urlopen(PROMETHEUS + "/api/v1/targets?state=active", timeout=10) as answer:
        active = json.load(answer)["data"]["activeTargets"]
    jobs = {t["labels"]["job"] for t in active}
    if not {"otel-collector", "otelcol-internal", "brokercontainer", "alertmanager"} <= jobs:
        return False
    if any(t["health"] != "up" for t in active):
        return False
    probes = " && ".join(
        "curl -fsS -m 3 -o /dev/null {0}".format(url)
        for url in (
            "http://127.0.0.1:13133/",
            "http://127.0.0.1:3100/ready",
            "http://127.0.0.1:3200/ready",
            "http://127.0.0.1:3000/api/health",
        )
    )
    return ssh("monitoring", probes + " && echo whole", check=False).strip() == "whole"


def edit_yaml_on(host, path, change):
    """Read a YAML file of a guest, change it on the controller, write it back; return the original."""
    original = ssh(host, "cat {0}".format(path))
    data = change(yaml.safe_load(original))
    write_on(host, path, yaml.safe_dump(data, sort_keys=False))
    return original


def write_on(host, path, content):
    quoted = content.replace("'", "'\\''")
    ssh(host, "printf '%s' '{0}' > {1}".format(quoted, path))


@dataclass
class Fault:
    slug: str
    what: str
    expect: str  # the hop the report must name (verification_hops name)
    inject: object
    restore: object
    settle: object = None  # (condition, what, deadline) once injected
    playbook: str = "playbooks/verify.yml"
    extra: list = field(default_factory=list)
    saved: dict = field(default_factory=dict)


def remove_cadvisor_job(fault):
    path = "/home/vagrant/prometheus/prometheus.yml"

    def change(config):
        config["scrape_configs"] = [j for j in config["scrape_configs"] if j["job_name"] != "brokercontainer"]
        return config

    fault.saved["prometheus.yml"] = edit_yaml_on("monitoring", path, change)
    ssh("monitoring", "systemctl --user reload prometheus")


def restore_cadvisor_job(fault):
    write_on("monitoring", "/home/vagrant/prometheus/prometheus.yml", fault.saved["prometheus.yml"])
    ssh("monitoring", "systemctl --user reload prometheus")


def break_metrics_datasource(fault):
    path = "/home/vagrant/standins/grafana.json"
    original = ssh("monitoring", "cat {0}".format(path))
    config = json.loads(original)
    for datasource in config["grafana"]["datasources"]:
        if datasource["type"] == "prometheus":
            datasource["url"] = "http://127.0.0.1:9999"
    fault.saved["grafana.json"] = original
    write_on("monitoring", path, json.dumps(config, indent=2))
    ssh("monitoring", "systemctl --user restart grafana-standin")


def restore_metrics_datasource(fault):
    write_on("monitoring", "/home/vagrant/standins/grafana.json", fault.saved["grafana.json"])
    ssh("monitoring", "systemctl --user restart grafana-standin")


def break_slack_url(fault):
    path = "/home/vagrant/alertmanager/slack_webhook_url"
    fault.saved["slack"] = ssh("monitoring", "cat {0}".format(path))
    write_on("monitoring", path, "http://127.0.0.1:9/services/T000LAB/B000LAB/wrong\n")
    ssh("monitoring", "systemctl --user reload alertmanager")


def restore_slack_url(fault):
    write_on("monitoring", "/home/vagrant/alertmanager/slack_webhook_url", fault.saved["slack"])
    ssh("monitoring", "systemctl --user reload alertmanager")


LOKI_EXPORTER = "/home/vagrant/otelcol/config.yaml"
FAULTS = [
    Fault(
        "collector-stopped",
        "the OpenTelemetry Collector stopped",
        "collector",
        inject=lambda f: ssh("monitoring", "systemctl --user stop otelcol"),
        restore=lambda f: ssh("monitoring", "systemctl --user start otelcol"),
    ),
    Fault(
        "exporter-closed-port",
        "the collector's Loki exporter pointed at a closed port",
        "collector_to_loki",
        inject=lambda f: ssh(
            "monitoring",
            "sed -i.fault 's#127.0.0.1:3100/otlp#127.0.0.1:3999/otlp#' {0} && systemctl --user restart otelcol".format(
                LOKI_EXPORTER
            ),
        ),
        restore=lambda f: ssh(
            "monitoring", "mv {0}.fault {0} && systemctl --user restart otelcol".format(LOKI_EXPORTER)
        ),
    ),
    Fault(
        "cadvisor-job-removed",
        "Prometheus's scrape job for cAdvisor removed",
        "cadvisor",
        inject=remove_cadvisor_job,
        restore=restore_cadvisor_job,
        settle=(cadvisor_samples_stale, "cAdvisor's last samples to be older than the checks' limit", 240),
    ),
    Fault(
        "cadvisor-port-closed",
        "cAdvisor's port closed in firewalld on broker",
        "cadvisor",
        # firewalld keeps established connections, and Prometheus scrapes over one kept-alive
        # connection: the port closed is seen once that connection is gone (ss -K drops it)
        inject=lambda f: ssh(
            "broker",
            "sudo firewall-cmd --quiet --remove-port=9882/tcp"
            " && sudo ss -K -tn state established '( sport = :9882 )' >/dev/null",
        ),
        restore=lambda f: ssh("broker", "sudo firewall-cmd --quiet --add-port=9882/tcp"),
        settle=(cadvisor_samples_stale, "cAdvisor's last samples to be older than the checks' limit", 240),
    ),
    Fault(
        "loki-stopped",
        "Loki stopped",
        "loki",
        inject=lambda f: ssh("monitoring", "systemctl --user stop loki-standin"),
        restore=lambda f: ssh("monitoring", "systemctl --user start loki-standin"),
    ),
    Fault(
        "metrics-datasource-wrong-url",
        "Grafana's metrics datasource pointed at a wrong URL",
        "metrics_datasource",
        inject=break_metrics_datasource,
        restore=restore_metrics_datasource,
    ),
    Fault(
        "slack-url-wrong",
        "Alertmanager's Slack URL wrong (the drill's notification)",
        "alertmanager_to_slack",
        inject=break_slack_url,
        restore=restore_slack_url,
        playbook="playbooks/nightly.yml",
        extra=["-e", "verification_drill_notify_timeout=45"],
    ),
]


def newest_record(slug):
    records = sorted(HISTORY.glob("fault-{0}-*.json".format(slug)))
    assert records, "no history record of the fault run {0} in {1}".format(slug, HISTORY)
    return json.loads(records[-1].read_text())


@pytest.mark.slow
def test_the_report_names_the_broken_hop(molecule_run, request):
    rc, _figures = molecule_run
    assert rc == 0, "the lab scenario failed: no fault injection on a broken lab"
    capman = request.config.pluginmanager.getplugin("capturemanager")
    rows = []
    with capman.global_and_fixture_disabled():
        print("\n==> where it broke: one fault at a time, verify.yml must name that hop", flush=True)
        poll(lab_whole, "the lab to be whole before the first fault", 300)
        for fault in FAULTS:
            print("\n==> fault: {0} (expected hop: {1})".format(fault.what, fault.expect), flush=True)
            start = time.monotonic()
            fault.inject(fault)
            try:
                if fault.settle:
                    poll(*fault.settle)
                run = playrun.playbook(
                    fault.playbook,
                    args=[
                        "-e",
                        "verification_report_name=fault-{0}".format(fault.slug),
                        "-e",
                        "verification_check_timeout={0}".format(CHECK_TIMEOUT),
                        "-e",
                        "verification_container_max_sample_age={0}".format(SAMPLE_AGE),
                        *fault.extra,
                    ],
                )
                verdict_s = time.monotonic() - start
            finally:
                fault.restore(fault)
            record = newest_record(fault.slug)
            named = sorted({d.get("name") or "none" for d in record.get("diagnosis", [])})
            rows.append(
                {
                    "fault": fault.what,
                    "expected": fault.expect,
                    "named": named,
                    "hops": sorted({d.get("hop") or "none" for d in record.get("diagnosis", [])}),
                    "chains": [d["chain"] for d in record.get("diagnosis", [])],
                    "evidence": [d.get("evidence", "") for d in record.get("diagnosis", [])],
                    "run_failed": run.rc != 0,
                    "seconds_to_verdict": round(verdict_s, 1),
                }
            )
            print(
                "==> {0}: run {1}, named {2} in {3:.0f} s".format(
                    fault.slug, "failed" if run.rc else "PASSED", named, verdict_s
                ),
                flush=True,
            )
            poll(lab_whole, "the lab to be whole again after '{0}'".format(fault.what), 300)
        TABLE.parent.mkdir(parents=True, exist_ok=True)
        TABLE.write_text(json.dumps(rows, indent=2) + "\n")
        print("\n==> where it broke (also in {0})".format(TABLE.relative_to(REPO)))
        print("    {0:<58} {1:<48} {2:>8}".format("fault", "named hop", "verdict"))
        for row in rows:
            print(
                "    {0:<58} {1:<48} {2:>7.0f}s".format(row["fault"], ", ".join(row["hops"]), row["seconds_to_verdict"])
            )
    for row in rows:
        assert row["run_failed"], "the verification passed with the fault '{0}'".format(row["fault"])
        assert row["named"] == [row["expected"]], (
            "fault '{0}': expected the hop {1}, the report named {2} ({3})".format(
                row["fault"], row["expected"], row["named"], row["evidence"]
            )
        )


@pytest.mark.slow
def test_an_alert_that_never_fired_does_not_resolve_and_has_no_recovery_time(molecule_run, request):
    """The drill with an alert name no rule has: it never fires, so drill_alert_resolves is not
    "passed" (an alert that never fired is inactive at once) and no time-to-recover is reported."""
    rc, _figures = molecule_run
    assert rc == 0, "the lab scenario failed"
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print("\n==> the drill with an alert that never fires", flush=True)
        run = playrun.playbook(
            "playbooks/nightly.yml",
            args=[
                "-e",
                "verification_report_name=fault-never-fires",
                "-e",
                "verification_drill_alert_name=DojoNoSuchAlert",
                "-e",
                "verification_drill_fire_timeout=20",
            ],
        )
        poll(lab_whole, "the lab to be whole again after the drill", 300)
    assert run.rc != 0
    record = newest_record("never-fires")
    results = {r["name"]: r for r in record["results"]}
    assert results["drill_alert_fires"]["status"] == "failed"
    assert results["drill_alert_resolves"]["status"] == "skipped", results["drill_alert_resolves"]
    assert "never fired" in results["drill_alert_resolves"]["message"]
    assert results["drill_broker_serves_again"]["status"] == "passed"
    assert record["drill"]["time_to_recover"] is None, record["drill"]
