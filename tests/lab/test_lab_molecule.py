"""The lab scenario (tests/lab/conftest.py runs it once): converge, idempotence, the nightly
run as side effect, testinfra; here what it must have shown."""

import re
import xml.etree.ElementTree as ET

import pytest

from tests.lab.conftest import JUNIT, REPORT


@pytest.mark.slow
def test_molecule_lab_scenario(molecule_run):
    rc, figures = molecule_run
    assert rc == 0, "molecule test failed (rc {0}); its output is above".format(rc)
    assert figures.get("converge", {}).get("hosts") == 3, figures
    assert figures["converge"]["failed"] == 0, figures
    assert figures.get("idempotence", {}).get("changed") == 0, figures
    assert figures.get("verify_passed"), figures

    # the side effect: nightly.yml's report, one JUnit test case per check, none failed,
    # the drill's three timings measured
    suite = ET.parse(JUNIT).getroot()
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert suite.get("failures") == "0", REPORT.read_text()
    assert suite.get("skipped") == "0", REPORT.read_text()  # the real stack answers every check
    for check in (
        "kafka_topic_partitions",
        "kafka_probe",
        "kafka_container_down_rule",
        "kafka_alert_rules_live",
        "kafka_message_count",
        "kafka_produce_requests",
        "kafka_fetch_requests",
        "kafka_container_cpu",
        "kafka_container_memory",
        "kafka_logs",
        "kafka_traces",
        "drill_alert_fires",
        "drill_slack_notified",
        "drill_alert_resolves",
        "drill_broker_serves_again",
    ):
        assert check in cases and cases[check].find("skipped") is None, (check, sorted(cases))
    assert re.search(r"\| [0-9.]+ s \| [0-9.]+ s \| [0-9.]+ s \|", REPORT.read_text()), REPORT.read_text()
