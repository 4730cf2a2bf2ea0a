# -*- coding: utf-8 -*-
# Copyright: DevSecOps Dojo
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Queries and conditions of grafana_query / grafana_assert, and the polling loop.

Everything here is plain data in, plain data out (the client is passed in), so that the
conditions can be tested without a network and the modules stay thin.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import time

from ansible.module_utils.common.text.converters import to_text
from ansible_collections.dojo.kafka_observability.plugins.module_utils.grafana import (
    TYPE_LANGUAGE,
    GrafanaError,
    iso_from_seconds,
    kafka_metric_query,
    language_label,
    normalize_loki,
    normalize_prometheus,
    normalize_tempo,
    normalize_tempo_trace,
    normalize_trace_id,
    parse_duration,
    parse_time,
)

OPERATORS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "!=": lambda a, b: a != b,
}
ALERT_STATES = ("inactive", "pending", "firing")


def resolve_language(client, params, wanted=None):
    """(datasource, language): the datasource looked up and checked against the query language."""
    language = wanted
    if language is None and (params.get("kafka_metric") or params.get("tags") or params.get("trace_id")):
        language = "promql" if params.get("kafka_metric") else "traceql"
    if language is None:
        ds = client.get_datasource(name=params.get("datasource"), uid=params.get("datasource_uid"))
        language = TYPE_LANGUAGE.get(ds.get("type"))
        if language is None:
            raise GrafanaError(
                "Datasource '%s' is of type '%s'; these modules query prometheus (PromQL), loki (LogQL) and tempo "
                "(TraceQL) datasources only." % (ds.get("name"), ds.get("type")),
                "type_mismatch",
            )
    ds = client.resolve_datasource(name=params.get("datasource"), uid=params.get("datasource_uid"), language=language)
    return ds, language


def query_text(params):
    if params.get("kafka_metric"):
        return kafka_metric_query(params["kafka_metric"], params.get("kafka_labels"))
    return params.get("query")


def auto_step(start, end):
    """About 250 points over the range, at least 1 s (Prometheus refuses more than 11,000)."""
    return max(1.0, math.ceil((end - start) / 250.0))


def window(params, now, default_since):
    """(start, end) in epoch seconds from start/end/since; end defaults to now."""
    end = parse_time(params.get("end"), now, "end")
    if end is None:
        end = now
    start = parse_time(params.get("start"), now, "start")
    if start is None:
        start = end - parse_duration(params.get("since") or default_since, "since")
    if start >= end:
        raise GrafanaError(
            "The time window is empty: start (%s) is not before end (%s)."
            % (iso_from_seconds(start), iso_from_seconds(end)),
            "invalid_argument",
        )
    return start, end


def run_query(client, ds, language, params, now):
    """Run the query described by params on ds; return the normalized result plus what was asked."""
    query = query_text(params)
    query_type = params.get("query_type")
    out = {"language": language, "query": query}
    if language == "promql":
        if not query:
            raise GrafanaError("A PromQL query needs query or kafka_metric.", "invalid_argument")
        if (query_type or "instant") == "instant":
            at = parse_time(params.get("time"), now, "time")
            at = now if at is None else at
            data, warnings = client.prometheus_query(ds, query, at)
            out.update(query_type="instant", time=iso_from_seconds(at))
        else:
            start, end = window(params, now, "1h")
            step = parse_duration(params["step"], "step") if params.get("step") else auto_step(start, end)
            data, warnings = client.prometheus_query_range(ds, query, start, end, step)
            out.update(query_type="range", start=iso_from_seconds(start), end=iso_from_seconds(end), step=step)
        out.update(normalize_prometheus(data))
        out["datasource_warnings"] = [to_text(w) for w in warnings]
        return out
    if language == "logql":
        if not query:
            raise GrafanaError("A LogQL query needs query.", "invalid_argument")
        is_log_query = query.lstrip().startswith("{")
        direction = params.get("direction") or "backward"
        limit = params.get("limit")
        if query_type is None:
            query_type = "range" if is_log_query else "instant"
        if query_type == "instant":
            if is_log_query:
                raise GrafanaError(
                    "A LogQL log query (a stream selector with line filters) is only answered as a range query: "
                    "use query_type=range (the default) or a metric query such as count_over_time(...).",
                    "invalid_argument",
                )
            at = parse_time(params.get("time"), now, "time")
            at = now if at is None else at
            data = client.loki_query(ds, query, at=at, limit=limit, direction=direction)
            out.update(query_type="instant", time=iso_from_seconds(at))
        else:
            start, end = window(params, now, "1h")
            step = None
            if not is_log_query:
                step = parse_duration(params["step"], "step") if params.get("step") else auto_step(start, end)
            data = client.loki_query_range(
                ds, query, start, end, limit=limit if limit is not None else 100, direction=direction, step=step
            )
            out.update(query_type="range", start=iso_from_seconds(start), end=iso_from_seconds(end))
        out.update(normalize_loki(data, direction))
        return out
    if params.get("trace_id"):
        # one trace by its id (Tempo's api/v2/traces/<id>); the time window does not apply
        trace_id = normalize_trace_id(params["trace_id"])
        doc, path = client.tempo_trace(ds, trace_id)
        out.update(query_type="trace", trace_id=trace_id, trace_api=path.rsplit("/", 1)[0])
        out.update(normalize_tempo_trace(doc))
        return out
    # TraceQL or tag search on Tempo
    tags = params.get("tags")
    start, end = window(params, now, "1h")
    doc = client.tempo_search(
        ds,
        query=query,
        tags=tags,
        start=start,
        end=end,
        limit=params.get("limit") if params.get("limit") is not None else 20,
        min_duration=params.get("min_duration"),
        max_duration=params.get("max_duration"),
    )
    out.update(query_type="search", start=iso_from_seconds(start), end=iso_from_seconds(end))
    if not query:
        out["tags"] = dict(tags or {})
    out.update(normalize_tempo(doc))
    return out


