#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: DevSecOps Dojo
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: drill_report
short_description: Keep a verification run in the report history and draw the failure drill's pictures
version_added: 0.2.0
description:
  - "Runs on the controller (C(delegate_to: localhost)), beside the verification report that the
    C(dojo.kafka_observability.verification) role writes (C(tasks_from=report))."
  - Keeps the run as JSON in C(<dest>/history/<name>-<run_id>.json) (its summary, its checks and the
    drill's figures) and only the last O(history_keep) runs of O(name); returns the kept runs for
    the report's history table.
  - Draws, with matplotlib, C(<dest>/<name>-drill.svg) - the failure drill on one time axis in seconds
    from the stop of the service - the container running or stopped, the alert's inactive, pending
    and firing states as Prometheus recorded them (its C(ALERTS) series, O(drill.alert_series)), the
    Slack delivery, the restart, the resolve and the measured time-to-fire, time-to-notify and
    time-to-recover; and C(<dest>/<name>-trend.svg), time-to-fire and time-to-notify over the kept
    runs.
  - matplotlib (3.7 or later) is needed on the controller for the pictures only. Without it, or
    with O(charts=false), or without a drill, the pictures are skipped and RV(timeline_skipped) /
    RV(trend_skipped) say why (and how to install it); the module does not fail for that. A picture
    not drawn this run is removed, so that no picture of an earlier run stays beside the report.
  - The files are written only when their content changes (the pictures are the same bytes for
    the same data), so a re-run with the same run is not a change.
author:
  - DevSecOps Dojo (@devsecops-dojo)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the history and tells what would change; writes and removes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
requirements:
  - matplotlib >= 3.7 on the controller, for the pictures (optional; tested with 3.11.2)
options:
  dest:
    description: The report directory (the role's C(verification_report_dir)). Created when missing.
    type: path
    required: true
  name:
    description:
      - Base name of the report (C(verify), C(nightly)); the pictures are C(<name>-drill.svg) and
        C(<name>-trend.svg), the history files C(history/<name>-<run_id>.json).
      - Letters, digits, C(_), C(.) and C(-), not starting with C(.) or C(-).
    type: str
    required: true
  run_id:
    description:
      - The run's id; run ids must sort in time order (the role's are C(20261124T010203Z)).
      - Letters, digits, C(_) and C(.) only.
    type: str
    required: true
  summary:
    description:
      - The run's summary, as the role's C(verification_summary) - C(host), C(started_at),
        C(finished_at), C(passed), C(failed), C(skipped), and C(diagnosis) (where each failed chain
        broke). Kept in the history record.
    type: dict
    default: {}
  results:
    description: The run's recorded checks (the role's C(verification_results)), kept in the history record.
    type: list
    elements: dict
    default: []
  drill:
    description:
      - The failure drill of this run, as the role's C(verification_drill_timeline). Times are epoch
        seconds; a step that did not happen is null (or omitted). Without O(drill.stop) there is no
        timeline.
    type: dict
    suboptions:
      alert_name:
        description: The alert of the drill.
        type: str
      service:
        description: The service the drill stopped.
        type: str
      host:
        description: The host of that service.
        type: str
      stop:
        description: When the service was stopped (the origin of the time axis).
        type: raw
      fire:
        description: When the drill saw the alert firing.
        type: raw
      notify:
        description: When the drill saw the Slack notification delivered.
        type: raw
      start:
        description: When the service was started again (the restart).
        type: raw
      restarted:
        description: Whether starting the service again succeeded.
        type: bool
        default: true
      resolved:
        description: When the drill saw the alert inactive again.
        type: raw
      recover:
        description: When the broker served a message again after the alert resolved.
        type: raw
      time_to_fire:
        description: Seconds from the stop until the alert fired.
        type: raw
      time_to_notify:
        description: Seconds from the stop until the Slack notification was delivered.
        type: raw
      time_to_recover:
        description: Seconds from the restart until the alert resolved and the broker served again.
        type: raw
      alert_series:
        description:
          - The alert's state history - the RV(dojo.kafka_observability.grafana_query#module:series) of a
            range query of C(ALERTS{alertname="<alert>"}) over the drill (label C(alertstate) V(pending)
            or V(firing), value 1 while the alert is in that state). Where no series has a sample the
            alert was inactive.
        type: list
        elements: dict
        default: []
      alert_error:
        description: Why there is no alert history (the range query failed); shown in the picture.
        type: str
      step:
        description: The range query's step in seconds (default the smallest gap between two samples).
        type: raw
  history_keep:
    description:
      - How many runs of O(name) to keep in C(<dest>/history) (older records of O(name) are removed).
        V(0) keeps no history and writes none.
    type: int
    default: 30
  charts:
    description: Draw the pictures. V(false) skips them (and removes those of earlier runs).
    type: bool
    default: true
