"""The failure drill's data gathering for the report's timeline, against a REAL Prometheus.

The two tasks that roles/verification/tasks/drill.yml appends to its `always:` part (read
straight from that file: the ALERTS range query through Grafana, and the timeline fact), run
through real Ansible after a real alert rule (DojoSlowAlert, `for: 8s`, evaluated every second)
went pending, fired and resolved; then drill_report turns the fact into the alert's states and
the picture. Grafana is the stand-in, proxying to the real Prometheus.
"""

import json
import time
import xml.etree.ElementTree as ET

import yaml

from tests.integration.grafana.grafana_helpers import play
from tests.support.ansible_run import REPO
from tests.support.prometheus import wait_for

CASE = {"case": "drill-history"}


def drill_gathering_tasks():
    tasks = yaml.safe_load((REPO / "roles" / "verification" / "tasks" / "drill.yml").read_text())
    always = tasks[0]["always"]
    wanted = ("Read the alert's state history", "Keep the drill's timeline")
    found = [task for task in always if task["name"].startswith(wanted)]
    assert [task["name"].startswith(wanted[0]) for task in found] == [True, False]
    assert always[-2:] == found  # appended after the drill's own steps
    return found


def test_the_drill_reads_the_alerts_history_and_the_report_draws_it(tmp_path, conn, kafka_target, prometheus):
    t_stop = time.time()
    kafka_target.set("dojo_slow_trigger", 1, CASE, kind="gauge")  # "kafka stops"
    try:
        wait_for(
            lambda: prometheus.alert_state("DojoSlowAlert", CASE) == "firing", timeout=40, what="DojoSlowAlert firing"
        )
        t_fire = time.time()
    finally:
        kafka_target.set("dojo_slow_trigger", 0, CASE, kind="gauge")  # "kafka starts again"
    t_start = time.time()
    wait_for(
        lambda: prometheus.alert_state("DojoSlowAlert", CASE) == "inactive", timeout=40, what="DojoSlowAlert resolved"
    )
    t_recover = time.time()
    # the last samples are in the TSDB once a range query up to now shows the firing series end
    out = tmp_path / "out.json"
    drill_facts = {
        "verification_drill_alert_name": "DojoSlowAlert",
        "verification_drill_alert_labels": CASE,
        "verification_metrics_datasource": "Thanos",
        "verification_drill_timeline_step": 1,
        "verification_drill_service": "kafka.service",
        "verification_drill_host": "broker",
        "verification_drill_timings": {
            "time_to_fire": round(t_fire - t_stop, 1),
            "time_to_notify": None,
            "time_to_recover": round(t_recover - t_start, 1),
        },
        "verification_results": [
            {"name": "drill_alert_fires", "group": "drill", "status": "passed"},
            {"name": "drill_slack_notified", "group": "drill", "status": "failed"},
            {"name": "drill_alert_resolves", "group": "drill", "status": "passed"},
            {"name": "drill_broker_serves_again", "group": "drill", "status": "passed"},
        ],
        "_verification_t_stop": t_stop,
        "_verification_t_fire": t_fire,
        "_verification_t_notify": t_fire,
        "_verification_t_start": t_start,
        "_verification_t_recover": t_recover,
        "_verification_restart": {"changed": True},
        "_verification_resolve": {"elapsed": round(t_recover - t_start, 1)},
    }
    tasks = [
        {"name": "the drill's facts", "ansible.builtin.set_fact": drill_facts},
        {
            "name": "the drill's data gathering",
            "module_defaults": {"group/dojo.kafka_observability.grafana": conn},
            "block": drill_gathering_tasks(),
        },
        {
            "name": "the report's pictures",
            "dojo.kafka_observability.drill_report": {
                "dest": str(tmp_path / "reports"),
                "name": "nightly",
                "run_id": "20261130T000000Z",
                "drill": "{{ verification_drill_timeline }}",
            },
            "register": "files",
        },
        {
            "name": "hand the results over",
            "ansible.builtin.copy": {
                "content": "{{ {'history': _verification_alert_history, 'timeline': verification_drill_timeline,"
                " 'files': files} | to_json }}",
                "dest": str(out),
                "mode": "0644",
            },
        },
    ]
    proc = play(tmp_path, tasks)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = json.loads(out.read_text())

    history = got["history"]
    assert history["query"] == 'ALERTS{alertname="DojoSlowAlert",case="drill-history"}'
    assert history["query_type"] == "range" and history["step"] == 1.0
    assert {s["labels"]["alertstate"] for s in history["series"]} == {"pending", "firing"}
    timeline = got["timeline"]
    assert timeline["alert_error"] == ""
    assert timeline["notify"] is None  # Slack was not notified: no delivery on the picture
    assert timeline["fire"] == t_fire and timeline["stop"] == t_stop

    files = got["files"]
    states = files["timeline"]["alert_states"]
    assert [s["state"] for s in states] == ["pending", "firing"], states
    pending, firing = states
    assert 0 <= pending["start"] <= 3, states  # pending within the first evaluations after the "stop"
    assert 7 <= firing["start"] - pending["start"] <= 10, states  # for: 8s, evaluated every second
    assert pending["end"] == firing["start"]
    stopped_firing = firing["end"] + t_stop
    assert t_fire - 1 <= stopped_firing <= t_recover + 1.5, (states, t_fire, t_recover)
    texts = [
        "".join(n.itertext())
        for n in ET.parse(files["timeline_svg"]).getroot().iter("{http://www.w3.org/2000/svg}text")
    ]
    assert {"pending", "not notified"} <= set(texts)  # "firing" is drawn where its bar is wide enough