# ------------------------------------------------------------------ conditions
class Observation:
    """One evaluation of a condition: met or not, the observed value, and the facts behind it."""

    def __init__(self, met, observed, description, facts=None):
        self.met = bool(met)
        self.observed = observed
        self.description = description
        self.facts = facts or {}


def _fmt(value):
    if isinstance(value, float) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return to_text(value)


def check_threshold(result, operator, threshold, match="all"):
    """PromQL result compared to a threshold: every series, any series, or their sum."""
    compare = OPERATORS[operator]
    numbers = [s["value"] for s in result["series"] if isinstance(s["value"], (int, float))]
    wanted = "%s %s %s" % (
        {"all": "every series", "any": "at least one series", "sum": "the sum"}[match],
        operator,
        _fmt(threshold),
    )
    facts = {"series": result["series"]}
    if not result["series"]:
        return Observation(False, None, "needed %s, got no series" % wanted, facts)
    if match == "sum":
        observed = sum(numbers) if numbers else None
        met = observed is not None and compare(observed, threshold)
    else:
        observed = (
            result["series"][0]["value"] if len(result["series"]) == 1 else [s["value"] for s in result["series"]]
        )
        verdicts = [isinstance(s["value"], (int, float)) and compare(s["value"], threshold) for s in result["series"]]
        met = all(verdicts) if match == "all" else any(verdicts)
    return Observation(met, observed, "needed %s, observed %s" % (wanted, _fmt(observed)), facts)


def check_increase(result, baseline, min_increase):
    """Counter rose by at least min_increase since baseline. A value below the baseline is a counter reset."""
    current = result["value"]
    facts = {"series": result["series"], "baseline": baseline, "current": current}
    if current is None or not isinstance(current, (int, float)):
        facts["increase"] = None
        return Observation(
            False,
            None,
            "needed an increase >= %s since %s, got no series" % (_fmt(min_increase), _fmt(baseline)),
            facts,
        )
    reset = current < baseline
    increase = current if reset else current - baseline
    facts.update(increase=increase, counter_reset=reset)
    note = " (below the baseline: counter reset, counting from 0)" if reset else ""
    return Observation(
        increase >= min_increase,
        increase,
        "needed an increase >= %s since the baseline %s, observed %s (now %s)%s"
        % (_fmt(min_increase), _fmt(baseline), _fmt(increase), _fmt(current), note),
        facts,
    )


def check_present(result, min_count=1):
    count = len(result["series"])
    return Observation(
        count >= min_count,
        count,
        "needed at least %d series, observed %d" % (min_count, count),
        {"series": result["series"]},
    )


def check_absent(result):
    count = len(result["series"])
    labels = ", ".join(to_text(s["labels"]) for s in result["series"][:3])
    return Observation(
        count == 0,
        count,
        "needed no series, observed %d%s" % (count, " (%s)" % labels if labels else ""),
        {"series": result["series"]},
    )


def check_count(result, min_count, what):
    count = result["count"]
    facts = {what: result.get(what, [])}
    unit = what[:-1] if min_count == 1 and what.endswith("s") else what  # 1 line, 2 lines
    return Observation(
        count >= min_count, count, "needed at least %d %s, observed %d" % (min_count, unit, count), facts
    )


