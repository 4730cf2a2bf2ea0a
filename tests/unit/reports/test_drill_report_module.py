"""drill_report through real Ansible: the run's history and the failure drill's pictures.

The drill's data is what the lab measured with the real stack: kafka stopped at 0 s, the alert
pending at 37 s and firing at 96 s (Prometheus's ALERTS series, one sample a second), seen
firing by the drill at 98.3 s, Slack notified at 101.9 s, kafka started at 102.6 s, the alert
resolved at 117 s and the broker serving again at 118.4 s.
"""

import json
import xml.etree.ElementTree as ET

import pytest
from ansible_collections.dojo.kafka_observability.plugins.module_utils.drill_charts import (
    alert_states,
    drill_timeline,
    number,
)

from tests.support.ansible_run import run_module

T0 = 1795996800.0  # 2026-11-30 00:00:00 UTC
SVG = "{http://www.w3.org/2000/svg}"


def alerts(state, first, last, step=1, **labels):
    return {
        "labels": dict({"alertname": "KafkaContainerDown", "alertstate": state, "service": "kafka"}, **labels),
        "values": [[T0 + t, 1.0] for t in range(first, last + 1, step)],
    }


def lab_drill(**changes):
    drill = {
        "alert_name": "KafkaContainerDown",
        "service": "kafka.service",
        "host": "broker",
        "stop": T0,
        "fire": T0 + 98.3,
        "notify": T0 + 101.9,
        "start": T0 + 102.6,
        "restarted": True,
        "resolved": T0 + 117.9,
        "recover": T0 + 118.4,
        "time_to_fire": 98.3,
        "time_to_notify": 101.9,
        "time_to_recover": 15.8,
        "alert_series": [alerts("pending", 37, 95), alerts("firing", 96, 116)],
        "step": 1,
    }
    drill.update(changes)
    return drill


def report(dest, run_id="20261130T000000Z", *, drill=None, check=False, env=None, **options):
    args = dict(
        {
            "dest": str(dest),
            "name": "nightly",
            "run_id": run_id,
            "summary": {"host": "serverapp", "started_at": "2026-11-30T00:00:00Z", "passed": 16, "failed": 0},
            "results": [{"name": "drill_alert_fires", "status": "passed", "observed": "firing after 98.3 s"}],
        },
        **options,
    )
    if drill is not None:
        args["drill"] = drill
    return run_module("drill_report", args, check=check, env=env)


def svg_texts(path):
    root = ET.parse(path).getroot()  # parseable, or this raises
    assert root.tag == SVG + "svg"
    return ["".join(node.itertext()).strip() for node in root.iter(SVG + "text")]


def no_matplotlib(tmp_path):
    """PYTHONPATH with a matplotlib that cannot be imported, as on a controller without it."""
    shadow = tmp_path / "shadow" / "matplotlib"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'matplotlib'\")\n")
    return {"PYTHONPATH": str(shadow.parent)}


def test_timeline_and_trend_svg_with_the_measured_times(tmp_path):
    run = report(tmp_path / "reports", drill=lab_drill())
    assert not run.failed, run.output
    assert "Traceback" not in run.output
    result = run.result
    assert result["changed"] is True
    assert result["timeline_svg"] == str(tmp_path / "reports" / "nightly-drill.svg")
    assert result["timeline_skipped"] is None
    assert result["matplotlib_version"]

    texts = svg_texts(result["timeline_svg"])
    for marked in ("98.3 s", "101.9 s", "15.8 s"):  # time-to-fire, time-to-notify, time-to-recover
        assert marked in texts
    for label in ("running", "stopped", "pending", "firing", "delivered", "kafka started again"):
        assert label in texts
    assert any("KafkaContainerDown" in text for text in texts)
    assert any(text.startswith("seconds from the stop of kafka.service") for text in texts)

    timeline = result["timeline"]
    assert timeline["alert_states"] == [
        {"state": "pending", "start": 37.0, "end": 96.0},
        {"state": "firing", "start": 96.0, "end": 117.0},
    ]
    assert (timeline["alert_pending_at"], timeline["alert_firing_at"], timeline["alert_inactive_at"]) == (37, 96, 117)
    assert timeline["events"] == {"fire": 98.3, "notify": 101.9, "start": 102.6, "resolved": 117.9, "recover": 118.4}
    assert timeline["stopped_at"] == "2026-11-30 00:00:00 UTC"

    assert "98.3 s" in svg_texts(result["trend_svg"])
    record = json.loads((tmp_path / "reports" / "history" / "nightly-20261130T000000Z.json").read_text())
    assert record["drill"]["time_to_fire"] == 98.3
    assert record["results"][0]["name"] == "drill_alert_fires"
    assert result["history"][-1]["this_run"] is True


