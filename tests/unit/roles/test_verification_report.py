"""The verification role's report (tasks_from: report) through real Ansible: the Markdown
summary and the JUnit XML it writes for a run's recorded checks, and the exit status; the
failure drill's timeline picture, the run history (JSON per run, the table, the trend picture)."""

import json
import xml.etree.ElementTree as ET

from tests.support.ansible_run import run_playbook

RESULTS = [
    {
        "name": "kafka_topic_partitions",
        "group": "kafka",
        "description": "the broker answers and lists notifications with 3 partitions",
        "status": "passed",
        "observed": "3 partitions, leaders [1, 1, 1]",
        "message": "the topic has 3 partitions, 3 expected",
        "query": "kafka_info topics=notifications",
        "seconds": 0.2,
    },
    {
        "name": "kafka_message_count",
        "group": "metrics",
        "description": "kafka_message_count_total rose by at least the number of messages produced",
        "status": "failed",
        "observed": 0.0,
        "message": 'Condition increase not met within 60 s (12 attempts): needed an increase >= 50 <& "quoted">',
        "query": "sum(kafka_message_count_total)",
        "seconds": 60.3,
    },
    {
        "name": "kafka_traces",
        "group": "traces",
        "description": "traces of the broker reach the traces datasource",
        "status": "skipped",
        "observed": "",
        "message": "switched off (enabled is false)",
        "query": '{ resource.service.name = "kafka" }',
        "seconds": 0,
    },
]


# the drill as tasks/drill.yml records it (verification_drill_timeline), with what the lab
# measured: stop at 0 s, ALERTS pending from 37 s and firing from 96 s, Slack at 101.9 s, kafka
# started at 102.6 s, the alert resolved ~15 s later
T0 = 1795996800.0


def alerts(state, first, last):
    labels = {"alertname": "KafkaContainerDown", "alertstate": state, "service": "kafka"}
    return {"labels": labels, "values": [[T0 + t, 1.0] for t in range(first, last + 1)]}


TIMELINE = {
    "alert_name": "KafkaContainerDown",
    "service": "kafka.service",
    "host": "broker",
    "stop": T0,
    "fire": T0 + 96.4,
    "notify": T0 + 101.9,
    "start": T0 + 102.6,
    "restarted": True,
    "resolved": T0 + 114.5,
    "recover": T0 + 114.9,
    "time_to_fire": 96.4,
    "time_to_notify": 101.9,
    "time_to_recover": 12.3,
    "alert_series": [alerts("pending", 37, 95), alerts("firing", 96, 113)],
    "alert_error": "",
    "step": 1,
}


def earlier_run(reports, run_id, fire, notify):
    """A history record of an earlier nightly run, as drill_report keeps it."""
    history = reports / "history"
    history.mkdir(parents=True, exist_ok=True)
    record = {
        "format": 1,
        "name": "nightly",
        "run_id": run_id,
        "status": "passed",
        "passed": 16,
        "failed": 0,
        "skipped": 1,
        "drill": {"time_to_fire": fire, "time_to_notify": notify, "time_to_recover": 14.0},
        "results": [],
    }
    (history / "nightly-{0}.json".format(run_id)).write_text(json.dumps(record))


def run_report(tmp_path, results, drill=None, fail_on_error=True, *, timeline=None, extra_vars=None, env=None):
    play = [
        {
            "name": "report",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {
                "verification_report_dir": str(tmp_path / "reports"),
                "verification_report_name": "nightly",
                "verification_fail_on_error": fail_on_error,
                "verification_bootstrap_servers": ["10.0.0.9:9092"],
                "verification_grafana_url": "http://grafana.example:3000",
                **(extra_vars or {}),
            },
            "tasks": [
                {
                    "name": "the recorded run",
                    "ansible.builtin.set_fact": dict(
                        {
                            "verification_results": results,
                            "verification_run_id": "20261124T010203Z",
                            "verification_started_at": "2026-11-24T01:02:03+00:00",
                        },
                        **({"verification_drill_timings": drill} if drill else {}),
                        **({"verification_drill_timeline": timeline} if timeline else {}),
                    ),
                },
                {
                    "name": "report",
                    "ansible.builtin.include_role": {
                        "name": "dojo.kafka_observability.verification",
                        "tasks_from": "report",
                    },
                },
            ],
        }
    ]
    playbook = tmp_path / "report.yml"
    playbook.write_text(json.dumps(play))
    proc = run_playbook(playbook, inventory="localhost,", args=["-c", "local"], env=env)
    reports = tmp_path / "reports"
    return proc, reports / "nightly.md", reports / "nightly.junit.xml"


