"""The verification role's report (tasks_from: report) through real Ansible: the Markdown
summary and the JUnit XML it writes for a run's recorded checks, and the exit status."""

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


def run_report(tmp_path, results, drill=None, fail_on_error=True):
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
    proc = run_playbook(playbook, inventory="localhost,", args=["-c", "local"])
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
