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
    strip_userinfo,
)
from ansible_collections.dojo.kafka_observability.plugins.module_utils.promql import (
    PromQLError,
    format_selector,
    selector_constraints,
    selectors,
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


def check_alert(entries, from_rules, name, labels, wanted_state, *, no_rules_api=None):
    """The alert `name` is in wanted_state - and its rule is proven loaded.

    From api/v1/rules (from_rules) the rule is found or not. From api/v1/alerts (the datasource has no
    rules API; no_rules_api says so, e.g. "datasource 'Thanos' has no rules API (api/v1/rules answered 404)")
    only a pending or firing alert proves that the rule exists: waiting for `inactive` there can never be
    proven, and fails at once rather than passing with no rule loaded.
    """
    state, alerts, rule_found = alert_state(entries, from_rules, name, labels)
    selector = name + (
        "{%s}" % ", ".join('%s="%s"' % (k, v) for k, v in sorted((labels or {}).items())) if labels else ""
    )
    if not from_rules and alerts:
        rule_found = True  # an alert of that name exists, so its rule does
    facts = {"alerts": alerts, "rule_found": rule_found, "state": state}
    if rule_found is False:
        return Observation(
            False,
            "no rule",
            "needed alert %s %s, but no alerting rule named %s is loaded" % (selector, wanted_state, name),
            facts,
        )
    if rule_found is None:
        reason = no_rules_api or "the datasource has no rules API (api/v1/rules)"
        if wanted_state == "inactive":
            raise GrafanaError(
                "Cannot prove that the alerting rule %s is loaded and inactive: %s, and its api/v1/alerts lists "
                "only pending and firing alerts (none named %s); point the datasource at a Prometheus, or a Thanos "
                "Query with rules, that serves api/v1/rules." % (name, reason, name),
                "not_found",
            )
        return Observation(
            False,
            "unknown",
            "needed alert %s %s, observed no pending or firing %s alert; whether its rule is loaded cannot be told: %s"
            % (selector, wanted_state, name, reason),
            facts,
        )
    return Observation(
        state == wanted_state, state, "needed alert %s %s, observed %s" % (selector, wanted_state, state), facts
    )


# ------------------------------------------------------------------ hops: targets, datasource health, rules
def _age(iso, now):
    """Seconds since an RFC 3339 time (None for Go's zero time, or what cannot be read)."""
    if not iso or to_text(iso).startswith("0001-01-01"):
        return None
    try:
        moment = parse_time(iso, now)
    except GrafanaError:
        return None
    return max(0.0, round(now - moment, 1))


def target_summary(target, now):
    labels = target.get("labels") or {}
    return {
        "job": target.get("scrapePool") or labels.get("job"),
        "instance": labels.get("instance"),
        "scrape_url": target.get("scrapeUrl"),
        "health": target.get("health"),
        "last_error": target.get("lastError") or "",
        "last_scrape": target.get("lastScrape"),
        "last_scrape_seconds_ago": _age(target.get("lastScrape"), now),
        "labels": labels,
    }


def check_target_up(active_targets, job, instance, now):
    """The scrape job has at least one active target (of that instance) and every one of them is up."""
    mine = []
    for target in active_targets:
        labels = target.get("labels") or {}
        if job not in (target.get("scrapePool"), labels.get("job")):
            continue
        if instance and labels.get("instance") != instance:
            continue
        mine.append(target_summary(target, now))
    what = "scrape job %s" % job + (" (instance %s)" % instance if instance else "")
    facts = {"targets": mine, "job": job, "instance": instance}
    if not mine:
        jobs = sorted({t.get("scrapePool") or (t.get("labels") or {}).get("job") or "?" for t in active_targets})
        known = "; the jobs with active targets are %s" % ", ".join(jobs) if jobs else "; Prometheus has no target"
        return Observation(
            False,
            "no active target",
            "no active target for %s (missing from Prometheus's configuration, or it has no target)%s" % (what, known),
            facts,
        )
    up = [t for t in mine if t["health"] == "up"]
    observed = "%d of %d up" % (len(up), len(mine))
    if len(up) == len(mine):
        urls = ", ".join(t["scrape_url"] or "?" for t in mine[:5]) + (", ..." if len(mine) > 5 else "")
        return Observation(True, observed, "every target of %s is up (%s)" % (what, urls), facts)
    bad = [t for t in mine if t["health"] != "up"]
    first = bad[0]
    others = " (and %d more of its %d targets are not up)" % (len(bad) - 1, len(mine)) if len(bad) > 1 else ""
    ago = first["last_scrape_seconds_ago"]
    if first["health"] == "down":
        when = "last scrape %s s ago" % _fmt(ago) if ago is not None else "never scraped"
        reason = first["last_error"].rstrip(".") or "no error given"
        description = "target %s of job %s is down: %s (%s)%s" % (first["scrape_url"], job, reason, when, others)
    else:
        description = "target %s of job %s has not been scraped yet (health %s)%s" % (
            first["scrape_url"],
            job,
            first["health"] or "unknown",
            others,
        )
    return Observation(False, observed, description, facts)


def check_datasource_health(health, ds, via_test=False, api_status=None):
    """Grafana says the datasource is OK (its health API, or, without one, the datasource's own test).

    health: {status, message, details} as GrafanaClient.datasource_health (available) or datasource_test
    answer it, or None when Grafana can check neither; api_status: what the health API answered when
    it was not there (404, 501).
    """
    where = "datasource '%s' (type %s, URL %s)" % (ds.get("name"), ds.get("type"), strip_userinfo(ds.get("url") or ""))
    if health is None:
        return Observation(
            False,
            "unknown",
            "Grafana cannot check the health of %s: its health API answered %s (no health check for this "
            "datasource type) and this module knows no other test for it" % (where, api_status),
            {"health": None},
        )
    status = to_text(health.get("status") or "UNKNOWN").upper()
    source = "datasource_proxy" if via_test else "health_api"
    facts = {
        "health": {
            "status": status,
            "message": health.get("message") or "",
            "details": health.get("details"),
            "checked_with": source,
        }
    }
    how = (
        "Grafana's health API is not there (%s); the datasource's own test through Grafana's proxy" % api_status
        if via_test
        else "Grafana's health check"
    )
    message = (health.get("message") or "no message").rstrip(".")
    if status == "OK":
        return Observation(True, status, "%s of %s says OK: %s" % (how, where, message), facts)
    return Observation(False, status, "%s of %s failed: %s" % (how, where, message), facts)


LABEL_VALUES_WINDOW = 600.0  # seconds: the label values shown for a selector that matches nothing
LABEL_VALUES_SHOWN = 10


def _choose_rules(groups, rule_group, rule_names):
    """(chosen [(group name, rule)], problem sentence or None)."""
    names = list(rule_names or [])
    loaded = [(g.get("name"), r) for g in groups for r in g.get("rules") or []]
    if rule_group:
        in_group = [(g, r) for g, r in loaded if g == rule_group]
        if not in_group:
            known = sorted({g.get("name") for g in groups if g.get("name")})
            return [], "no rule group named %s is loaded (%s)" % (
                rule_group,
                "groups loaded: %s" % ", ".join(known) if known else "no rule group is loaded",
            )
        loaded = in_group
    if not names:
        return loaded, None
    chosen = [(g, r) for g, r in loaded if r.get("name") in names]
    missing = [n for n in names if n not in {r.get("name") for _g, r in chosen}]
    if missing:
        where = "in group %s" % rule_group if rule_group else "in any rule group"
        plural = "s" if len(missing) > 1 else ""
        return chosen, "no rule%s named %s loaded %s" % (plural, ", ".join(missing), where)
    return chosen, None


def _show_values(label, values):
    shown = ", ".join(values[:LABEL_VALUES_SHOWN])
    more = " (and %d more)" % (len(values) - LABEL_VALUES_SHOWN) if len(values) > LABEL_VALUES_SHOWN else ""
    return "%s values: %s%s" % (label, shown, more) if values else "no %s value" % label


def _what_exists(client, ds, found, now):
    """{label: [values]} of the labels the selector constrains, among the series of its metric (last 10 minutes)."""
    out = {}
    start = now - LABEL_VALUES_WINDOW
    for label in selector_constraints(found):
        if found["metric"] is not None:
            match = format_selector(found["metric"], [])
        else:
            others = [m for m in found["matchers"] if m["name"] != label]
            match = format_selector(None, others) if others else None
        out[label] = client.prometheus_label_values(ds, label, match, start, now)
    return out


def evaluate_rule_selectors(client, ds, rule_group, rule_names, now):
    """The chosen rules are loaded and healthy, and every vector selector of theirs matches series now."""
    groups = client.prometheus_rule_groups(ds)
    if groups is None:
        raise GrafanaError(
            "Datasource '%s' has no rules API (api/v1/rules answered 404 Not Found), so its rules cannot be read; "
            "point it at a Prometheus, or a Thanos Query with rules." % ds.get("name"),
            "not_found",
            404,
        )
    chosen, problem = _choose_rules(groups, rule_group, rule_names)
    rules, unmatched, problems, seen = [], [], [], {}
    if problem:
        problems.append(problem)
    total = matched = 0
    for group, rule in chosen:
        name = rule.get("name")
        entry = {
            "name": name,
            "group": group,
            "type": rule.get("type"),
            "health": rule.get("health"),
            "last_error": rule.get("lastError") or "",
            "query": rule.get("query"),
            "selectors": [],
        }
        rules.append(entry)
        if entry["health"] == "err":
            problems.append(
                "rule %s is unhealthy (health err): %s" % (name, entry["last_error"].rstrip(".") or "no error given")
            )
        elif entry["health"] != "ok":
            problems.append("rule %s has not been evaluated yet (health %s)" % (name, entry["health"] or "unknown"))
        try:
            found_selectors = selectors(to_text(rule.get("query") or ""))
        except PromQLError as exc:
            problems.append("cannot read the selectors of rule %s: %s" % (name, to_text(exc)))
            continue
        for found in found_selectors:
            total += 1
            key = found["selector"]
            if key not in seen:  # a selector of several rules is asked for once
                count = client.prometheus_series_count(ds, key, now)
                seen[key] = (count, None if count else _what_exists(client, ds, found, now))
            count, values = seen[key]
            item = dict(found, series=count, label_values=values)
            if count:
                matched += 1
            else:
                unmatched.append({"rule": name, "selector": key, "label_values": values})
            entry["selectors"].append(item)
    facts = {"rules": rules, "unmatched_selectors": unmatched}
    observed = "%d of %d selectors match series" % (matched, total)
    subject = _rules_subject(rule_group, rule_names, rules)
    if problems:
        more = ""
        if len(problems) > 1:
            more = " (and %d more problem%s: %s)" % (
                len(problems) - 1,
                "s" if len(problems) > 2 else "",
                "; ".join(problems[1:4]),
            )
        return Observation(False, observed if rules else "not loaded", problems[0] + more, facts)
    if unmatched:
        first = unmatched[0]
        values = first["label_values"] or {}
        metric = next((s["metric"] for r in rules for s in r["selectors"] if s["selector"] == first["selector"]), None)
        if metric is not None and values and not any(values.values()):
            exists = "Prometheus has no series of %s in the last %d minutes" % (metric, LABEL_VALUES_WINDOW // 60)
        elif values:
            exists = "%s has %s" % (
                metric or "Prometheus",
                "; ".join(_show_values(label, found) for label, found in values.items()),
            )
        else:
            exists = "Prometheus has no series of %s now" % metric
        others = ""
        if len(unmatched) > 1:
            others = " (and %d more selector%s match nothing: %s)" % (
                len(unmatched) - 1,
                "s" if len(unmatched) > 2 else "",
                ", ".join("%s of %s" % (u["selector"], u["rule"]) for u in unmatched[1:4]),
            )
        return Observation(
            False,
            observed,
            "selector %s of rule %s matches no series; %s%s" % (first["selector"], first["rule"], exists, others),
            facts,
        )
    return Observation(
        True,
        observed,
        "%s loaded and healthy, and %s %d selector%s match%s series"
        % (
            subject,
            "its" if len(rules) == 1 else "their",
            total,
            "" if total == 1 else "s",
            "es" if total == 1 else "",
        ),
        facts,
    )


def _rules_subject(rule_group, rule_names, rules):
    names = ", ".join(r["name"] for r in rules[:6]) + (", ..." if len(rules) > 6 else "")
    one = len(rules) == 1
    if rule_group and not rule_names:
        if one:
            return "the only rule of group %s (%s) is" % (rule_group, names)
        return "the %d rules of group %s (%s) are" % (len(rules), rule_group, names)
    where = " of group %s" % rule_group if rule_group else ""
    return "rule%s %s%s %s" % ("" if one else "s", names, where, "is" if one else "are")


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
    """The query language the condition's datasource must answer (None: any datasource type)."""
    return {"logs": "logql", "traces": "traceql", "datasource_health": None}.get(condition, "promql")


def describe_language(condition):
    return language_label(language_of_condition(condition))