def test_the_same_run_again_changes_nothing(tmp_path):
    first = report(tmp_path, drill=lab_drill())
    second = report(tmp_path, drill=lab_drill())
    assert first.result["changed"] is True
    assert second.result["changed"] is False, second.output
    assert second.result["timeline_svg"] == first.result["timeline_svg"]


def test_check_mode_writes_nothing(tmp_path):
    dest = tmp_path / "reports"
    run = report(dest, drill=lab_drill(), check=True)
    assert not run.failed, run.output
    assert run.result["changed"] is True
    assert run.result["timeline_svg"] == str(dest / "nightly-drill.svg")
    assert run.result["history"][-1]["time_to_fire"] == 98.3
    assert not dest.exists()

    report(dest, "20261129T000000Z", drill=lab_drill())
    before = {path: path.read_bytes() for path in dest.rglob("*") if path.is_file()}
    run = report(dest, "20261130T000000Z", drill=None, history_keep=1, check=True)
    assert run.result["pruned"] == [str(dest / "history" / "nightly-20261129T000000Z.json")]
    assert sorted(run.result["removed"]) == [str(dest / "nightly-drill.svg"), str(dest / "nightly-trend.svg")]
    after = {path: path.read_bytes() for path in dest.rglob("*") if path.is_file()}
    assert after == before


def test_without_matplotlib_the_pictures_are_skipped_with_the_reason(tmp_path):
    dest = tmp_path / "reports"
    report(dest, "20261129T000000Z", drill=lab_drill())
    assert (dest / "nightly-drill.svg").exists()

    run = report(dest, drill=lab_drill(), env=no_matplotlib(tmp_path))
    assert not run.failed, run.output
    assert "Traceback" not in run.output
    result = run.result
    assert result["timeline_svg"] is None and result["trend_svg"] is None
    for reason in (result["timeline_skipped"], result["trend_skipped"]):
        assert reason.startswith("matplotlib is not installed on the controller")
        assert "-m pip install 'matplotlib>=3.7'" in reason
    assert result["matplotlib_version"] is None
    # no picture of the earlier run stays beside the report
    assert not (dest / "nightly-drill.svg").exists()
    assert sorted(result["removed"]) == [str(dest / "nightly-drill.svg"), str(dest / "nightly-trend.svg")]
    # the history is kept all the same
    assert [row["run_id"] for row in result["history"]] == ["20261129T000000Z", "20261130T000000Z"]


def test_charts_false_skips_the_pictures(tmp_path):
    run = report(tmp_path, drill=lab_drill(), charts=False)
    assert run.result["timeline_skipped"] == "the pictures are switched off (charts: false)"
    assert run.result["timeline_svg"] is None
    assert not (tmp_path / "nightly-drill.svg").exists()


def test_missing_data(tmp_path):
    # no drill in the run (verify.yml): no timeline, no trend, the history all the same
    run = report(tmp_path / "verify", drill=None)
    assert not run.failed, run.output
    assert run.result["timeline_skipped"] == "no failure drill in this run (no drill data)"
    assert run.result["trend_skipped"] == "no run with a failure drill among the kept runs"
    assert run.result["timeline"] is None
    assert run.result["history"][0]["drill"] is False

    # kafka could not be stopped: no drill window
    run = report(tmp_path / "nostop", drill=lab_drill(stop=None))
    assert run.result["timeline_skipped"].startswith("the drill did not stop the service")

    # the alert never fired (and the drill's timings are none, as Ansible hands them over)
    never = lab_drill(
        fire=None,
        notify=None,
        resolved=None,
        recover=None,
        time_to_fire="None",
        time_to_notify=None,
        time_to_recover=None,
        start=T0 + 240.8,
        alert_series=[alerts("pending", 37, 240)],
    )
    run = report(tmp_path / "never", drill=never)
    assert not run.failed, run.output
    texts = svg_texts(run.result["timeline_svg"])
    assert {"did not fire", "not notified", "did not recover", "no delivery seen"} <= set(texts)
    assert run.result["timeline"]["alert_firing_at"] is None
    assert run.result["history"][-1]["time_to_fire"] is None
    assert "alert did not fire" in svg_texts(run.result["trend_svg"])

    # the ALERTS range query failed: the picture says why
    error = "Datasource 'Thanos' answered 502 Bad Gateway"
    run = report(tmp_path / "noalerts", drill=lab_drill(alert_series=[], alert_error=error))
    assert any(text.startswith("no ALERTS history: " + error) for text in svg_texts(run.result["timeline_svg"]))
    assert run.result["timeline"]["alert_error"] == error