def test_failed_check_fails_the_play_after_writing_both_reports(tmp_path):
    drill = {"time_to_fire": 96.4, "time_to_notify": 101.9, "time_to_recover": 12.3}
    proc, markdown, junit = run_report(tmp_path, RESULTS, drill=drill)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "1 of 3 checks failed: kafka_message_count" in output

    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuites"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == ["kafka_topic_partitions", "kafka_message_count", "kafka_traces"]
    failure = cases["kafka_message_count"].find("failure")
    assert failure is not None
    assert '<& "quoted">' in failure.text  # escaped in the file, intact once parsed
    assert "sum(kafka_message_count_total)" in failure.text
    assert cases["kafka_traces"].find("skipped") is not None
    assert cases["kafka_topic_partitions"].find("failure") is None
    assert "observed: 3 partitions" in cases["kafka_topic_partitions"].find("system-out").text
    assert cases["kafka_message_count"].get("time") == "60.3"

    text = markdown.read_text()
    assert text.startswith("# Kafka observability — nightly run 20261124T010203Z: FAILED")
    assert "**1 passed, 1 failed, 1 skipped**" in text
    assert "| 96.4 s | 101.9 s | 12.3 s |" in text
    assert "### `kafka_message_count`" in text
    assert "- query: `sum(kafka_message_count_total)`" in text