notes:
  - The drill's timestamps are taken on the controller, the C(ALERTS) samples by Prometheus - the
    picture assumes both clocks agree (NTP).
  - SVG text is kept as text (C(svg.fonttype=none)), so the figures in the picture can be searched.
seealso:
  - module: dojo.kafka_observability.grafana_query
"""

EXAMPLES = r"""
- name: Keep the run and draw the drill's pictures beside the report
  dojo.kafka_observability.drill_report:
    dest: "{{ playbook_dir }}/../reports"
    name: nightly
    run_id: "{{ verification_run_id }}"
    summary: "{{ verification_summary }}"
    results: "{{ verification_results }}"
    drill: "{{ verification_drill_timeline | default(omit) }}"
    history_keep: 30
  delegate_to: localhost
  run_once: true
  register: report_files

- name: Say when the timeline was not drawn
  ansible.builtin.debug:
    msg: "{{ report_files.timeline_skipped }}"
  when: report_files.timeline_skipped
"""

RETURN = r"""
timeline_svg:
  description: The drill's timeline picture, or null when it was not drawn (see RV(timeline_skipped)).
  returned: always
  type: str
  sample: /srv/reports/nightly-drill.svg
timeline_skipped:
  description: Why the timeline was not drawn (no drill, no stop, matplotlib missing and how to install it), or null.
  returned: always
  type: str
  sample: null
trend_svg:
  description: The trend picture of the kept runs, or null when it was not drawn (see RV(trend_skipped)).
  returned: always
  type: str
  sample: /srv/reports/nightly-trend.svg
trend_skipped:
  description: Why the trend was not drawn, or null.
  returned: always
  type: str
  sample: null
timeline:
  description:
    - The drill in seconds from the stop - C(stopped_at) (UTC), C(events) (C(fire), C(notify), C(start),
      C(resolved), C(recover); null when it did not happen), C(alert_states) (C(state), C(start), C(end))
      from the alert's series, C(alert_pending_at), C(alert_firing_at), C(alert_inactive_at) (the end of
      the last firing), C(alert_error). Null without a drill window.
  returned: always
  type: dict
  sample:
    stopped_at: "2026-11-24 01:05:12 UTC"
    events: {fire: 98.3, notify: 101.9, start: 102.6, resolved: 117.9, recover: 118.4}
    alert_states:
      - {state: pending, start: 37.0, end: 96.0}
      - {state: firing, start: 96.0, end: 117.0}
    alert_pending_at: 37.0
    alert_firing_at: 96.0
    alert_inactive_at: 117.0
    alert_error: null
history:
  description:
    - The kept runs of O(name), oldest first, this run included - C(run_id), C(this_run), C(started_at),
      C(status) (V(passed) or V(failed)), C(passed), C(failed), C(skipped), C(drill) (whether the run had a
      drill), C(time_to_fire), C(time_to_notify), C(time_to_recover) (null when not measured), C(file).
    - Empty with O(history_keep=0).
  returned: always
  type: list
  elements: dict
  sample:
    - run_id: 20261124T010203Z
      this_run: true
      started_at: "2026-11-24T01:02:03Z"
      status: passed
      passed: 14
      failed: 0
      skipped: 1
      drill: true
      time_to_fire: 98.3
      time_to_notify: 101.9
      time_to_recover: 15.8
      file: /srv/reports/history/nightly-20261124T010203Z.json
history_file:
  description: This run's history record, or null with O(history_keep=0).
  returned: always
  type: str
  sample: /srv/reports/history/nightly-20261124T010203Z.json
pruned:
  description: History records removed because more than O(history_keep) runs were kept.
  returned: always
  type: list
  elements: str
  sample: [/srv/reports/history/nightly-20261024T010203Z.json]
removed:
  description: Pictures of an earlier run removed because this run drew none.
  returned: always
  type: list
  elements: str
  sample: []
matplotlib_version:
  description: The matplotlib that drew the pictures, or null when none was loaded.
  returned: always
  type: str
  sample: 3.11.2
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dojo.kafka_observability.plugins.module_utils.drill_charts import (
    ReportError,
    check_names,
    drill_timeline,
    history_path,
    history_record,
    history_rows,
    load_matplotlib,
    read_history,
    remove,
    render,
    timeline_figure,
    trend_figure,
    write_if_changed,
)