def test_history_keeps_the_last_runs_of_its_report_only(tmp_path):
    for day in (26, 27, 28, 29):
        report(tmp_path, "202611%02dT000000Z" % day, drill=lab_drill(time_to_fire=90.0 + day))
    history = tmp_path / "history"
    (history / "nightly-eu-20261101T000000Z.json").write_text('{"name": "nightly-eu"}')  # another report
    (history / "nightly-20261102T000000Z.json").write_text("{not json")  # not a run's record
    (history / "verify-20261101T000000Z.json").write_text("{}")

    run = report(tmp_path, "20261130T000000Z", drill=lab_drill(), history_keep=3)
    assert not run.failed, run.output
    assert run.result["pruned"] == [
        str(history / "nightly-20261126T000000Z.json"),
        str(history / "nightly-20261127T000000Z.json"),
    ]
    rows = run.result["history"]
    assert [row["run_id"] for row in rows] == ["20261128T000000Z", "20261129T000000Z", "20261130T000000Z"]
    assert [row["time_to_fire"] for row in rows] == [118.0, 119.0, 98.3]
    assert sorted(path.name for path in history.iterdir()) == [
        "nightly-20261102T000000Z.json",
        "nightly-20261128T000000Z.json",
        "nightly-20261129T000000Z.json",
        "nightly-20261130T000000Z.json",
        "nightly-eu-20261101T000000Z.json",
        "verify-20261101T000000Z.json",
    ]
    assert "nightly-20261102T000000Z.json left alone" in run.output

    run = report(tmp_path, "20261201T000000Z", drill=lab_drill(), history_keep=0)
    assert run.result["history"] == [] and run.result["history_file"] is None
    assert run.result["trend_skipped"] == "the history is off (history_keep: 0)"
    assert not (history / "nightly-20261201T000000Z.json").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"run_id": "2026-11-30"}, "run_id '2026-11-30' cannot be part of a history file name"),
        ({"name": "../nightly"}, "name '../nightly' cannot be a file name"),
        ({"history_keep": -1}, "history_keep must be 0 (no history) or more, not -1."),
        ({"drill": {"stop": T0, "when": 1}}, "Unsupported parameters"),
    ],
)
def test_bad_arguments_fail_in_one_sentence(tmp_path, options, message):
    run = report(tmp_path, **options)
    assert run.failed
    assert message in run.result["msg"]
    assert "Traceback" not in run.output


def test_dest_that_is_a_file_fails_in_one_sentence(tmp_path):
    dest = tmp_path / "reports"
    dest.write_text("")
    run = report(dest, drill=lab_drill())
    assert run.failed
    assert run.result["msg"] == "dest %s is not a directory." % dest
    assert "Traceback" not in run.output


def test_unwritable_dest_fails_in_one_sentence(tmp_path):
    dest = tmp_path / "reports"
    (dest / "history").mkdir(parents=True)
    (dest / "history" / "nightly-20261130T000000Z.json").mkdir()  # a directory where the record goes
    run = report(dest, drill=lab_drill())
    assert run.failed
    assert run.result["msg"].startswith("cannot read %s" % (dest / "history" / "nightly-20261130T000000Z.json"))
    assert "Traceback" not in run.output


# ------------------------------------------------------------------ the alert's states, as data
def test_alert_states_runs_of_samples_and_firing_wins():
    series = [
        alerts("pending", 30, 60, step=15),  # a coarse step: 30, 45, 60
        alerts("firing", 75, 105, step=15),
        alerts("pending", 60, 90, step=15, instance="b"),  # a second instance, pending while the first fires
        alerts("firing", 200, 200, step=15),  # one sample, after a gap
        {"labels": {"alertstate": "inactive"}, "values": [[T0, 1]]},  # not a state of ALERTS: ignored
        {"labels": {"alertstate": "firing"}, "values": [[T0 + 300, "0"], ["bad"], None]},
    ]
    states, step = alert_states(series, T0)
    assert step == 15
    assert states == [
        {"state": "pending", "start": 30.0, "end": 75.0},
        {"state": "firing", "start": 75.0, "end": 120.0},
        {"state": "firing", "start": 200.0, "end": 215.0},
    ]


def test_drill_timeline_without_alert_samples_is_inactive_throughout():
    timeline, reason = drill_timeline(lab_drill(alert_series=[]))
    assert reason is None
    assert timeline["alert_states"] == [] and timeline["alert_firing_at"] is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("None", None), ("null", None), ("nan", None), (True, None), ("x", None),
     ("98.3", 98.3), (98, 98.0), (float("inf"), None)],
)  # fmt: skip
def test_number(value, expected):
    assert number(value) == expected
