# -*- coding: utf-8 -*-
# Copyright: DevSecOps Dojo
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verification report's pictures and run history (module drill_report, on the controller).

- the failure drill's timeline: from the drill's timestamps (epoch seconds) and the alert's
  ALERTS series (grafana_query's `series`), everything in seconds from the stop of the service;
- the history: one JSON file per run in <dest>/history/<name>-<run id>.json, the last N kept;
- the pictures, drawn with matplotlib (imported only when drawing: it is a controller-side
  requirement, and its absence only skips the pictures, with the reason).

Plain data in, plain data out, so that it can be tested without Ansible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import math
import os
import re
import sys
import tempfile
from datetime import datetime, timezone

HISTORY_FORMAT = 1
# matplotlib's pieces, once load_matplotlib() found them
_MPL = {}
MATPLOTLIB_MIN = (3, 7)
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# no '-' in a run id: <name>-<run id>.json must say where the name ends
RUN_ID_RE = re.compile(r"^[A-Za-z0-9_.]+$")
TIMESTAMP_RUN_ID_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")
TIMELINE_EVENTS = ("fire", "notify", "start", "resolved", "recover")
TIMINGS = ("time_to_fire", "time_to_notify", "time_to_recover")

COLORS = {
    "running": "#43a047",
    "stopped": "#546e7a",
    "inactive": "#e0e0e0",
    "pending": "#ffb300",
    "firing": "#d32f2f",
    "slack": "#4a154b",
    "fire": "#d32f2f",
    "notify": "#4a154b",
    "recover": "#2e7d32",
    "guide": "#9e9e9e",
}
TEXT_ON = {"running": "white", "stopped": "white", "inactive": "#424242", "pending": "#212121", "firing": "white"}


class ReportError(Exception):
    """A failure the module reports in one sentence."""

    def __init__(self, msg):
        super(ReportError, self).__init__(msg)
        self.msg = msg


# ------------------------------------------------------------------ values
def number(value):
    """A time or a duration as Ansible hands it over -> float, or None when there is none.

    None, '', 'None', 'null' and NaN mean "not measured" (the drill records a timing as none
    when the step did not happen).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        result = float(value)
    else:
        text = str(value).strip()
        if text.lower() in ("", "none", "null", "nan"):
            return None
        try:
            result = float(text)
        except ValueError:
            return None
    return result if math.isfinite(result) else None


def check_names(name, run_id):
    if not NAME_RE.match(name or ""):
        raise ReportError("name %r cannot be a file name: use letters, digits, '_', '.' and '-' (not first)." % (name,))
    if not RUN_ID_RE.match(run_id or ""):
        raise ReportError(
            "run_id %r cannot be part of a history file name: use letters, digits, '_' and '.' only "
            "(the role's run ids look like 20261124T010203Z)." % (run_id,)
        )


def seconds_text(value):
    return "-" if value is None else "%.1f s" % value


def run_label(run_id):
    """20261124T010203Z -> '11-24 01:02' (other run ids as they are)."""
    match = TIMESTAMP_RUN_ID_RE.match(run_id)
    if not match:
        return run_id
    return "%s-%s\n%s:%s" % (match.group(2), match.group(3), match.group(4), match.group(5))


# ------------------------------------------------------------------ the drill's timeline
def _runs(stamps, step):
    """Sorted timestamps -> [(first, last)] of runs whose neighbours are at most 1.5 steps apart."""
    runs = []
    for ts in stamps:
        if runs and ts - runs[-1][1] <= step * 1.5 + 1e-6:
            runs[-1][1] = ts
        else:
            runs.append([ts, ts])
    return runs


def _subtract(interval, others):
    """Parts of [start, end] not covered by any of others."""
    parts = [interval]
    for o_start, o_end in others:
        cut = []
        for start, end in parts:
            if o_end <= start or o_start >= end:
                cut.append((start, end))
                continue
            if start < o_start:
                cut.append((start, o_start))
            if o_end < end:
                cut.append((o_end, end))
        parts = cut
    return parts


def alert_states(series, t0, step=None):
    """grafana_query's series of ALERTS{alertname=...} -> the pending/firing intervals.

    Each series is one state (label alertstate) of one alert; a sample (value 1) at t means
    Prometheus had the alert in that state at t. Consecutive samples make one interval, which
    lasts until one step after its last sample. Where pending and firing overlap (several alert
    instances, or a step coarser than the rule evaluation) firing wins. Returns
    ([{state, start, end}] in seconds from t0, sorted, and the step used).
    """
    stamps = {}
    for item in series or []:
        if not isinstance(item, dict):
            continue
        state = (item.get("labels") or {}).get("alertstate")
        if state not in ("pending", "firing"):
            continue
        for pair in item.get("values") or []:
            if not isinstance(pair, (list, tuple)) or len(pair) < 2:
                continue
            ts, value = number(pair[0]), number(pair[1])
            if ts is not None and value:
                stamps.setdefault(state, set()).add(ts)
    every = sorted(set().union(*stamps.values())) if stamps else []
    if step is None or step <= 0:
        gaps = [b - a for a, b in zip(every, every[1:]) if b - a > 0]
        step = min(gaps) if gaps else 1.0
    intervals = {}
    for state, values in stamps.items():
        intervals[state] = [(first, last + step) for first, last in _runs(sorted(values), step)]
    out = [("firing", start, end) for start, end in intervals.get("firing", [])]
    for interval in intervals.get("pending", []):
        out.extend(("pending", start, end) for start, end in _subtract(interval, intervals.get("firing", [])))
    out.sort(key=lambda item: item[1])
    return [{"state": s, "start": round(a - t0, 1), "end": round(b - t0, 1)} for s, a, b in out], step


def drill_timeline(drill):
    """The drill's options -> its events and the alert's states in seconds from the stop.

    Returns (timeline, None), or (None, reason) when there is nothing to draw on that axis.
    """
    if not drill:
        return None, "no failure drill in this run (no drill data)"
    t0 = number(drill.get("stop"))
    if t0 is None:
        return None, "the drill did not stop the service (no stop time), so there is no drill window to draw"
    events = {}
    for key in TIMELINE_EVENTS:
        value = number(drill.get(key))
        events[key] = None if value is None else round(value - t0, 1)
    states, step = alert_states(drill.get("alert_series"), t0, number(drill.get("step")))
    timings = {key: number(drill.get(key)) for key in TIMINGS}
    firing = [s for s in states if s["state"] == "firing"]
    pending = [s for s in states if s["state"] == "pending"]
    timeline = {
        "t0": t0,
        "stopped_at": datetime.fromtimestamp(t0, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "events": events,
        "restarted": drill.get("restarted") is not False,
        "timings": timings,
        "alert_states": states,
        "alert_pending_at": pending[0]["start"] if pending else None,
        "alert_firing_at": firing[0]["start"] if firing else None,
        "alert_inactive_at": firing[-1]["end"] if firing else None,
        "alert_error": drill.get("alert_error") or None,
        "alert_name": drill.get("alert_name") or "the alert",
        "service": drill.get("service") or "the service",
        "host": drill.get("host") or "",
        "step": step,
    }
    return timeline, None


# ------------------------------------------------------------------ history
def history_dir(dest):
    return os.path.join(dest, "history")


def history_path(dest, name, run_id):
    return os.path.join(history_dir(dest), "%s-%s.json" % (name, run_id))


def history_record(name, run_id, summary, results, timeline):
    summary = summary or {}

    def count(key):
        value = number(summary.get(key))
        return int(value) if value is not None else None

    failed = count("failed")
    if failed is None:
        failed = len([r for r in results or [] if isinstance(r, dict) and r.get("status") == "failed"])
    record = {
        "format": HISTORY_FORMAT,
        "name": name,
        "run_id": run_id,
        "host": summary.get("host"),
        "started_at": summary.get("started_at"),
        "finished_at": summary.get("finished_at"),
        "status": "failed" if failed else "passed",
        "passed": count("passed"),
        "failed": failed,
        "skipped": count("skipped"),
        "drill": None,
        "results": list(results or []),
        # where each failed chain broke (the verification's diagnosis), as the summary has it
        "diagnosis": list(summary.get("diagnosis") or []),
    }
    if timeline is not None:
        record["drill"] = dict(
            timeline["timings"],
            stopped_at=timeline["stopped_at"],
            events=timeline["events"],
            alert_states=timeline["alert_states"],
        )
    return record


def read_history(dest, name, warn=None):
    """The kept runs of report `name`, oldest first: [(path, record)]."""
    directory = history_dir(dest)
    try:
        entries = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ReportError("cannot read the history directory %s: %s" % (directory, exc.strerror or exc)) from None
    pattern = re.compile(r"^%s-([A-Za-z0-9_.]+)\.json$" % re.escape(name))
    runs = []
    for entry in entries:
        match = pattern.match(entry)
        if not match:
            continue
        path = os.path.join(directory, entry)
        try:
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError) as exc:
            if warn:
                warn("history file %s left alone: it is not a run's JSON (%s)" % (path, exc))
            continue
        if not isinstance(record, dict) or record.get("name") != name or record.get("run_id") != match.group(1):
            if warn:
                warn("history file %s left alone: it is not a record of run %s of %s" % (path, match.group(1), name))
            continue
        runs.append((path, record))
    runs.sort(key=lambda item: item[1]["run_id"])
    return runs


def history_rows(runs, this_run_id):
    rows = []
    for path, record in runs:
        drill = record.get("drill") if isinstance(record.get("drill"), dict) else None
        row = {
            "run_id": record.get("run_id"),
            "file": path,
            "this_run": record.get("run_id") == this_run_id,
            "started_at": record.get("started_at"),
            "status": record.get("status"),
            "passed": record.get("passed"),
            "failed": record.get("failed"),
            "skipped": record.get("skipped"),
            "drill": drill is not None,
        }
        for key in TIMINGS:
            row[key] = number(drill.get(key)) if drill else None
        rows.append(row)
    return rows


# ------------------------------------------------------------------ files
def write_if_changed(path, data, check_mode):
    """Write bytes atomically (mode 0644) unless the file already holds them; True when (it would be) changed."""
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ReportError("cannot read %s: %s" % (path, exc.strerror or exc)) from None
    if check_mode:
        return True
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise ReportError("cannot write %s: %s" % (path, exc.strerror or exc)) from None
    return True


def remove(path, check_mode):
    if not os.path.exists(path):
        return False
    if not check_mode:
        try:
            os.unlink(path)
        except OSError as exc:
            raise ReportError("cannot remove %s: %s" % (path, exc.strerror or exc)) from None
    return True


# ------------------------------------------------------------------ matplotlib
def load_matplotlib():
    """(matplotlib, None), or (None, why the pictures are skipped and how to get them).

    Imported here, not at the top: matplotlib is a requirement of the controller only, and the
    module without it still keeps the history and says why the pictures are missing.
    """
    install = "install it for the Python that runs the module on the controller: %s -m pip install 'matplotlib>=%s'" % (
        sys.executable,
        ".".join(str(part) for part in MATPLOTLIB_MIN),
    )
    try:
        import matplotlib  # noqa: PLC0415
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415
        from matplotlib.lines import Line2D  # noqa: PLC0415
        from matplotlib.patches import Patch  # noqa: PLC0415
    except ImportError as exc:
        return None, "matplotlib is not installed on the controller (%s); %s" % (exc, install)
    except Exception as exc:  # a broken installation (numpy built for another Python, ...)
        return None, "matplotlib could not be loaded on the controller (%s: %s); %s" % (
            type(exc).__name__,
            exc,
            install,
        )
    version = tuple(int(part) for part in re.findall(r"\d+", matplotlib.__version__)[:2])
    if version < MATPLOTLIB_MIN:
        return None, "matplotlib %s is too old for the pictures; %s" % (matplotlib.__version__, install)
    _MPL.update(matplotlib=matplotlib, Canvas=FigureCanvasAgg, Figure=Figure, Line2D=Line2D, Patch=Patch)
    return matplotlib, None


def render(fig, fmt="svg"):
    """A figure -> bytes. SVG text stays text (searchable, smaller), and is the same for the same data."""
    buffer = io.BytesIO()
    with _MPL["matplotlib"].rc_context({"svg.fonttype": "none", "svg.hashsalt": "dojo-kafka-observability"}):
        metadata = {"Date": None} if fmt == "svg" else {}
        fig.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def _new_figure(width, height):
    fig = _MPL["Figure"](figsize=(width, height), dpi=100, layout="constrained")
    canvas = _MPL["Canvas"](fig)
    return fig, canvas


def _text_width(text, renderer):
    return text.get_window_extent(renderer).width


def _span_px(ax, start, end):
    left = ax.transData.transform((start, 0))[0]
    right = ax.transData.transform((end, 0))[0]
    return abs(right - left)


# lanes of the timeline, top to bottom
LANE_CONTAINER, LANE_ALERT, LANE_SLACK, LANE_FIRE, LANE_NOTIFY, LANE_RECOVER = range(6)


def timeline_figure(tl, title):
    """The drill on one time axis (seconds from the stop): the container, the alert, Slack, the measured times."""
    Line2D, Patch = _MPL["Line2D"], _MPL["Patch"]
    ev = tl["events"]
    timings = tl["timings"]
    known = [0.0] + [v for v in ev.values() if v is not None] + [s["end"] for s in tl["alert_states"]]
    last = max(known)
    span = max(last, 30.0)
    xmin = -max(10.0, round(span * 0.12))
    xmax = last + max(8.0, span * 0.1)

    fig, canvas = _new_figure(10.5, 5.6)
    ax = fig.add_subplot()
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(LANE_RECOVER + 0.6, LANE_CONTAINER - 0.6)
    ax.set_yticks(range(6))
    ax.set_yticklabels(
        [
            "kafka container\n(%s)" % tl["service"],
            "alert\n%s" % tl["alert_name"],
            "Slack\nnotification",
            "time-to-fire\n(from the stop)",
            "time-to-notify\n(from the stop)",
            "time-to-recover\n(from the restart)",
        ]
    )
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    ax.set_xlabel("seconds from the stop of %s (0 s = %s)" % (tl["service"], tl["stopped_at"]))
    ax.set_title(title, loc="left", fontsize=11)

    fit_labels = []  # (text, start, end): hidden when wider than its bar

    def state_bar(lane, start, end, state, label=None):
        if end <= start:
            return
        ax.broken_barh([(start, end - start)], (lane - 0.3, 0.6), facecolors=COLORS[state], zorder=2)
        if label:
            # on a patch of the bar's colour: a guide line crossing the bar passes behind the label
            text = ax.text(
                (start + end) / 2.0,
                lane,
                label,
                ha="center",
                va="center",
                fontsize=9,
                color=TEXT_ON[state],
                zorder=6,
                bbox={"facecolor": COLORS[state], "edgecolor": "none", "pad": 1},
            )
            text.set_in_layout(False)
            fit_labels.append((text, start, end))

    # the kafka container: running, stopped at 0, running again from the restart
    restart = ev["start"]
    state_bar(LANE_CONTAINER, xmin, 0.0, "running", "running")
    if restart is not None and tl["restarted"]:
        state_bar(LANE_CONTAINER, 0.0, restart, "stopped", "stopped")
        state_bar(LANE_CONTAINER, restart, xmax, "running", "running")
    else:
        state_bar(LANE_CONTAINER, 0.0, xmax, "stopped", "stopped (not started again)")

    # the alert: inactive where Prometheus had no pending/firing sample, pending, firing
    if tl["alert_error"] and not tl["alert_states"]:
        ax.broken_barh(
            [(xmin, xmax - xmin)],
            (LANE_ALERT - 0.3, 0.6),
            facecolors="white",
            edgecolor="#bdbdbd",
            hatch="//",
            zorder=2,
        )
        note = "no ALERTS history: %s" % tl["alert_error"]
        note = note if len(note) <= 110 else note[:107] + "..."
        text = ax.text(
            xmin + (xmax - xmin) * 0.01,
            LANE_ALERT,
            note,
            ha="left",
            va="center",
            fontsize=8,
            style="italic",
            color="#424242",
            zorder=6,
            clip_on=True,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )
        text.set_in_layout(False)
    else:
        covered = [(s["start"], s["end"]) for s in tl["alert_states"]]
        for start, end in _subtract((xmin, xmax), covered):
            state_bar(LANE_ALERT, start, end, "inactive", "inactive")
        for s in tl["alert_states"]:
            state_bar(LANE_ALERT, s["start"], min(s["end"], xmax), s["state"], s["state"])

    # guides from an event down to its measured time
    def guide(x, top, bottom, color):
        ax.vlines(x, top - 0.3, bottom, colors=color, linestyles="dashed", linewidth=1, zorder=4)

    marks = []  # (lane, x) of the markers: a bar's label over one of them goes
    notes = []  # (text, x): a note beside a marker, turned to its left side near the right edge

    def mark(lane, x, **style):
        ax.plot([x], [lane], zorder=5, linestyle="none", **style)
        marks.append((lane, x))

    if restart is not None and tl["restarted"]:
        mark(LANE_CONTAINER, restart, marker="^", markersize=10, color="black")
        guide(restart, LANE_CONTAINER, LANE_RECOVER, COLORS["guide"])
    if ev["resolved"] is not None:
        mark(LANE_ALERT, ev["resolved"], marker="o", markersize=8, markerfacecolor="white", markeredgecolor="black")
    if ev["notify"] is not None:
        mark(LANE_SLACK, ev["notify"], marker="D", markersize=8, color=COLORS["slack"])
        note = ax.text(
            ev["notify"],
            LANE_SLACK,
            "  delivered  ",
            ha="left",
            va="center",
            fontsize=9,
            color=COLORS["slack"],
            zorder=4.5,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
        )
        note.set_in_layout(False)
        notes.append((note, ev["notify"]))
    else:
        note = ax.text(
            xmin + (xmax - xmin) * 0.01,
            LANE_SLACK,
            "no delivery seen",
            ha="left",
            va="center",
            fontsize=9,
            style="italic",
            color="#616161",
            zorder=6,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )
        note.set_in_layout(False)

    # the measured times: dimension lines with their value
    measures = []

    def measure(lane, start, end, *, value, color, top_lane, missing):
        if value is None or start is None or end is None:
            text = ax.text(
                xmin + (xmax - xmin) * 0.01,
                lane,
                missing,
                ha="left",
                va="center",
                fontsize=9,
                style="italic",
                color="#616161",
                zorder=6,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
            )
            text.set_in_layout(False)
            return
        if top_lane is not None:
            guide(end, top_lane, lane, color)
        ax.annotate(
            "",
            xy=(end, lane),
            xytext=(start, lane),
            arrowprops={
                "arrowstyle": "|-|,widthA=0.35,widthB=0.35",
                "color": color,
                "linewidth": 1.6,
                "shrinkA": 0,
                "shrinkB": 0,
            },
            zorder=5,
        )
        text = ax.text(
            (start + end) / 2.0,
            lane - 0.12,
            "%.1f s" % value,
            ha="center",
            va="bottom",
            fontsize=10,
            fontweight="bold",
            color=color,
            zorder=6,
        )
        text.set_in_layout(False)
        measures.append((text, start, end, lane))

    fire_t = timings["time_to_fire"]
    notify_t = timings["time_to_notify"]
    recover_t = timings["time_to_recover"]
    fire_end = ev["fire"] if ev["fire"] is not None else fire_t
    measure(LANE_FIRE, 0.0, fire_end, value=fire_t, color=COLORS["fire"], top_lane=LANE_ALERT, missing="did not fire")
    notify_end = ev["notify"] if ev["notify"] is not None else notify_t
    measure(
        LANE_NOTIFY,
        0.0,
        notify_end,
        value=notify_t,
        color=COLORS["notify"],
        top_lane=LANE_SLACK,
        missing="not notified",
    )
    recover_end = ev["recover"]
    if recover_end is None and restart is not None and recover_t is not None:
        recover_end = restart + recover_t
    measure(
        LANE_RECOVER,
        restart,
        recover_end,
        value=recover_t,
        color=COLORS["recover"],
        top_lane=None,
        missing="did not recover",
    )
    ax.axvline(0.0, color="black", linewidth=1.2, zorder=4)

    handles = [
        Patch(facecolor=COLORS["running"], label="kafka running"),
        Patch(facecolor=COLORS["stopped"], label="kafka stopped"),
        Line2D([], [], marker="^", color="black", linestyle="none", markersize=9, label="kafka started again"),
        Patch(facecolor=COLORS["inactive"], label="alert inactive"),
        Patch(facecolor=COLORS["pending"], label="alert pending"),
        Patch(facecolor=COLORS["firing"], label="alert firing"),
        Line2D(
            [],
            [],
            marker="o",
            markerfacecolor="white",
            markeredgecolor="black",
            linestyle="none",
            markersize=8,
            label="resolved (seen by the drill)",
        ),
        Line2D(
            [],
            [],
            marker="D",
            color=COLORS["slack"],
            linestyle="none",
            markersize=7,
            label="Slack notification delivered",
        ),
        Line2D([], [], color=COLORS["guide"], linestyle="dashed", label="measured by the drill's polls"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=5, fontsize=8.5, frameon=False)

    # place the texts now that the layout is known: a label wider than its bar goes; a
    # measured value that does not fit on its line goes beside it
    canvas.draw()
    renderer = canvas.get_renderer()
    for text, start, end in fit_labels:
        box = text.get_window_extent(renderer)
        over_mark = any(
            lane == text.get_position()[1] and box.x0 - 12 <= ax.transData.transform((x, 0))[0] <= box.x1 + 12
            for lane, x in marks
        )
        if over_mark or box.width + 6 > _span_px(ax, start, end):
            text.set_visible(False)
    axes_right = ax.get_window_extent(renderer).x1
    for text, start, end, lane in measures:
        width = _text_width(text, renderer)
        if width + 8 <= _span_px(ax, start, end):
            continue
        end_px = ax.transData.transform((max(start, end), 0))[0]
        if end_px + 6 + width <= axes_right:
            text.set_position((max(start, end), lane))
            text.set_horizontalalignment("left")
            text.set_verticalalignment("center")
            text.set_text("  %s" % text.get_text())
        else:
            text.set_position((min(start, end), lane))
            text.set_horizontalalignment("right")
            text.set_verticalalignment("center")
            text.set_text("%s  " % text.get_text())
    for note, x in notes:
        if ax.transData.transform((x, 0))[0] + _text_width(note, renderer) > axes_right:
            note.set_horizontalalignment("right")
    return fig


def trend_figure(rows, title):
    """time-to-fire and time-to-notify of the kept runs with a drill, oldest to newest."""
    Line2D = _MPL["Line2D"]
    runs = [row for row in rows if row["drill"]]
    fig, _canvas = _new_figure(10.5, 3.8)
    ax = fig.add_subplot()
    xs = list(range(len(runs)))
    nan = float("nan")
    fire = [row["time_to_fire"] if row["time_to_fire"] is not None else nan for row in runs]
    notify = [row["time_to_notify"] if row["time_to_notify"] is not None else nan for row in runs]
    ax.plot(xs, fire, marker="o", color=COLORS["fire"], linewidth=1.6, label="time-to-fire")
    ax.plot(xs, notify, marker="s", color=COLORS["notify"], linewidth=1.6, label="time-to-notify")
    missed = [x for x, row in zip(xs, runs) if row["time_to_fire"] is None]
    handles = [
        Line2D([], [], marker="o", color=COLORS["fire"], label="time-to-fire (stop → alert firing)"),
        Line2D([], [], marker="s", color=COLORS["notify"], label="time-to-notify (stop → Slack delivered)"),
    ]
    if missed:
        ax.plot(missed, [0] * len(missed), marker="X", markersize=10, color="black", linestyle="none", clip_on=False)
        handles.append(Line2D([], [], marker="X", color="black", linestyle="none", label="alert did not fire"))
    values = [v for v in fire + notify if not math.isnan(v)]
    top = max(values) if values else 60.0
    ax.set_ylim(0, top * 1.25)
    # room on the right for the newest values: about 9 % of the axis, at least 0.8 of a run
    ax.set_xlim(-0.6, max(len(runs) - 1, 0) + max(0.8, 0.09 * (len(runs) - 0.4) / 0.91))
    every = max(1, math.ceil(len(runs) / 12.0))
    ax.set_xticks(xs[::every])
    ax.set_xticklabels([run_label(row["run_id"]) for row in runs][::every], fontsize=8)
    ax.set_ylabel("seconds")
    ax.set_xlabel("run (UTC)")
    ax.grid(axis="y", color="#eeeeee")
    ax.set_axisbelow(True)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    ax.set_title(title, loc="left", fontsize=11)
    if runs:
        last = len(runs) - 1
        # the newest values, one above and one below so that close values do not overlap
        pairs = [(fire[last], COLORS["fire"]), (notify[last], COLORS["notify"])]
        known = sorted([p for p in pairs if not math.isnan(p[0])], key=lambda p: p[0])
        for position, (value, color) in enumerate(known):
            offset = (8, -12) if position == 0 and len(known) > 1 else (8, 4)
            text = ax.annotate(
                "%.1f s" % value,
                xy=(last, value),
                xytext=offset,
                textcoords="offset points",
                fontsize=9,
                fontweight="bold",
                color=color,
            )
            text.set_in_layout(False)
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8.5, frameon=False)
    return fig