DRILL_OPTIONS = dict(
    alert_name=dict(type="str"),
    service=dict(type="str"),
    host=dict(type="str"),
    stop=dict(type="raw"),
    fire=dict(type="raw"),
    notify=dict(type="raw"),
    start=dict(type="raw"),
    restarted=dict(type="bool", default=True),
    resolved=dict(type="raw"),
    recover=dict(type="raw"),
    time_to_fire=dict(type="raw"),
    time_to_notify=dict(type="raw"),
    time_to_recover=dict(type="raw"),
    alert_series=dict(type="list", elements="dict", default=[]),
    alert_error=dict(type="str"),
    step=dict(type="raw"),
)


def picture(module, result, kind, path, *, skipped, figure):
    """Draw one picture into path unless there is a reason to skip it; a picture not drawn is removed.

    Drawing never fails the report: matplotlib's own errors become the reason it was skipped.
    """
    data = None
    if skipped is None:
        try:
            data = render(figure())
        except Exception as exc:  # matplotlib's errors are many; the report goes on without the picture
            skipped = "matplotlib could not draw the %s (%s: %s)" % (kind, type(exc).__name__, exc)
            module.warn(skipped)
    if data is not None:
        result["changed"] |= write_if_changed(path, data, module.check_mode)
        result["%s_svg" % kind] = path
    else:
        result["%s_svg" % kind] = None
        if remove(path, module.check_mode):
            result["removed"].append(path)
            result["changed"] = True
    result["%s_skipped" % kind] = skipped


def run(module):
    params = module.params
    check = module.check_mode
    name, run_id, dest = params["name"], params["run_id"], params["dest"]
    check_names(name, run_id)
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise ReportError("dest %s is not a directory." % dest)
    result = dict(changed=False, pruned=[], removed=[], history_file=None, matplotlib_version=None)

    timeline, timeline_skipped = drill_timeline(params["drill"])
    result["timeline"] = None
    if timeline is not None:
        result["timeline"] = dict(
            (key, timeline[key])
            for key in (
                "stopped_at",
                "events",
                "alert_states",
                "alert_pending_at",
                "alert_firing_at",
                "alert_inactive_at",
                "alert_error",
            )
        )

    # the history: this run's record, the last history_keep runs of this report
    keep = params["history_keep"]
    if keep < 0:
        raise ReportError("history_keep must be 0 (no history) or more, not %d." % keep)
    runs = []
    if keep > 0:
        runs = [item for item in read_history(dest, name, warn=module.warn) if item[1].get("run_id") != run_id]
        record = history_record(name, run_id, params["summary"], params["results"], timeline)
        path = history_path(dest, name, run_id)
        data = (json.dumps(record, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")
        result["changed"] |= write_if_changed(path, data, check)
        result["history_file"] = path
        runs.append((path, record))
        runs.sort(key=lambda item: item[1]["run_id"])
        for old_path, _record in runs[:-keep]:
            if remove(old_path, check):
                result["pruned"].append(old_path)
                result["changed"] = True
        runs = runs[-keep:]
    rows = history_rows(runs, run_id)
    result["history"] = rows

    # the pictures (matplotlib is loaded only when there is something to draw)
    drills = [row for row in rows if row["drill"]]
    if keep == 0:
        trend_skipped = "the history is off (history_keep: 0)"
    elif not drills:
        trend_skipped = "no run with a failure drill among the kept runs"
    else:
        trend_skipped = None
    why = None
    if not params["charts"]:
        why = "the pictures are switched off (charts: false)"
    elif timeline_skipped is None or trend_skipped is None:
        mpl, why = load_matplotlib()
        if mpl is not None:
            result["matplotlib_version"] = mpl.__version__
    service = (timeline or {}).get("service")
    host = (timeline or {}).get("host") or "its host"
    picture(
        module,
        result,
        "timeline",
        os.path.join(dest, "%s-drill.svg" % name),
        skipped=timeline_skipped or why,
        figure=lambda: timeline_figure(
            timeline, "Failure drill, %s run %s: %s stopped on %s" % (name, run_id, service, host)
        ),
    )
    picture(
        module,
        result,
        "trend",
        os.path.join(dest, "%s-trend.svg" % name),
        skipped=trend_skipped or why,
        figure=lambda: trend_figure(
            rows,
            "time-to-fire and time-to-notify, %s of %s with a drill"
            % ("the last run" if len(drills) == 1 else "the last %d runs" % len(drills), name),
        ),
    )
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            name=dict(type="str", required=True),
            run_id=dict(type="str", required=True),
            summary=dict(type="dict", default={}),
            results=dict(type="list", elements="dict", default=[]),
            drill=dict(type="dict", options=DRILL_OPTIONS),
            history_keep=dict(type="int", default=30),
            charts=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except ReportError as exc:
        module.fail_json(msg=exc.msg)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