def _span_words(span):
    return "%s: %s (%s%s)" % (
        span.get("service") or "?",
        span.get("name"),
        span.get("kind"),
        ", child of %s" % span["parent"] if span.get("parent") else "",
    )


def check_spans(result, min_count):
    """A trace looked up by id has at least min_count spans (0 while Tempo does not have it)."""
    trace_id, spans = result["trace_id"], result["spans"]
    facts = {"trace_id": trace_id, "spans": spans, "found": result["found"]}
    if not result["found"]:
        return Observation(
            False,
            0,
            "needed at least %d span%s of trace %s, but Tempo has none of its spans (%s/%s: trace not found)"
            % (min_count, "" if min_count == 1 else "s", trace_id, result["trace_api"], trace_id),
            facts,
        )
    shown = "; ".join(_span_words(s) for s in spans[:5]) + ("; ..." if len(spans) > 5 else "")
    return Observation(
        len(spans) >= min_count,
        len(spans),
        "needed at least %d span%s in trace %s, observed %d (%s)"
        % (min_count, "" if min_count == 1 else "s", trace_id, len(spans), shown),
        facts,
    )


def _labels_match(labels, wanted):
    return all(to_text(labels.get(k)) == to_text(v) for k, v in (wanted or {}).items())


def alert_state(entries, from_rules, name, labels=None):
    """(state, alerts, rule_found) of the alert `name` whose labels include `labels`.

    entries: rule groups from /api/v1/rules (from_rules) or alerts from /api/v1/alerts.
    The state is firing if one matching alert fires, else pending if one is pending, else inactive.
    """
    matching = []
    rule_found = False if from_rules else None
    if from_rules:
        for group in entries:
            for rule in group.get("rules", []):
                if rule.get("type", "alerting") != "alerting" or rule.get("name") != name:
                    continue
                rule_found = True
                for alert in rule.get("alerts") or []:
                    if _labels_match(alert.get("labels", {}), labels):
                        matching.append(alert)
    else:
        for alert in entries:
            alert_labels = alert.get("labels", {})
            if alert_labels.get("alertname") == name and _labels_match(alert_labels, labels):
                matching.append(alert)
    states = [a.get("state") for a in matching]
    if "firing" in states:
        state = "firing"
    elif "pending" in states:
        state = "pending"
    else:
        state = "inactive"
    alerts = [
        {
            "labels": a.get("labels", {}),
            "annotations": a.get("annotations", {}),
            "state": a.get("state"),
            "active_at": a.get("activeAt"),
            "value": a.get("value"),
        }
        for a in matching
    ]
    return state, alerts, rule_found


def check_alert(entries, from_rules, name, labels, wanted_state):
    state, alerts, rule_found = alert_state(entries, from_rules, name, labels)
    selector = name + (
        "{%s}" % ", ".join('%s="%s"' % (k, v) for k, v in sorted((labels or {}).items())) if labels else ""
    )
    facts = {"alerts": alerts, "rule_found": rule_found, "state": state}
    if rule_found is False:
        return Observation(
            False,
            "no rule",
            "needed alert %s %s, but no alerting rule named %s is loaded" % (selector, wanted_state, name),
            facts,
        )
    return Observation(
        state == wanted_state, state, "needed alert %s %s, observed %s" % (selector, wanted_state, state), facts
    )


# ------------------------------------------------------------------ polling
class PollOutcome:
    def __init__(self):
        self.observation = None
        self.attempts = 0
        self.elapsed = 0.0
        self.last_error = None

    @property
    def met(self):
        return self.observation is not None and self.observation.met


def poll(attempt, timeout, interval, monotonic=time.monotonic, sleep=time.sleep):
    """Call attempt() until it returns a met Observation or the deadline passes.

    A transient GrafanaError (connection, timeout, 502/504, 5xx) is remembered and retried;
    any other GrafanaError (credentials, permission, unknown datasource, bad query) is raised
    at once, because waiting cannot fix it. The first attempt is immediate, the last one
    happens at the deadline.
    """
    outcome = PollOutcome()
    started = monotonic()
    deadline = started + timeout
    while True:
        outcome.attempts += 1
        try:
            outcome.observation = attempt()
            outcome.last_error = None
        except GrafanaError as exc:
            if not exc.transient:
                outcome.elapsed = monotonic() - started
                exc.outcome = outcome
                raise
            outcome.last_error = exc
        outcome.elapsed = monotonic() - started
        if outcome.met:
            return outcome
        remaining = deadline - monotonic()
        if remaining <= 0:
            return outcome
        sleep(min(interval, remaining))


def language_of_condition(condition):
    return {"logs": "logql", "traces": "traceql"}.get(condition, "promql")


def describe_language(condition):
    return language_label(language_of_condition(condition))