def test_all_passed_exits_zero_and_says_so(tmp_path):
    proc, markdown, junit = run_report(tmp_path, RESULTS[:1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all 1 checks passed (0 skipped)" in proc.stdout
    assert ": PASSED" in markdown.read_text().splitlines()[0]
    assert "What broke" not in markdown.read_text()
    assert ET.parse(junit).getroot().get("failures") == "0"


def test_fail_on_error_false_reports_without_failing(tmp_path):
    proc, markdown, _junit = run_report(tmp_path, RESULTS, fail_on_error=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ": FAILED" in markdown.read_text().splitlines()[0]


def test_drill_picture_and_history_in_the_markdown(tmp_path):
    reports = tmp_path / "reports"
    earlier_run(reports, "20261122T010203Z", 101.0, 106.5)
    earlier_run(reports, "20261123T010203Z", 99.2, 104.0)
    drill = {"time_to_fire": 96.4, "time_to_notify": 101.9, "time_to_recover": 12.3}
    proc, markdown, junit = run_report(
        tmp_path, RESULTS, drill=drill, timeline=TIMELINE, extra_vars={"verification_report_history_rows": 2}
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output  # a check failed: the report is written all the same
    assert "1 of 3 checks failed: kafka_message_count" in output
    assert ET.parse(junit).getroot().get("failures") == "1"

    text = markdown.read_text()
    # the drill section: the figures as before, Prometheus's states, the picture linked beside it
    assert "| 96.4 s | 101.9 s | 12.3 s |" in text
    assert (
        "KafkaContainerDown as Prometheus recorded it (`ALERTS`, seconds from the stop): "
        "pending 37.0 → 96.0 s, firing 96.0 → 114.0 s." in text
    )
    assert "(nightly-drill.svg)" in text
    assert "![The failure drill on one time axis" in text
    picture = reports / "nightly-drill.svg"
    texts = ["".join(node.itertext()) for node in ET.parse(picture).getroot().iter("{http://www.w3.org/2000/svg}text")]
    assert {"96.4 s", "101.9 s", "12.3 s"} <= set(texts)

    # the history: this run kept as JSON, the table (the newest 2 rows), the trend picture
    record = json.loads((reports / "history" / "nightly-20261124T010203Z.json").read_text())
    assert record["status"] == "failed" and record["failed"] == 1
    assert [r["name"] for r in record["results"]] == ["kafka_topic_partitions", "kafka_message_count", "kafka_traces"]
    assert "## History (the last 2 of 3 kept runs)" in text
    assert "| run | result | time-to-fire | time-to-notify | time-to-recover |" in text
    assert "| 20261124T010203Z (this run) | ❌ 1 failed | 96.4 s | 101.9 s | 12.3 s |" in text
    assert "| 20261123T010203Z | ✅ passed | 99.2 s | 104.0 s | 14.0 s |" in text
    assert "20261122T010203Z |" not in text  # kept, but beyond the table's 2 rows
    assert "![time-to-fire and time-to-notify over the kept runs](nightly-trend.svg)" in text
    assert (reports / "nightly-trend.svg").exists()
    assert "`history/nightly-<run id>.json` (the last 30 runs)" in text
    # the history comes after the drill, before what broke
    assert text.index("## Failure drill") < text.index("## History") < text.index("## What broke")


def test_without_matplotlib_the_report_says_the_pictures_were_skipped(tmp_path):
    shadow = tmp_path / "shadow" / "matplotlib"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'matplotlib'\")\n")
    drill = {"time_to_fire": 96.4, "time_to_notify": 101.9, "time_to_recover": 12.3}
    proc, markdown, _junit = run_report(
        tmp_path, RESULTS[:1], drill=drill, timeline=TIMELINE, env={"PYTHONPATH": str(shadow.parent)}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = markdown.read_text()
    assert "**Timeline picture skipped**: matplotlib is not installed on the controller" in text
    assert "-m pip install 'matplotlib>=3.7'" in text
    assert "**Trend picture skipped**: matplotlib is not installed on the controller" in text
    assert "| 20261124T010203Z (this run) | ✅ passed | 96.4 s | 101.9 s | 12.3 s |" in text
    assert not (tmp_path / "reports" / "nightly-drill.svg").exists()


def test_a_run_without_drill_has_a_history_without_drill_columns(tmp_path):
    proc, markdown, _junit = run_report(tmp_path, RESULTS[:1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = markdown.read_text()
    assert "## Failure drill" not in text
    assert "| run | result |\n|---|---|\n| 20261124T010203Z (this run) | ✅ passed |\n" in text
    assert "Trend picture" not in text
    assert not (tmp_path / "reports" / "nightly-drill.svg").exists()


def test_the_broken_hop_is_named_in_the_markdown_the_junit_failure_and_the_history(tmp_path):
    """The diagnosis (tasks/diagnose.yml's verification_diagnosis) shows where each chain broke."""
    results = [
        dict(RESULTS[1], chain="broker_metrics"),
        dict(RESULTS[0], chain=""),
        {
            "name": "kafka_logs",
            "group": "logs",
            "chain": "broker_logs",
            "description": "the broker's log records reach the logs datasource",
            "status": "passed",
            "observed": "12 line(s)",
            "message": "",
            "query": '{service_name="kafka"}',
            "seconds": 0.4,
        },
    ]
    diagnosis = [
        {
            "chain": "broker_metrics",
            "checks": ["kafka_message_count"],
            "hop": "OpenTelemetry Collector",
            "name": "collector",
            "evidence": "target http://127.0.0.1:8888/metrics of job otelcol-internal is down: connection | refused",
            "checked": ["prometheus", "metrics_datasource", "collector"],
        }
    ]
    proc, markdown, junit = run_report(
        tmp_path,
        results,
        extra_vars={"verification_diagnose": False, "verification_diagnosis": diagnosis},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "broker_metrics: OpenTelemetry Collector." in output

    text = markdown.read_text()
    assert "| broker_metrics | kafka_message_count | **OpenTelemetry Collector** | target http" in text
    assert "connection \\| refused |" in text  # the evidence cannot break the table
    assert "- broken hop: **OpenTelemetry Collector** — target http://127.0.0.1:8888/metrics" in text

    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["kafka_message_count"].find("failure")
    assert failure.get("message").startswith("broken hop: OpenTelemetry Collector - Condition increase")
    assert "evidence: target http://127.0.0.1:8888/metrics of job otelcol-internal is down" in failure.text

    (record,) = (tmp_path / "reports" / "history").glob("nightly-*.json")
    assert json.loads(record.read_text())["diagnosis"] == diagnosis
